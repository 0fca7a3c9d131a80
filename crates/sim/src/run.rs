//! The simulation loop: arrivals, routing, engine steps, KV transfers, completions.

use crate::cost::{FxHasher, StepCostTable, quantize};
use crate::deploy::{Deployment, Role};
use crate::metrics::{Counters, RequestRecord, SimResult};
use crate::queue::EventQueue;
use crate::replica::{NONE, Replica, Req, StepOutcome};
use crate::time::SimTime;
use crate::{SimConfig, SimError};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use tokenfab_workload::Request;

/// How requests are spread over replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RouterPolicy {
    /// In turn.
    RoundRobin,
    /// The replica with the fewest outstanding (queued + running) tokens.
    #[default]
    LeastOutstanding,
    /// The replica with the longest cached prefix for the request; ties and requests without a
    /// prefix go to the least outstanding one. A replica more than 2× (plus 8k tokens) over the
    /// least loaded one is skipped (cache-aware routing with a load guard, as in SGLang's router).
    PrefixAware,
    /// Uniformly at random (seeded).
    Random,
}

/// How requests enter the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    /// At each request's `arrival_ns` (open loop, replay).
    Timed,
    /// `concurrency` clients; each sends its next request when the previous one completes.
    Closed {
        /// Clients.
        concurrency: u32,
    },
}

#[derive(Debug, Clone, Copy)]
enum Event {
    /// The next request of the open-loop stream arrives.
    Arrival,
    /// A closed-loop client sends its next request.
    ClientSend(u32),
    /// A replica finished its in-flight step.
    StepDone(u32),
    /// A request's KV reached its decode replica.
    KvArrived(u32, u32),
}

struct Sim<'a, I: Iterator<Item = Request>> {
    cfg: &'a SimConfig,
    dep: &'a Deployment,
    requests: I,
    reqs: Vec<Req>,
    replicas: Vec<Replica>,
    /// Replica index range of each pool.
    pool_range: Vec<(usize, usize)>,
    tables: Vec<StepCostTable>,
    queue: EventQueue<Event>,
    now: u64,
    rr: Vec<usize>,
    rng: ChaCha8Rng,
    /// Client think times (its own stream, so the router's draws do not depend on it).
    think_rng: ChaCha8Rng,
    pending: Option<Request>,
    itl: HashMap<u64, u64, BuildHasherDefault<FxHasher>>,
    counters: Counters,
    outcome: StepOutcome,
    closed: bool,
    chains: ChainMemo,
}

/// Simulates `requests` on `dep` under `cfg`. A pure function of its inputs: the same arguments
/// give the same result, bit for bit. `seed` drives the random router only (load generators
/// take their own seed).
pub fn run<I: Iterator<Item = Request>>(
    cfg: &SimConfig,
    dep: &Deployment,
    requests: I,
    seed: u64,
) -> Result<SimResult, SimError> {
    let mut replicas = Vec::new();
    let mut pool_range = Vec::new();
    let mut tables = Vec::new();
    for (pi, pool) in dep.pools.iter().enumerate() {
        let start = replicas.len();
        let engines = pool.engines_per_replica.max(1);
        for _ in 0..pool.replicas * engines {
            replicas.push(Replica::new(
                pool.role,
                pi,
                dep.engine.clone(),
                pool.parallel.attn_dp,
                pool.kv_blocks,
                pool.chips_per_replica as f64 / engines as f64,
                1.0 / engines as f64,
            ));
        }
        pool_range.push((start, replicas.len()));
        let mut t = StepCostTable::new(pool.step.clone(), pool.step_eager.clone())
            .with_draft(pool.step_draft.clone(), dep.engine.spec_tokens)
            .with_device_scale(dep.engine.device_time_scale)
            .with_shared(pool.costs.clone());
        t.exact = cfg.exact_step_costs;
        tables.push(t);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(7);
    let mut think_rng = ChaCha8Rng::seed_from_u64(seed);
    think_rng.set_stream(11);
    let mut sim = Sim {
        cfg,
        dep,
        requests,
        reqs: Vec::new(),
        replicas,
        pool_range,
        tables,
        queue: EventQueue::new(),
        now: 0,
        rr: vec![0; dep.pools.len()],
        rng,
        think_rng,
        pending: None,
        itl: HashMap::default(),
        counters: Counters::default(),
        outcome: StepOutcome::default(),
        closed: false,
        chains: ChainMemo::default(),
    };
    match cfg.arrivals {
        Arrivals::Timed => {
            sim.pending = sim.requests.next();
            if let Some(r) = &sim.pending {
                sim.queue.push(SimTime(r.arrival_ns), Event::Arrival);
            }
        }
        Arrivals::Closed { concurrency } => {
            sim.closed = true;
            for c in 0..concurrency {
                // Start offsets: think time, plus a uniform spread of the clients' first sends.
                let spread = match cfg.client_start_spread_ns {
                    0 => 0,
                    s => sim.think_rng.random_range(0..=s),
                };
                let t = sim.think() + spread;
                sim.queue.push(SimTime(t), Event::ClientSend(c));
            }
        }
    }
    sim.run_loop()?;
    Ok(sim.finish())
}

const CHAIN_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// The chained hashes of prefix block ids: hash `j` covers ids `0..=j`.
#[cfg(test)]
fn chain_hashes(ids: &[u64]) -> Box<[u64]> {
    let mut h = CHAIN_SEED;
    ids.iter()
        .map(|&id| {
            h = splitmix(h ^ splitmix(id));
            h
        })
        .collect()
}

/// Slots of [`ChainMemo`].
const CHAIN_MEMO_SLOTS: usize = 1024;

/// The last chain hashed per slot (keyed by session, or by class outside sessions): a later turn
/// of a conversation, or another request with the same system prompt, starts with the same ids,
/// and the hashes of that common run are copied instead of recomputed (they are the same
/// values: hash `j` depends on ids `0..=j` only).
#[derive(Default)]
struct ChainMemo {
    slots: Vec<(Vec<u64>, Vec<u64>)>,
}

impl ChainMemo {
    fn hashes(&mut self, key: u64, ids: &[u64]) -> Box<[u64]> {
        if self.slots.is_empty() {
            self.slots.resize_with(CHAIN_MEMO_SLOTS, Default::default);
        }
        let (memo_ids, memo_hashes) = &mut self.slots[(splitmix(key) % CHAIN_MEMO_SLOTS as u64) as usize];
        let common = memo_ids.iter().zip(ids).take_while(|(a, b)| a == b).count();
        let mut out = Vec::with_capacity(ids.len());
        out.extend_from_slice(&memo_hashes[..common]);
        let mut h = if common == 0 { CHAIN_SEED } else { memo_hashes[common - 1] };
        for &id in &ids[common..] {
            h = splitmix(h ^ splitmix(id));
            out.push(h);
        }
        memo_ids.clear();
        memo_ids.extend_from_slice(ids);
        memo_hashes.clear();
        memo_hashes.extend_from_slice(&out);
        out.into_boxed_slice()
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl<I: Iterator<Item = Request>> Sim<'_, I> {
    /// A closed-loop client's think time, ns.
    fn think(&mut self) -> u64 {
        match self.cfg.client_think_ns_mean {
            0 => 0,
            m => self.think_rng.random_range(0..=2 * m),
        }
    }

    fn run_loop(&mut self) -> Result<(), SimError> {
        while let Some((t, ev)) = self.queue.pop() {
            if t.0 < self.now {
                return Err(SimError::Invariant(format!("time went backwards: {} < {}", t.0, self.now)));
            }
            if t.0 > self.cfg.max_sim_time_ns {
                self.counters.stopped_at_time_limit = true;
                break;
            }
            self.now = t.0;
            self.counters.events += 1;
            match ev {
                Event::Arrival => {
                    let r = self.pending.take().expect("an Arrival event has a pending request");
                    self.pending = self.requests.next();
                    if let Some(n) = &self.pending {
                        if n.arrival_ns < self.now {
                            self.counters.out_of_order_arrivals += 1;
                        }
                        self.queue.push(SimTime(n.arrival_ns.max(self.now)), Event::Arrival);
                    }
                    self.admit_request(r, u32::MAX);
                }
                Event::ClientSend(c) => {
                    if let Some(r) = self.requests.next() {
                        self.admit_request(r, c);
                    }
                }
                Event::StepDone(ri) => self.step_done(ri as usize)?,
                Event::KvArrived(r, ri) => {
                    let rep = &mut self.replicas[ri as usize];
                    rep.waiting.push_back(r);
                    if !rep.busy {
                        self.start_step(ri as usize)?;
                    }
                }
            }
            if self.reqs.len() as u64 > self.cfg.max_requests {
                return Err(SimError::Limit(format!(
                    "more than {} requests arrived (raise limits.max_requests; each takes memory until the \
                     run ends) — is the offered load far above what the deployment serves?",
                    self.cfg.max_requests
                )));
            }
            let in_flight = self.reqs.len() as u64 - self.counters.requests_completed - self.counters.requests_rejected;
            if in_flight > self.cfg.max_in_flight {
                return Err(SimError::Limit(format!(
                    "more than {} requests in the system at once at {:.1} s simulated (raise limits.max_in_flight) — \
                     the offered load far exceeds what the deployment serves",
                    self.cfg.max_in_flight,
                    self.now as f64 * 1e-9
                )));
            }
            if self.counters.engine_iterations > self.cfg.max_engine_iterations {
                return Err(SimError::Limit(format!(
                    "more than {} engine iterations (raise limits.max_engine_iterations)",
                    self.cfg.max_engine_iterations
                )));
            }
        }
        Ok(())
    }

    fn admit_request(&mut self, r: Request, client: u32) {
        let idx = self.reqs.len() as u32;
        let memo_key = r.session.unwrap_or(u64::MAX - r.class as u64);
        let chains = &mut self.chains;
        let prefix = r
            .prefix
            .as_ref()
            .filter(|p| !p.ids.is_empty() && p.block_tokens > 0)
            .map(|p| (chains.hashes(memo_key, &p.ids), p.block_tokens));
        let prefix_shared = r.prefix.as_ref().map_or(0, |p| p.ids.len().saturating_sub(p.unique_tail as usize)) as u32;
        self.reqs.push(Req {
            id: r.id,
            class: r.class,
            arrival_ns: self.now,
            input: r.input_tokens.max(1),
            output: r.output_tokens.max(1),
            prefix,
            prefix_shared,
            prefix_adopted: false,
            first_token_ns: NONE,
            last_token_ns: NONE,
            finish_ns: NONE,
            out_done: 0,
            cached_tokens: 0,
            preemptions: 0,
            replica: u32::MAX,
            decode_replica: u32::MAX,
            client,
            kv_ready: false,
            received: false,
        });
        self.counters.requests_arrived += 1;
        let ri = self.route(0, idx);
        let q = &mut self.reqs[idx as usize];
        q.replica = ri as u32;
        let tokens = if self.replicas[ri].role == Role::Prefill { q.input } else { q.input + q.output } as u64;
        let rep = &mut self.replicas[ri];
        rep.outstanding_tokens += tokens;
        rep.waiting.push_back(idx);
        if !rep.busy {
            // Starting a step cannot fail here: arrivals never break invariants.
            let _ = self.start_step(ri);
        }
    }

    fn route(&mut self, pool: usize, req: u32) -> usize {
        let (a, b) = self.pool_range[pool];
        let n = b - a;
        let least =
            |reps: &[Replica]| (a..b).min_by_key(|&i| (reps[i].outstanding_tokens, i)).expect("pools are non-empty");
        match self.cfg.router {
            RouterPolicy::RoundRobin => {
                let i = a + self.rr[pool] % n;
                self.rr[pool] += 1;
                i
            }
            RouterPolicy::LeastOutstanding => least(&self.replicas),
            RouterPolicy::Random => a + self.rng.random_range(0..n),
            RouterPolicy::PrefixAware => {
                let l = least(&self.replicas);
                let q = &self.reqs[req as usize];
                if q.prefix.is_none() {
                    return l;
                }
                let min_load = self.replicas[l].outstanding_tokens;
                let mut best = (0usize, l);
                for i in a..b {
                    let load = self.replicas[i].outstanding_tokens;
                    if load > 2 * min_load + 8192 {
                        continue;
                    }
                    let hit = self.replicas[i].prefix_probe(q);
                    if hit > best.0 {
                        best = (hit, i);
                    }
                }
                best.1
            }
        }
    }

    fn start_step(&mut self, ri: usize) -> Result<(), SimError> {
        let shape = loop {
            let rep = &mut self.replicas[ri];
            debug_assert!(!rep.busy);
            if !rep.has_work() {
                return Ok(());
            }
            self.outcome.preempted.clear();
            let shape = rep.form_step(&mut self.reqs, &mut self.outcome);
            for &r in &self.outcome.preempted {
                // A preempted sequence's last token came out of the step that just ended.
                self.reqs[r as usize].last_token_ns = self.now;
            }
            self.counters.preemptions += self.outcome.preempted.len() as u64;
            if shape.tokens() > 0 {
                break shape;
            }
            // Waiting work that cannot be admitted yet. With nothing running it never will be:
            // the request is larger than the KV pool. Reject it and try the next one.
            if rep.running() > 0 {
                return Ok(());
            }
            let r = rep.waiting.pop_front().expect("has_work with nothing running means waiting");
            self.counters.requests_rejected += 1;
            let q = &mut self.reqs[r as usize];
            q.finish_ns = NONE;
            rep.outstanding_tokens = rep.outstanding_tokens.saturating_sub((q.input + q.output) as u64);
            if q.client != u32::MAX {
                let client = q.client;
                let t = self.now + self.think();
                self.queue.push(SimTime(t), Event::ClientSend(client));
            }
        };
        let rep = &mut self.replicas[ri];
        let table = &mut self.tables[rep.pool];
        let pure_decode = shape.prefill_seqs == 0;
        // Steps with prompt tokens replay graphs only where the engine captures them for
        // prefill (piecewise graphs); otherwise every kernel is launched from the host.
        let mut graphed = !rep.profile.cuda_graph_sizes.is_empty() && (pure_decode || rep.profile.prefill_cuda_graphs);
        let mut costed = shape;
        // With attention data parallelism every rank runs its own share of the batch (the step
        // model's per-rank batch is ⌈seqs / attn_dp⌉): graphs are captured and padded per rank,
        // and each rank's scheduler does its own sequences' host work in parallel.
        let dp = rep.attn_dp;
        if pure_decode {
            match rep.profile.graph_batch(shape.decode_seqs.div_ceil(dp)) {
                Some(g) => {
                    let k = rep.profile.spec_tokens;
                    costed.decode_seqs = g * dp;
                    costed.decode_extra_tokens = (g * dp) as u64 * k as u64;
                    costed.logits_seqs = g * dp * (1 + k);
                }
                None => graphed = false,
            }
        }
        let t = table.cost(&costed, graphed);
        let seqs = (rep.running() as u32).div_ceil(dp);
        let dur = rep.profile.step_ns(t.device_ns, seqs);
        // The chips idle for the part of the step the host alone takes.
        let idle_s = if rep.profile.overlap_host {
            dur.saturating_sub(t.device_ns) as f64 * 1e-9
        } else {
            rep.profile.host_time_s(seqs)
        };
        rep.busy = true;
        if rep.last_step_end_ns < self.now || rep.iterations == 0 {
            rep.busy_since_ns = self.now;
        }
        rep.step_start_ns = self.now;
        rep.iterations += 1;
        rep.busy_ns += dur;
        rep.energy_j += t.energy_j * rep.energy_share + self.dep.hw.idle_w * rep.chips * idle_s;
        rep.kv_block_ns += rep.used_blocks() as f64 * dur as f64;
        self.counters.engine_iterations += 1;
        self.queue.push(SimTime(self.now + dur), Event::StepDone(ri as u32));
        Ok(())
    }

    fn step_done(&mut self, ri: usize) -> Result<(), SimError> {
        let now = self.now;
        let mut out = std::mem::take(&mut self.outcome);
        out.prefilled.clear();
        out.finished.clear();
        out.decode_tokens = 0;
        out.decode_chunks = 0;
        let rep = &mut self.replicas[ri];
        rep.busy = false;
        let prev_decode_end = rep.last_decode_end_ns.max(rep.busy_since_ns);
        rep.last_step_end_ns = now;
        rep.finish_step(&mut self.reqs, now, &mut out);
        if out.decode_tokens > 0 {
            // Each decode chunk (one token, several with speculative decoding) follows the
            // sequence's previous one, produced at the end of the previous decode step of this
            // busy period (or, for a sequence that just finished its prefill, at most that long
            // ago): record that gap once per chunk.
            *self.itl.entry(quantize(now - prev_decode_end)).or_default() += out.decode_chunks as u64;
            self.counters.output_tokens += out.decode_tokens as u64;
        }
        if self.cfg.check_invariants {
            rep.check_blocks().map_err(SimError::Invariant)?;
        }
        for &r in &out.prefilled {
            let q = &mut self.reqs[r as usize];
            self.counters.output_tokens += 1;
            if q.first_token_ns == NONE {
                q.first_token_ns = now;
            } else if q.last_token_ns != NONE {
                *self.itl.entry(quantize(now - q.last_token_ns.min(now))).or_default() += 1;
            }
            q.last_token_ns = now;
            if self.replicas[ri].role == Role::Prefill && q.out_done < q.output {
                let rep = &mut self.replicas[ri];
                rep.outstanding_tokens = rep.outstanding_tokens.saturating_sub(q.input as u64);
                let d = self.route(1, r);
                let q = &mut self.reqs[r as usize];
                q.decode_replica = d as u32;
                q.kv_ready = true;
                self.replicas[d].outstanding_tokens += (q.input + q.output) as u64;
                let t = self.dep.kv_transfer_ns(q.input);
                self.counters.kv_transfers += 1;
                self.queue.push(SimTime(now + t), Event::KvArrived(r, d as u32));
            }
        }
        for &r in &out.finished {
            let q = &mut self.reqs[r as usize];
            q.finish_ns = now;
            q.last_token_ns = now;
            // Its prefix hashes were last needed by this step's cache inserts; a finished request
            // keeps only what its record reports (they were most of a long run's memory).
            q.prefix = None;
            self.counters.requests_completed += 1;
            let holder = if q.decode_replica != u32::MAX { q.decode_replica } else { q.replica } as usize;
            let tokens = if self.replicas[holder].role == Role::Prefill { q.input } else { q.input + q.output } as u64;
            let rep = &mut self.replicas[holder];
            rep.outstanding_tokens = rep.outstanding_tokens.saturating_sub(tokens);
            if q.client != u32::MAX && self.closed {
                let client = q.client;
                let t = now + self.think();
                self.queue.push(SimTime(t), Event::ClientSend(client));
            }
        }
        self.outcome = out;
        self.start_step(ri)
    }

    fn finish(self) -> SimResult {
        let Sim { reqs, replicas, mut counters, itl, dep, tables, now, .. } = self;
        let mut records = Vec::with_capacity(reqs.len());
        for q in &reqs {
            records.push(RequestRecord {
                id: q.id,
                class: q.class,
                arrival_ns: q.arrival_ns,
                first_token_ns: (q.first_token_ns != NONE).then_some(q.first_token_ns),
                finish_ns: (q.finish_ns != NONE).then_some(q.finish_ns),
                input_tokens: q.input,
                output_tokens: q.output,
                cached_tokens: q.cached_tokens,
                preemptions: q.preemptions,
                replica: q.replica,
                decode_replica: (q.decode_replica != u32::MAX).then_some(q.decode_replica),
            });
        }
        counters.requests_unfinished =
            reqs.iter().filter(|q| q.finish_ns == NONE).count() as u64 - counters.requests_rejected;
        let end = now;
        let mut energy = 0.0;
        let mut kv_num = 0.0;
        let mut kv_den = 0.0;
        let mut kv_peak: f64 = 0.0;
        for r in &replicas {
            let idle_ns = end.saturating_sub(r.busy_ns);
            energy += r.energy_j + dep.hw.idle_w * r.chips * idle_ns as f64 * 1e-9;
            kv_num += r.kv_block_ns;
            kv_den += r.total_blocks as f64 * end as f64;
            kv_peak = kv_peak.max(r.kv_peak_blocks as f64 / r.total_blocks.max(1) as f64);
        }
        SimResult {
            records,
            counters,
            itl_ns: {
                let mut v: Vec<(u64, u64)> = itl.into_iter().collect();
                v.sort_unstable();
                v
            },
            end_ns: end,
            chip_energy_j: energy,
            kv_utilization_mean: if kv_den > 0.0 { kv_num / kv_den } else { 0.0 },
            kv_utilization_peak: kv_peak,
            chips: dep.chips(),
            step_cost_evaluations: tables.iter().map(|t| t.misses).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ChainMemo, chain_hashes};

    #[test]
    fn chain_memo_gives_the_plain_chain() {
        let mut memo = ChainMemo::default();
        let cases: [(u64, Vec<u64>); 7] = [
            (1, vec![5, 6, 7]),
            (1, vec![5, 6, 7, 8, 9]),
            (1, vec![5, 6]),
            (1, vec![4, 6, 7]),
            (2, vec![5, 6, 7, 1]),
            (1 + super::CHAIN_MEMO_SLOTS as u64, vec![5, 6, 7, 8, 9, 10]),
            (1, vec![]),
        ];
        for (key, ids) in cases {
            assert_eq!(memo.hashes(key, &ids), chain_hashes(&ids), "{key} {ids:?}");
        }
    }
}
