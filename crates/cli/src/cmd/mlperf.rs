//! `tokenfab validate mlperf`: MLPerf Inference v5.1 results (NVIDIA and AMD), see
//! [`tokenfab_aic::predict_mlperf`].
use super::throughput::median;
use crate::io;
use anyhow::Result;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokenfab_aic::{MlperfPrediction, MlperfRow};
use tokenfab_catalog::Catalog;

/// Seed of the simulated datasets' lengths.
const SEED: u64 = 1;

/// The accelerator the relative comparison divides by: the most submitted one.
const REFERENCE: &str = "h200-sxm";

/// Flags of `tokenfab validate mlperf`.
#[derive(clap::Args, Debug)]
pub struct MlperfArgs {
    /// Results in the format of ../shared/reference/mlperf_v51_llm_results.csv; llama2-70b,
    /// llama3.1-405b, llama3.1-8b and mixtral-8x7b rows on catalog accelerators are simulated, the
    /// others listed with the reason.
    #[arg(long)]
    pub input: PathBuf,
    /// Per-row results: id, submitter, accelerator, count, weights, engine, best tensor
    /// parallelism, measured and predicted tokens/s per accelerator, error.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// One row and its simulated run (or why it is not simulated).
pub struct Scored {
    row: MlperfRow,
    chip: Option<String>,
    engine: Option<String>,
    pred: Result<MlperfPrediction, String>,
}

impl Scored {
    fn ratio(&self) -> Option<f64> {
        self.pred.as_ref().ok().map(|p| p.tok_s_per_accel / self.row.tok_s_per_accel)
    }
}

/// Simulates every row that maps (in parallel).
pub fn score(catalog: &Catalog, path: &Path) -> Result<Vec<Scored>> {
    use rayon::prelude::*;
    let rows = tokenfab_aic::parse_mlperf(&path.display().to_string(), &io::read_text(path)?)?;
    let bar = tokenfab_report::Progress::new(rows.len() as u64, "validate mlperf");
    let scored = rows
        .into_par_iter()
        .map(|row| {
            let t = tokenfab_aic::mlperf_target(catalog, &row).ok();
            let pred = tokenfab_aic::predict_mlperf(catalog, &row, SEED);
            bar.inc(1);
            Scored {
                chip: t.as_ref().map(|t| t.chip.clone()),
                engine: t.as_ref().map(|t| t.engine.as_str().to_string()),
                row,
                pred,
            }
        })
        .collect();
    bar.finish();
    Ok(scored)
}

/// Error statistics of a slice: absolute, and relative to the reference accelerator (each ratio
/// predicted/measured divided by the median ratio of the reference's Offline rows of the same
/// benchmark, which cancels an error common to all accelerators and scenarios of that benchmark:
/// its dataset's lengths).
struct Slice {
    name: String,
    rows: usize,
    mape: f64,
    median_ratio: f64,
    rel_mape: f64,
}

fn slices(scored: &[Scored], key: impl Fn(&Scored) -> String, reference: &References) -> Vec<Slice> {
    // (predicted/measured, the same relative to the benchmark's reference rows)
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for s in scored {
        if let Some(r) = s.ratio() {
            let x = (r, r / reference.get(&s.row.model).copied().unwrap_or(1.0));
            groups.entry(key(s)).or_default().push(x);
            groups.entry("\u{10FFFF}all".into()).or_default().push(x);
        }
    }
    groups
        .into_iter()
        .map(|(name, v)| {
            let mape = |f: &dyn Fn(&(f64, f64)) -> f64| {
                v.iter().map(|x| (f(x) - 1.0).abs()).sum::<f64>() / v.len() as f64 * 100.0
            };
            Slice {
                name: name.trim_start_matches('\u{10FFFF}').to_string(),
                rows: v.len(),
                mape: mape(&|x| x.0),
                median_ratio: median(v.iter().map(|x| x.0).collect()),
                rel_mape: mape(&|x| x.1),
            }
        })
        .collect()
}

/// Per benchmark, the median predicted/measured over the reference accelerator's Offline rows.
/// Offline, because the dataset's lengths are what a benchmark's rows share: the latency-bound
/// scenarios add their own errors, which the relative figures keep.
type References = BTreeMap<String, f64>;

/// [`References`] of the scored rows (a benchmark without reference Offline rows has none: its
/// rows' relative figures are their absolute ones).
fn reference_ratios(scored: &[Scored]) -> References {
    let mut v: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for s in scored.iter().filter(|s| s.chip.as_deref() == Some(REFERENCE) && s.row.scenario == "Offline") {
        if let Some(r) = s.ratio() {
            v.entry(s.row.model.clone()).or_default().push(r);
        }
    }
    v.into_iter().map(|(k, v)| (k, median(v))).collect()
}

/// `llama2-70b-99 0.95, llama3.1-405b 0.88`: the references as the reports print them.
fn references_text(r: &References) -> String {
    r.iter().map(|(k, v)| format!("{k} {v:.2}")).collect::<Vec<_>>().join(", ")
}

type Key = fn(&Scored) -> String;

fn keys() -> [(&'static str, Key); 5] {
    [
        ("benchmark", |s| s.row.model.clone()),
        ("scenario", |s| format!("{} {}", s.row.model, s.row.scenario)),
        ("accelerator", |s| s.chip.clone().unwrap_or_default()),
        ("engine", |s| s.engine.clone().unwrap_or_default()),
        ("division", |s| s.row.division.clone()),
    ]
}

const HEAD: [&str; 5] = ["rows", "MAPE %", "median predicted/measured", "relative MAPE %", ""];

fn cells(s: &Slice) -> [String; 4] {
    [s.rows.to_string(), format!("{:.1}", s.mape), format!("{:.2}", s.median_ratio), format!("{:.1}", s.rel_mape)]
}

/// Reasons rows were not simulated, with counts, in order of first appearance.
fn reasons(scored: &[Scored]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for e in scored.iter().filter_map(|s| s.pred.as_ref().err()) {
        match out.iter_mut().find(|(k, _)| k == e) {
            Some((_, n)) => *n += 1,
            None => out.push((e.clone(), 1)),
        }
    }
    out
}

/// `tokenfab validate mlperf`.
pub fn run(catalog: &Catalog, a: MlperfArgs) -> Result<ExitCode> {
    let scored = score(catalog, &a.input)?;
    let reference = reference_ratios(&scored);
    for (title, key) in keys() {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(std::iter::once(title).chain(HEAD.iter().take(4).copied()));
        for s in slices(&scored, key, &reference) {
            t.add_row(std::iter::once(s.name.clone()).chain(cells(&s)));
        }
        outln!("{t}");
    }
    outln!(
        "relative: each predicted/measured divided by the median over its benchmark's {REFERENCE} Offline rows ({}), \
         which cancels what the dataset's lengths get wrong for every accelerator and scenario",
        references_text(&reference)
    );
    super::throughput::print_reasons("simulated", &reasons(&scored))?;
    if let Some(out) = &a.output {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "line",
            "id",
            "submitter",
            "accelerator",
            "num_accel",
            "model",
            "scenario",
            "weights",
            "chip",
            "engine",
            "best_layout",
            "measured_tok_s_per_accel",
            "pred_tok_s_per_accel",
            "engine_iterations",
            "error",
        ])?;
        for s in &scored {
            let r = &s.row;
            let (tp, p, it, e) = match &s.pred {
                Ok(p) => {
                    (p.layout.to_string(), format!("{:.1}", p.tok_s_per_accel), p.iterations.to_string(), String::new())
                }
                Err(e) => (String::new(), String::new(), String::new(), e.clone()),
            };
            w.write_record([
                r.line.to_string(),
                r.id.clone(),
                r.submitter.clone(),
                r.accelerator.clone(),
                r.num_accel.to_string(),
                r.model.clone(),
                r.scenario.clone(),
                r.weights.clone(),
                s.chip.clone().unwrap_or_default(),
                s.engine.clone().unwrap_or_default(),
                tp,
                format!("{:.1}", r.tok_s_per_accel),
                p,
                it,
                e,
            ])?;
        }
        io::write_atomic(out, &w.into_inner()?)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The MLPerf section of docs/VALIDATION.md, or a line saying the table is absent.
pub fn section(catalog: &Catalog, path: &Path) -> Result<String> {
    let mut md = String::new();
    let _ = writeln!(md, "## MLPerf Inference v5.1, NVIDIA and AMD (`{}`)\n", path.display());
    if !path.exists() {
        let _ = writeln!(md, "(Skipped: `{}` not found.)\n", path.display());
        return Ok(md);
    }
    let scored = score(catalog, path)?;
    let reference = reference_ratios(&scored);
    let references = references_text(&reference);
    let names = tokenfab_aic::BENCHMARKS.iter().map(|b| b.name).collect::<Vec<_>>().join(", ");
    let bounds = tokenfab_aic::BENCHMARKS
        .iter()
        .map(|b| {
            let fmt = |l: tokenfab_aic::LatencyBound| format!("{} / {} ms", thousands(l.ttft_ms), thousands(l.tpot_ms));
            match b.interactive {
                Some(i) => format!("{} {} and {}", b.name, fmt(b.server), fmt(i)),
                None => format!("{} {} (no Interactive scenario)", b.name, fmt(b.server)),
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let lengths =
        tokenfab_aic::BENCHMARKS.iter().map(|b| format!("{} {}", b.name, b.source)).collect::<Vec<_>>().join("; ");
    let _ = writeln!(
        md,
        "The published results of {names} (mlcommons/inference_results_v5.1, Apache-2.0) on\n\
         H100, H200, B200, GB200, GB300, MI300X, MI325X and MI355X; the only check here with AMD accelerators. Offline\n\
         queues every sample at once; Server and Interactive send Poisson arrivals, and the result is the output\n\
         tokens per second of the highest rate whose 99th-percentile TTFT and TPOT stay within the scenario's bounds\n\
         ({bounds}; MLPerf's\n\
         `mlperf.conf` as submitted, reported): re-created as a bisection on the rate (bracketed by the Offline rate,\n\
         at least {} samples and {} simulated seconds per probe, the first {} % left out of the percentiles) at the KV-sized batch cap and at 256 and 64,\n\
         the best kept. Per accelerator, output tokens per second. A result records the accelerator, count, weight format\n\
         and software but not the layout or engine settings, so each row is simulated as a submitter tunes it: replicas\n\
         of tensor parallelism 1, 2, 4 or 8, and for MoE models also attention data parallelism with expert parallelism\n\
         over 4 or 8 GPUs (DEP; the best simulated layout is the prediction), TensorRT-LLM where the software\n\
         says TensorRT and vLLM otherwise, batch and token budget sized to the KV cache (`trtllm-bench`'s rule, memory\n\
         fraction 0.95), admission on current need with preemption (estimate: TensorRT-LLM's `MAX_UTILIZATION`),\n\
         fp8 KV cache (estimate). Lengths: {lengths}. Nothing is fitted to these rows.\n\
         **Relative** divides each predicted/measured by the median over the same benchmark's H200 Offline rows\n\
         ({references}): it cancels what the dataset's lengths get wrong for every accelerator and scenario, and\n\
         keeps what a chip comparison needs (and the latency-bound scenarios' own errors). Reproduce: `tokenfab validate mlperf --input ../shared/reference/mlperf_v51_llm_results.csv`.\n",
        thousands(tokenfab_aic::SERVER_REQUESTS as f64),
        tokenfab_aic::SERVER_MIN_DURATION_S,
        tokenfab_aic::SERVER_WARMUP_SHARE * 100.0,
    );
    for (title, key) in keys() {
        let _ = writeln!(md, "| {title} | {} |", HEAD[..4].join(" | "));
        let _ = writeln!(md, "|{}", "---|".repeat(5));
        for s in slices(&scored, key, &reference) {
            let _ = writeln!(md, "| {} | {} |", s.name, cells(&s).join(" | "));
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "In fairness: MI300X's GEMM efficiencies (bf16 0.54, fp8 0.487 of the dense peaks) come from AMD's own\n\
         max-achievable-FLOPs measurement and MI325X carries them as an estimate (same die); they were looked up\n\
         because these rows put the two chips 1.50 × and 1.25 × too fast with the generic fractions (llama2-70b\n\
         Offline rows MAPE 19.8 → 10.6 %). The figures are AMD's, not chosen on these rows. MI355X (CDNA4) has no published\n\
         figure here and stays on the generic fractions; its three llama2-70b results are open-division MXFP4\n\
         runs. Blackwell is predicted 10–15 % slow here while the TensorRT-LLM overview section puts it 9 % fast:\n\
         the two benchmarks' settings are re-created from different documentation, and neither is tuned.\n\
         llama3.1-8b and mixtral-8x7b are predicted 1.2–1.3 × fast in absolute terms, about what their H200\n\
         Offline rows say (relative MAPE 8.4 % and 8.0 %). llama3.1-8b's output mean is the least certain length\n\
         here (MLCommons publishes characters, not tokens; 4.4 characters a token is an estimate), and with its\n\
         prompts dominating the work the predicted tokens/s move almost in proportion to it, but it cannot explain\n\
         1.2 × alone (that would take more than 5 characters a token); what else runs fast is not identified. The relative\n\
         figures divided by the H200 median of all benchmarks and scenarios until mixtral and llama3.1-8b were added\n\
         (14.4 % on the 159 llama2-70b and llama3.1-405b rows then); two benchmarks with different length errors\n\
         need their own reference. A rate probe simulates at least 600 s of arrivals (MLPerf's minimum duration):\n\
         with 2,000 samples a probe at the Offline rate itself passed the bounds for llama3.1-8b and mixtral, 13 s of\n\
         traffic being too short for a queue at full load to outgrow them (llama2-70b Server 9.6 → 8.7 %).\n\
         deepseek-r1 (B200, GB200 and GB300 in fp4; its one H200 result is open division) is predicted 1.6 × fast\n\
         Offline and 3 × fast Server, DEP8 the best simulated layout everywhere: the step model runs DeepSeek-R1's\n\
         expert-parallel steps on Blackwell faster than the hardware does at large batch (`tokenfab step --model\n\
         deepseek-r1 --chip b200 --attn-dp 8 --ep 8 --dtype fp4 --batch 2048 --context 1500`: 25 ms), and the AIC\n\
         section says the same from measured TPOTs (DeepSeek-R1 with DEP8 on B200, TensorRT-LLM, 1024/1024, 128 and\n\
         256 clients: measured 1.7 × the predicted). Its Server rows are predicted at the Offline rate (the simulated\n\
         p99 TPOT stays far under the 80 ms bound) while the submissions' are 0.45–0.55 of their Offline ones. Its\n\
         prompt mean is an estimate (no per-sample table was found), but Offline is decode-bound there. (A first run\n\
         of this benchmark put Offline within 9 %: it simulated one DEP8 batch draining, since the batch cap is per\n\
         attention-DP rank and the run's sample count had been sized from one rank's.)\n\
         Three slices stand out: llama2-70b Interactive on MI300X, measured at a third of its Offline rate (1,105 vs\n\
         3,475 tokens/s per GPU) where the simulated bounds cost a third; llama3.1-405b Server, predicted 0.77 of the\n\
         measured while its Offline and Interactive rows are within 12 % (at the measured rate on 8 × H100 the\n\
         simulated p99 TTFT is 7.9–9.8 s against a 6 s bound: the simulated latency tail is heavier than NVIDIA's\n\
         harness achieves); and llama3.1-405b Interactive on H200, predicted at half the measured (13.5 vs 25.3\n\
         tokens/s per GPU) while B200 and GB200 are close.\n"
    );
    let _ = writeln!(md, "Per result (measured → predicted tokens/s per accelerator, best layout):\n");
    let mut ok: Vec<&Scored> = scored.iter().filter(|s| s.pred.is_ok()).collect();
    ok.sort_by(|a, b| a.row.model.cmp(&b.row.model).then(a.chip.cmp(&b.chip)).then(a.row.line.cmp(&b.row.line)));
    for s in ok {
        let (r, p) = (&s.row, s.pred.as_ref().expect("filtered"));
        let _ = writeln!(
            md,
            "- {} {} {} ({}), {} × {} {}: {:.0} → {:.0}, {}",
            r.model,
            r.id,
            r.submitter,
            r.division,
            r.num_accel,
            s.chip.as_deref().unwrap_or(""),
            r.weights,
            r.tok_s_per_accel,
            p.tok_s_per_accel,
            p.layout
        );
    }
    let _ = writeln!(md, "\nRows not simulated, by reason:\n");
    for (why, n) in reasons(&scored) {
        let _ = writeln!(md, "- {n} × {why}");
    }
    let _ = writeln!(md);
    Ok(md)
}

/// `2000.0` as `2,000`: whole numbers with thousands separators, as the document writes them.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x);
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scored row of `model`/`scenario` on `chip`, predicted `ratio` × its measured 1,000 tok/s.
    fn scored(model: &str, scenario: &str, chip: &str, ratio: f64) -> Scored {
        let row = MlperfRow {
            line: 2,
            id: "5.1-0001".into(),
            division: "closed".into(),
            submitter: "s".into(),
            accelerator: chip.into(),
            num_accel: 8,
            model: model.into(),
            scenario: scenario.into(),
            tok_s_per_accel: 1000.0,
            weights: "fp8".into(),
            software: "TensorRT".into(),
        };
        let pred = MlperfPrediction {
            tok_s_per_accel: 1000.0 * ratio,
            layout: tokenfab_aic::MlperfLayout { gpus: 1, dep: false },
            tried: vec![],
            iterations: 1,
        };
        Scored { row, chip: Some(chip.into()), engine: Some("trtllm".into()), pred: Ok(pred) }
    }

    #[test]
    fn relative_figures_divide_by_each_benchmarks_h200_offline_median() {
        let rows = [
            scored("a", "Offline", REFERENCE, 2.0),
            scored("a", "Server", REFERENCE, 1.0),
            scored("a", "Offline", "b200", 3.0),
            scored("b", "Offline", REFERENCE, 0.5),
            scored("b", "Offline", "b200", 0.5),
            scored("c", "Offline", "b200", 1.2),
        ];
        let refs = reference_ratios(&rows);
        // Server rows are not references; benchmark `c` has none.
        assert_eq!(refs.iter().map(|(k, v)| (k.as_str(), *v)).collect::<Vec<_>>(), [("a", 2.0), ("b", 0.5)]);
        assert_eq!(references_text(&refs), "a 2.00, b 0.50");
        let by_chip = slices(&rows, |s| s.chip.clone().unwrap_or_default(), &refs);
        let b200 = by_chip.iter().find(|s| s.name == "b200").unwrap();
        // b200: a 3.0 / 2.0 → 50 %; b 0.5 / 0.5 → 0 %; c (no reference) 1.2 → 20 %.
        assert!((b200.rel_mape - (50.0 + 0.0 + 20.0) / 3.0).abs() < 1e-9, "{}", b200.rel_mape);
        assert!((b200.mape - (200.0 + 50.0 + 20.0) / 3.0).abs() < 1e-9, "{}", b200.mape);
        let h200 = by_chip.iter().find(|s| s.name == REFERENCE).unwrap();
        // a Offline 0 %, a Server 1.0 / 2.0 → 50 %, b Offline 0 %.
        assert!((h200.rel_mape - 50.0 / 3.0).abs() < 1e-9, "{}", h200.rel_mape);
    }

    #[test]
    fn thousands_separates_whole_numbers() {
        assert_eq!(thousands(2000.0), "2,000");
        assert_eq!(thousands(600.0), "600");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }
}
