//! `tokenfab-profile`: measures this machine's NVIDIA GPU into tokenfab calibration tables.
//!
//! Exit codes: 0 success; 1 bad input or a failed write; 2 no usable GPU (built without the `gpu`
//! feature, no driver, missing CUDA libraries); 3 tables written but some cases failed.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokenfab_profile::grid::{GridOptions, default_grid, parse_families};
use tokenfab_profile::table::{Provenance, utc_timestamp, write_grid_csv};
use tokenfab_profile::{ProfileError, Settings};

#[derive(Parser, Debug)]
#[command(name = "tokenfab-profile", version, about = "Measure an NVIDIA GPU into tokenfab calibration tables")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Debug, Clone)]
struct GridArgs {
    /// Operator families: comma-separated gemm, attn, moe, or all.
    #[arg(long, default_value = "all")]
    ops: String,
    /// A smaller grid for a smoke run (every third token count, short attention cases).
    #[arg(long)]
    quick: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Measure the grid and the ceilings; write NAME-ops.csv and NAME-ceilings.csv.
    Run {
        #[command(flatten)]
        grid: GridArgs,
        /// Directory for the tables (created if missing).
        #[arg(long, default_value = "profile-out")]
        out_dir: PathBuf,
        /// Table name prefix (default: the GPU's name in lower case, e.g. nvidia-h100-80gb-hbm3).
        #[arg(long)]
        name: Option<String>,
        /// Skip the ceilings table (bandwidth, peak rates, power, clocks).
        #[arg(long)]
        no_ceilings: bool,
        /// CUDA device ordinal.
        #[arg(long, default_value_t = 0)]
        device: usize,
        /// Untimed launches before each case.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Timed repeats per case (the table holds the median).
        #[arg(long, default_value_t = 25)]
        repeats: usize,
        /// Most seconds of timed repeats per case (slow cases get fewer repeats, at least 3).
        #[arg(long, default_value_t = 2.0)]
        case_budget_s: f64,
        /// Do not overwrite L2 before each repeat (operands may then come from L2).
        #[arg(long)]
        no_l2_flush: bool,
        /// Enable cuBLASLt fp8 fast accumulation.
        #[arg(long)]
        fp8_fast_accum: bool,
        /// Time up to 8 cuBLASLt algorithms per GEMM shape and keep the fastest (backend
        /// `cublaslt-autotune`) instead of the heuristic's first choice.
        #[arg(long)]
        gemm_autotune: bool,
        /// Seconds of back-to-back work per sustained power measure (0 skips power).
        #[arg(long, default_value_t = 6.0)]
        sustain_s: f64,
        /// Seconds of idle for the idle-power measure.
        #[arg(long, default_value_t = 4.0)]
        idle_s: f64,
        /// Seed of the random operands and MoE routing.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Skip the correctness self-check that runs before measuring.
        #[arg(long)]
        skip_self_check: bool,
    },
    /// Run every timed kernel once on small shapes and compare with a CPU reference.
    Check {
        /// CUDA device ordinal.
        #[arg(long, default_value_t = 0)]
        device: usize,
    },
    /// Print what GPU would be profiled (or why none can be).
    Probe {
        /// CUDA device ordinal.
        #[arg(long, default_value_t = 0)]
        device: usize,
    },
    /// Compare a profile with a reference table shape by shape (Markdown); needs no GPU.
    Compare {
        /// Our operator table (e.g. calibration/h100-sxm-profiled-ops.csv).
        #[arg(long)]
        ours: PathBuf,
        /// Reference operator table (e.g. ../shared/calibration/h100-sxm-ops.csv).
        #[arg(long)]
        reference: PathBuf,
        /// Our ceilings table.
        #[arg(long)]
        ours_ceilings: Option<PathBuf>,
        /// Reference ceilings table.
        #[arg(long)]
        reference_ceilings: Option<PathBuf>,
        /// Differences beyond this many percent are listed row by row.
        #[arg(long, default_value_t = 10.0)]
        threshold_pct: f64,
        /// Write the Markdown here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Write the shape grid as a Contract 1 input table (for `tokenfab predict --input`); needs no GPU.
    Grid {
        #[command(flatten)]
        grid: GridArgs,
        /// Output file (`-` for stdout).
        #[arg(long, default_value = "-")]
        output: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            let no_gpu = e.chain().any(|c| {
                matches!(c.downcast_ref::<ProfileError>(), Some(ProfileError::NoGpu(_) | ProfileError::NoGpuFeature))
            });
            ExitCode::from(if no_gpu { 2 } else { 1 })
        }
    }
}

fn grid_options(g: &GridArgs) -> anyhow::Result<GridOptions> {
    Ok(GridOptions { families: parse_families(&g.ops)?, quick: g.quick })
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("table.csv");
    let tmp = dir.join(format!(".{file}.tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Cmd::Grid { grid, output } => {
            let cases = default_grid(grid_options(&grid)?);
            let mut buf = Vec::new();
            write_grid_csv(&mut buf, &cases)?;
            if output.as_os_str() == "-" {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) is not an error.
                if let Err(e) = out.write_all(&buf).and_then(|_| out.flush())
                    && e.kind() != std::io::ErrorKind::BrokenPipe
                {
                    return Err(e.into());
                }
            } else {
                write_atomic(&output, &buf)?;
                eprintln!("wrote {} cases to {}", cases.len(), output.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Compare { ours, reference, ours_ceilings, reference_ceilings, threshold_pct, output } => {
            let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
            let c = tokenfab_profile::compare::compare_texts(
                &ours.display().to_string(),
                &read(&ours)?,
                &reference.display().to_string(),
                &read(&reference)?,
            )?;
            let mut md = format!(
                "## {} vs {}\n\n{}",
                ours.display(),
                reference.display(),
                tokenfab_profile::compare::markdown(&c, threshold_pct)
            );
            match (ours_ceilings, reference_ceilings) {
                (Some(o), Some(r)) => {
                    let parse = |p: &Path| -> anyhow::Result<_> {
                        Ok(tokenfab_perf::calib::parse_ceilings(&p.display().to_string(), &read(p)?)?)
                    };
                    md.push_str(&format!(
                        "\n## Ceilings\n\n{}",
                        tokenfab_profile::compare::ceilings_markdown(&parse(&o)?, &parse(&r)?)
                    ));
                }
                (None, None) => {}
                _ => anyhow::bail!("--ours-ceilings and --reference-ceilings go together"),
            }
            match output {
                Some(p) => write_atomic(&p, md.as_bytes())?,
                None => print!("{md}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Probe { device } => probe(device, false),
        Cmd::Check { device } => probe(device, true),
        Cmd::Run {
            grid,
            out_dir,
            name,
            no_ceilings,
            device,
            warmup,
            repeats,
            case_budget_s,
            no_l2_flush,
            fp8_fast_accum,
            gemm_autotune,
            sustain_s,
            idle_s,
            seed,
            skip_self_check,
        } => {
            if repeats == 0 {
                anyhow::bail!("--repeats must be at least 1");
            }
            let settings = Settings {
                device,
                warmup,
                repeats,
                case_budget_s,
                flush_l2: !no_l2_flush,
                fp8_fast_accum,
                gemm_autotune,
                sustain_s,
                idle_s,
                seed,
            };
            let cases = default_grid(grid_options(&grid)?);
            let mut prov = Provenance::default();
            prov.push("tool", format!("tokenfab-profile {}", env!("CARGO_PKG_VERSION")));
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            prov.push("date", utc_timestamp(now));
            prov.push("command", std::env::args().collect::<Vec<_>>().join(" "));
            measure(&settings, &cases, !no_ceilings, !skip_self_check, &out_dir, name.as_deref(), prov)
        }
    }
}

#[cfg(not(feature = "gpu"))]
fn probe(_device: usize, _check: bool) -> anyhow::Result<ExitCode> {
    Err(ProfileError::NoGpuFeature.into())
}

#[cfg(not(feature = "gpu"))]
fn measure(
    _settings: &Settings,
    _cases: &[tokenfab_profile::grid::OpCase],
    _ceilings: bool,
    _self_check: bool,
    _out_dir: &Path,
    _name: Option<&str>,
    _prov: Provenance,
) -> anyhow::Result<ExitCode> {
    Err(ProfileError::NoGpuFeature.into())
}

#[cfg(feature = "gpu")]
fn probe(device: usize, check: bool) -> anyhow::Result<ExitCode> {
    let settings = Settings { device, ..Settings::default() };
    let gpu = tokenfab_profile::gpu::Gpu::open(&settings)?;
    let mut prov = Provenance::default();
    gpu.provenance(&mut prov);
    for (k, v) in &prov.entries {
        println!("{k}: {v}");
    }
    if check {
        for line in gpu.self_check(tokenfab_profile::grid::Families::default())? {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "gpu")]
fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_string()
}

#[cfg(feature = "gpu")]
fn measure(
    settings: &Settings,
    cases: &[tokenfab_profile::grid::OpCase],
    ceilings: bool,
    self_check: bool,
    out_dir: &Path,
    name: Option<&str>,
    mut prov: Provenance,
) -> anyhow::Result<ExitCode> {
    use tokenfab_profile::gpu::{Gpu, measure_all};
    use tokenfab_profile::grid::OpCase;
    use tokenfab_profile::table::{write_ceilings_csv, write_ops_csv};
    let gpu = Gpu::open(settings)?;
    if self_check {
        let families = tokenfab_profile::grid::Families {
            gemm: true,
            attention: cases.iter().any(|c| matches!(c, OpCase::AttnPrefill { .. } | OpCase::AttnDecode { .. })),
            moe: cases.iter().any(|c| matches!(c, OpCase::MoeFfn { .. })),
        };
        for line in
            gpu.self_check(families).context("the kernels disagree with the CPU reference; nothing was measured")?
        {
            eprintln!("{line}");
        }
        prov.push("self_check", "passed (every timed kernel matched a CPU reference on small shapes)");
    }
    gpu.provenance(&mut prov);
    let name = name.map(str::to_string).unwrap_or_else(|| slug(&gpu.info.name));
    eprintln!("profiling {} ({} cases) into {}/{name}-*.csv", gpu.info.name, cases.len(), out_dir.display());
    let mut progress = |s: &str| eprintln!("{s}");
    let (ceil_rows, ceil_errors) = if ceilings {
        // Ceilings first: the idle-power measure wants a GPU that has not just been busy.
        gpu.ceilings(&mut progress)
    } else {
        (Vec::new(), Vec::new())
    };
    for (measure, e) in &ceil_errors {
        eprintln!("ceiling {measure} FAILED: {e}");
    }
    let (rows, failed) = measure_all(&gpu, cases, &mut progress);
    // Attention rows from the NVRTC fallback kernels go to their own table: fitting the perf
    // model's attention efficiencies to a non-production kernel would mislead `predict`.
    let (fallback, production): (Vec<_>, Vec<_>) =
        rows.into_iter().partition(|r| r.backend == tokenfab_profile::gpu::kernels::BACKEND);
    let mut written = Vec::new();
    for (suffix, rows) in [("ops", production), ("attn-nvrtc", fallback)] {
        if rows.is_empty() {
            continue;
        }
        let mut buf = Vec::new();
        write_ops_csv(&mut buf, &prov, &rows)?;
        let path = out_dir.join(format!("{name}-{suffix}.csv"));
        write_atomic(&path, &buf)?;
        written.push(path);
    }
    if !ceil_rows.is_empty() {
        let mut buf = Vec::new();
        write_ceilings_csv(&mut buf, &prov, &ceil_rows)?;
        let path = out_dir.join(format!("{name}-ceilings.csv"));
        write_atomic(&path, &buf)?;
        written.push(path);
    }
    for p in &written {
        eprintln!("wrote {}", p.display());
    }
    if failed.is_empty() && ceil_errors.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{} of {} cases and {} ceiling measures failed:", failed.len(), cases.len(), ceil_errors.len());
    for (case, e) in &failed {
        eprintln!("  {case:?}: {e}");
    }
    for (measure, e) in &ceil_errors {
        eprintln!("  {measure}: {e}");
    }
    Ok(ExitCode::from(3))
}
