//! `tokenfab simulate`: discrete-event simulation of a serving deployment under a workload.
//!
//! `simulate [--scenario FILE | --scenario builtin:NAME] [--seed N] [--out DIR]
//! [--check-determinism] [--list]` runs the scenario (default `builtin:default`), prints a
//! summary table, and with `--out` writes `summary.json` (simulated results only: byte-identical
//! for the same inputs and seed), `timing.json` (wall clock), `requests.csv`/`.parquet` (one row
//! per request), `report.html` and `run.toml`.

use anyhow::{Context, Result, bail};
use comfy_table::{Table as TextTable, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use tokenfab_catalog::Catalog;
use tokenfab_report::html::{LineChart, Page, Series};
use tokenfab_report::{Column, Progress, RunRecord, Table, sha256_hex, summary_json, write_atomic, write_table};
use tokenfab_sim::scenario::{BUILTINS, GroupEvent, LoadInfo, Resolved, Scenario, Source, estimate_wall_s};
use tokenfab_sim::{SimResult, Summary};
use tokenfab_workload::Request;

/// Flags of `tokenfab simulate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario file (TOML) or `builtin:NAME` (see `--list`); default `builtin:default`.
    #[arg(long, value_name = "FILE|builtin:NAME")]
    scenario: Option<String>,
    /// Seed (default: the scenario's `seed`, else 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory for summary.json, timing.json, requests.csv/.parquet, report.html, run.toml.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run twice and compare the SHA-256 digests of summary.json (exit 1 if they differ).
    #[arg(long)]
    check_determinism: bool,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    list: bool,
}

/// `summary.json`: simulated results only (no wall-clock figures), keys sorted.
#[derive(Serialize)]
struct SummaryFile<'a> {
    schema: &'static str,
    scenario: &'a str,
    seed: u64,
    deployment: DeploymentInfo,
    load: &'a LoadInfo,
    results: &'a Summary,
}

#[derive(Serialize)]
struct DeploymentInfo {
    model: String,
    system: String,
    chip: String,
    engine: String,
    engine_sources: &'static str,
    /// Tokens per step (SGLang picks it from GPU memory unless set).
    max_num_batched_tokens: u32,
    /// Largest CUDA-graph decode batch (0: no graphs).
    cuda_graph_max_batch: u32,
    chips: u64,
    pools: Vec<PoolInfo>,
}

#[derive(Serialize)]
struct PoolInfo {
    role: tokenfab_sim::Role,
    replicas: u32,
    tp: u32,
    pp: u32,
    attn_dp: u32,
    moe_tp: u32,
    moe_ep: u32,
    kv_blocks_per_engine: u64,
    block_size_tokens: u32,
    weight_gb_per_chip: f64,
    kv_gb_per_chip: f64,
    memory_fraction: f64,
}

fn deployment_info(r: &Resolved) -> DeploymentInfo {
    let d = &r.deployment;
    DeploymentInfo {
        model: d.model_id.clone(),
        system: d.system_id.clone(),
        chip: d.chip_id.clone(),
        engine: d.engine.kind.as_str().into(),
        engine_sources: tokenfab_sim::EngineProfile::sources(d.engine.kind),
        max_num_batched_tokens: d.engine.max_num_batched_tokens,
        cuda_graph_max_batch: d.engine.cuda_graph_sizes.last().copied().unwrap_or(0),
        chips: d.chips(),
        pools: d
            .pools
            .iter()
            .map(|p| PoolInfo {
                role: p.role,
                replicas: p.replicas,
                tp: p.parallel.tp,
                pp: p.parallel.pp,
                attn_dp: p.parallel.attn_dp,
                moe_tp: p.parallel.moe_tp,
                moe_ep: p.parallel.moe_ep,
                kv_blocks_per_engine: p.kv_blocks,
                block_size_tokens: d.engine.block_size,
                weight_gb_per_chip: p.weight_bytes_per_chip / 1e9,
                kv_gb_per_chip: p.kv_bytes_per_chip / 1e9,
                memory_fraction: p.memory_fraction,
            })
            .collect(),
    }
}

/// Loads a scenario: `builtin:NAME` or a file. Returns (name used in errors, scenario, file dir).
fn load_scenario(arg: &str) -> Result<(String, Scenario, Option<PathBuf>)> {
    if let Some(name) = arg.strip_prefix("builtin:") {
        return Ok((arg.to_string(), Scenario::builtin(name)?, None));
    }
    let path = Path::new(arg);
    let text = crate::io::read_text(path)?;
    crate::cmd::repeat::refuse_run_record(arg, &text)?;
    let s = Scenario::from_toml(&path.display().to_string(), &text)?;
    // `scenario.toml` has the parent `` (the current directory).
    let dir = path.parent().map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p });
    Ok((path.display().to_string(), s, dir.map(Path::to_path_buf)))
}

/// A trace the scenario replays: its requests and the SHA-256 of the file (for `run.toml`).
struct Trace {
    requests: Vec<Request>,
    sha256: String,
}

/// Reads a trace named by the scenario (relative paths are relative to the scenario file's
/// directory `dir`). With `expect_sha256` (a repeat), a file whose bytes changed is an error.
fn read_trace(
    resolved: &Resolved,
    dir: Option<&Path>,
    file: &str,
    seed: u64,
    expect_sha256: Option<&str>,
) -> Result<Option<Trace>> {
    let Source::Trace(t) = &resolved.source else { return Ok(None) };
    let path = if t.trace.is_relative() { dir.unwrap_or(Path::new(".")).join(&t.trace) } else { t.trace.clone() };
    let format = match &t.format {
        Some(f) => Some(
            tokenfab_workload::readers::Format::from_name(f)
                .with_context(|| format!("{file}: load.workload.format: unknown trace format `{f}`"))?,
        ),
        None => None,
    };
    let sha256 = crate::io::sha256_file(&path).with_context(|| format!("{file}: load.workload.trace"))?;
    if let Some(want) = expect_sha256
        && want != sha256
    {
        bail!(
            "{file}: load.workload.trace: {} changed since the run (sha256 {want} then, {sha256} now)",
            path.display()
        );
    }
    let fh = std::fs::File::open(&path)
        .with_context(|| format!("{file}: load.workload.trace: cannot open {}", path.display()))?;
    let opts = tokenfab_workload::readers::ReadOptions { lenient: t.lenient, seed, ..Default::default() };
    let reader = tokenfab_workload::readers::TraceReader::new(std::io::BufReader::new(fh), format, opts)
        .with_context(|| format!("{}", path.display()))?;
    let limit = resolved.scenario.load.requests.unwrap_or(u64::MAX);
    let mut v = Vec::new();
    for r in reader {
        if v.len() as u64 >= limit {
            break;
        }
        v.push(r.with_context(|| format!("{}", path.display()))?);
    }
    Ok(Some(Trace { requests: v, sha256 }))
}

struct Outcome {
    result: SimResult,
    info: LoadInfo,
    summary: Summary,
    json: String,
    wall_s: f64,
    /// Wall time of each parallel group, in group order.
    group_wall_s: Vec<f64>,
    /// Wall time before the first group started and after the last one finished (capacity
    /// probe, merge).
    serial_s: f64,
}

fn simulate_once(resolved: &Resolved, name: &str, seed: u64, trace: Option<&[Request]>) -> Result<Outcome> {
    let groups = resolved.scenario.router.parallel_groups as u64;
    let bar = Progress::new(groups, &format!("simulating {name}"));
    let t = Instant::now();
    let spans = std::sync::Mutex::new(vec![(t, t); groups as usize]);
    let on_group = |e: GroupEvent| {
        let now = Instant::now();
        // A poisoned lock only loses timing figures, never results.
        if let Ok(mut v) = spans.lock() {
            match e {
                GroupEvent::Started(g) => v[g as usize] = (now, now),
                GroupEvent::Finished(g) => v[g as usize].1 = now,
            }
        }
        if let GroupEvent::Finished(_) = e {
            bar.inc(1);
        }
    };
    let (result, info) = resolved.execute(seed, trace, &on_group).with_context(|| format!("simulating {name}"))?;
    let wall_s = t.elapsed().as_secs_f64();
    bar.finish();
    let spans = spans.into_inner().unwrap_or_else(|p| p.into_inner());
    let group_wall_s = spans.iter().map(|(a, b)| b.saturating_duration_since(*a).as_secs_f64()).collect();
    let serial_s = match (spans.iter().map(|s| s.0).min(), spans.iter().map(|s| s.1).max()) {
        (Some(first), Some(last)) => (wall_s - last.saturating_duration_since(first).as_secs_f64()).max(0.0),
        _ => wall_s,
    };
    let summary = result.summary(&resolved.config.slos, resolved.deployment.it_power_factor, resolved.config.pue);
    let file = SummaryFile {
        schema: "tokenfab.simulate.summary/1",
        scenario: name,
        seed,
        deployment: deployment_info(resolved),
        load: &info,
        results: &summary,
    };
    let json = summary_json(&file)?;
    Ok(Outcome { result, info, summary, json, wall_s, group_wall_s, serial_s })
}

pub fn run(catalog: &Catalog, args: Args) -> Result<ExitCode> {
    if args.list {
        let mut t = TextTable::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_header(["scenario", "description"]);
        for (name, desc, _) in BUILTINS {
            t.add_row([format!("builtin:{name}"), desc.to_string()]);
        }
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), "{t}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let arg = args.scenario.clone().unwrap_or_else(|| "builtin:default".into());
    let (name, scenario, dir) = load_scenario(&arg)?;
    let seed = args.seed.or(scenario.seed).unwrap_or(0);
    let run = Run { name: &name, scenario: &scenario, dir: dir.as_deref(), seed, trace_sha256: None };
    execute(catalog, &run, args.out.as_deref(), args.check_determinism)
}

/// One simulation to run: the scenario, where its relative paths start, the seed.
struct Run<'a> {
    name: &'a str,
    scenario: &'a Scenario,
    dir: Option<&'a Path>,
    seed: u64,
    /// The recorded trace digest, when repeating a run.
    trace_sha256: Option<&'a str>,
}

fn execute(catalog: &Catalog, run: &Run, out: Option<&Path>, check_determinism: bool) -> Result<ExitCode> {
    let (name, seed) = (run.name, run.seed);
    let resolved = Resolved::new(name, run.scenario, catalog)?;
    let trace = read_trace(&resolved, run.dir, name, seed, run.trace_sha256)?;
    let requests = trace.as_ref().map(|t| t.requests.as_slice());
    let o = simulate_once(&resolved, name, seed, requests)?;
    let digest = sha256_hex(o.json.as_bytes());
    let mut text = summary_text(&resolved, &o, seed);
    let mut code = ExitCode::SUCCESS;
    if check_determinism {
        let again = simulate_once(&resolved, name, seed, requests)?;
        let d2 = sha256_hex(again.json.as_bytes());
        if d2 == digest {
            text.push_str(&format!("determinism: OK (summary.json sha256 {digest}, two runs)\n"));
        } else {
            eprintln!("determinism: FAILED: summary.json sha256 {digest} then {d2}");
            code = ExitCode::from(1);
        }
    }
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
    }
    if let Some(out) = out {
        let mut inputs = toml::Table::new();
        inputs.insert("scenario_name".into(), toml::Value::String(name.to_string()));
        if let Some(dir) = run.dir {
            // Absolute, so that `tokenfab repeat` finds a relative trace from anywhere.
            let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
            inputs.insert("scenario_dir".into(), toml::Value::String(abs.display().to_string()));
        }
        if let Some(t) = &trace {
            inputs.insert("trace_sha256".into(), toml::Value::String(t.sha256.clone()));
        }
        write_outputs(out, &resolved, name, seed, &o, &digest, inputs)?;
        eprintln!("wrote {}: summary.json, timing.json, requests.csv/.parquet, report.html, run.toml", out.display());
    }
    Ok(code)
}

/// `tokenfab repeat` of a `simulate` run: the recorded scenario, seed, scenario directory and
/// trace digest; outputs into `out`.
pub fn repeat(catalog: &Catalog, record: &RunRecord, file: &str, out: &Path) -> Result<ExitCode> {
    let inputs = &record.inputs;
    let name = crate::cmd::repeat::input_str(inputs, "scenario_name", file)?;
    let table = inputs
        .get("scenario")
        .and_then(toml::Value::as_table)
        .with_context(|| format!("{file}: inputs.scenario: expected the recorded scenario table"))?;
    let text = toml::to_string(table).context("cannot re-serialize the recorded scenario")?;
    let scenario = Scenario::from_toml(&format!("{file} [inputs.scenario]"), &text)?;
    let dir = inputs.get("scenario_dir").and_then(toml::Value::as_str).map(PathBuf::from);
    let run = Run {
        name,
        scenario: &scenario,
        dir: dir.as_deref(),
        seed: record.seed,
        trace_sha256: inputs.get("trace_sha256").and_then(toml::Value::as_str),
    };
    execute(catalog, &run, Some(out), false)
}

/// `n thing` or `n things`.
fn plural(n: u64, thing: &str) -> String {
    if n == 1 { format!("1 {thing}") } else { format!("{n} {thing}s") }
}

/// The replicas and their layout, e.g. `8 replicas of TP2 on hgx-h100-8` or
/// `2 prefill replicas of TP4 + 2 decode replicas of TP4 on hgx-h200-8`.
fn pools_text(d: &tokenfab_sim::Deployment) -> String {
    let pools: Vec<String> = d
        .pools
        .iter()
        .map(|p| {
            let q = &p.parallel;
            let mut layout = format!("TP{}", q.tp);
            for (name, v) in [("PP", q.pp), ("DP", q.attn_dp), ("EP", q.moe_ep)] {
                if v > 1 {
                    layout.push_str(&format!(" {name}{v}"));
                }
            }
            let role = match p.role {
                tokenfab_sim::Role::Unified => "",
                tokenfab_sim::Role::Prefill => "prefill ",
                tokenfab_sim::Role::Decode => "decode ",
            };
            let noun = if p.replicas == 1 { "replica" } else { "replicas" };
            format!("{} {role}{noun} of {layout}", p.replicas)
        })
        .collect();
    format!("{} on {}", pools.join(" + "), d.system_id)
}

fn summary_text(r: &Resolved, o: &Outcome, seed: u64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let s = &o.summary;
    let d = &r.deployment;
    let _ = writeln!(
        out,
        "{}, {} ({}, {}), seed {seed}: {} requests completed, {} unfinished, {} engine iterations in {:.2} s wall ({:.2} M iterations/s)",
        d.model_id,
        pools_text(d),
        plural(d.chips(), "chip"),
        d.engine.kind.as_str(),
        s.counters.requests_completed,
        s.counters.requests_unfinished,
        s.counters.engine_iterations,
        o.wall_s,
        s.counters.engine_iterations as f64 / o.wall_s.max(1e-9) / 1e6,
    );
    if let (Some(c), Some(off)) = (o.info.capacity_requests_per_s, o.info.offered_requests_per_s) {
        let _ =
            writeln!(out, "load: offered {off:.2} req/s = {:.0} % of measured capacity {c:.2} req/s", off / c * 100.0);
    }
    let mut t = TextTable::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(["metric", "mean", "p50", "p90", "p99"]);
    for (n, dd) in [
        ("TTFT, ms", &s.latency.ttft_ms),
        ("TPOT, ms", &s.latency.tpot_ms),
        ("ITL, ms", &s.latency.itl_ms),
        ("E2E, ms", &s.latency.e2e_ms),
    ] {
        t.add_row([n.to_string(), f(dd.mean), f(dd.p50), f(dd.p90), f(dd.p99)]);
    }
    let _ = writeln!(out, "{t}");
    let mut t = TextTable::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(["figure", "value"]);
    for (n, v) in [
        ("requests/s", f(s.throughput.requests_per_s)),
        ("output tokens/s", f(s.throughput.output_tokens_per_s)),
        ("output tokens/s per chip", f(s.throughput.output_tokens_per_s_per_chip)),
        ("goodput, requests/s (fraction)", format!("{} ({:.3})", f(s.goodput.requests_per_s), s.goodput.fraction)),
        ("energy, J/output token (chip)", f(s.energy.chip_j_per_output_token)),
        ("energy, J/output token (facility)", f(s.energy.facility_j_per_output_token)),
        ("mean chip power, W", f(s.energy.mean_chip_power_w)),
        (
            "KV utilization mean / peak",
            format!("{:.3} / {:.3}", s.kv_cache.utilization_mean, s.kv_cache.utilization_peak),
        ),
        ("prefix-cache hit tokens per request", f(s.kv_cache.prefix_hit_tokens_mean)),
        ("preemptions", s.counters.preemptions.to_string()),
        ("simulated time, s", f(s.simulated_s)),
    ] {
        t.add_row([n.to_string(), v]);
    }
    let _ = writeln!(out, "{t}");
    out
}

fn f(x: f64) -> String {
    if x.abs() >= 100.0 { format!("{x:.1}") } else { format!("{x:.3}") }
}

/// Per-request rows (an evenly spaced sample when there are more than `max` requests).
fn request_table(res: &SimResult, max: u64) -> Result<Table> {
    let n = res.records.len() as u64;
    let stride = n.div_ceil(max.max(1)).max(1) as usize;
    let rows: Vec<_> = res.records.iter().step_by(stride).collect();
    let ms = |x: Option<u64>| x.map_or(f64::NAN, |v| v as f64 * 1e-6);
    let mut t = Table::new();
    t.add("id", Column::I64(rows.iter().map(|r| r.id as i64).collect()))?;
    t.add("class", Column::I64(rows.iter().map(|r| r.class as i64).collect()))?;
    t.add("arrival_s", Column::F64(rows.iter().map(|r| r.arrival_ns as f64 * 1e-9).collect()))?;
    t.add("input_tokens", Column::I64(rows.iter().map(|r| r.input_tokens as i64).collect()))?;
    t.add("output_tokens", Column::I64(rows.iter().map(|r| r.output_tokens as i64).collect()))?;
    t.add("cached_tokens", Column::I64(rows.iter().map(|r| r.cached_tokens as i64).collect()))?;
    t.add("ttft_ms", Column::F64(rows.iter().map(|r| ms(r.ttft_ns())).collect()))?;
    t.add("tpot_ms", Column::F64(rows.iter().map(|r| r.tpot_ns().map_or(f64::NAN, |v| v * 1e-6)).collect()))?;
    t.add("e2e_ms", Column::F64(rows.iter().map(|r| ms(r.e2e_ns())).collect()))?;
    t.add("preemptions", Column::I64(rows.iter().map(|r| r.preemptions as i64).collect()))?;
    t.add("replica", Column::I64(rows.iter().map(|r| r.replica as i64).collect()))?;
    t.add("decode_replica", Column::I64(rows.iter().map(|r| r.decode_replica.map_or(-1, |d| d as i64)).collect()))?;
    Ok(t)
}

fn report_html(r: &Resolved, name: &str, o: &Outcome) -> Result<String> {
    let s = &o.summary;
    let mut page = Page::new(&format!("tokenfab simulate: {name}"));
    page.paragraph(&format!(
        "{}, {} ({}, {}). {} requests completed over {:.1} simulated seconds.",
        r.deployment.model_id,
        pools_text(&r.deployment),
        plural(r.deployment.chips(), "chip"),
        r.deployment.engine.kind.as_str(),
        s.counters.requests_completed,
        s.simulated_s
    ));
    let mut t = Table::new();
    let names = ["TTFT", "TPOT", "ITL", "E2E"];
    let ds = [&s.latency.ttft_ms, &s.latency.tpot_ms, &s.latency.itl_ms, &s.latency.e2e_ms];
    t.add("metric_ms", Column::Str(names.iter().map(|x| x.to_string()).collect()))?;
    t.add("mean", Column::F64(ds.iter().map(|d| d.mean).collect()))?;
    t.add("p50", Column::F64(ds.iter().map(|d| d.p50).collect()))?;
    t.add("p90", Column::F64(ds.iter().map(|d| d.p90).collect()))?;
    t.add("p99", Column::F64(ds.iter().map(|d| d.p99).collect()))?;
    page.heading("Latency").table(&t);
    // TTFT and TPOT percentiles per time window of arrivals.
    let end = o.result.records.iter().map(|r| r.arrival_ns).max().unwrap_or(0);
    let window = (end / 30).max(1_000_000_000);
    let mut buckets: std::collections::BTreeMap<u64, (Vec<f64>, Vec<f64>)> = Default::default();
    for rec in &o.result.records {
        let b = buckets.entry(rec.arrival_ns / window).or_default();
        if let Some(x) = rec.ttft_ns() {
            b.0.push(x as f64 * 1e-6);
        }
        if let Some(x) = rec.tpot_ns() {
            b.1.push(x * 1e-6);
        }
    }
    let mut series = vec![Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for (k, (mut tt, mut tp)) in buckets {
        let x = (k * window) as f64 * 1e-9;
        tt.sort_by(f64::total_cmp);
        tp.sort_by(f64::total_cmp);
        for (i, v, p) in [(0, &tt, 50.0), (1, &tt, 99.0), (2, &tp, 50.0), (3, &tp, 99.0)] {
            if let Some(y) = tokenfab_sim::metrics::nearest_rank(v, p) {
                series[i].push((x, y));
            }
        }
    }
    let mut it = series.into_iter();
    let (a, b, c, d) = (it.next(), it.next(), it.next(), it.next());
    page.heading("Over time").line_chart(&LineChart {
        title: "TTFT by arrival time".into(),
        x_label: "arrival, s".into(),
        y_label: "TTFT, ms".into(),
        series: vec![
            Series { name: "p50".into(), points: a.unwrap_or_default() },
            Series { name: "p99".into(), points: b.unwrap_or_default() },
        ],
    });
    page.line_chart(&LineChart {
        title: "TPOT by arrival time".into(),
        x_label: "arrival, s".into(),
        y_label: "TPOT, ms".into(),
        series: vec![
            Series { name: "p50".into(), points: c.unwrap_or_default() },
            Series { name: "p99".into(), points: d.unwrap_or_default() },
        ],
    });
    Ok(page.render())
}

fn write_outputs(
    out: &Path,
    r: &Resolved,
    name: &str,
    seed: u64,
    o: &Outcome,
    digest: &str,
    mut inputs: toml::Table,
) -> Result<()> {
    write_atomic(&out.join("summary.json"), o.json.as_bytes())?;
    #[derive(Serialize)]
    struct Timing {
        wall_s: f64,
        engine_iterations_per_s: f64,
        threads: usize,
        step_model_evaluations: u64,
        summary_sha256: String,
        /// Wall time of each parallel group (one core each), in group order.
        group_wall_s: Vec<f64>,
        /// Wall time before the first group started and after the last finished (capacity
        /// probe, merge).
        serial_s: f64,
        /// Estimated wall time on other core counts from the group times (not measured).
        estimated_wall_s: Vec<CoresEstimate>,
    }
    #[derive(Serialize)]
    struct CoresEstimate {
        cores: usize,
        wall_s: f64,
    }
    let serial_s = o.serial_s;
    let timing = Timing {
        wall_s: o.wall_s,
        engine_iterations_per_s: o.summary.counters.engine_iterations as f64 / o.wall_s.max(1e-9),
        threads: rayon_threads(),
        step_model_evaluations: o.result.step_cost_evaluations,
        summary_sha256: digest.to_string(),
        group_wall_s: o.group_wall_s.clone(),
        serial_s,
        estimated_wall_s: [1, 2, 4, 8, 16, 32, 64]
            .into_iter()
            .map(|cores| CoresEstimate { cores, wall_s: estimate_wall_s(&o.group_wall_s, serial_s, cores) })
            .collect(),
    };
    write_atomic(&out.join("timing.json"), summary_json(&timing)?.as_bytes())?;
    write_table(out, "requests", &request_table(&o.result, r.scenario.output.max_request_rows)?)?;
    write_atomic(&out.join("report.html"), report_html(r, name, o)?.as_bytes())?;
    let scen = toml::Table::try_from(&r.scenario).context("cannot record the scenario in run.toml")?;
    inputs.insert("scenario".into(), toml::Value::Table(scen));
    let record = crate::io::run_record("simulate", seed, inputs);
    write_atomic(&out.join("run.toml"), record.to_toml()?.as_bytes())?;
    if o.summary.counters.requests_unfinished > 0 {
        eprintln!("note: {} requests were still unfinished at the end", o.summary.counters.requests_unfinished);
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
