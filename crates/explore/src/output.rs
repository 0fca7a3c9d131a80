//! What a run writes: `summary.json`, `pareto.csv`/`.parquet`, `designs.csv`/`.parquet`,
//! `catalog.csv`, `report.html`. Built here as values (text and tables); the caller writes them.

use crate::confirm::SimCheck;
use crate::run::{CatalogScore, DesignResult, Explorer, ShardFile, frontier_of};
use crate::screen::{ModelScore, Workload};
use crate::space::Space;
use crate::{ExploreError, Rejection};
use serde::Serialize;
use std::collections::BTreeMap;
use tokenfab_report::html::{LabeledPoint, Page, Scatter};
use tokenfab_report::{Column, Table};

/// Format tag of `summary.json`.
pub const SUMMARY_FORMAT: &str = "tokenfab-explore-summary/1";

/// How the frontier numbers were obtained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confirmation {
    /// `analytic` (step model only) or `simulator`.
    pub method: String,
    /// What that means for the numbers.
    pub note: String,
    /// Simulated frontier designs, in frontier order (empty for `analytic`).
    pub designs: Vec<SimCheck>,
    /// Simulated catalog chips (empty for `analytic`).
    pub catalog: Vec<SimCheck>,
}

impl Confirmation {
    /// Frontier numbers straight from the analytic screen.
    pub fn analytic() -> Confirmation {
        Confirmation {
            method: "analytic".into(),
            note: "Frontier numbers come from the analytic step model (steady-state continuous batching, no \
                   queueing); they were not re-run through the discrete-event simulator"
                .into(),
            designs: vec![],
            catalog: vec![],
        }
    }

    /// Simulates every frontier design and every scored catalog chip at its analytic
    /// operating points (in parallel; deterministic for a seed).
    pub fn simulate(explorer: &Explorer, run: &ShardFile, catalog: &[CatalogScore]) -> Confirmation {
        use rayon::prelude::*;
        let front = frontier_of(run);
        let designs: Vec<SimCheck> = front.par_iter().map(|&i| explorer.confirm(&run.results[i], run.seed)).collect();
        let catalog: Vec<SimCheck> =
            catalog.par_iter().filter_map(|c| explorer.confirm_catalog_chip(c, run.seed)).collect();
        Confirmation {
            method: "simulator".into(),
            note: format!(
                "Frontier designs were chosen with the analytic step model, then each was simulated (tokenfab-sim, \
                 vLLM profile, one replica limited to the analytic batch with a token budget of twice its step, \
                 {} requests per batch slot from the task mix \
                 arriving as a Poisson stream at {:.0} % of the analytic throughput) at its analytic operating point; `sim_*` columns are the simulated figures and `sim_meets_slo` says \
                 whether at least {:.0} % of requests met both SLOs for every model",
                crate::confirm::REQUESTS_PER_CLIENT,
                crate::confirm::LOAD_FRACTION * 100.0,
                crate::confirm::CONFIRM_GOODPUT_FRACTION * 100.0
            ),
            designs,
            catalog,
        }
    }
}

/// Summary of the workload, as scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadSummary {
    /// Name.
    pub name: String,
    /// Models used (after fallbacks) with their token shares.
    pub models: BTreeMap<String, f64>,
    /// Where the task mix comes from (`builtin:assistant`), if not listed in the space file.
    pub from: Option<String>,
    /// Task mix as scored (share of requests, mean lengths, TTFT-check length, SLOs).
    pub tasks: Vec<crate::space::TaskSpec>,
    /// TTFT target, ms.
    pub ttft_slo_ms: f64,
    /// TPOT target, ms.
    pub tpot_slo_ms: f64,
    /// Weight format.
    pub weight_dtype: String,
    /// KV format.
    pub kv_dtype: String,
    /// Prompt tokens per output token over the mix.
    pub input_per_output: f64,
    /// Mean cached context of a decoding sequence, tokens.
    pub mean_context_tokens: f64,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// [`SUMMARY_FORMAT`].
    pub format: String,
    /// Space name.
    pub space: String,
    /// Where the space came from.
    pub space_origin: String,
    /// Digest of the space and figures.
    pub space_digest: String,
    /// Seed.
    pub seed: u64,
    /// Workload.
    pub workload: WorkloadSummary,
    /// Designs in the full space.
    pub designs_total: u64,
    /// Designs selected (all, or the sample).
    pub designs_selected: u64,
    /// Designs evaluated (equals selected for a complete or merged run).
    pub designs_evaluated: u64,
    /// Designs meeting every limit and SLO.
    pub designs_feasible: u64,
    /// Rejected designs per reason (every reason listed).
    pub rejections: BTreeMap<String, u64>,
    /// What each rejection reason means.
    pub rejection_reasons: BTreeMap<String, String>,
    /// Designs on the frontier.
    pub frontier_size: u64,
    /// The ends of the frontier and the best catalog chips, for a quick read.
    pub highlights: BTreeMap<String, Highlight>,
    /// How the frontier was confirmed.
    pub confirmation: Confirmation,
    /// Frontier designs by increasing cost.
    pub frontier: Vec<FrontierEntry>,
    /// Catalog chips on the same workload.
    pub catalog: Vec<CatalogScore>,
}

/// A named point of interest: a design or catalog chip and its two objectives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Highlight {
    /// Design id or chip id.
    pub id: String,
    /// Output tokens per joule.
    pub tokens_per_joule: f64,
    /// USD per million output tokens.
    pub usd_per_mtok: f64,
}

fn highlights(run: &ShardFile, front: &[usize], catalog: &[CatalogScore]) -> BTreeMap<String, Highlight> {
    let mut h = BTreeMap::new();
    let d = |i: usize| {
        let r = &run.results[i];
        Highlight { id: r.design.id(), tokens_per_joule: r.score.tokens_per_joule, usd_per_mtok: r.score.usd_per_mtok }
    };
    // The frontier is ordered by increasing cost (and so increasing efficiency).
    if let (Some(&first), Some(&last)) = (front.first(), front.last()) {
        h.insert("cheapest_design".to_string(), d(first));
        h.insert("most_efficient_design".to_string(), d(last));
    }
    let scored: Vec<Highlight> = catalog
        .iter()
        .filter_map(|c| {
            c.score.as_ref().map(|s| Highlight {
                id: c.chip.clone(),
                tokens_per_joule: s.tokens_per_joule,
                usd_per_mtok: s.usd_per_mtok,
            })
        })
        .collect();
    if let Some(b) =
        scored.iter().filter(|x| x.usd_per_mtok.is_finite()).min_by(|a, b| a.usd_per_mtok.total_cmp(&b.usd_per_mtok))
    {
        h.insert("cheapest_catalog_chip".to_string(), b.clone());
    }
    if let Some(b) = scored.iter().max_by(|a, b| a.tokens_per_joule.total_cmp(&b.tokens_per_joule)) {
        h.insert("most_efficient_catalog_chip".to_string(), b.clone());
    }
    h
}

/// One frontier design in the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontierEntry {
    /// Design id.
    pub id: String,
    /// Tokens per joule.
    pub tokens_per_joule: f64,
    /// USD per million tokens.
    pub usd_per_mtok: f64,
    /// The design and its figures.
    pub result: DesignResult,
}

/// Builds the summary of a complete (or merged) run.
pub fn summary(
    space: &Space,
    w: &Workload,
    run: &ShardFile,
    catalog: &[CatalogScore],
    confirmation: Confirmation,
) -> Summary {
    let mut rejections: BTreeMap<String, u64> = Rejection::ALL.iter().map(|r| (r.as_str().to_string(), 0)).collect();
    for (k, v) in &run.rejections {
        *rejections.entry(k.clone()).or_default() += v;
    }
    let front = frontier_of(run);
    Summary {
        format: SUMMARY_FORMAT.into(),
        space: space.file.name.clone(),
        space_origin: space.origin.clone(),
        space_digest: run.space_digest.clone(),
        seed: run.seed,
        workload: WorkloadSummary {
            name: w.name.clone(),
            models: w.models.iter().map(|(m, s)| (m.id.clone(), *s)).collect(),
            from: space.file.workload.from.clone(),
            tasks: w.tasks.clone(),
            ttft_slo_ms: w.ttft_slo_s * 1e3,
            tpot_slo_ms: w.tpot_slo_s * 1e3,
            weight_dtype: w.weight_dtype.to_string(),
            kv_dtype: w.kv_dtype.to_string(),
            input_per_output: w.input_per_output,
            mean_context_tokens: w.mean_context,
        },
        designs_total: run.designs_total,
        designs_selected: run.designs_selected,
        designs_evaluated: run.designs_evaluated,
        designs_feasible: run.results.len() as u64,
        rejections,
        rejection_reasons: Rejection::ALL.iter().map(|r| (r.as_str().to_string(), r.describe().to_string())).collect(),
        frontier_size: front.len() as u64,
        highlights: highlights(run, &front, catalog),
        confirmation,
        frontier: front
            .iter()
            .map(|&i| {
                let r = &run.results[i];
                FrontierEntry {
                    id: r.design.id(),
                    tokens_per_joule: r.score.tokens_per_joule,
                    usd_per_mtok: r.score.usd_per_mtok,
                    result: r.clone(),
                }
            })
            .collect(),
        catalog: catalog.to_vec(),
    }
}

fn operating_points(models: &[ModelScore]) -> String {
    models
        .iter()
        .map(|m| format!("{} {} b={} tpot={:.1}ms ttft={:.0}ms", m.model, m.layout, m.batch, m.tpot_ms, m.ttft_ms))
        .collect::<Vec<_>>()
        .join("; ")
}

fn table_err(e: tokenfab_report::ReportError) -> ExploreError {
    ExploreError::Output(e.to_string())
}

fn add_sim_columns(t: &mut Table, sims: &[Option<&SimCheck>]) -> Result<(), ExploreError> {
    let f = |g: &dyn Fn(&SimCheck) -> f64| Column::F64(sims.iter().map(|s| s.map_or(f64::NAN, g)).collect());
    let min_of = |g: &dyn Fn(&crate::confirm::SimPoint) -> f64, max: bool| {
        f(&|s: &SimCheck| {
            let it = s.models.iter().map(g);
            if max { it.fold(f64::NAN, f64::max) } else { it.fold(f64::NAN, f64::min) }
        })
    };
    let cols: Vec<(&str, Column)> = vec![
        ("sim_tokens_per_s_per_chip", f(&|s| s.tokens_per_s_per_chip)),
        ("sim_tokens_per_joule", f(&|s| s.tokens_per_joule)),
        ("sim_usd_per_mtok", f(&|s| s.usd_per_mtok)),
        ("sim_tpot_ms_p90_max", min_of(&|p| p.tpot_ms_p90, true)),
        ("sim_ttft_ms_p90_max", min_of(&|p| p.ttft_ms_p90, true)),
        ("sim_goodput_fraction_min", min_of(&|p| p.goodput_fraction, false)),
        (
            "sim_meets_slo",
            Column::Str(
                sims.iter()
                    .map(|s| match s {
                        None => String::new(),
                        Some(s) if s.error.is_some() => "error".into(),
                        Some(s) => if s.meets_slo { "yes" } else { "no" }.into(),
                    })
                    .collect(),
            ),
        ),
        ("sim_error", Column::Str(sims.iter().map(|s| s.and_then(|s| s.error.clone()).unwrap_or_default()).collect())),
    ];
    for (name, c) in cols {
        t.add(name, c).map_err(table_err)?;
    }
    Ok(())
}

/// A table of designs (the frontier, or every feasible design); `rank` numbers the rows. With
/// `sims` (one per row), the simulated figures are added as `sim_*` columns.
pub fn designs_table(rows: &[&DesignResult], sims: Option<&[SimCheck]>) -> Result<Table, ExploreError> {
    let f = |g: &dyn Fn(&DesignResult) -> f64| Column::F64(rows.iter().map(|r| g(r)).collect());
    let i = |g: &dyn Fn(&DesignResult) -> i64| Column::I64(rows.iter().map(|r| g(r)).collect());
    let s = |g: &dyn Fn(&DesignResult) -> String| Column::Str(rows.iter().map(|r| g(r)).collect());
    let mut t = Table::new();
    let cols: Vec<(&str, Column)> = vec![
        ("rank", Column::I64((1..=rows.len() as i64).collect())),
        ("id", s(&|r| r.design.id())),
        ("fp8_pflops", f(&|r| r.design.fp8_pflops)),
        ("fp4", i(&|r| r.design.fp4 as i64)),
        ("memory", s(&|r| r.design.memory.clone())),
        ("hbm_stacks", i(&|r| r.design.hbm_stacks as i64)),
        ("hbm_gb", f(&|r| r.physical.hbm_gb)),
        ("hbm_tbps", f(&|r| r.physical.hbm_tbps)),
        ("sram_mb", f(&|r| r.design.sram_mb)),
        ("scaleup_gbps", f(&|r| r.design.scaleup_gbps)),
        ("scaleup_domain", i(&|r| r.design.scaleup_domain as i64)),
        ("tdp_w", f(&|r| r.design.tdp_w)),
        ("compute_dies", i(&|r| r.design.compute_dies as i64)),
        ("die_mm2", f(&|r| r.physical.die_mm2)),
        ("die_yield", f(&|r| r.physical.die_yield)),
        ("power_derate", f(&|r| r.physical.power_derate)),
        ("unit_usd", f(&|r| r.physical.unit_usd)),
        ("capex_usd", f(&|r| r.physical.capex_usd)),
        ("tokens_per_s_per_chip", f(&|r| r.score.tokens_per_s_per_chip)),
        ("power_w_per_chip", f(&|r| r.score.power_w_per_chip)),
        ("tokens_per_joule", f(&|r| r.score.tokens_per_joule)),
        ("usd_per_mtok", f(&|r| r.score.usd_per_mtok)),
        ("operating_points", s(&|r| operating_points(&r.score.models))),
    ];
    for (name, c) in cols {
        t.add(name, c).map_err(table_err)?;
    }
    if let Some(sims) = sims {
        let aligned: Vec<Option<&SimCheck>> = (0..rows.len()).map(|i| sims.get(i)).collect();
        add_sim_columns(&mut t, &aligned)?;
    }
    Ok(t)
}

/// The catalog chips as a table; simulated figures added where `sims` has the chip.
pub fn catalog_table(cat: &[CatalogScore], sims: &[SimCheck]) -> Result<Table, ExploreError> {
    let sc = |c: &CatalogScore, g: &dyn Fn(&crate::Score) -> f64| c.score.as_ref().map_or(f64::NAN, g);
    let mut t = Table::new();
    let cols: Vec<(&str, Column)> = vec![
        ("chip", Column::Str(cat.iter().map(|c| c.chip.clone()).collect())),
        ("vendor", Column::Str(cat.iter().map(|c| c.vendor.clone()).collect())),
        ("system", Column::Str(cat.iter().map(|c| c.system.clone().unwrap_or_default()).collect())),
        ("capex_usd", Column::F64(cat.iter().map(|c| c.capex_usd.unwrap_or(f64::NAN)).collect())),
        ("tokens_per_s_per_chip", Column::F64(cat.iter().map(|c| sc(c, &|s| s.tokens_per_s_per_chip)).collect())),
        ("power_w_per_chip", Column::F64(cat.iter().map(|c| sc(c, &|s| s.power_w_per_chip)).collect())),
        ("tokens_per_joule", Column::F64(cat.iter().map(|c| sc(c, &|s| s.tokens_per_joule)).collect())),
        ("usd_per_mtok", Column::F64(cat.iter().map(|c| sc(c, &|s| s.usd_per_mtok)).collect())),
        (
            "operating_points",
            Column::Str(
                cat.iter().map(|c| c.score.as_ref().map_or(String::new(), |s| operating_points(&s.models))).collect(),
            ),
        ),
        ("rejection", Column::Str(cat.iter().map(|c| c.rejection.clone().unwrap_or_default()).collect())),
    ];
    for (name, c) in cols {
        t.add(name, c).map_err(table_err)?;
    }
    if !sims.is_empty() {
        let aligned: Vec<Option<&SimCheck>> = cat.iter().map(|c| sims.iter().find(|s| s.id == c.chip)).collect();
        add_sim_columns(&mut t, &aligned)?;
    }
    Ok(t)
}

/// Most feasible designs drawn as background points in the plot (evenly spaced by index).
const PLOT_MAX_POINTS: usize = 1500;

/// `report.html`: the Pareto scatter with the catalog chips, the frontier, rejections, figures.
pub fn report_html(space: &Space, run: &ShardFile, s: &Summary) -> Result<String, ExploreError> {
    let mut page = Page::new(&format!("tokenfab explore: {}", s.space));
    page.paragraph(&format!(
        "{} designs in the space, {} evaluated, {} meet every limit and SLO, {} on the frontier. Workload `{}`: \
         models {}; TTFT ≤ {:.0} ms, TPOT ≤ {:.0} ms (per-task targets in summary.json); weights {}, KV {}. Objectives: output tokens per joule of chip \
         energy (higher is better) and USD per million output tokens, capex amortized over {} years plus energy at \
         PUE {} (lower is better). {}",
        s.designs_total,
        s.designs_evaluated,
        s.designs_feasible,
        s.frontier_size,
        s.workload.name,
        s.workload.models.iter().map(|(m, sh)| format!("{m} ({:.0} %)", sh * 100.0)).collect::<Vec<_>>().join(", "),
        s.workload.ttft_slo_ms,
        s.workload.tpot_slo_ms,
        s.workload.weight_dtype,
        s.workload.kv_dtype,
        space.figures.cost.amortization_years,
        space.figures.cost.pue,
        s.confirmation.note,
    ));
    let hl = |k: &str, what: &str| {
        s.highlights
            .get(k)
            .map(|h| format!("{what} {}: {:.2} tokens/J at US${:.4}/Mtok", h.id, h.tokens_per_joule, h.usd_per_mtok))
    };
    let lines: Vec<String> = [
        hl("cheapest_design", "Cheapest design"),
        hl("most_efficient_design", "most efficient design"),
        hl("cheapest_catalog_chip", "cheapest catalog chip"),
        hl("most_efficient_catalog_chip", "most efficient catalog chip"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !lines.is_empty() {
        page.paragraph(&format!("{} (analytic).", lines.join("; ")));
    }
    let front = frontier_of(run);
    let mut points = Vec::new();
    let n = run.results.len();
    let step = n.div_ceil(PLOT_MAX_POINTS).max(1);
    for r in run.results.iter().step_by(step) {
        points.push(LabeledPoint {
            x: r.score.usd_per_mtok,
            y: r.score.tokens_per_joule,
            label: String::new(),
            group: 7,
        });
    }
    for (k, &i) in front.iter().enumerate() {
        let r = &run.results[i];
        let label = if k == 0 || k + 1 == front.len() || k % 4 == 0 { r.design.id() } else { String::new() };
        points.push(LabeledPoint { x: r.score.usd_per_mtok, y: r.score.tokens_per_joule, label, group: 1 });
    }
    for c in &s.catalog {
        if let Some(sc) = &c.score
            && sc.usd_per_mtok.is_finite()
        {
            points.push(LabeledPoint { x: sc.usd_per_mtok, y: sc.tokens_per_joule, label: c.chip.clone(), group: 0 });
        }
    }
    for sim in &s.confirmation.designs {
        if sim.tokens_per_joule.is_finite() && sim.usd_per_mtok.is_finite() {
            points.push(LabeledPoint { x: sim.usd_per_mtok, y: sim.tokens_per_joule, label: String::new(), group: 2 });
        }
    }
    page.heading("Pareto frontier");
    page.paragraph(
        "Grey: feasible designs (a sample when there are many). Orange: the frontier (labelled every few points). \
         Green: the frontier designs as simulated, when the run confirmed them with the simulator. Blue: catalog chips scored on the same workload with the same model (their capex is the catalog price, \
         vendor margin included; a custom design's is its manufacturing cost plus NRE share).",
    );
    page.scatter(&Scatter {
        title: "tokens per joule vs USD per million tokens".into(),
        x_label: "USD per million output tokens".into(),
        y_label: "output tokens per joule".into(),
        points,
    });
    let rows: Vec<&DesignResult> = front.iter().map(|&i| &run.results[i]).collect();
    page.heading("Frontier designs");
    page.table(&designs_table(&rows, Some(&s.confirmation.designs))?);
    page.heading("Catalog chips");
    page.table(&catalog_table(&s.catalog, &s.confirmation.catalog)?);
    page.heading("Workload");
    let tasks = &s.workload.tasks;
    let mut wt = Table::new();
    wt.add("task", Column::Str(tasks.iter().map(|t| t.name.clone()).collect())).map_err(table_err)?;
    wt.add("share", Column::F64(tasks.iter().map(|t| t.share).collect())).map_err(table_err)?;
    wt.add("prompt_tokens", Column::I64(tasks.iter().map(|t| t.input_tokens as i64).collect())).map_err(table_err)?;
    wt.add(
        "ttft_check_prompt_tokens",
        Column::I64(tasks.iter().map(|t| t.ttft_input_tokens.unwrap_or(t.input_tokens) as i64).collect()),
    )
    .map_err(table_err)?;
    wt.add("output_tokens", Column::I64(tasks.iter().map(|t| t.output_tokens as i64).collect())).map_err(table_err)?;
    let w = &space.file.workload;
    wt.add("ttft_slo_ms", Column::F64(tasks.iter().map(|t| t.ttft_slo_ms.unwrap_or(w.ttft_slo_ms)).collect()))
        .map_err(table_err)?;
    wt.add("tpot_slo_ms", Column::F64(tasks.iter().map(|t| t.tpot_slo_ms.unwrap_or(w.tpot_slo_ms)).collect()))
        .map_err(table_err)?;
    page.table(&wt);
    page.heading("Rejections");
    let mut rt = Table::new();
    rt.add("reason", Column::Str(s.rejections.keys().cloned().collect())).map_err(table_err)?;
    rt.add("designs", Column::I64(s.rejections.values().map(|v| *v as i64).collect())).map_err(table_err)?;
    rt.add("meaning", Column::Str(s.rejections.keys().map(|k| s.rejection_reasons[k].clone()).collect()))
        .map_err(table_err)?;
    page.table(&rt);
    page.heading("Figures (cost, area, power)");
    let fr = space.figures.rows();
    let mut ft = Table::new();
    ft.add("figure", Column::Str(fr.iter().map(|r| r.0.clone()).collect())).map_err(table_err)?;
    ft.add("value", Column::F64(fr.iter().map(|r| r.1).collect())).map_err(table_err)?;
    ft.add("confidence", Column::Str(fr.iter().map(|r| r.3.as_str().to_string()).collect())).map_err(table_err)?;
    ft.add("source", Column::Str(fr.iter().map(|r| r.2.clone()).collect())).map_err(table_err)?;
    ft.add("note", Column::Str(fr.iter().map(|r| r.4.clone()).collect())).map_err(table_err)?;
    page.table(&ft);
    Ok(page.render())
}
