//! # tokenfab-aic
//!
//! End-to-end validation against AIConfigurator's measured deployments
//! (`aic-silicon-held-in.csv`: TensorRT-LLM, SGLang and vLLM on H100/H200/B200/B300/GB200/GB300).
//!
//! ```text
//!  CSV row ──► Deployment (catalog model + system, layout, formats, engine, ISL/OSL, concurrency)
//!                 │  (or: why it cannot be modelled)
//!                 ▼
//!        discrete-event simulation (tokenfab-sim, the default), or
//!        closed-loop steady-state engine model over tokenfab_perf::StepModel (`analytic`)
//!        agg: continuous batching with chunked prefill, c clients, identical requests
//!        disagg: prefill pool → KV transfer → decode pool, fixed point of the closed loop
//!                 │
//!                 ▼
//!        predicted mean TTFT / TPOT ──► MAPE per system, backend, model and mode
//! ```
//!
//! A closed loop of `c` clients sending identical requests runs in lock-step waves: every client
//! starts together, all prompts are prefilled in token-budget chunks (the decode of already
//! prefilled sequences rides along), then the wave decodes together. The model steps through
//! those iterations with cohorts of identical sequences, so a row costs a few thousand step
//! evaluations whatever its concurrency.
//!
//! Architecture Invariant: no IO; rows come in as text, results go out as values.
#![warn(missing_docs)]

mod calibrate;
mod engine;
mod mlperf;
mod published;
mod row;
mod simulated;

pub use calibrate::{
    DEVICE_SCALE_GRID, ShapePick, calibrate_request_path, calibrate_slots, calibrate_tpot, deployment_key,
};
pub use engine::{EngineProfile, Prediction, predict};
pub use mlperf::{
    BENCHMARKS, BenchmarkData, DEEPSEEK_R1, LLAMA2_70B, LLAMA31_8B, LLAMA31_405B, LatencyBound, Layout as MlperfLayout,
    MIXTRAL_8X7B, MlperfPrediction, MlperfRow, MlperfTarget, SERVER_MIN_DURATION_S, SERVER_REQUESTS,
    SERVER_WARMUP_SHARE, benchmark, mlperf_target, offline_requests, parse_mlperf, predict_mlperf,
};
pub use published::{
    BENCH_KV_FRACTION, PublishedRow, ThroughputPrediction, num_requests, parse_published, predict_throughput,
    trtllm_bench_settings,
};
pub use row::{AicRow, Deployment, Mode, Pool, map_row, parse_rows};
pub use simulated::{
    Harness, HostOverhead, INFERENCEX_RANGE_RATIO, INFERENCEX_REQUESTS_PER_CLIENT, REQUESTS_PER_CLIENT, SimKnobs,
    WARMUP_PER_CLIENT, predict_simulated,
};

use std::collections::BTreeMap;

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AicError {
    /// The CSV could not be read.
    #[error("{file}: line {line}: {message}")]
    Csv {
        /// file name
        file: String,
        /// 1-based line
        line: usize,
        /// what was wrong
        message: String,
    },
}

/// The outcome of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The row.
    pub row: AicRow,
    /// Predicted TTFT/TPOT, or why the row could not be modelled.
    pub prediction: Result<Prediction, String>,
}

impl Outcome {
    /// Absolute percent error of TTFT.
    pub fn ttft_ape(&self) -> Option<f64> {
        self.prediction.as_ref().ok().map(|p| ape(p.ttft_ms, self.row.ttft_ms))
    }
    /// Absolute percent error of TPOT.
    pub fn tpot_ape(&self) -> Option<f64> {
        self.prediction.as_ref().ok().map(|p| ape(p.tpot_ms, self.row.tpot_ms))
    }
}

fn ape(pred: f64, meas: f64) -> f64 {
    ((pred - meas) / meas).abs() * 100.0
}

/// MAPE of one slice.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SliceStats {
    /// Slice key, e.g. `system=h100_sxm`.
    pub slice: String,
    /// Rows modelled.
    pub rows: usize,
    /// Rows that could not be modelled.
    pub skipped: usize,
    /// Mean absolute percent error of TTFT.
    pub ttft_mape: f64,
    /// Mean absolute percent error of TPOT.
    pub tpot_mape: f64,
    /// Median APE of TTFT.
    pub ttft_median_ape: f64,
    /// Median APE of TPOT.
    pub tpot_median_ape: f64,
}

/// MAPE per slice for a key function (e.g. by system); an `all` slice comes last.
pub fn slices(outcomes: &[Outcome], key: impl Fn(&AicRow) -> String) -> Vec<SliceStats> {
    let mut by: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by.entry(key(&o.row)).or_default().push(o);
    }
    let mut out: Vec<SliceStats> = by.into_iter().map(|(k, v)| stats_of(k, &v)).collect();
    out.push(stats_of("all".into(), &outcomes.iter().collect::<Vec<_>>()));
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = (0.5 * v.len() as f64).ceil().max(1.0) as usize;
    v[rank - 1]
}

fn stats_of(slice: String, v: &[&Outcome]) -> SliceStats {
    let t: Vec<f64> = v.iter().filter_map(|o| o.ttft_ape()).collect();
    let p: Vec<f64> = v.iter().filter_map(|o| o.tpot_ape()).collect();
    let mean = |x: &[f64]| if x.is_empty() { f64::NAN } else { x.iter().sum::<f64>() / x.len() as f64 };
    SliceStats {
        slice,
        rows: t.len(),
        skipped: v.len() - t.len(),
        ttft_mape: mean(&t),
        tpot_mape: mean(&p),
        ttft_median_ape: median(t),
        tpot_median_ape: median(p),
    }
}

/// Time on a request's path outside the engine's steps that the simulation does not have: the
/// HTTP front end, tokenization, routing, scheduling hand-offs and streaming of the first token.
/// Added to the simulated TTFT as `fixed_ms + per_token_us × ISL + per_client_ms × (n − 1)`.
///
/// The last term is a time per *other* request in flight on the engine that produces the first
/// token (`n`, see [`first_token_in_flight`]: the benchmark concurrency when aggregated). The
/// measured TTFTs of SGLang and TensorRT-LLM grow with concurrency far faster than the simulated
/// engine's (e.g. Qwen3-32B, TensorRT-LLM, 8 × H100, 1024-token prompts: 228 ms at 64 clients,
/// 747 ms at 128, where the simulated steps give 64 and 119 ms); work that the front end and
/// the engine's host loop do per in-flight request (streaming, detokenization, admission) is
/// the likely cause, but it is not measured here: the term is fitted (cross-validated), not
/// derived.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RequestPath {
    /// Per request, milliseconds.
    pub fixed_ms: f64,
    /// Per prompt token, microseconds.
    pub per_token_us: f64,
    /// Per other request in flight (benchmark concurrency − 1), milliseconds.
    pub per_client_ms: f64,
}

impl RequestPath {
    /// TTFT with this request path added, for a prompt of `isl` tokens with `in_flight`
    /// requests (itself included) on the engine that produces its first token.
    pub fn ttft_ms(&self, sim_ttft_ms: f64, isl: u32, in_flight: u32) -> f64 {
        sim_ttft_ms
            + self.fixed_ms
            + self.per_token_us * 1e-3 * isl as f64
            + self.per_client_ms * in_flight.saturating_sub(1) as f64
    }
}

/// Requests in flight on the engine that produces a request's first token, the count the
/// request path's per-request term uses: the benchmark concurrency for aggregated serving; 1 for
/// disaggregated serving, whose prefill workers hold a request only while prefilling it (the
/// `c` in-flight decodes live on the decode pool). Counting all `c` there (thousands of clients
/// in some rows) took the disaggregated rows' TTFT MAPE from 75 % to 100 %.
pub fn first_token_in_flight(row: &AicRow) -> u32 {
    if row.mode == "disagg" { 1 } else { row.concurrency }
}

/// The grid searched by [`cross_validate_request_path`]: 0–300 ms per request × 0–80 µs per
/// prompt token × 0–16 ms per other request in flight.
pub fn request_path_grid() -> Vec<RequestPath> {
    const FIXED: [f64; 10] = [0.0, 10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 150.0, 200.0, 300.0];
    const PER_TOKEN: [f64; 6] = [0.0, 5.0, 10.0, 20.0, 40.0, 80.0];
    const PER_CLIENT: [f64; 7] = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];
    let mut grid = Vec::with_capacity(FIXED.len() * PER_TOKEN.len() * PER_CLIENT.len());
    for &fixed_ms in &FIXED {
        for &per_token_us in &PER_TOKEN {
            for &per_client_ms in &PER_CLIENT {
                grid.push(RequestPath { fixed_ms, per_token_us, per_client_ms });
            }
        }
    }
    grid
}

/// The name a pick carries when its backend is measured on one model and the row's system is
/// held out instead of its model: `"model (held out: system)"`.
fn held_out_system(row: &AicRow) -> String {
    format!("{} (held out: {})", row.model_path, row.system)
}

/// The request path chosen for each (backend, held-out model).
pub type RequestPathPicks = Vec<(String, String, RequestPath)>;

/// Leave-one-model-out cross-validation of the request-path time: for each (backend, model),
/// the grid point minimizing TTFT MAPE over the rows of the same backend *and another model* is
/// chosen, and that model's rows are scored with it. A backend measured on one model only is
/// cross-validated leave-one-*system*-out instead (its rows on the other systems); with one
/// system too, all backends' rows of other models are used. No row's own measurement chooses its
/// parameters.
pub fn cross_validate_request_path(outcomes: &[Outcome]) -> (Vec<Outcome>, RequestPathPicks) {
    let grid = request_path_grid();
    let mut chosen: BTreeMap<(String, String), RequestPath> = BTreeMap::new();
    let best = |train: &[&Outcome]| -> RequestPath {
        let mut best = (f64::INFINITY, grid[0]);
        for g in &grid {
            let errs: Vec<f64> = train
                .iter()
                .filter_map(|o| {
                    o.prediction
                        .as_ref()
                        .ok()
                        .map(|p| ape(g.ttft_ms(p.ttft_ms, o.row.isl, first_token_in_flight(&o.row)), o.row.ttft_ms))
                })
                .collect();
            if !errs.is_empty() {
                let m = errs.iter().sum::<f64>() / errs.len() as f64;
                if m < best.0 {
                    best = (m, *g);
                }
            }
        }
        best.1
    };
    let out = outcomes
        .iter()
        .map(|o| {
            let ok = |x: &&Outcome| x.prediction.is_ok();
            let other_model = |x: &&Outcome| x.row.backend == o.row.backend && x.row.model_path != o.row.model_path;
            // A backend measured on one model only: hold out the row's system instead (the
            // request path belongs to the serving stack, so it is learned on the same engine).
            let one_model = !outcomes.iter().filter(ok).any(|x| other_model(&x));
            let key = if one_model {
                (o.row.backend.clone(), held_out_system(&o.row))
            } else {
                (o.row.backend.clone(), o.row.model_path.clone())
            };
            let rp = *chosen.entry(key).or_insert_with(|| {
                let mut train: Vec<&Outcome> = outcomes.iter().filter(ok).filter(other_model).collect();
                if train.is_empty() {
                    train = outcomes
                        .iter()
                        .filter(ok)
                        .filter(|x| x.row.backend == o.row.backend && x.row.system != o.row.system)
                        .collect();
                }
                if train.is_empty() {
                    train = outcomes.iter().filter(ok).filter(|x| x.row.model_path != o.row.model_path).collect();
                }
                best(&train)
            });
            let prediction = o.prediction.clone().map(|mut p| {
                p.ttft_ms = rp.ttft_ms(p.ttft_ms, o.row.isl, first_token_in_flight(&o.row));
                p
            });
            Outcome { row: o.row.clone(), prediction }
        })
        .collect();
    (out, chosen.into_iter().map(|((b, m), rp)| (b, m, rp)).collect())
}

/// Decode steps searched by [`cross_validate_handoff`].
pub const HANDOFF_STEPS_GRID: [f64; 10] = [0.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0];

/// The hand-off chosen for each backend's disaggregated rows: decode steps, or `None` where no
/// other backend has disaggregated rows to choose it on (no term is added then).
pub type HandoffPicks = Vec<(String, Option<f64>)>;

/// Hand-off between prefill and decode pools that the simulation does not have, cross-validated
/// **leave one backend out**: a disaggregated row's TTFT gains `m` × its predicted TPOT (`m`
/// decode steps), `m` chosen from [`HANDOFF_STEPS_GRID`] to minimize the TTFT MAPE of the other
/// backends' disaggregated rows (leave-one-model-out is not possible: every disaggregated row
/// of the AIC set is DeepSeek-V3). Aggregated rows are returned unchanged.
///
/// Why: the measured disaggregated TTFTs of both SGLang (GB200) and TensorRT-LLM (H200, Dynamo)
/// sit about 40–60 decode steps above the prefill time at light prefill load (e.g. DeepSeek-V3,
/// H200, 1 prefill × TP 8 and 9 decode × TP 8 workers, 1024-token prompts: 673 ms at 36 clients
/// and TPOT 13.4 ms; 1,808 ms at 576 clients and TPOT 30.9 ms), while the simulated hand-off (KV
/// transfer over the fabric, admission at the next decode step) is about one step. What the
/// engines do in those steps (transfer polling, bootstrap handshakes, the router's hop) is not
/// identified here: the term is fitted, not derived.
pub fn cross_validate_handoff(outcomes: &[Outcome]) -> (Vec<Outcome>, HandoffPicks) {
    let disagg = |o: &&Outcome| o.row.mode == "disagg" && o.prediction.is_ok();
    let backends: std::collections::BTreeSet<&str> =
        outcomes.iter().filter(disagg).map(|o| o.row.backend.as_str()).collect();
    let picks: BTreeMap<&str, Option<f64>> = backends
        .iter()
        .map(|&b| {
            let train: Vec<(f64, f64, f64)> = outcomes
                .iter()
                .filter(disagg)
                .filter(|o| o.row.backend != b)
                .filter_map(|o| o.prediction.as_ref().ok().map(|p| (p.ttft_ms, p.tpot_ms, o.row.ttft_ms)))
                .collect();
            if train.is_empty() {
                return (b, None);
            }
            let mape = |m: f64| train.iter().map(|&(t, tpot, meas)| ape(t + m * tpot, meas)).sum::<f64>();
            let mut best = (f64::INFINITY, 0.0);
            for m in HANDOFF_STEPS_GRID {
                let e = mape(m);
                if e < best.0 {
                    best = (e, m);
                }
            }
            (b, Some(best.1))
        })
        .collect();
    let out = outcomes
        .iter()
        .map(|o| {
            let m = if o.row.mode == "disagg" { picks.get(o.row.backend.as_str()).copied().flatten() } else { None };
            let prediction = o.prediction.clone().map(|mut p| {
                if let Some(m) = m {
                    p.ttft_ms += m * p.tpot_ms;
                }
                p
            });
            Outcome { row: o.row.clone(), prediction }
        })
        .collect();
    (out, picks.into_iter().map(|(b, m)| (b.to_string(), m)).collect())
}

/// The host overhead chosen for each (backend, held-out model).
pub type HostPicks = Vec<(String, String, HostOverhead)>;

/// The grid of engine host overheads searched by [`cross_validate_host`].
pub const HOST_GRID: [HostOverhead; 16] = {
    const fn h(per_step_ms: f64, per_seq_us: f64) -> HostOverhead {
        HostOverhead { per_step_ms, per_seq_us }
    }
    [
        h(0.1, 0.0),
        h(0.1, 5.0),
        h(0.1, 15.0),
        h(0.1, 40.0),
        h(0.3, 0.0),
        h(0.3, 5.0),
        h(0.3, 15.0),
        h(0.3, 40.0),
        h(0.8, 0.0),
        h(0.8, 5.0),
        h(0.8, 15.0),
        h(0.8, 40.0),
        h(1.5, 0.0),
        h(1.5, 5.0),
        h(1.5, 15.0),
        h(1.5, 40.0),
    ]
};

/// Leave-one-model-out cross-validation of the engines' host overheads: `by_grid[g][i]` is row
/// `i` predicted with `HOST_GRID[g]`. For every row, the grid point is chosen that minimizes the
/// mean TPOT APE over the rows of the same backend *and another model*; the row is then scored
/// with that point. Returns the outcomes and, per (backend, held-out model), the chosen point.
pub fn cross_validate_host(rows: &[AicRow], by_grid: &[Vec<Result<Prediction, String>>]) -> (Vec<Outcome>, HostPicks) {
    let (out, chosen) = cross_validate_tpot_grid(rows, by_grid);
    (out, chosen.into_iter().map(|(b, m, g)| (b, m, HOST_GRID[g])).collect())
}

/// The host overhead of [`HOST_GRID`] that minimizes TPOT MAPE over *all* rows of one backend
/// (every model): what the AIC rows say about an engine's host time, for use on *another*
/// dataset (`validate report` hands TensorRT-LLM's to the throughput check). `None` when the
/// backend has no predicted rows. Ties go to the earlier grid point.
pub fn fit_host(rows: &[AicRow], by_grid: &[Vec<Result<Prediction, String>>], backend: &str) -> Option<HostOverhead> {
    let mut best: Option<(f64, usize)> = None;
    for (g, preds) in by_grid.iter().enumerate() {
        let errs: Vec<f64> = rows
            .iter()
            .zip(preds)
            .filter(|(r, _)| r.backend == backend)
            .filter_map(|(r, p)| p.as_ref().ok().map(|p| ape(p.tpot_ms, r.tpot_ms)))
            .collect();
        if errs.is_empty() {
            continue;
        }
        let m = errs.iter().sum::<f64>() / errs.len() as f64;
        if best.is_none_or(|(b, _)| m < b) {
            best = Some((m, g));
        }
    }
    best.map(|(_, g)| HOST_GRID[g])
}

/// The fractions of the isolated per-kernel fixed time searched by
/// [`cross_validate_kernel_overhead`] (1 = the engine default: every kernel pays what it costs
/// alone; the operator tables were measured one kernel at a time, outside CUDA graphs).
pub const KERNEL_OVERHEAD_GRID: [f64; 4] = [1.0, 0.75, 0.5, 0.25];

/// The kernel-overhead fraction chosen for each (backend, held-out model); for a backend
/// measured on one model, per held-out system (`"model (held out: system)"`).
pub type KernelPicks = Vec<(String, String, f64)>;

/// The kernel-overhead fraction [`cross_validate_kernel_overhead`] chose for a row, if any.
pub fn kernel_pick(picks: &KernelPicks, row: &AicRow) -> Option<f64> {
    let by_system = held_out_system(row);
    picks.iter().find(|(b, m, _)| *b == row.backend && (*m == row.model_path || *m == by_system)).map(|p| p.2)
}

/// Leave-one-model-out choice of the engines' kernel-overhead fraction: `by_grid[g][i]` is row
/// `i` simulated with `KERNEL_OVERHEAD_GRID[g]`; each row is scored with the fraction that
/// minimizes TPOT MAPE over the rows of the same backend and *another model* (how much of the
/// per-kernel fixed time an engine's fused, graph-captured kernels hide is an engine property
/// the operator tables cannot measure).
pub fn cross_validate_kernel_overhead(
    rows: &[AicRow],
    by_grid: &[Vec<Result<Prediction, String>>],
) -> (Vec<Outcome>, KernelPicks) {
    let (out, chosen) = cross_validate_tpot_grid(rows, by_grid);
    (out, chosen.into_iter().map(|(b, m, g)| (b, m, KERNEL_OVERHEAD_GRID[g])).collect())
}

/// Shared leave-one-model-out grid choice on TPOT: per (backend, held-out model), the index of
/// the grid point with the lowest TPOT MAPE on the same backend's other models. A backend
/// measured on one model only is held out by system instead (its rows on the other systems);
/// with one system too, grid point 0 (the default) is kept.
fn cross_validate_tpot_grid(
    rows: &[AicRow],
    by_grid: &[Vec<Result<Prediction, String>>],
) -> (Vec<Outcome>, Vec<(String, String, usize)>) {
    let mut chosen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let one_model = !rows.iter().any(|r| r.backend == row.backend && r.model_path != row.model_path);
        let key = if one_model {
            (row.backend.clone(), held_out_system(row))
        } else {
            (row.backend.clone(), row.model_path.clone())
        };
        let train = |r: &AicRow| {
            r.backend == row.backend && if one_model { r.system != row.system } else { r.model_path != row.model_path }
        };
        let g = *chosen.entry(key).or_insert_with(|| {
            let mut best = (f64::INFINITY, 0);
            for (g, preds) in by_grid.iter().enumerate() {
                let errs: Vec<f64> = rows
                    .iter()
                    .zip(preds)
                    .filter(|(r, _)| train(r))
                    .filter_map(|(r, p)| p.as_ref().ok().map(|p| ape(p.tpot_ms, r.tpot_ms)))
                    .collect();
                if !errs.is_empty() {
                    let m = errs.iter().sum::<f64>() / errs.len() as f64;
                    if m < best.0 {
                        best = (m, g);
                    }
                }
            }
            best.1
        });
        out.push(Outcome { row: row.clone(), prediction: by_grid[g][i].clone() });
    }
    (out, chosen.into_iter().map(|((b, m), g)| (b, m, g)).collect())
}

/// The columns that describe a measurement rather than the deployment: left out when rows are
/// grouped into identical deployments by [`measurement_floor`].
const NOT_DEPLOYMENT: [&str; 5] =
    ["id", "silicon_data_source", "backend_version", "silicon_ttft_ms", "silicon_tpot_ms"];

/// The lowest TTFT and TPOT MAPE (percent) that *any* prediction from the rows' deployment columns
/// can reach on the modelled rows: rows with identical deployments (every column but the id,
/// the data source, the engine build and the measurements; same concurrency) that were measured
/// differently cannot all be matched by one prediction. Per group, the best constant is one of
/// the measured values (the APE-weighted median), so the floor is exact.
pub fn measurement_floor(outcomes: &[Outcome]) -> (f64, f64) {
    // (deployment columns, concurrency) -> measured (TTFT, TPOT) of each row.
    type Key<'a> = (Vec<(&'a str, &'a str)>, u32);
    let mut groups: BTreeMap<Key, Vec<(f64, f64)>> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.prediction.is_ok()) {
        let key: Vec<(&str, &str)> = o
            .row
            .fields
            .iter()
            .filter(|(k, _)| !NOT_DEPLOYMENT.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        groups.entry((key, o.row.concurrency)).or_default().push((o.row.ttft_ms, o.row.tpot_ms));
    }
    let best = |v: &[f64]| -> f64 {
        v.iter().map(|&p| v.iter().map(|&m| ape(p, m)).sum::<f64>()).fold(f64::INFINITY, f64::min)
    };
    let n: usize = groups.values().map(Vec::len).sum();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let (mut t, mut p) = (0.0, 0.0);
    for v in groups.values() {
        t += best(&v.iter().map(|x| x.0).collect::<Vec<_>>());
        p += best(&v.iter().map(|x| x.1).collect::<Vec<_>>());
    }
    (t / n as f64, p / n as f64)
}

/// Pairs of rows that record the same deployment (as in [`measurement_floor`]) under two engine
/// builds (`backend_version`) whose measured TPOTs differ by at least `min_ratio`: `(fast, slow)`
/// indices into `rows`, in row order. Speculative decoding switched on in one build is the usual
/// reason for a gap of 1.5–2.5 × (the rows do not record it).
pub fn build_pairs(rows: &[AicRow], min_ratio: f64) -> Vec<(usize, usize)> {
    type Key<'a> = (Vec<(&'a str, &'a str)>, u32);
    let mut groups: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let key: Vec<(&str, &str)> = r
            .fields
            .iter()
            .filter(|(k, _)| !NOT_DEPLOYMENT.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        groups.entry((key, r.concurrency)).or_default().push(i);
    }
    let version = |i: usize| rows[i].fields.get("backend_version").map(String::as_str).unwrap_or("");
    let mut out = Vec::new();
    for v in groups.values() {
        let fast = v.iter().copied().min_by(|&a, &b| rows[a].tpot_ms.total_cmp(&rows[b].tpot_ms));
        let slow = v.iter().copied().max_by(|&a, &b| rows[a].tpot_ms.total_cmp(&rows[b].tpot_ms));
        if let (Some(f), Some(s)) = (fast, slow)
            && version(f) != version(s)
            && rows[s].tpot_ms >= min_ratio * rows[f].tpot_ms
        {
            out.push((f, s));
        }
    }
    out.sort_unstable();
    out
}
