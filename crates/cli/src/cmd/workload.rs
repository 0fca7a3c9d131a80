//! `tokenfab workload`: trace statistics, fitting a task class to a trace, and generating traces
//! from a workload spec.
//!
//! - `tokenfab workload stats FILE [--format F] [--json] [--lenient]`
//! - `tokenfab workload fit FILE [--format F] [--lenient] [--name N]`
//! - `tokenfab workload gen SPEC --out FILE [--seed N] (--requests N | --duration-s S)`
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokenfab_catalog::Catalog;
use tokenfab_workload::{
    ArrivalSpec, Format, NativeFormat, NativeWriter, ReadCounts, ReadOptions, ServeGenLengths, SpreadTies, TraceReader,
    TraceStats, WorkloadSpec,
};

/// Flags of `tokenfab workload`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Requests, duration, rate, inter-arrival CV and token percentiles of a trace (streaming).
    Stats(StatsArgs),
    /// Fit a task class (lognormal lengths, Gamma arrivals) to a trace and print it as a workload TOML.
    Fit(FitArgs),
    /// Generate a trace in the native format from a workload spec (TOML file or builtin:NAME).
    Gen(GenArgs),
}

/// How to read a trace (shared by stats and fit).
#[derive(clap::Args, Debug)]
struct TraceArgs {
    /// Trace file (format detected from its first line unless --format is given).
    file: PathBuf,
    /// Trace format: azure, burstgpt, mooncake, llmservingsim, qwen-bailian, servegen, lengths, vidur,
    /// native-csv, native-jsonl.
    #[arg(long, value_parser = parse_format)]
    format: Option<Format>,
    /// Skip malformed rows and count them instead of stopping at the first.
    #[arg(long)]
    lenient: bool,
    /// Seed for generated parts (ServeGen arrivals and lengths, arrivals of length tables).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Poisson arrival rate for length tables without timestamps (ShareGPT, arXiv), requests/s.
    #[arg(long, default_value_t = 1.0)]
    rate_per_s: f64,
    /// Spread requests sharing one timestamp at random (seeded) over the gap to the next (at most this
    /// many ms), e.g. 3000 for Mooncake's bucketed conversation trace.
    #[arg(long)]
    spread_ties_ms: Option<u64>,
}

#[derive(clap::Args, Debug)]
struct StatsArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// Print JSON (keys: requests, duration_s, rate_per_s, interarrival_cv, input_tokens, output_tokens).
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct FitArgs {
    #[command(flatten)]
    trace: TraceArgs,
    /// Name of the fitted workload (default: the file stem).
    #[arg(long)]
    name: Option<String>,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("amount").required(true).args(["requests", "duration_s"])))]
struct GenArgs {
    /// Workload spec: a TOML file, or builtin:NAME (builtin:assistant).
    spec: String,
    /// Output file: native JSONL when it ends in .jsonl, native CSV otherwise. Written atomically.
    #[arg(long)]
    out: PathBuf,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Number of requests to generate.
    #[arg(long)]
    requests: Option<u64>,
    /// Generate requests arriving within this many seconds.
    #[arg(long)]
    duration_s: Option<f64>,
    /// Scale the spec's arrival process to this weekly-mean rate, requests/s (shape, CV, profile and
    /// class mix unchanged).
    #[arg(long)]
    rate_per_s: Option<f64>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s).ok_or_else(|| {
        format!(
            "unknown format {s:?}; formats: {}",
            Format::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
        )
    })
}

pub fn run(_catalog: &Catalog, args: Args) -> Result<ExitCode> {
    match args.cmd {
        Cmd::Stats(a) => stats(a),
        Cmd::Fit(a) => fit(a),
        Cmd::Gen(a) => generate(a),
    }
}

/// Streams a trace through `f`, naming the file in every error; returns the format and counts.
fn read_trace(t: &TraceArgs, mut f: impl FnMut(&tokenfab_workload::Request)) -> Result<(Format, ReadCounts)> {
    let path = &t.file;
    let open = || -> Result<BufReader<std::fs::File>> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(BufReader::with_capacity(1 << 18, file))
    };
    if !(t.rate_per_s.is_finite() && t.rate_per_s > 0.0) {
        bail!("--rate-per-s must be > 0, got {}", t.rate_per_s);
    }
    let mut opts = ReadOptions {
        lenient: t.lenient,
        seed: t.seed,
        arrival: ArrivalSpec::Poisson { rate_per_s: t.rate_per_s, profile: None },
        ..ReadOptions::default()
    };
    let mut reader =
        TraceReader::new(open()?, t.format, opts.clone()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if reader.format() == Format::Servegen
        && let Some(ds) = servegen_dataset_path(path).filter(|p| p.exists())
    {
        let text = std::fs::read_to_string(&ds).with_context(|| format!("cannot read {}", ds.display()))?;
        opts.servegen_lengths =
            Some(ServeGenLengths::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", ds.display()))?);
        reader = TraceReader::new(open()?, Some(Format::Servegen), opts)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    let spread_ns = t.spread_ties_ms.map(|ms| ms.saturating_mul(1_000_000));
    let mut each = |r: Result<tokenfab_workload::Request, tokenfab_workload::WorkloadError>| -> Result<()> {
        f(&r.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?);
        Ok(())
    };
    match spread_ns {
        Some(ns) => SpreadTies::new(reader.by_ref(), ns, t.seed).try_for_each(&mut each)?,
        None => reader.by_ref().try_for_each(&mut each)?,
    }
    Ok((reader.format(), reader.counts().clone()))
}

/// `chunk-N-trace.csv` → `chunk-N-dataset.json` next to it.
fn servegen_dataset_path(trace: &Path) -> Option<PathBuf> {
    let name = trace.file_name()?.to_str()?;
    let stem = name.strip_suffix("-trace.csv")?;
    Some(trace.with_file_name(format!("{stem}-dataset.json")))
}

/// `stats --json`: the contract keys, then `skipped_rows` (with --lenient) and `failed_rows` (when
/// any).
#[derive(serde::Serialize)]
struct StatsJson<'a> {
    #[serde(flatten)]
    summary: &'a tokenfab_workload::StatsSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped_rows: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_rows: Option<u64>,
}

fn stats(a: StatsArgs) -> Result<ExitCode> {
    let mut st = TraceStats::default();
    let (format, counts) = read_trace(&a.trace, |r| st.add(r))?;
    let s = st.summary();
    let mut out = String::new();
    if a.json {
        let v = StatsJson {
            summary: &s,
            skipped_rows: a.trace.lenient.then_some(counts.skipped_rows),
            failed_rows: (counts.failed_rows > 0).then_some(counts.failed_rows),
        };
        out.push_str(&serde_json::to_string_pretty(&v)?);
        out.push('\n');
    } else {
        use std::fmt::Write as _;
        let _ = writeln!(out, "file             {}", a.trace.file.display());
        let _ = writeln!(out, "format           {}", format.name());
        let _ = writeln!(out, "requests         {}", s.requests);
        let _ = writeln!(out, "duration_s       {:.3}", s.duration_s);
        let _ = writeln!(out, "rate_per_s       {:.4}", s.rate_per_s);
        let _ = writeln!(out, "interarrival_cv  {:.4}", s.interarrival_cv);
        let _ = writeln!(out, "{:<16} {:>12} {:>9} {:>9} {:>9} {:>9}", "tokens", "mean", "p50", "p90", "p99", "max");
        for (name, l) in [("input_tokens", s.input_tokens), ("output_tokens", s.output_tokens)] {
            let _ = writeln!(out, "{name:<16} {:>12.2} {:>9} {:>9} {:>9} {:>9}", l.mean, l.p50, l.p90, l.p99, l.max);
        }
        if st.classes.len() > 1 {
            let _ = writeln!(
                out,
                "{:<16} {:>12} {:>9} {:>12} {:>12}",
                "class", "requests", "share", "input mean", "output mean"
            );
            for (c, t) in &st.classes {
                let n = t.requests as f64;
                let _ = writeln!(
                    out,
                    "{c:<16} {:>12} {:>9.4} {:>12.2} {:>12.2}",
                    t.requests,
                    n / s.requests as f64,
                    t.input_tokens as f64 / n,
                    t.output_tokens as f64 / n
                );
            }
        }
        if a.trace.lenient {
            let _ = writeln!(out, "skipped_rows     {}", counts.skipped_rows);
            if let Some(first) = &counts.first_skipped {
                let _ = writeln!(out, "first skipped    {first}");
            }
        }
        if counts.failed_rows > 0 {
            let _ = writeln!(out, "failed_rows      {} (kept; 0 response tokens upstream)", counts.failed_rows);
        }
    }
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn fit(a: FitArgs) -> Result<ExitCode> {
    let mut st = TraceStats::default();
    read_trace(&a.trace, |r| st.add(r))?;
    if st.requests() < 2 {
        bail!("{}: a fit needs at least 2 requests, found {}", a.trace.file.display(), st.requests());
    }
    let name = a.name.unwrap_or_else(|| {
        a.trace.file.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| "fitted".into())
    });
    let spec = st.fit(&name, &a.trace.file.display().to_string());
    let text = format!(
        "# Fitted by `tokenfab workload fit {}`. SLOs are placeholders to edit.\n{}",
        a.trace.file.display(),
        spec.to_toml()
    );
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn load_spec(s: &str) -> Result<WorkloadSpec> {
    if let Some(name) = s.strip_prefix("builtin:") {
        return WorkloadSpec::builtin(name).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown built-in workload {name:?}; built-ins: {}",
                tokenfab_workload::BUILTIN_NAMES.iter().map(|n| format!("builtin:{n}")).collect::<Vec<_>>().join(", ")
            )
        });
    }
    let path = Path::new(s);
    let text = crate::io::read_text(path)?;
    WorkloadSpec::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn generate(a: GenArgs) -> Result<ExitCode> {
    let mut spec = load_spec(&a.spec)?;
    if let Some(r) = a.rate_per_s {
        if !(r.is_finite() && r > 0.0) {
            bail!("--rate-per-s must be > 0, got {r}");
        }
        let current = spec.arrival.mean_rate_per_s();
        spec = spec.scaled(r / current);
    }
    if let Some(d) = a.duration_s
        && !(d.is_finite() && d > 0.0)
    {
        bail!("--duration-s must be > 0, got {d}");
    }
    let gen_ = spec.generate(a.seed).map_err(|e| anyhow::anyhow!("{}: {e}", a.spec))?;
    let format = if a.out.extension().is_some_and(|e| e == "jsonl") { NativeFormat::Jsonl } else { NativeFormat::Csv };
    let limit_ns = a.duration_s.map(|d| (d * 1e9).round() as u64).unwrap_or(u64::MAX);
    let max = a.requests.unwrap_or(u64::MAX);
    let n = write_atomic_with(&a.out, |w| {
        let mut nw = NativeWriter::new(w, format)?;
        let mut n = 0u64;
        for r in gen_.take_while(|r| r.arrival_ns <= limit_ns).take(max as usize) {
            nw.write(&r)?;
            n += 1;
        }
        nw.finish()?;
        Ok(n)
    })?;
    eprintln!("wrote {n} requests of workload {:?} (seed {}) to {}", spec.name, a.seed, a.out.display());
    Ok(ExitCode::SUCCESS)
}

/// Streams into a temporary file next to `path`, then renames it into place (removed on error).
fn write_atomic_with<T>(path: &Path, f: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<T>) -> Result<T> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<T> {
        let file = std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let v = f(&mut w).with_context(|| format!("cannot write {}", tmp.display()))?;
        w.flush().with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move {} into place as {}", tmp.display(), path.display()))?;
        Ok(v)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
