//! One engine instance: queues, running sequences, KV blocks, prefix cache, step formation.
//!
//! Decode work is O(1) per step no matter the batch size: running decode sequences advance in
//! lockstep, so the context sum is `ctx_base + n × clock` (the token clock: tokens every
//! decoding sequence has gained, one per step, or the accepted mean with speculative decoding),
//! new-block demand is a per-phase counter (`phase_count[(−clock) mod block_size]` per token of
//! the step) and completions sit in a min-heap keyed by the clock value of their last token.

use crate::cost::FxHasher;
use crate::deploy::Role;
use crate::engine::{EngineProfile, Schedule};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use tokenfab_perf::BatchShape;

/// Per-request state shared by the replicas.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub id: u64,
    pub class: u16,
    pub arrival_ns: u64,
    pub input: u32,
    pub output: u32,
    /// Chained prefix-block hashes and tokens per block.
    pub prefix: Option<(Box<[u64]>, u32)>,
    /// Leading prefix blocks other requests may share; the rest (the workload's unique tail) is
    /// cached as capacity-only entries that no lookup searches (see [`PrefixCache`]).
    pub prefix_shared: u32,
    /// The unique tail went into a lookup table after a preemption: cache all of it from now on.
    pub prefix_adopted: bool,
    pub first_token_ns: u64,
    pub last_token_ns: u64,
    pub finish_ns: u64,
    pub out_done: u32,
    pub cached_tokens: u32,
    pub preemptions: u32,
    pub replica: u32,
    pub decode_replica: u32,
    pub client: u32,
    /// KV arrived from a prefill replica: admit straight into decode.
    pub kv_ready: bool,
    /// The replica's scheduler has taken the request in (see `scheduler_recv_interval`).
    pub received: bool,
}

pub(crate) const NONE: u64 = u64::MAX;

#[derive(Debug, Clone, Copy)]
struct Seq {
    req: u32,
    admit_no: u64,
    /// Tokens that must have KV before decoding (input + tokens already generated).
    prompt: u32,
    /// Tokens with KV so far (prefill progress).
    computed: u32,
    /// Blocks held while prefilling (decode blocks are derived from the length).
    blocks: u32,
    decoding: bool,
    start_step: u64,
    start_len: u32,
    out_at_start: u32,
    generation: u32,
    live: bool,
    /// Leading prefix blocks found in the cache at admission (already cached: not re-inserted).
    prefix_matched: u32,
    /// Stamp of the first capacity-only entry of the request's unique tail, cached when its
    /// prefill finished here (0: none).
    tail_stamp: u64,
}

/// What a step did, for the simulation loop to apply.
#[derive(Debug, Default)]
pub(crate) struct StepOutcome {
    /// Requests whose prefill finished in this step (produced a token).
    pub prefilled: Vec<u32>,
    /// Requests that finished decoding in this step.
    pub finished: Vec<u32>,
    /// Requests preempted when the step was formed.
    pub preempted: Vec<u32>,
    /// Decode tokens produced.
    pub decode_tokens: u32,
    /// Decode sequences that produced tokens (one streamed chunk each; a chunk holds several
    /// tokens with speculative decoding).
    pub decode_chunks: u32,
}

/// Cached prefix blocks with least-recently-used eviction. Each entry carries a unique use
/// stamp; when the cache grows 25 % past its capacity the oldest entries are evicted in one
/// batch (amortized O(1) per block, deterministic because stamps are unique).
///
/// Blocks that no other request can share (a request's unique tail, as the workload marks it)
/// still fill the cache and age out like the others, but only their stamps are kept, in
/// `phantoms`, oldest first: no lookup could find them. When the only request that could
/// (its own recompute after a preemption) needs them, [`PrefixCache::adopt`] moves the ones
/// still cached into the table with their stamps, so the cache's contents and every hit are
/// those of a single table holding every block.
#[derive(Debug, Clone, Default)]
struct PrefixCache {
    map: HashMap<u64, u64, BuildHasherDefault<FxHasher>>,
    /// Stamps of cached unique-tail blocks, ascending.
    phantoms: VecDeque<u64>,
    clock: u64,
    cap: usize,
    /// Scratch space for eviction (kept to avoid an allocation per eviction round).
    stamps: Vec<u64>,
}

impl PrefixCache {
    fn matched(&mut self, hashes: &[u64]) -> usize {
        let mut n = 0;
        for h in hashes {
            match self.map.get_mut(h) {
                Some(t) => {
                    self.clock += 1;
                    *t = self.clock;
                    n += 1;
                }
                None => break,
            }
        }
        n
    }
    fn probe(&self, hashes: &[u64]) -> usize {
        hashes.iter().take_while(|h| self.map.contains_key(h)).count()
    }
    /// Caches `hashes`: the first `lookup` in the table, the rest as capacity-only entries.
    /// Returns the stamp of the first capacity-only entry (0 when there is none).
    fn insert(&mut self, hashes: &[u64], lookup: usize) -> u64 {
        if self.cap == 0 {
            return 0;
        }
        let lookup = lookup.min(hashes.len());
        for h in &hashes[..lookup] {
            self.clock += 1;
            self.map.insert(*h, self.clock);
        }
        let tail = (hashes.len() - lookup) as u64;
        let first = if tail > 0 { self.clock + 1 } else { 0 };
        self.phantoms.extend(self.clock + 1..=self.clock + tail);
        self.clock += tail;
        if self.map.len() + self.phantoms.len() > self.cap + self.cap / 4 {
            // The oldest kept entry has rank `cut` among all stamps. The phantoms are sorted, so
            // only their first `cut + 1` can rank that low: select among those and the table's.
            let cut = self.map.len() + self.phantoms.len() - self.cap;
            self.stamps.clear();
            self.stamps.extend(self.map.values().copied());
            self.stamps.extend(self.phantoms.iter().take(cut + 1).copied());
            let (_, &mut oldest_kept, _) = self.stamps.select_nth_unstable(cut);
            self.map.retain(|_, t| *t >= oldest_kept);
            let gone = self.phantoms.partition_point(|&t| t < oldest_kept);
            self.phantoms.drain(..gone);
        }
        first
    }
    /// Moves the capacity-only entries stamped `first..first + tail.len()` (the blocks `tail`,
    /// in order) that are still cached into the table, keeping their stamps.
    fn adopt(&mut self, first: u64, tail: &[u64]) {
        let end = first + tail.len() as u64;
        let a = self.phantoms.partition_point(|&t| t < first);
        let b = self.phantoms.partition_point(|&t| t < end);
        for t in self.phantoms.drain(a..b) {
            self.map.insert(tail[(t - first) as usize], t);
        }
    }
}

/// One engine instance.
#[derive(Debug)]
pub(crate) struct Replica {
    pub role: Role,
    pub pool: usize,
    pub profile: EngineProfile,
    pub max_seqs: u32,
    /// Attention data-parallel ranks: each runs its own scheduler and captures its own CUDA
    /// graphs for its share of the batch.
    pub attn_dp: u32,
    /// Tokens per step of the whole replica: the engine's budget per attention-DP rank (each rank
    /// schedules its own batch, as for `max_seqs`).
    budget: u32,
    bs: u32,
    pub total_blocks: u64,
    pub free_blocks: u64,
    /// Blocks reserved for the future output of decoding sequences (reserve_output engines).
    reserved_blocks: u64,
    pub waiting: VecDeque<u32>,
    seqs: Vec<Seq>,
    free_seq: Vec<u32>,
    prefilling: Vec<u32>,
    running: BTreeSet<(u64, u32)>,
    admit_no: u64,
    n_dec: u32,
    ctx_base: i64,
    phase_count: Vec<u32>,
    finish: BinaryHeap<Reverse<(u64, u32, u32)>>,
    /// Token clock: tokens each decoding sequence has gained since the replica started.
    dec_step: u64,
    /// Decode steps taken.
    dec_steps: u64,
    /// Mean tokens per decode step per sequence, in millionths (1,000,000 without speculative
    /// decoding); the clock advances by ⌊(n + 1)·E⌋ − ⌊n·E⌋ in step n, deterministically.
    spec_micro: u64,
    /// Draft tokens verified per sequence per step.
    spec_k: u32,
    /// Clock advance of the in-flight decode step.
    cur_advance: u64,
    prefix: PrefixCache,
    last_prefix_matched: u32,
    pub busy: bool,
    /// Chips of this engine instance (for idle energy); fractional for pipeline engines.
    pub chips: f64,
    pub energy_share: f64,
    // In-flight step.
    cur_chunks: Vec<(u32, u32)>,
    cur_decode: bool,
    pub step_start_ns: u64,
    pub last_decode_end_ns: u64,
    pub last_step_end_ns: u64,
    pub busy_since_ns: u64,
    // Statistics.
    pub iterations: u64,
    pub busy_ns: u64,
    pub energy_j: f64,
    pub kv_block_ns: f64,
    pub kv_peak_blocks: u64,
    pub preemptions: u64,
    pub outstanding_tokens: u64,
    /// Consecutive iterations new prompts have been held for attention-DP balancing.
    held_iters: u32,
    /// Weighted steps since the scheduler last took in new requests (SGLang's recv skipper).
    recv_counter: u32,
    /// Consecutive iterations new prompts have been held by batch waiting.
    batch_wait_count: u32,
}

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

impl Replica {
    pub fn new(
        role: Role,
        pool: usize,
        profile: EngineProfile,
        attn_dp: u32,
        blocks: u64,
        chips: f64,
        energy_share: f64,
    ) -> Replica {
        let bs = profile.block_size;
        let prefix_cap = if profile.prefix_caching {
            // As many prefix blocks as the KV pool holds (in 16-token units, the finest we see).
            (blocks * bs as u64 / crate::load::PREFIX_BLOCK_TOKENS as u64).max(1) as usize
        } else {
            0
        };
        Replica {
            role,
            pool,
            max_seqs: profile.max_num_seqs.saturating_mul(attn_dp),
            attn_dp: attn_dp.max(1),
            budget: profile.max_num_batched_tokens.saturating_mul(attn_dp),
            bs,
            total_blocks: blocks,
            free_blocks: blocks,
            reserved_blocks: 0,
            waiting: VecDeque::new(),
            seqs: Vec::new(),
            free_seq: Vec::new(),
            prefilling: Vec::new(),
            running: BTreeSet::new(),
            admit_no: 0,
            n_dec: 0,
            ctx_base: 0,
            phase_count: vec![0; bs as usize],
            finish: BinaryHeap::new(),
            dec_step: 0,
            dec_steps: 0,
            spec_micro: ((profile.spec_tokens_per_step() * 1e6).round() as u64).max(1_000_000),
            spec_k: profile.spec_tokens,
            cur_advance: 1,
            prefix: PrefixCache { cap: prefix_cap, ..Default::default() },
            last_prefix_matched: 0,
            busy: false,
            chips,
            energy_share,
            cur_chunks: Vec::new(),
            cur_decode: false,
            step_start_ns: 0,
            last_decode_end_ns: 0,
            last_step_end_ns: 0,
            busy_since_ns: 0,
            iterations: 0,
            busy_ns: 0,
            energy_j: 0.0,
            kv_block_ns: 0.0,
            kv_peak_blocks: 0,
            preemptions: 0,
            outstanding_tokens: 0,
            held_iters: 0,
            recv_counter: 0,
            batch_wait_count: 0,
            profile,
        }
    }

    /// Whether any work is queued or running.
    pub fn has_work(&self) -> bool {
        !self.waiting.is_empty() || !self.running.is_empty()
    }

    /// Running sequences.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Cached prefix blocks a request would hit here (no side effects).
    pub fn prefix_probe(&self, r: &Req) -> usize {
        match &r.prefix {
            Some((h, _)) if self.profile.prefix_caching => self.prefix.probe(h),
            _ => 0,
        }
    }

    fn blocks_for(&self, tokens: u64) -> u64 {
        ceil_div(tokens, self.bs as u64)
    }

    fn phase_of(&self, start_len: u32, start_step: u64) -> usize {
        let bs = self.bs as u64;
        ((start_len as u64 % bs + bs - start_step % bs) % bs) as usize
    }

    fn need_phase(&self, step: u64) -> usize {
        let bs = self.bs as u64;
        ((bs - step % bs) % bs) as usize
    }

    /// How far the token clock moves in the next decode step.
    fn next_advance(&self) -> u64 {
        const ONE: u64 = 1_000_000;
        if self.spec_micro == ONE {
            return 1;
        }
        // n·E stays far below u64::MAX for any reachable step count (E ≤ 17 tokens).
        let (e, n) = (self.spec_micro, self.dec_steps);
        (n + 1) * e / ONE - n * e / ONE
    }

    /// New blocks the decoding sequences need when the clock moves by `advance` tokens: each
    /// token position crosses a block boundary for exactly one phase class.
    fn blocks_needed(&self, advance: u64) -> u64 {
        if advance == 1 {
            return self.phase_count[self.need_phase(self.dec_step)] as u64;
        }
        (0..advance).map(|j| self.phase_count[self.need_phase(self.dec_step + j)] as u64).sum()
    }

    fn alloc_seq(&mut self, s: Seq) -> u32 {
        if let Some(i) = self.free_seq.pop() {
            let g = self.seqs[i as usize].generation.wrapping_add(1);
            self.seqs[i as usize] = Seq { generation: g, ..s };
            i
        } else {
            self.seqs.push(s);
            (self.seqs.len() - 1) as u32
        }
    }

    /// Blocks a decoding sequence holds after `self.dec_step` completed decode steps.
    fn decode_blocks(&self, s: &Seq) -> u64 {
        let len = s.start_len as u64 + (self.dec_step - s.start_step);
        self.blocks_for(len)
    }

    /// Removes a running sequence, returning its blocks to the pool.
    fn release(&mut self, si: u32) {
        let s = self.seqs[si as usize];
        debug_assert!(s.live);
        if s.decoding {
            let b = self.decode_blocks(&s);
            let left = (s.blocks as u64).saturating_sub(b);
            self.reserved_blocks -= left;
            self.free_blocks += b + left;
            let p = self.phase_of(s.start_len, s.start_step);
            self.phase_count[p] -= 1;
            self.n_dec -= 1;
            self.ctx_base -= s.start_len as i64 - s.start_step as i64;
        } else {
            self.free_blocks += s.blocks as u64;
            self.unlist_prefilling(si);
        }
        self.running.remove(&(s.admit_no, si));
        self.seqs[si as usize].live = false;
        self.free_seq.push(si);
    }

    /// Removes `si` (listed once at most) from the prefilling list, keeping the order.
    fn unlist_prefilling(&mut self, si: u32) {
        if let Some(p) = self.prefilling.iter().position(|&x| x == si) {
            self.prefilling.remove(p);
        }
    }

    fn start_decode(&mut self, si: u32, out_done: u32, output: u32) {
        let step = self.dec_step;
        let s = &mut self.seqs[si as usize];
        s.decoding = true;
        s.start_step = step;
        s.start_len = s.prompt;
        s.out_at_start = out_done;
        let (start_len, generation, held) = (s.start_len, s.generation, s.blocks as u64);
        let extra = held.saturating_sub(self.blocks_for(start_len as u64));
        debug_assert!(held >= self.blocks_for(start_len as u64), "a decoding sequence holds its prompt's blocks");
        self.reserved_blocks += extra;
        let p = self.phase_of(start_len, step);
        self.phase_count[p] += 1;
        self.n_dec += 1;
        self.ctx_base += start_len as i64 - step as i64;
        let remaining = (output - out_done) as u64;
        self.finish.push(Reverse((step + remaining - 1, si, generation)));
    }

    /// Preempts the most recently admitted running sequence (recompute); returns its request.
    fn preempt_last(&mut self, reqs: &mut [Req]) -> Option<u32> {
        let &(_, si) = self.running.last()?;
        let s = self.seqs[si as usize];
        let r = s.req;
        let out_now =
            if s.decoding { s.out_at_start + (self.dec_step - s.start_step) as u32 } else { reqs[r as usize].out_done };
        self.release(si);
        let q = &mut reqs[r as usize];
        if s.tail_stamp != 0
            && let Some((h, _)) = &q.prefix
        {
            // The recompute may hit its own unique tail: make it findable.
            self.prefix.adopt(s.tail_stamp, &h[(q.prefix_shared as usize).min(h.len())..]);
            q.prefix_adopted = true;
        }
        q.out_done = out_now;
        q.preemptions += 1;
        q.kv_ready = false;
        self.preemptions += 1;
        self.waiting.push_front(r);
        Some(r)
    }

    /// Allocates this step's decode blocks (preempting the newest requests when the pool runs
    /// out) and adds the decode sequences to `shape`.
    fn schedule_decode(&mut self, reqs: &mut [Req], out: &mut StepOutcome, shape: &mut BatchShape) -> u32 {
        let advance = self.next_advance();
        loop {
            let need = self.blocks_needed(advance);
            if need <= self.free_blocks + self.reserved_blocks || self.n_dec == 0 {
                break;
            }
            match self.preempt_last(reqs) {
                Some(r) => out.preempted.push(r),
                None => break,
            }
        }
        if self.n_dec == 0 {
            return 0;
        }
        let need = self.blocks_needed(advance);
        let from_reserve = need.min(self.reserved_blocks);
        self.reserved_blocks -= from_reserve;
        self.free_blocks -= need - from_reserve;
        self.cur_decode = true;
        self.cur_advance = advance;
        shape.decode_seqs = self.n_dec;
        shape.decode_context = (self.ctx_base + self.n_dec as i64 * self.dec_step as i64) as u64;
        // Speculative decoding: the target verifies k draft tokens per sequence (and computes
        // their logits) in the same step.
        shape.decode_extra_tokens = self.n_dec as u64 * self.spec_k as u64;
        shape.logits_seqs = self.n_dec * (1 + self.spec_k);
        self.n_dec
    }

    /// Forms the next step into `shape` (left empty when there is nothing to do).
    pub fn form_step(&mut self, reqs: &mut [Req], out: &mut StepOutcome) -> BatchShape {
        let mut shape = BatchShape::default();
        self.cur_chunks.clear();
        self.cur_decode = false;
        // SGLang's recv skipper: requests that arrived since the last receive are taken in every
        // `scheduler_recv_interval` decode steps, at once after a step with prompt tokens (the
        // counter is topped up then) and when nothing is running (the idle loop polls).
        let interval = self.profile.scheduler_recv_interval;
        let gated = interval > 1;
        if gated && (self.recv_counter >= interval || self.running() == 0) {
            for &r in &self.waiting {
                reqs[r as usize].received = true;
            }
            self.recv_counter = 0;
        }
        // Disaggregated decode: requests whose KV arrived join the decode batch directly.
        while let Some(&r) = self.waiting.front() {
            let q = &reqs[r as usize];
            if !q.kv_ready || (self.running.len() as u32) >= self.max_seqs {
                break;
            }
            let need = self.admission_blocks(q);
            if need > self.free_blocks {
                break;
            }
            self.waiting.pop_front();
            self.free_blocks -= need;
            let (input, out_done, output) = (q.input, q.out_done, q.output);
            let si = self.admit(r, input, input, need as u32);
            self.start_decode(si, out_done, output);
        }
        let budget_total = self.budget;
        let mut budget = budget_total;
        let prefill_first = self.profile.schedule == Schedule::PrefillFirst;
        if !prefill_first {
            budget = budget.saturating_sub(self.schedule_decode(reqs, out, &mut shape));
        }
        // Ongoing prefills first, in admission order.
        for i in 0..self.prefilling.len() {
            if budget == 0 {
                break;
            }
            let si = self.prefilling[i];
            let s = self.seqs[si as usize];
            let left = s.prompt - s.computed;
            let chunk = if self.profile.chunked_prefill { left.min(budget) } else { left };
            if chunk > budget && budget < budget_total {
                continue;
            }
            shape.add_prefill(chunk as u64, s.computed as u64, chunk == left);
            self.cur_chunks.push((si, chunk));
            budget = budget.saturating_sub(chunk);
        }
        // Attention-DP balancing (TensorRT-LLM `enable_balance`): new prompts wait until there is
        // one for every rank, or for at most `adp_balance_iters` iterations. Only while the step
        // has other work, so held prompts are always released (the engine keeps stepping).
        let mut hold = false;
        if self.profile.adp_balance_iters > 0 && self.attn_dp > 1 {
            let new = self.waiting.iter().take(self.attn_dp as usize).filter(|&&r| !reqs[r as usize].kv_ready).count();
            let other_work = self.n_dec > 0 || !self.cur_chunks.is_empty();
            if new > 0 && (new as u32) < self.attn_dp && other_work && self.held_iters < self.profile.adp_balance_iters
            {
                self.held_iters += 1;
                hold = true;
            } else {
                self.held_iters = 0;
            }
        }
        // TensorRT-LLM batch waiting (`batch_wait_timeout_iters`, `batch_wait_max_tokens_ratio`;
        // `PyExecutor._waiting_requests`): without attention DP and while sequences decode, the
        // prompts this step would admit are held until the step's scheduled tokens (prompts plus
        // decodes) reach the ratio of the token budget, or for at most the timeout's iterations.
        if !hold && self.profile.batch_wait_iters > 0 && self.attn_dp <= 1 && shape.decode_seqs > 0 {
            let prompt_tokens = self.admissible_prompt_tokens(reqs, budget, budget_total, gated);
            if prompt_tokens > 0 {
                let scheduled = shape.tokens() + prompt_tokens;
                let enough = scheduled as f64 >= self.profile.batch_wait_ratio * budget_total as f64;
                if enough || self.batch_wait_count >= self.profile.batch_wait_iters {
                    self.batch_wait_count = 0;
                } else {
                    self.batch_wait_count += 1;
                    hold = true;
                }
            }
        }
        // Then new requests, first come first served.
        while let Some(&r) = self.waiting.front() {
            if hold || budget == 0 || (self.running.len() as u32) >= self.max_seqs {
                break;
            }
            let q = &reqs[r as usize];
            if q.kv_ready || (gated && !q.received) {
                break;
            }
            let need = self.admission_blocks(q);
            if need > self.free_blocks {
                break;
            }
            let prompt = q.input + q.out_done;
            let cached = self.prefix_hit(reqs, r, prompt);
            let left = prompt - cached;
            let chunk = if self.profile.chunked_prefill { left.min(budget) } else { left };
            if chunk > budget && budget < budget_total {
                self.last_prefix_matched = 0;
                break;
            }
            self.waiting.pop_front();
            self.free_blocks -= need;
            let si = self.admit(r, prompt, cached, need as u32);
            shape.add_prefill(chunk as u64, cached as u64, chunk == left);
            self.cur_chunks.push((si, chunk));
            budget = budget.saturating_sub(chunk);
        }
        if prefill_first && self.cur_chunks.is_empty() {
            // SGLang: decode only when no prefill batch could be formed.
            self.schedule_decode(reqs, out, &mut shape);
        }
        if gated && shape.tokens() > 0 {
            let weight = if shape.prefill_seqs > 0 { interval } else { 1 };
            self.recv_counter = self.recv_counter.saturating_add(weight);
        }
        let used = self.total_blocks - self.free_blocks;
        self.kv_peak_blocks = self.kv_peak_blocks.max(used);
        shape
    }

    /// Prompt tokens the admission loop of [`Self::form_step`] would schedule now from the
    /// waiting queue (a dry run: nothing is admitted; prefix-cache hits are not looked up).
    fn admissible_prompt_tokens(&self, reqs: &[Req], budget: u32, budget_total: u32, gated: bool) -> u64 {
        let (mut left, mut free, mut seqs, mut tokens) = (budget, self.free_blocks, self.running.len() as u32, 0u64);
        for &r in &self.waiting {
            let q = &reqs[r as usize];
            if left == 0 || seqs >= self.max_seqs || q.kv_ready || (gated && !q.received) {
                break;
            }
            let need = self.admission_blocks(q);
            if need > free {
                break;
            }
            let prompt = q.input + q.out_done;
            let chunk = if self.profile.chunked_prefill { prompt.min(left) } else { prompt };
            if chunk > left && left < budget_total {
                break;
            }
            tokens += chunk as u64;
            free -= need;
            left = left.saturating_sub(chunk);
            seqs += 1;
        }
        tokens
    }

    fn admission_blocks(&self, q: &Req) -> u64 {
        let prompt = if q.kv_ready { q.input } else { q.input + q.out_done } as u64;
        // Reserving engines also hold slots for the draft tokens a verify step writes past the
        // last accepted one (TensorRT-LLM adds `max_draft_len` to each sequence's budget).
        // They reserve up to the clients' `max_tokens` where one is set, since they cannot know
        // when a sequence will end.
        let output = self.profile.reserve_output_tokens.map_or(q.output, |m| m.max(q.output));
        let total =
            if self.profile.reserve_output { q.input as u64 + output as u64 + self.spec_k as u64 } else { prompt };
        self.blocks_for(total.max(prompt))
    }

    fn prefix_hit(&mut self, reqs: &mut [Req], r: u32, prompt: u32) -> u32 {
        self.last_prefix_matched = 0;
        if !self.profile.prefix_caching {
            return 0;
        }
        let q = &mut reqs[r as usize];
        let Some((h, bt)) = &q.prefix else { return 0 };
        let n = self.prefix.matched(h) as u64;
        self.last_prefix_matched = n as u32;
        let bs = self.bs as u64;
        let tokens = (n * *bt as u64).min(prompt.saturating_sub(1) as u64) / bs * bs;
        q.cached_tokens = q.cached_tokens.max(tokens as u32);
        tokens as u32
    }

    fn admit(&mut self, r: u32, prompt: u32, computed: u32, blocks: u32) -> u32 {
        self.admit_no += 1;
        let si = self.alloc_seq(Seq {
            req: r,
            admit_no: self.admit_no,
            prompt,
            computed,
            blocks,
            decoding: false,
            start_step: 0,
            start_len: 0,
            out_at_start: 0,
            generation: 0,
            live: true,
            prefix_matched: self.last_prefix_matched,
            tail_stamp: 0,
        });
        self.last_prefix_matched = 0;
        self.running.insert((self.admit_no, si));
        if computed < prompt {
            self.prefilling.push(si);
        }
        si
    }

    /// Applies the in-flight step's effects at its end time `now`.
    pub fn finish_step(&mut self, reqs: &mut [Req], now: u64, out: &mut StepOutcome) {
        if self.cur_decode {
            let step = self.dec_step;
            let advance = self.cur_advance;
            let mut tokens = self.n_dec as u64 * advance;
            out.decode_chunks = self.n_dec;
            self.dec_step += advance;
            self.dec_steps += 1;
            while let Some(&Reverse((fs, si, g))) = self.finish.peek() {
                let s = self.seqs[si as usize];
                if !s.live || s.generation != g || !s.decoding {
                    self.finish.pop();
                    continue;
                }
                if fs >= step + advance {
                    break;
                }
                // Its last token is clock value `fs`: it produced fs − step + 1 of the advance.
                tokens -= advance - (fs - step + 1);
                self.finish.pop();
                let r = s.req;
                reqs[r as usize].out_done = reqs[r as usize].output;
                self.release(si);
                out.finished.push(r);
            }
            out.decode_tokens = tokens as u32;
            self.last_decode_end_ns = now;
        }
        let chunks = std::mem::take(&mut self.cur_chunks);
        for &(si, chunk) in &chunks {
            let s = &mut self.seqs[si as usize];
            if !s.live {
                continue;
            }
            s.computed += chunk;
            if s.computed < s.prompt {
                continue;
            }
            let (r, skip) = (s.req, s.prefix_matched as usize);
            self.unlist_prefilling(si);
            let q = &mut reqs[r as usize];
            q.out_done += 1;
            if let (Some((h, _)), true) = (&q.prefix, self.profile.prefix_caching) {
                // Blocks matched at admission are cached (and were touched) already; a prefix
                // evicted since then is simply not re-inserted (an approximation).
                let skip = skip.min(h.len());
                let lookup = if q.prefix_adopted { h.len() } else { q.prefix_shared as usize };
                let t = self.prefix.insert(&h[skip..], lookup.saturating_sub(skip));
                self.seqs[si as usize].tail_stamp = t;
            }
            out.prefilled.push(r);
            let (out_done, output) = (q.out_done, q.output);
            if out_done >= output || self.role == Role::Prefill {
                self.release(si);
                if out_done >= output {
                    out.finished.push(r);
                }
            } else {
                self.start_decode(si, out_done, output);
            }
        }
        self.cur_chunks = chunks;
        self.cur_chunks.clear();
    }

    /// Checks KV-block conservation: blocks held by sequences + free = total.
    pub fn check_blocks(&self) -> Result<(), String> {
        let mut held = 0u64;
        for &(_, si) in &self.running {
            let s = &self.seqs[si as usize];
            held += if s.decoding { self.decode_blocks(s) } else { s.blocks as u64 };
        }
        held += self.reserved_blocks;
        if held + self.free_blocks != self.total_blocks {
            return Err(format!(
                "KV blocks not conserved: held {held} + free {} != total {}",
                self.free_blocks, self.total_blocks
            ));
        }
        Ok(())
    }

    /// Used (or reserved) blocks now.
    pub fn used_blocks(&self) -> u64 {
        self.total_blocks - self.free_blocks
    }
}

#[cfg(test)]
mod tests {
    use super::PrefixCache;

    #[test]
    fn capacity_only_entries_fill_the_cache_age_out_and_can_be_adopted() {
        let mut c = PrefixCache { cap: 8, ..Default::default() };
        // Block 10 is findable; 11, 12, 13 (stamps 2, 3, 4) only take room.
        assert_eq!(c.insert(&[10, 11, 12, 13], 1), 2);
        assert_eq!((c.map.len(), c.phantoms.len()), (1, 3));
        assert_eq!(c.probe(&[10, 11]), 1);
        // 10 entries: not yet over 8 + 8/4.
        assert_eq!(c.insert(&[20, 21, 22, 23, 24, 25], 0), 5);
        assert_eq!(c.map.len() + c.phantoms.len(), 10);
        // The 11th evicts the 3 oldest (stamps 1–3: block 10 and the first two of the tail).
        assert_eq!(c.insert(&[30], 1), 0);
        assert_eq!(c.map.len() + c.phantoms.len(), 8);
        assert_eq!(c.probe(&[10]), 0);
        // Adopting the tail moves only what is still cached (block 13, stamp 4).
        c.adopt(2, &[11, 12, 13]);
        assert_eq!(c.probe(&[13]), 1);
        assert_eq!(c.probe(&[12]), 0);
        assert_eq!(c.map[&13], 4);
        assert_eq!(c.map.len() + c.phantoms.len(), 8);
        // Touching 13 makes it the newest: the next eviction keeps it over older tails.
        assert_eq!(c.matched(&[13]), 1);
        c.insert(&[40, 41, 42], 0);
        assert_eq!(c.probe(&[13]), 1);
        assert_eq!(c.map.len() + c.phantoms.len(), 8);
    }
}
