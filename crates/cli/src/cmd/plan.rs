//! `tokenfab plan`: the fleet planner (demand → racks, megawatts and cost, quarter by quarter).
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;
use tokenfab_catalog::Catalog;
use tokenfab_plan::{
    AnalyticCapacity, CapacityCache, CapacityModel, Plan, Scenario, SimCapacity, WhatIf, output, plan,
};

/// Flags of `tokenfab plan`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Each what-if flag gives one more plan, compared with the base plan in the report.\n\
Examples:\n  tokenfab plan                                   # built-in frontier-lab-2026-2029\n  \
tokenfab plan my.toml --out out/my-plan\n  \
tokenfab plan --delay nvidia=2 --demand-scale 1.5 --asic-efficiency -20 --site-cap own-campus=3000")]
pub struct Args {
    /// Scenario TOML file (default: the built-in `frontier-lab-2026-2029`).
    pub scenario: Option<PathBuf>,
    /// Output directory.
    #[arg(long, default_value = "out/plan")]
    pub out: PathBuf,
    /// Keep capacity results in DIR/capacity-cache.json so repeated plans are instant.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// What-if: delay every delivery of VENDOR by K quarters (repeatable).
    #[arg(long, value_name = "VENDOR=K")]
    pub delay: Vec<String>,
    /// What-if: multiply demand by F (repeatable).
    #[arg(long, value_name = "F")]
    pub demand_scale: Vec<f64>,
    /// What-if: in-house chip throughput changed by PCT percent, e.g. 20 or -20 (repeatable).
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    pub asic_efficiency: Vec<f64>,
    /// What-if: set the facility power cap of SITE to MW (repeatable).
    #[arg(long, value_name = "SITE=MW")]
    pub site_cap: Vec<String>,
    /// Capacity fidelity: `analytic` (step model, instant) or `sim` (discrete-event simulation of
    /// each task on each system, searched for the highest load meeting the SLOs; slower, cached).
    #[arg(long, default_value = "analytic", value_parser = ["analytic", "sim"])]
    pub fidelity: String,
    /// Print the built-in scenario TOML and exit.
    #[arg(long)]
    pub print_scenario: bool,
    /// Print less to stdout.
    #[arg(long, short)]
    pub quiet: bool,
}

fn split_kv(s: &str, flag: &str) -> Result<(String, String)> {
    let (k, v) = s.split_once('=').with_context(|| format!("{flag} expects NAME=VALUE, got `{s}`"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

/// The what-ifs the flags ask for, one per flag occurrence.
pub fn what_ifs(args: &Args) -> Result<Vec<WhatIf>> {
    let mut out = Vec::new();
    for d in &args.delay {
        let (vendor, k) = split_kv(d, "--delay")?;
        let k: i64 = k.parse().with_context(|| format!("--delay {d}: K must be a whole number of quarters"))?;
        out.push(WhatIf { delays: [(vendor, k)].into(), ..Default::default() });
    }
    for f in &args.demand_scale {
        out.push(WhatIf { demand_scale: Some(*f), ..Default::default() });
    }
    for p in &args.asic_efficiency {
        out.push(WhatIf { asic_efficiency_pct: Some(*p), ..Default::default() });
    }
    for c in &args.site_cap {
        let (site, mw) = split_kv(c, "--site-cap")?;
        let mw: f64 = mw.parse().with_context(|| format!("--site-cap {c}: MW must be a number"))?;
        out.push(WhatIf { site_caps: [(site, mw)].into(), ..Default::default() });
    }
    Ok(out)
}

fn fmt_si(v: f64) -> String {
    let a = v.abs();
    if a >= 1e12 {
        format!("{:.2}T", v / 1e12)
    } else if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn print_plan(p: &Plan) -> Result<()> {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header([
        "quarter",
        "demand tok/s",
        "capacity tok/s",
        "util",
        "headroom",
        "IT MW",
        "facility MW",
        "chips by vendor",
        "cost $",
        "$/Mtok",
        "binding (site power; all when short)",
    ]);
    for q in &p.quarters {
        let chips: Vec<String> = q.chips_by_vendor.iter().map(|(v, c)| format!("{v} {}", fmt_si(*c as f64))).collect();
        // Deliveries fully deployed are the normal state; show what limits: site power, and any
        // constraint named while demand goes unserved.
        let short = q.unserved_tokens_per_s > 0.0;
        let binding: Vec<&str> = q
            .binding
            .iter()
            .filter(|b| short || !b.constraint.starts_with("deliveries:"))
            .map(|b| b.constraint.as_str())
            .collect();
        t.add_row([
            q.quarter.clone(),
            fmt_si(q.demand_tokens_per_s),
            fmt_si(q.capacity_tokens_per_s),
            format!("{:.0}%", q.utilization * 100.0),
            format!("{:.1}x", q.demand_headroom),
            format!("{:.0}", q.it_power_mw),
            format!("{:.0}", q.facility_power_mw),
            chips.join(", "),
            fmt_si(q.cost_usd),
            format!("{:.3}", q.usd_per_mtok),
            binding.join(" "),
        ]);
    }
    outln!("{t}");
    Ok(())
}

/// Runs `tokenfab plan`.
pub fn run(catalog: &Catalog, args: Args) -> Result<ExitCode> {
    if args.print_scenario {
        out!("{}", tokenfab_plan::BUILTIN_FRONTIER_LAB);
        return Ok(ExitCode::SUCCESS);
    }
    let (file, text) = match &args.scenario {
        Some(path) => {
            let text = crate::io::read_text(path)?;
            crate::cmd::repeat::refuse_run_record(&path.display().to_string(), &text)?;
            (path.display().to_string(), text)
        }
        None => (format!("builtin:{}", tokenfab_plan::BUILTIN_NAME), tokenfab_plan::BUILTIN_FRONTIER_LAB.to_string()),
    };
    run_text(catalog, &args, file, text)
}

/// `tokenfab repeat` of a `plan` run: the recorded scenario text, what-if flags and fidelity;
/// outputs into `out`.
pub fn repeat(
    catalog: &Catalog,
    record: &tokenfab_report::RunRecord,
    file: &str,
    out: &std::path::Path,
) -> Result<ExitCode> {
    use crate::cmd::repeat::{input_str, input_table};
    let inputs = &record.inputs;
    let text = input_str(inputs, "scenario_text", file)?.to_string();
    let flags = input_table(inputs, "flags", file)?;
    let strings = |key: &str| -> Result<Vec<String>> {
        let v = flags.get(key).and_then(toml::Value::as_array).map(Vec::as_slice).unwrap_or_default();
        v.iter()
            .map(|x| {
                x.as_str().map(String::from).with_context(|| format!("{file}: inputs.flags.{key}: expected strings"))
            })
            .collect()
    };
    let numbers = |key: &str| -> Result<Vec<f64>> {
        let v = flags.get(key).and_then(toml::Value::as_array).map(Vec::as_slice).unwrap_or_default();
        v.iter()
            .map(|x| {
                x.as_float()
                    .or_else(|| x.as_integer().map(|i| i as f64))
                    .with_context(|| format!("{file}: inputs.flags.{key}: expected numbers"))
            })
            .collect()
    };
    let args = Args {
        scenario: None,
        out: out.to_path_buf(),
        cache_dir: None,
        delay: strings("delay")?,
        demand_scale: numbers("demand_scale")?,
        asic_efficiency: numbers("asic_efficiency")?,
        site_cap: strings("site_cap")?,
        fidelity: input_str(inputs, "fidelity", file)?.to_string(),
        print_scenario: false,
        quiet: false,
    };
    if !["analytic", "sim"].contains(&args.fidelity.as_str()) {
        bail!("{file}: inputs.fidelity: expected `analytic` or `sim`, got `{}`", args.fidelity);
    }
    let scenario_file = input_str(inputs, "scenario_file", file)?.to_string();
    run_text(catalog, &args, scenario_file, text)
}

/// The plan of a scenario given as text (`file` names it in errors and in the report).
fn run_text(catalog: &Catalog, args: &Args, file: String, text: String) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let scenario = Scenario::load(&file, &text, catalog).map_err(|e| anyhow::anyhow!("{e}"))?;
    let what_ifs = what_ifs(args)?;
    let cache_path = args.cache_dir.as_ref().map(|d| d.join("capacity-cache.json"));
    let mut cache = match &cache_path {
        Some(p) if p.exists() => {
            let text = crate::io::read_text(p)?;
            CapacityCache::from_json(&text).with_context(|| format!("{}: not a capacity cache", p.display()))?
        }
        _ => CapacityCache::default(),
    };
    let analytic = AnalyticCapacity::default();
    let sim = SimCapacity::default();
    let model: &dyn CapacityModel = if args.fidelity == "sim" { &sim } else { &analytic };
    let base = plan(&scenario, &WhatIf::default(), catalog, model, &mut cache).context("base plan")?;
    let mut others = Vec::new();
    for w in &what_ifs {
        let p = plan(&scenario, w, catalog, model, &mut cache).with_context(|| format!("what-if `{}`", w.label()))?;
        others.push(p);
    }
    if let Some(p) = &cache_path {
        tokenfab_report::write_atomic(p, cache.to_json().as_bytes())?;
    }

    let out = &args.out;
    let summary = output::summary(&base, &others);
    tokenfab_report::write_atomic(&out.join("summary.json"), tokenfab_report::summary_json(&summary)?.as_bytes())?;
    for (stem, table) in output::tables(&base, &others)? {
        tokenfab_report::write_table(out, stem, &table)?;
    }
    let notes = vec![format!("Scenario: {} ({file}). {}", scenario.name, scenario.description)];
    tokenfab_report::write_atomic(&out.join("report.html"), output::report_html(&base, &others, &notes)?.as_bytes())?;
    let mut inputs = toml::Table::new();
    inputs.insert("scenario_file".into(), toml::Value::String(file.clone()));
    inputs.insert("scenario".into(), toml::Value::Table(toml::Table::try_from(&scenario)?));
    inputs.insert(
        "what_ifs".into(),
        toml::Value::Array(what_ifs.iter().map(|w| toml::Value::String(w.label())).collect()),
    );
    inputs.insert("fidelity".into(), toml::Value::String(base.fidelity.clone()));
    // What `tokenfab repeat` needs: the scenario exactly as read, and the what-if flags.
    inputs.insert("scenario_text".into(), toml::Value::String(text.clone()));
    let mut flags = toml::Table::new();
    let strs = |v: &[String]| toml::Value::Array(v.iter().map(|x| toml::Value::String(x.clone())).collect());
    let nums = |v: &[f64]| toml::Value::Array(v.iter().map(|x| toml::Value::Float(*x)).collect());
    flags.insert("delay".into(), strs(&args.delay));
    flags.insert("demand_scale".into(), nums(&args.demand_scale));
    flags.insert("asic_efficiency".into(), nums(&args.asic_efficiency));
    flags.insert("site_cap".into(), strs(&args.site_cap));
    inputs.insert("flags".into(), toml::Value::Table(flags));
    let record = crate::io::run_record("plan", if args.fidelity == "sim" { sim.seed } else { 0 }, inputs);
    tokenfab_report::write_atomic(&out.join("run.toml"), record.to_toml()?.as_bytes())?;

    if !args.quiet {
        outln!("Scenario {} — base plan ({} capacity)", scenario.name, base.fidelity);
        print_plan(&base)?;
        let short = base.short_quarters();
        if let Some(q) = short.first() {
            outln!("Demand is not fully served in {} quarter(s), first {}:", short.len(), q.quarter);
            for b in &q.binding {
                outln!("  - {}", b.message);
            }
        }
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
        t.set_header(["plan", "served", "short quarters", "peak facility GW", "TWh", "capex $", "cost $", "$/Mtok"]);
        for r in &summary.what_ifs {
            t.add_row([
                r.what_if.clone(),
                format!("{:.1}%", r.served_share * 100.0),
                format!(
                    "{}{}",
                    r.short_quarters,
                    r.first_short_quarter.as_ref().map(|q| format!(" (from {q})")).unwrap_or_default()
                ),
                format!("{:.2}", r.peak_facility_power_mw / 1e3),
                format!("{:.1}", r.energy_twh),
                fmt_si(r.capex_usd),
                fmt_si(r.cost_usd),
                format!("{:.3}", r.usd_per_mtok),
            ]);
        }
        outln!("{t}");
    }
    eprintln!(
        "wrote {} (summary.json, report.html, run.toml, tables) in {:.2} s; capacity cache: {} computed, {} reused",
        out.display(),
        started.elapsed().as_secs_f64(),
        cache.misses,
        cache.hits
    );
    if base.quarters.is_empty() {
        bail!("the scenario has no quarters");
    }
    Ok(ExitCode::SUCCESS)
}
