//! # tokenfab-sim
//!
//! A deterministic discrete-event simulator of LLM serving: a deployment (replicas of an
//! engine on a parallel layout on a catalog system) under a stream of requests, producing
//! TTFT/TPOT/ITL/E2E distributions, throughput, goodput, energy per token and KV-cache use.
//!
//! ```text
//!  requests ──► router ──► replica 0: waiting ─► running (prefill chunks + decode) ─► done
//!   (open loop,            replica 1: ...           │ one event per engine iteration
//!    closed loop,          ...                      ▼
//!    replay)                              StepModel::cost(BatchShape) (memoized)
//!                 disaggregated: prefill pool ──KV transfer (send/recv)──► decode pool
//! ```
//!
//! Time is integer nanoseconds ([`SimTime`]); events sit in a binary heap ordered by
//! `(time, push order)`; the only randomness is a seeded ChaCha8 generator. The simulator never
//! reads the clock or the filesystem: its output is a pure function of (config, seed).
//!
//! ```
//! use tokenfab_catalog::Catalog;
//! use tokenfab_sim::{Arrivals, Deployment, DeploymentSpec, SimConfig, run};
//! use tokenfab_workload::Request;
//!
//! let cat = Catalog::builtin();
//! let dep = Deployment::resolve(&cat, &DeploymentSpec::simple("h100-sxm", "llama-3.1-8b", 1, 1)).unwrap();
//! // 64 requests of 1000 prompt and 100 output tokens from 8 closed-loop clients.
//! let reqs = (0..64).map(|id| Request {
//!     id, arrival_ns: 0, input_tokens: 1000, output_tokens: 100, class: 0,
//!     session: None, turn: 0, prefix: None,
//! });
//! let cfg = SimConfig { arrivals: Arrivals::Closed { concurrency: 8 }, ..SimConfig::default() };
//! let res = run(&cfg, &dep, reqs, 1).unwrap();
//! let s = res.summary(&cfg.slos, dep.it_power_factor, cfg.pue);
//! assert_eq!(s.counters.requests_completed, 64);
//! assert!(s.latency.tpot_ms.mean > 1.0 && s.latency.tpot_ms.mean < 50.0);
//! ```
//!
//! Architecture Invariant: `sim` never reads the clock or the filesystem; scenario *text* is
//! parsed here ([`scenario`]), files are read by the caller.
#![warn(missing_docs)]

pub mod cost;
pub mod deploy;
pub mod engine;
pub mod load;
pub mod metrics;
pub mod queue;
mod replica;
mod run;
pub mod scenario;
pub mod time;

pub use deploy::{Deployment, DeploymentSpec, DisaggSpec, ParallelSpec, Pool, Role};
pub use engine::{EngineKind, EngineOverrides, EngineProfile};
pub use metrics::{Counters, RequestRecord, SimResult, Slo, Summary};
pub use run::{Arrivals, RouterPolicy, run};
pub use time::SimTime;

/// Run-level settings that are not part of the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Routing across replicas.
    pub router: RouterPolicy,
    /// Open loop (timed) or closed loop.
    pub arrivals: Arrivals,
    /// Latency targets for goodput.
    pub slos: Vec<Slo>,
    /// Power usage effectiveness for facility energy.
    pub pue: f64,
    /// Stop at this simulated time, ns (unfinished requests are counted).
    pub max_sim_time_ns: u64,
    /// Fail when more engine iterations than this run (a bound on work).
    pub max_engine_iterations: u64,
    /// Fail when more requests than this arrive (each is kept for its record: a bound on
    /// memory, about 260 bytes a request).
    pub max_requests: u64,
    /// Fail when more requests than this are in the system at once (arrived, neither finished
    /// nor rejected): a queue that long means the offered load far exceeds the deployment, and
    /// the queue is a bound on memory too.
    pub max_in_flight: u64,
    /// Check KV-block conservation after every step (tests).
    pub check_invariants: bool,
    /// Cost every step with the exact step model instead of the memo table.
    pub exact_step_costs: bool,
    /// Closed loop: mean client think time, ns, between a response and the client's next send
    /// (also before each client's first send). Each gap is drawn uniformly from
    /// `[0, 2 × mean]` with the run's seeded ChaCha stream; 0 sends at once. Real benchmark
    /// clients and API front ends never send in perfect step: without this, identical requests
    /// from many clients stay in lock-step waves forever.
    pub client_think_ns_mean: u64,
    /// Closed loop: each client's first send is delayed by a seeded uniform `[0, spread]`, ns
    /// (0: all clients start together). Spreading the starts over one request cycle puts the
    /// clients in random phase, the steady state of a benchmark whose clients are not in step.
    pub client_start_spread_ns: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            router: RouterPolicy::LeastOutstanding,
            arrivals: Arrivals::Timed,
            slos: vec![Slo { class: 0, ttft_ms: 2000.0, tpot_ms: 100.0 }],
            // PUE 1.3: estimate for a modern air/liquid-cooled AI data hall (industry surveys
            // report ~1.1 for hyperscale to ~1.5 average).
            pue: 1.3,
            max_sim_time_ns: 30 * 24 * 3600 * 1_000_000_000,
            max_engine_iterations: 2_000_000_000,
            max_requests: 20_000_000,
            max_in_flight: 1_000_000,
            check_invariants: false,
            exact_step_costs: false,
            client_think_ns_mean: 0,
            client_start_spread_ns: 0,
        }
    }
}

/// Errors of the simulator and scenario parsing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// A scenario field is invalid.
    #[error("{field}: {message}")]
    Field {
        /// Dotted field path.
        field: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A scenario file could not be parsed.
    #[error("{0}")]
    Syntax(String),
    /// An internal invariant failed (a bug; please report with the seed).
    #[error("invariant violated: {0}")]
    Invariant(String),
    /// A bound on work was exceeded.
    #[error("limit: {0}")]
    Limit(String),
}
