//! Turning a [`WorkloadSpec`] and a seed into an endless, time-ordered stream of [`Request`]s.
//!
//! Fresh arrivals (single-shot requests and the first turn of conversations) come from the
//! spec's arrival process; follow-up turns of a conversation are scheduled when the previous
//! turn would have finished (TTFT + output × TPOT at the class SLO, a stated estimate of the
//! service time) plus an exponential think time, and merged in time order through a heap whose
//! size is bounded by the number of open conversations.

use crate::arrival::{ArrivalGen, s_to_ns};
use crate::dist::{LengthSampler, normal_quantile};
use crate::error::WorkloadError;
use crate::spec::{TaskKind, WorkloadSpec};
use crate::{PrefixBlocks, Request};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

struct ClassRt {
    kind: TaskKind,
    input: LengthSampler,
    output: Option<LengthSampler>,
    hidden: Option<LengthSampler>,
    ratio: f64,
    ratio_sigma: f64,
    system_tokens: u32,
    /// Prefix ids of the shared system prompt (its full blocks).
    system_ids: Vec<u64>,
    p_continue: f64,
    think_time_s: f64,
    turn_time_s_per_output_token: f64,
    ttft_s: f64,
    /// (source fertility, target fertility, cumulative share) for translation.
    pairs: Vec<(f64, f64, f64)>,
}

struct Session {
    id: u64,
    class: u16,
    turn: u32,
    fertility: f64,
    /// Tokens of history (previous prompt + answer).
    history_tokens: u64,
    /// Prefix ids of the history's full blocks.
    keep: Vec<u64>,
}

struct Pending {
    at_ns: u64,
    seq: u64,
    session: Session,
}
impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.at_ns, self.seq) == (o.at_ns, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at_ns, self.seq).cmp(&(o.at_ns, o.seq))
    }
}

/// The request stream of a workload spec (infinite; take what you need). Same spec and seed →
/// the same requests.
pub struct Generator {
    rng: ChaCha8Rng,
    arrivals: ArrivalGen,
    next_fresh_ns: u64,
    classes: Vec<ClassRt>,
    /// Cumulative weights for picking the class of a fresh arrival.
    fresh_cum: Vec<f64>,
    /// (fertility, cumulative share) per language.
    langs: Vec<(f64, f64)>,
    pending: BinaryHeap<Reverse<Pending>>,
    block_tokens: u32,
    max_input_tokens: u64,
    next_block_id: u64,
    next_id: u64,
    next_session: u64,
    seq: u64,
}

impl WorkloadSpec {
    /// Validates the spec and returns its request stream for `seed`.
    pub fn generate(&self, seed: u64) -> Result<Generator, WorkloadError> {
        self.validate()?;
        Ok(Generator::new(self, seed))
    }
}

fn cumulative(w: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut s = 0.0;
    w.map(|x| {
        s += x;
        s
    })
    .collect()
}

fn pick(cum: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total = *cum.last().unwrap_or(&1.0);
    let u = rng.random::<f64>() * total;
    cum.partition_point(|c| *c <= u).min(cum.len().saturating_sub(1))
}

impl Generator {
    fn new(spec: &WorkloadSpec, seed: u64) -> Self {
        let b = spec.block_tokens as u64;
        let mut next_block_id = 0u64;
        let mut classes = Vec::new();
        for c in &spec.classes {
            let full = c.system_prompt_tokens as u64 / b;
            let system_ids: Vec<u64> = (next_block_id..next_block_id + full).collect();
            next_block_id += full;
            let pairs_total: f64 = c.pairs.iter().map(|p| p.share).sum();
            let mut acc = 0.0;
            let pairs = c
                .pairs
                .iter()
                .map(|p| {
                    acc += p.share / pairs_total.max(1e-300);
                    (spec.fertility(&p.from), spec.fertility(&p.to), acc)
                })
                .collect();
            classes.push(ClassRt {
                kind: c.kind,
                input: c.input.sampler(),
                output: c.output.as_ref().map(|d| d.sampler()),
                hidden: c.hidden.as_ref().map(|d| d.sampler()),
                ratio: c.output_ratio.unwrap_or(1.0),
                ratio_sigma: c.ratio_sigma,
                system_tokens: c.system_prompt_tokens,
                system_ids,
                p_continue: 1.0 - 1.0 / c.turns_mean,
                think_time_s: c.think_time_s,
                turn_time_s_per_output_token: c.slo.tpot_ms / 1000.0,
                ttft_s: c.slo.ttft_ms / 1000.0,
                pairs,
            });
        }
        // A class with mean T turns needs share/T conversation starts per request.
        let shares = spec.class_shares();
        let fresh_weights: Vec<f64> = shares.iter().zip(&spec.classes).map(|(s, c)| s / c.turns_mean).collect();
        let fresh_fraction: f64 = fresh_weights.iter().sum();
        let fresh_cum = cumulative(fresh_weights.into_iter());
        let arrival = spec.arrival.scaled(fresh_fraction);
        let mut arrivals = arrival.generator(seed);
        let langs = if spec.languages.is_empty() {
            vec![(1.0, 1.0)]
        } else {
            let total: f64 = spec.languages.iter().map(|l| l.share).sum();
            let mut acc = 0.0;
            spec.languages
                .iter()
                .map(|l| {
                    acc += l.share / total;
                    (l.fertility, acc)
                })
                .collect()
        };
        let next_fresh_ns = arrivals.next().unwrap_or(u64::MAX);
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            arrivals,
            next_fresh_ns,
            classes,
            fresh_cum,
            langs,
            pending: BinaryHeap::new(),
            block_tokens: spec.block_tokens,
            max_input_tokens: spec.max_input_tokens as u64,
            next_block_id,
            next_id: 0,
            next_session: 0,
            seq: 0,
        }
    }

    /// Conversations currently open (waiting for their next turn).
    pub fn open_sessions(&self) -> usize {
        self.pending.len()
    }

    fn noise(&mut self, sigma: f64) -> f64 {
        if sigma == 0.0 {
            return 1.0;
        }
        let u: f64 = self.rng.random::<f64>().clamp(1e-12, 1.0 - 1e-12);
        (sigma * normal_quantile(u)).exp()
    }

    fn pick_fertility(&mut self) -> f64 {
        let u = self.rng.random::<f64>();
        let i = self.langs.partition_point(|(_, c)| *c <= u).min(self.langs.len() - 1);
        self.langs[i].0
    }

    fn prefix(&mut self, keep: &[u64], input_tokens: u64) -> PrefixBlocks {
        let b = self.block_tokens as u64;
        let total = input_tokens.div_ceil(b) as usize;
        let mut ids = Vec::with_capacity(total);
        ids.extend_from_slice(&keep[..keep.len().min(total)]);
        let fresh = total - ids.len();
        while ids.len() < total {
            ids.push(self.next_block_id);
            self.next_block_id += 1;
        }
        // Fresh ids are this request's own; a continuing conversation narrows this to the blocks
        // its next turn does not keep.
        PrefixBlocks { block_tokens: self.block_tokens, ids, unique_tail: fresh as u32 }
    }

    /// A fresh request of class `ci` at `at_ns`; returns the request and, for a conversation that
    /// continues, its next turn.
    fn fresh(&mut self, ci: usize, at_ns: u64) -> Request {
        let kind = self.classes[ci].kind;
        let user = self.classes[ci].input.sample(&mut self.rng) as f64;
        let system = self.classes[ci].system_tokens as u64;
        let (input_tokens, output_tokens, fertility) = match kind {
            TaskKind::Translation => {
                let u = self.rng.random::<f64>();
                let pairs = &self.classes[ci].pairs;
                let (f_from, f_to, _) = pairs[pairs.partition_point(|p| p.2 <= u).min(pairs.len() - 1)];
                let noise = self.noise(self.classes[ci].ratio_sigma);
                let out = user * f_to * self.classes[ci].ratio * noise;
                (system + round1(user * f_from), round1(out).min(MAX_DERIVED_OUTPUT_TOKENS), f_from)
            }
            TaskKind::CodeRepair => {
                let noise = self.noise(self.classes[ci].ratio_sigma);
                let out = round1(user * self.classes[ci].ratio * noise).min(MAX_DERIVED_OUTPUT_TOKENS);
                (system + round1(user), out, 1.0)
            }
            TaskKind::CodeGeneration => {
                let out = self.classes[ci].output.as_ref().expect("validated").sample(&mut self.rng) as f64;
                (system + round1(user), round1(out), 1.0)
            }
            TaskKind::Reasoning => {
                let f = self.pick_fertility();
                let hidden = self.classes[ci].hidden.as_ref().expect("validated").sample(&mut self.rng) as f64;
                let ans = self.classes[ci].output.as_ref().expect("validated").sample(&mut self.rng) as f64;
                (system + round1(user * f), round1(hidden) + round1(ans * f), f)
            }
            TaskKind::Generic | TaskKind::Chat | TaskKind::Summarization => {
                let f = if kind == TaskKind::Generic { 1.0 } else { self.pick_fertility() };
                let out = self.classes[ci].output.as_ref().expect("validated").sample(&mut self.rng) as f64;
                (system + round1(user * f), round1(out * f), f)
            }
        };
        let keep = std::mem::take(&mut self.classes[ci].system_ids);
        let mut prefix = self.prefix(&keep, input_tokens);
        self.classes[ci].system_ids = keep;
        let session = if kind == TaskKind::Chat {
            let id = self.next_session;
            self.next_session += 1;
            let s = Session {
                id,
                class: ci as u16,
                turn: 0,
                fertility,
                history_tokens: input_tokens + output_tokens,
                keep: prefix.ids[..(input_tokens / self.block_tokens as u64) as usize].to_vec(),
            };
            let kept = s.keep.len();
            if self.schedule_next(s, at_ns, output_tokens) {
                prefix.unique_tail = prefix.unique_tail.min((prefix.ids.len() - kept) as u32);
            }
            Some(id)
        } else {
            None
        };
        self.emit(at_ns, input_tokens, output_tokens, ci as u16, session, 0, prefix)
    }

    /// Schedules the conversation's next turn, if it continues (returns whether it does).
    fn schedule_next(&mut self, s: Session, at_ns: u64, output_tokens: u64) -> bool {
        let c = &self.classes[s.class as usize];
        if self.rng.random::<f64>() >= c.p_continue {
            return false;
        }
        let think = if c.think_time_s > 0.0 { -c.think_time_s * (1.0 - self.rng.random::<f64>()).ln() } else { 0.0 };
        let busy = c.ttft_s + output_tokens as f64 * c.turn_time_s_per_output_token;
        let at = at_ns.saturating_add(s_to_ns(busy + think)).max(at_ns + 1);
        self.seq += 1;
        self.pending.push(Reverse(Pending { at_ns: at, seq: self.seq, session: s }));
        true
    }

    fn follow_up(&mut self, p: Pending) -> Option<Request> {
        let mut s = p.session;
        let ci = s.class as usize;
        let user = self.classes[ci].input.sample(&mut self.rng) as f64;
        let out = self.classes[ci].output.as_ref().expect("validated").sample(&mut self.rng) as f64;
        let input_tokens = s.history_tokens + round1(user * s.fertility);
        if input_tokens > self.max_input_tokens {
            return None; // The conversation outgrew the context: it ends here.
        }
        let output_tokens = round1(out * s.fertility);
        let mut prefix = self.prefix(&s.keep, input_tokens);
        s.turn += 1;
        s.history_tokens = input_tokens + output_tokens;
        s.keep.clear();
        s.keep.extend_from_slice(&prefix.ids[..(input_tokens / self.block_tokens as u64) as usize]);
        let (id, turn, class, kept) = (s.id, s.turn, s.class, s.keep.len());
        if self.schedule_next(s, p.at_ns, output_tokens) {
            prefix.unique_tail = prefix.unique_tail.min((prefix.ids.len() - kept) as u32);
        }
        Some(self.emit(p.at_ns, input_tokens, output_tokens, class, Some(id), turn, prefix))
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        arrival_ns: u64,
        input: u64,
        output: u64,
        class: u16,
        session: Option<u64>,
        turn: u32,
        prefix: PrefixBlocks,
    ) -> Request {
        let id = self.next_id;
        self.next_id += 1;
        Request {
            id,
            arrival_ns,
            input_tokens: input.min(u32::MAX as u64) as u32,
            output_tokens: output.min(u32::MAX as u64) as u32,
            class,
            session,
            turn,
            prefix: Some(prefix),
        }
    }
}

/// Cap on outputs derived from inputs (translation, code repair), tokens: a common `max_tokens`
/// limit (estimate), so a long input times a noisy ratio cannot produce an implausible answer.
pub const MAX_DERIVED_OUTPUT_TOKENS: u64 = 32_768;

fn round1(x: f64) -> u64 {
    (x.round() as u64).max(1)
}

impl Iterator for Generator {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        loop {
            let heap_first = self.pending.peek().map(|p| p.0.at_ns).unwrap_or(u64::MAX);
            if heap_first < self.next_fresh_ns {
                let Reverse(p) = self.pending.pop().expect("peeked");
                if let Some(r) = self.follow_up(p) {
                    return Some(r);
                }
                continue;
            }
            let at = self.next_fresh_ns;
            self.next_fresh_ns = self.arrivals.next().unwrap_or(u64::MAX);
            let ci = pick(&self.fresh_cum, &mut self.rng);
            return Some(self.fresh(ci, at));
        }
    }
}
