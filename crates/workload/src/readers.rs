//! Streaming readers of public request traces: `impl BufRead` in, an iterator of
//! `Result<Request, WorkloadError>` out, one line in memory at a time.
//!
//! Every reader assigns ids 0, 1, 2, … in file order and turns timestamps into `arrival_ns`
//! relative to the first request (the native format keeps its `arrival_ns` as written).
//! Timestamps must not go backwards; a row that does is malformed. With
//! [`ReadOptions::lenient`], malformed rows are skipped and counted in [`ReadCounts`]; otherwise the
//! first one is returned as [`WorkloadError::Parse`] with its line number and the stream ends.

use crate::arrival::{ArrivalGen, ArrivalSpec};
use crate::dist::{LengthDist, LengthSampler, ln_gamma};
use crate::error::WorkloadError;
use crate::native::{check_unique_tail, prefix_from_cells};
use crate::{PrefixBlocks, Request};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::BufRead;

/// Trace formats. Names (for `--format`) in [`Format::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Azure LLM inference 2023/2024 (and 2025 LMM): `TIMESTAMP,ContextTokens,GeneratedTokens`.
    Azure,
    /// BurstGPT v1 (`Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`) and v2
    /// (adds `Session ID`, `Elapsed time`); columns are found by name.
    Burstgpt,
    /// Mooncake JSONL: `{timestamp (ms), input_length, output_length, hash_ids (512-token blocks)}`.
    Mooncake,
    /// LLMServingSim JSONL: upstream `{input_toks, output_toks, arrival_time_ns, …}` or the derived
    /// `{timestamp_ns, input_length, output_length, hash_ids (16-token blocks)}`.
    Llmservingsim,
    /// Qwen-Bailian KV-cache traces (ATC'25): `{chat_id, parent_chat_id (-1 = root), timestamp (s),
    /// input_length, output_length, type, turn, hash_ids (16-token blocks)}`.
    QwenBailian,
    /// ServeGen per-client `chunk-N-trace.csv`: 600-s windows of rate, CV and a Gamma/Weibull fit;
    /// arrivals are generated (seeded).
    Servegen,
    /// Length tables without timestamps (ShareGPT, arXiv summarization):
    /// `num_prefill_tokens,num_decode_tokens,…`; arrivals come from [`ReadOptions::arrival`].
    Lengths,
    /// Vidur processed traces: `arrived_at (s),num_prefill_tokens,num_decode_tokens`.
    Vidur,
    /// tokenfab native CSV (see [`crate::native`]).
    NativeCsv,
    /// tokenfab native JSONL (see [`crate::native`]).
    NativeJsonl,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 10] = [
        Format::Azure,
        Format::Burstgpt,
        Format::Mooncake,
        Format::Llmservingsim,
        Format::QwenBailian,
        Format::Servegen,
        Format::Lengths,
        Format::Vidur,
        Format::NativeCsv,
        Format::NativeJsonl,
    ];

    /// The `--format` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Azure => "azure",
            Format::Burstgpt => "burstgpt",
            Format::Mooncake => "mooncake",
            Format::Llmservingsim => "llmservingsim",
            Format::QwenBailian => "qwen-bailian",
            Format::Servegen => "servegen",
            Format::Lengths => "lengths",
            Format::Vidur => "vidur",
            Format::NativeCsv => "native-csv",
            Format::NativeJsonl => "native-jsonl",
        }
    }

    /// Format from its name.
    pub fn from_name(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s)
    }

    /// Recognises a format from the first line of a file.
    pub fn detect(first_line: &str) -> Option<Format> {
        let line = first_line.trim_start_matches('\u{feff}').trim();
        if line.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            let o = v.as_object()?;
            return if o.contains_key("arrival_ns") {
                Some(Format::NativeJsonl)
            } else if o.contains_key("chat_id") && o.contains_key("input_length") {
                Some(Format::QwenBailian)
            } else if o.contains_key("timestamp_ns")
                || o.contains_key("arrival_time_ns")
                || o.contains_key("input_toks")
            {
                Some(Format::Llmservingsim)
            } else if o.contains_key("timestamp") && o.contains_key("input_length") {
                Some(Format::Mooncake)
            } else {
                None
            };
        }
        let cols: Vec<&str> = split_csv(line).into_iter().map(|(a, b)| line[a..b].trim()).collect();
        let has = |n: &str| cols.contains(&n);
        if has("TIMESTAMP") && has("ContextTokens") && has("GeneratedTokens") {
            Some(Format::Azure)
        } else if has("Timestamp") && has("Request tokens") && has("Response tokens") {
            Some(Format::Burstgpt)
        } else if has("arrival_ns") && has("input_tokens") && has("output_tokens") {
            Some(Format::NativeCsv)
        } else if has("arrived_at") && has("num_prefill_tokens") && has("num_decode_tokens") {
            Some(Format::Vidur)
        } else if has("num_prefill_tokens") && has("num_decode_tokens") {
            Some(Format::Lengths)
        } else if cols.len() == 6
            && ["", "Gamma", "Weibull"].contains(&cols[3])
            && [0, 1, 2, 4, 5].iter().all(|&i| cols[i].parse::<f64>().is_ok())
        {
            Some(Format::Servegen)
        } else {
            None
        }
    }

    fn has_header(self) -> bool {
        !matches!(
            self,
            Format::Mooncake | Format::Llmservingsim | Format::QwenBailian | Format::Servegen | Format::NativeJsonl
        )
    }
}

/// Token-length PDFs of a ServeGen client (`chunk-N-dataset.json`), per 6-h window.
#[derive(Debug, Clone, Default)]
pub struct ServeGenLengths {
    windows: BTreeMap<u64, (LengthSampler, LengthSampler)>,
}

impl ServeGenLengths {
    /// Parses a dataset JSON: `{"<window_start_s>": {"input_tokens": "{v: p, …}", "output_tokens": "…"}}`
    /// (the PDFs are Python dict literals inside JSON strings).
    pub fn parse(text: &str) -> Result<Self, WorkloadError> {
        let bad = |m: String| WorkloadError::Parse { line: 1, message: m };
        let v: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
            serde_json::from_str(text).map_err(|e| bad(format!("ServeGen dataset JSON: {e}")))?;
        let mut windows = BTreeMap::new();
        for (k, fields) in v {
            let start: u64 = k.trim().parse().map_err(|_| bad(format!("window key {k:?} is not seconds")))?;
            let get = |name: &str| -> Result<LengthSampler, WorkloadError> {
                let s = fields
                    .get(name)
                    .and_then(|x| x.as_str())
                    .ok_or_else(|| bad(format!("window {k}: no {name:?} PDF")))?;
                let (values, weights) = parse_py_dict(s).map_err(|e| bad(format!("window {k}: {name}: {e}")))?;
                let d = LengthDist::Empirical { values, weights };
                let p = d.problems(name);
                if !p.is_empty() {
                    return Err(bad(format!("window {k}: {}", p.join("; "))));
                }
                Ok(d.sampler())
            };
            windows.insert(start, (get("input_tokens")?, get("output_tokens")?));
        }
        if windows.is_empty() {
            return Err(bad("ServeGen dataset JSON has no windows".into()));
        }
        Ok(ServeGenLengths { windows })
    }

    fn at(&self, t_s: f64) -> &(LengthSampler, LengthSampler) {
        let t = t_s.max(0.0) as u64;
        self.windows.range(..=t).next_back().or_else(|| self.windows.iter().next()).map(|(_, v)| v).expect("non-empty")
    }
}

/// Parses `{45: 0.0096, 46: 0.0117}` into values and weights.
fn parse_py_dict(s: &str) -> Result<(Vec<u32>, Vec<f64>), String> {
    let body = s.trim().strip_prefix('{').and_then(|b| b.strip_suffix('}')).ok_or("not a {k: v} dict literal")?;
    let (mut values, mut weights) = (Vec::new(), Vec::new());
    for item in body.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let (k, v) = item.split_once(':').ok_or_else(|| format!("entry {item:?} is not k: v"))?;
        let k: f64 = k.trim().parse().map_err(|_| format!("key {k:?} is not a number"))?;
        let v: f64 = v.trim().parse().map_err(|_| format!("probability {v:?} is not a number"))?;
        values.push(k.round().clamp(0.0, u32::MAX as f64) as u32);
        weights.push(v);
    }
    Ok((values, weights))
}

/// Options of a [`TraceReader`].
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Skip and count malformed rows instead of failing on the first.
    pub lenient: bool,
    /// Seed of generated parts (ServeGen arrivals and lengths, arrivals of length tables).
    pub seed: u64,
    /// Arrival process for length tables (default: Poisson, 1 request/s).
    pub arrival: ArrivalSpec,
    /// ServeGen length PDFs (`chunk-N-dataset.json`) when available.
    pub servegen_lengths: Option<ServeGenLengths>,
    /// ServeGen input and output lengths when there is no dataset file. Default: lognormals matched
    /// to the median and mean of ServeGen language/m-large (SUMMARY.md: input median 601, mean 914
    /// → sigma 0.92; output median 53, mean 155 → sigma 1.46), capped at 128k and 32k tokens (estimate).
    pub servegen_fallback: (LengthDist, LengthDist),
    /// Upper bound on prefix ids per request (a guard on memory; default 1 M).
    pub max_prefix_ids: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            lenient: false,
            seed: 0,
            arrival: ArrivalSpec::Poisson { rate_per_s: 1.0, profile: None },
            servegen_lengths: None,
            servegen_fallback: (
                LengthDist::Lognormal { median: 601.0, sigma: 0.92, min: None, max: Some(131_072) },
                LengthDist::Lognormal { median: 53.0, sigma: 1.46, min: None, max: Some(32_768) },
            ),
            max_prefix_ids: 1 << 20,
        }
    }
}

/// What a reader saw besides the requests it returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadCounts {
    /// Requests returned.
    pub requests: u64,
    /// Malformed rows skipped (lenient mode).
    pub skipped_rows: u64,
    /// Rows kept but flagged as failed upstream (BurstGPT rows with 0 response tokens).
    pub failed_rows: u64,
    /// The first skipped row's error, for the report.
    pub first_skipped: Option<String>,
}

#[derive(Debug, Default)]
struct Columns {
    t: Option<usize>,
    input: usize,
    output: usize,
    session: Option<usize>,
    model: Option<usize>,
    class: Option<usize>,
    turn: Option<usize>,
    block: Option<usize>,
    ids: Option<usize>,
    tail: Option<usize>,
    min_fields: usize,
}

/// A parsed row before ids and relative times are assigned.
struct Row {
    /// Absolute (or file-relative) time, ns; None for length tables.
    t_ns: Option<i128>,
    input: u32,
    output: u32,
    class: u16,
    session: Option<u64>,
    turn: Option<u32>,
    prefix: Option<PrefixBlocks>,
}

struct Window {
    end_s: f64,
    t_s: f64,
    gaps: Gaps,
}

enum Gaps {
    Gamma(rand_distr::Gamma<f64>),
    Weibull(rand_distr::Weibull<f64>),
}

/// A streaming reader over one trace. See the module docs.
pub struct TraceReader<R: BufRead> {
    input: R,
    format: Format,
    opts: ReadOptions,
    line_no: u64,
    buf: String,
    pending_first: Option<String>,
    cols: Columns,
    t0: Option<i128>,
    last_t: i128,
    next_id: u64,
    counts: ReadCounts,
    done: bool,
    rng: ChaCha8Rng,
    lengths_arrivals: Option<ArrivalGen>,
    window: Option<Window>,
    last_window_start: f64,
    fallback: (LengthSampler, LengthSampler),
    /// BurstGPT: model names → class; session → turns so far.
    models: Vec<String>,
    turns: BTreeMap<u64, u32>,
    /// Qwen-Bailian: chat → root chat of its conversation.
    roots: BTreeMap<u64, u64>,
    fields: Vec<(usize, usize)>,
}

impl<R: BufRead> TraceReader<R> {
    /// Opens a reader: reads the first line, detects the format unless given, and parses the
    /// header. Fails when the format cannot be detected or the header lacks a needed column.
    pub fn new(mut input: R, format: Option<Format>, opts: ReadOptions) -> Result<Self, WorkloadError> {
        let mut first = String::new();
        let mut line_no = 0;
        loop {
            first.clear();
            line_no += 1;
            let n = input.read_line(&mut first).map_err(|source| WorkloadError::Io { line: line_no, source })?;
            if n == 0 {
                return Err(WorkloadError::parse(line_no, "empty input: no header or first row"));
            }
            if !first.trim().is_empty() {
                break;
            }
        }
        let first = first.trim_start_matches('\u{feff}').trim_end_matches(['\r', '\n']).to_string();
        let format = match format {
            Some(f) => f,
            None => Format::detect(&first).ok_or_else(|| WorkloadError::UnknownFormat(truncate(&first, 120)))?,
        };
        let cols = if format.has_header() { header_columns(format, &first, line_no)? } else { Columns::default() };
        let lengths_arrivals = (format == Format::Lengths).then(|| {
            let p = opts.arrival.problems();
            (p.is_empty()).then(|| opts.arrival.generator(opts.seed))
        });
        let lengths_arrivals = match lengths_arrivals {
            Some(None) => {
                return Err(WorkloadError::Spec(opts.arrival.problems()));
            }
            Some(Some(g)) => Some(g),
            None => None,
        };
        let fallback = (opts.servegen_fallback.0.sampler(), opts.servegen_fallback.1.sampler());
        let rng = ChaCha8Rng::seed_from_u64(opts.seed);
        Ok(TraceReader {
            input,
            format,
            pending_first: (!format.has_header()).then_some(first),
            opts,
            line_no,
            buf: String::new(),
            cols,
            t0: None,
            last_t: i128::MIN,
            next_id: 0,
            counts: ReadCounts::default(),
            done: false,
            rng,
            lengths_arrivals,
            window: None,
            last_window_start: f64::NEG_INFINITY,
            fallback,
            models: Vec::new(),
            turns: BTreeMap::new(),
            roots: BTreeMap::new(),
            fields: Vec::new(),
        })
    }

    /// The format being read.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Counts so far (complete once the iterator is exhausted).
    pub fn counts(&self) -> &ReadCounts {
        &self.counts
    }

    /// Next line into `self.buf` (without newline); false at end of input.
    fn next_line(&mut self) -> Result<bool, WorkloadError> {
        if let Some(f) = self.pending_first.take() {
            self.buf = f;
            return Ok(true);
        }
        self.buf.clear();
        self.line_no += 1;
        let n =
            self.input.read_line(&mut self.buf).map_err(|source| WorkloadError::Io { line: self.line_no, source })?;
        if n == 0 {
            return Ok(false);
        }
        let t = self.buf.trim_end_matches(['\r', '\n']).len();
        self.buf.truncate(t);
        Ok(true)
    }

    fn finish_row(&mut self, row: Row) -> Result<Request, String> {
        // Length tables take their arrivals from a process; all are then made relative to the first.
        let t_ns = row.t_ns.or_else(|| self.lengths_arrivals.as_mut().and_then(|g| g.next()).map(|t| t as i128));
        let arrival_ns =
            match t_ns {
                Some(t) => {
                    if t < self.last_t {
                        return Err(format!(
                            "timestamp goes backwards ({} ns before the previous row); traces must be sorted",
                            self.last_t - t
                        ));
                    }
                    let t0 = *self.t0.get_or_insert(
                        if self.format == Format::NativeCsv || self.format == Format::NativeJsonl { 0 } else { t },
                    );
                    if t < t0 {
                        return Err("arrival_ns must not be negative".into());
                    }
                    self.last_t = t;
                    u64::try_from(t - t0).map_err(|_| "timestamp out of range".to_string())?
                }
                None => 0,
            };
        let turn = match (row.turn, row.session) {
            (Some(t), _) => t,
            (None, Some(s)) if self.format == Format::Burstgpt => {
                let e = self.turns.entry(s).or_insert(0);
                *e += 1;
                *e - 1
            }
            _ => 0,
        };
        let id = self.next_id;
        self.next_id += 1;
        self.counts.requests += 1;
        Ok(Request {
            id,
            arrival_ns,
            input_tokens: row.input,
            output_tokens: row.output,
            class: row.class,
            session: row.session,
            turn,
            prefix: row.prefix,
        })
    }

    fn parse_line(&mut self) -> Result<Option<Row>, String> {
        let line = std::mem::take(&mut self.buf);
        let r = self.parse_text(&line);
        self.buf = line;
        r
    }

    fn parse_text(&mut self, line: &str) -> Result<Option<Row>, String> {
        match self.format {
            Format::QwenBailian => {
                let (mut row, chat, parent, turn) = parse_qwen_row(line, self.opts.max_prefix_ids)?;
                // Session = the root of the parent chain; one map entry per chat seen.
                let root = match parent {
                    None => chat,
                    Some(p) => self.roots.get(&p).copied().unwrap_or(p),
                };
                self.roots.insert(chat, root);
                row.session = Some(root);
                row.turn = Some(turn);
                Ok(Some(row))
            }
            Format::Mooncake | Format::Llmservingsim => {
                parse_json_row(self.format, line, self.opts.max_prefix_ids).map(Some)
            }
            Format::NativeJsonl => {
                let r: Request = serde_json::from_str(line).map_err(|e| format!("not a native JSONL request: {e}"))?;
                if let Some(p) = &r.prefix {
                    check_unique_tail(p)?;
                }
                Ok(Some(Row {
                    t_ns: Some(r.arrival_ns as i128),
                    input: r.input_tokens,
                    output: r.output_tokens,
                    class: r.class,
                    session: r.session,
                    turn: Some(r.turn),
                    prefix: r.prefix,
                }))
            }
            Format::Servegen => {
                self.start_window(line)?;
                Ok(None)
            }
            _ => self.parse_csv(line).map(Some),
        }
    }

    fn parse_csv(&mut self, line: &str) -> Result<Row, String> {
        split_csv_into(line, &mut self.fields);
        let c = &self.cols;
        if self.fields.len() < c.min_fields {
            return Err(format!(
                "expected at least {} comma-separated fields, found {}",
                c.min_fields,
                self.fields.len()
            ));
        }
        let f = |i: usize| -> &str {
            let (a, b) = self.fields[i];
            line[a..b].trim()
        };
        let input = parse_tokens(f(c.input), "input tokens")?;
        let output = parse_tokens(f(c.output), "output tokens")?;
        let t_ns = match (self.format, c.t) {
            (Format::Azure, Some(i)) => Some(parse_datetime_ns(f(i))? as i128),
            (Format::NativeCsv, Some(i)) => {
                Some(f(i).parse::<u64>().map_err(|_| format!("arrival_ns {:?} is not a non-negative integer", f(i)))?
                    as i128)
            }
            (_, Some(i)) => {
                Some(parse_seconds_ns(f(i)).ok_or_else(|| format!("time {:?} is not seconds", f(i)))? as i128)
            }
            (_, None) => None,
        };
        let mut class = 0u16;
        let mut session = None;
        let mut turn = None;
        let mut prefix = None;
        match self.format {
            Format::Burstgpt => {
                if output == 0 {
                    self.counts.failed_rows += 1;
                }
                if let Some(i) = c.model {
                    let m = f(i);
                    class = match self.models.iter().position(|x| x == m) {
                        Some(p) => p as u16,
                        None if self.models.len() < u16::MAX as usize => {
                            self.models.push(m.to_string());
                            (self.models.len() - 1) as u16
                        }
                        None => u16::MAX,
                    };
                }
                if let Some(i) = c.session {
                    let s = f(i);
                    if !s.is_empty() {
                        session = Some(fnv1a(s.as_bytes()));
                    }
                }
            }
            Format::NativeCsv => {
                if let Some(i) = c.class {
                    let s = f(i);
                    if !s.is_empty() {
                        class = s.parse().map_err(|_| format!("class {s:?} is not an integer 0..65535"))?;
                    }
                }
                if let Some(i) = c.session {
                    let s = f(i);
                    if !s.is_empty() {
                        session = Some(s.parse().map_err(|_| format!("session {s:?} is not an integer"))?);
                    }
                }
                if let Some(i) = c.turn {
                    let s = f(i);
                    if !s.is_empty() {
                        turn = Some(s.parse().map_err(|_| format!("turn {s:?} is not an integer"))?);
                    }
                }
                if let (Some(b), Some(i)) = (c.block, c.ids) {
                    let tail = c.tail.map_or("", f);
                    prefix = prefix_from_cells(f(b), f(i), tail, self.opts.max_prefix_ids)?;
                }
            }
            _ => {}
        }
        Ok(Row { t_ns, input, output, class, session, turn, prefix })
    }

    fn start_window(&mut self, line: &str) -> Result<(), String> {
        split_csv_into(line, &mut self.fields);
        if self.fields.len() != 6 {
            return Err(format!(
                "ServeGen rows have 6 fields (window_start_s,rate_rps,cv,family,p1,p2), found {}",
                self.fields.len()
            ));
        }
        let f = |i: usize| -> &str {
            let (a, b) = self.fields[i];
            line[a..b].trim()
        };
        let num = |i: usize, what: &str| -> Result<f64, String> {
            f(i).parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("{what} {:?} is not a number", f(i)))
        };
        let start = num(0, "window_start_s")?;
        let rate = num(1, "rate_rps")?;
        let shape = num(4, "p1")?;
        num(2, "cv")?;
        num(5, "p2")?;
        if start < self.last_window_start {
            return Err("window_start_s goes backwards".into());
        }
        self.last_window_start = start;
        let family = f(3).to_string();
        // The window lasts until the next row's start; 600 s is ServeGen's window length.
        let end = start + 600.0;
        if rate <= 0.0 || family.is_empty() {
            self.window = None;
            return Ok(());
        }
        if shape <= 0.0 {
            return Err(format!("{family} shape p1 must be > 0, got {shape}"));
        }
        // Shape from the file; scale chosen so the mean gap is 1/rate, which keeps the window's
        // recorded rate exactly (the files' p2 does not always agree with rate_rps for Weibull
        // rows, e.g. chunk-0 window 0: Weibull(0.375, 0.397) has mean 1.59 s vs 1/1.33 = 0.75 s).
        let gaps = match family.as_str() {
            "Gamma" => Gaps::Gamma(
                rand_distr::Gamma::new(shape, 1.0 / (rate * shape)).map_err(|e| format!("Gamma({shape}): {e}"))?,
            ),
            "Weibull" => {
                let scale = 1.0 / (rate * ln_gamma(1.0 + 1.0 / shape).exp());
                Gaps::Weibull(rand_distr::Weibull::new(scale, shape).map_err(|e| format!("Weibull({shape}): {e}"))?)
            }
            other => return Err(format!("inter-arrival family {other:?} is not Gamma, Weibull or empty")),
        };
        self.window = Some(Window { end_s: end, t_s: start, gaps });
        Ok(())
    }

    fn window_next(&mut self) -> Option<Request> {
        let w = self.window.as_mut()?;
        let gap = match &w.gaps {
            Gaps::Gamma(d) => d.sample(&mut self.rng),
            Gaps::Weibull(d) => d.sample(&mut self.rng),
        };
        w.t_s += gap;
        if w.t_s >= w.end_s {
            self.window = None;
            return None;
        }
        let t_s = w.t_s;
        let (i, o) = match &self.opts.servegen_lengths {
            Some(l) => {
                let (a, b) = l.at(t_s);
                (a.sample(&mut self.rng), b.sample(&mut self.rng))
            }
            None => (self.fallback.0.sample(&mut self.rng), self.fallback.1.sample(&mut self.rng)),
        };
        let row = Row {
            t_ns: Some((t_s * 1e9).round() as i128),
            input: i,
            output: o,
            class: 0,
            session: None,
            turn: None,
            prefix: None,
        };
        self.finish_row(row).ok()
    }
}

impl<R: BufRead> Iterator for TraceReader<R> {
    type Item = Result<Request, WorkloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            if self.window.is_some() {
                if let Some(r) = self.window_next() {
                    return Some(Ok(r));
                }
                continue;
            }
            match self.next_line() {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            if self.buf.trim().is_empty() {
                continue;
            }
            let result = self.parse_line().and_then(|row| match row {
                Some(row) => self.finish_row(row).map(Some),
                None => Ok(None),
            });
            match result {
                Ok(Some(r)) => return Some(Ok(r)),
                Ok(None) => continue,
                Err(message) => {
                    if self.opts.lenient {
                        self.counts.skipped_rows += 1;
                        if self.counts.first_skipped.is_none() {
                            self.counts.first_skipped = Some(format!("line {}: {message}", self.line_no));
                        }
                        continue;
                    }
                    self.done = true;
                    return Some(Err(WorkloadError::Parse { line: self.line_no, message }));
                }
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn header_columns(format: Format, header: &str, line: u64) -> Result<Columns, WorkloadError> {
    let names: Vec<String> = split_csv(header).into_iter().map(|(a, b)| header[a..b].trim().to_string()).collect();
    let find = |n: &str| names.iter().position(|x| x == n);
    let need = |n: &str| {
        find(n).ok_or_else(|| {
            WorkloadError::parse(
                line,
                format!("{} header lacks column {n:?} (found: {})", format.name(), names.join(",")),
            )
        })
    };
    let mut c = match format {
        Format::Azure => Columns {
            t: Some(need("TIMESTAMP")?),
            input: need("ContextTokens")?,
            output: need("GeneratedTokens")?,
            ..Columns::default()
        },
        Format::Burstgpt => Columns {
            t: Some(need("Timestamp")?),
            input: need("Request tokens")?,
            output: need("Response tokens")?,
            model: find("Model"),
            session: find("Session ID"),
            ..Columns::default()
        },
        Format::Vidur => Columns {
            t: Some(need("arrived_at")?),
            input: need("num_prefill_tokens")?,
            output: need("num_decode_tokens")?,
            ..Columns::default()
        },
        Format::Lengths => Columns {
            t: None,
            input: need("num_prefill_tokens")?,
            output: need("num_decode_tokens")?,
            ..Columns::default()
        },
        Format::NativeCsv => Columns {
            t: Some(need("arrival_ns")?),
            input: need("input_tokens")?,
            output: need("output_tokens")?,
            class: find("class"),
            session: find("session"),
            turn: find("turn"),
            block: find("block_tokens"),
            ids: find("prefix_ids"),
            tail: find("prefix_unique_tail"),
            ..Columns::default()
        },
        _ => unreachable!("headerless formats have no header"),
    };
    c.min_fields = [Some(c.input), Some(c.output), c.t, c.session, c.model, c.class, c.turn, c.block, c.ids, c.tail]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
        + 1;
    Ok(c)
}

#[derive(Deserialize)]
struct JsonRow {
    timestamp: Option<serde_json::Number>,
    timestamp_ns: Option<u64>,
    arrival_time_ns: Option<u64>,
    input_length: Option<u64>,
    output_length: Option<u64>,
    input_toks: Option<u64>,
    output_toks: Option<u64>,
    hash_ids: Option<Vec<u64>>,
}

fn parse_json_row(format: Format, line: &str, max_ids: usize) -> Result<Row, String> {
    let j: JsonRow = serde_json::from_str(line).map_err(|e| format!("not a JSON object of the expected shape: {e}"))?;
    let tok = |v: Option<u64>, what: &str| -> Result<u32, String> {
        let v = v.ok_or_else(|| format!("missing {what}"))?;
        u32::try_from(v).map_err(|_| format!("{what} {v} exceeds {}", u32::MAX))
    };
    let (t_ns, input, output, block) = match format {
        Format::Mooncake => {
            let ms = j.timestamp.ok_or("missing timestamp (ms)")?;
            let t = if let Some(u) = ms.as_u64() {
                u as i128 * 1_000_000
            } else {
                let f = ms.as_f64().filter(|f| f.is_finite() && *f >= 0.0).ok_or("timestamp is not ≥ 0")?;
                (f * 1e6).round() as i128
            };
            (t, tok(j.input_length, "input_length")?, tok(j.output_length, "output_length")?, 512)
        }
        _ => {
            let t = j.timestamp_ns.or(j.arrival_time_ns).ok_or("missing timestamp_ns / arrival_time_ns")?;
            let input = tok(j.input_length.or(j.input_toks), "input_length / input_toks")?;
            let output = tok(j.output_length.or(j.output_toks), "output_length / output_toks")?;
            (t as i128, input, output, 16)
        }
    };
    let prefix = match j.hash_ids {
        Some(ids) if ids.len() > max_ids => return Err(format!("more than {max_ids} hash_ids")),
        Some(ids) => Some(PrefixBlocks { block_tokens: block, ids, unique_tail: 0 }),
        None => None,
    };
    Ok(Row { t_ns: Some(t_ns), input, output, class: 0, session: None, turn: None, prefix })
}

#[derive(Deserialize)]
struct QwenRow {
    chat_id: u64,
    parent_chat_id: i64,
    timestamp: f64,
    input_length: u32,
    output_length: u32,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    turn: u32,
    #[serde(default)]
    hash_ids: Option<Vec<u64>>,
}

/// Class of a Qwen-Bailian request by its `type`.
pub const QWEN_TYPES: [&str; 4] = ["text", "search", "image", "file"];

/// (row, chat id, parent chat id, 0-based turn). The file's `turn` is 1-based (the README's example
/// has turn 2 for a request with a parent).
fn parse_qwen_row(line: &str, max_ids: usize) -> Result<(Row, u64, Option<u64>, u32), String> {
    let j: QwenRow =
        serde_json::from_str(line).map_err(|e| format!("not a Qwen-Bailian JSON object of the expected shape: {e}"))?;
    if !(j.timestamp.is_finite() && j.timestamp >= 0.0) {
        return Err(format!("timestamp {} is not seconds ≥ 0", j.timestamp));
    }
    let class = QWEN_TYPES.iter().position(|t| *t == j.kind).unwrap_or(QWEN_TYPES.len()) as u16;
    let prefix = match j.hash_ids {
        Some(ids) if ids.len() > max_ids => return Err(format!("more than {max_ids} hash_ids")),
        Some(ids) => Some(PrefixBlocks { block_tokens: 16, ids, unique_tail: 0 }),
        None => None,
    };
    let row = Row {
        t_ns: Some((j.timestamp * 1e9).round() as i128),
        input: j.input_length,
        output: j.output_length,
        class,
        session: None,
        turn: None,
        prefix,
    };
    let parent = u64::try_from(j.parent_chat_id).ok();
    Ok((row, j.chat_id, parent, j.turn.saturating_sub(1)))
}

fn parse_tokens(s: &str, what: &str) -> Result<u32, String> {
    if let Ok(v) = s.parse::<u32>() {
        return Ok(v);
    }
    // Some tables write integral floats ("123.0").
    match s.parse::<f64>() {
        Ok(f) if f >= 0.0 && f.fract() == 0.0 && f <= u32::MAX as f64 => Ok(f as u32),
        _ => Err(format!("{what} {s:?} is not a non-negative integer")),
    }
}

/// Quote-aware CSV field spans (a field in double quotes may contain commas; the spans exclude the
/// quotes; doubled quotes inside are left as they are).
fn split_csv(line: &str) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    split_csv_into(line, &mut v);
    v
}

fn split_csv_into(line: &str, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        if i < b.len() && b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() {
                if b[j] == b'"' {
                    if j + 1 < b.len() && b[j + 1] == b'"' {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            out.push((start, j.min(b.len())));
            i = j + 1;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            out.push((start, i));
        }
        if i >= b.len() {
            break;
        }
        i += 1; // the comma
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Decimal seconds ("4.314579", "12", "1e3") to integer ns, exactly for plain decimals.
pub fn parse_seconds_ns(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !int.is_empty() || !frac.is_empty();
    if plain && int.bytes().all(|c| c.is_ascii_digit()) && frac.bytes().all(|c| c.is_ascii_digit()) {
        let i: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut f = 0i64;
        for (k, c) in frac.bytes().take(9).enumerate() {
            f += (c - b'0') as i64 * 10i64.pow(8 - k as u32);
        }
        let ns = i.checked_mul(1_000_000_000)?.checked_add(f)?;
        return Some(if neg { -ns } else { ns });
    }
    let f: f64 = s.parse().ok()?;
    f.is_finite().then(|| (f * 1e9).round() as i64)
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.fffffffff][Z|±HH:MM]` to ns since the Unix epoch (naive = UTC).
pub fn parse_datetime_ns(s: &str) -> Result<i64, String> {
    let bad = || format!("timestamp {s:?} is not YYYY-MM-DD HH:MM:SS[.fraction][+HH:MM|Z]");
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b' ' || b[10] == b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let t = &s[r];
        if t.bytes().all(|c| c.is_ascii_digit()) { t.parse().map_err(|_| bad()) } else { Err(bad()) }
    };
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut i = 19;
    let mut frac_ns = 0i64;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac_ns += (b[i] - b'0') as i64 * 10i64.pow(8 - (i - start) as u32);
            }
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
    }
    let mut offset_s = 0i64;
    let rest = &s[i..];
    if rest == "Z" || rest.is_empty() {
    } else if (rest.starts_with('+') || rest.starts_with('-')) && rest.len() == 6 && rest.as_bytes()[3] == b':' {
        let oh = num(i + 1..i + 3)?;
        let om = num(i + 4..i + 6)?;
        offset_s = (oh * 3600 + om * 60) * if rest.starts_with('-') { -1 } else { 1 };
    } else {
        return Err(bad());
    }
    let days = days_from_civil(y, mo, d);
    Ok(((days * 86_400 + h * 3600 + mi * 60 + sec - offset_s) * 1_000_000_000) + frac_ns)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Spreads requests that share one timestamp over the gap to the next distinct timestamp, at
/// most `max_spread_ns` (the last group spreads over `max_spread_ns`), at sorted uniform random
/// offsets (seeded): given the count of a slot, that is how a Poisson process places its arrivals,
/// so slot-to-slot burstiness is kept and none is invented inside a slot. For traces whose arrivals
/// were bucketed, such as Mooncake's conversation trace (~3-s slots, SUMMARY.md), where replaying
/// every request of a slot at the same instant would overstate burstiness. Order and ids are
/// kept; arrivals stay non-decreasing. Memory: one group (at most 65 536 requests; a larger group
/// is passed through unspread).
pub struct SpreadTies<I, E> {
    inner: I,
    max_spread_ns: u64,
    group: Vec<Request>,
    next_start: Option<Request>,
    out: std::collections::VecDeque<Request>,
    error: Option<E>,
    done: bool,
    rng: ChaCha8Rng,
    offsets: Vec<u64>,
}

const SPREAD_MAX_GROUP: usize = 1 << 16;

impl<I: Iterator<Item = Result<Request, E>>, E> SpreadTies<I, E> {
    /// Wraps a request stream; `seed` drives the offsets.
    pub fn new(inner: I, max_spread_ns: u64, seed: u64) -> Self {
        SpreadTies {
            inner,
            max_spread_ns,
            group: Vec::new(),
            next_start: None,
            out: Default::default(),
            error: None,
            done: false,
            rng: ChaCha8Rng::seed_from_u64(seed),
            offsets: Vec::new(),
        }
    }

    /// The wrapped iterator (e.g. to read a [`TraceReader`]'s counts at the end).
    pub fn inner(&self) -> &I {
        &self.inner
    }

    fn flush(&mut self, span_ns: u64) {
        // The first request keeps the slot's timestamp; the others land uniformly in the span.
        self.offsets.clear();
        self.offsets.push(0);
        for _ in 1..self.group.len() {
            let u: f64 = rand::RngExt::random(&mut self.rng);
            self.offsets.push((u * span_ns as f64) as u64);
        }
        self.offsets.sort_unstable();
        for (r, off) in self.group.drain(..).zip(&self.offsets) {
            self.out.push_back(Request { arrival_ns: r.arrival_ns + off, ..r });
        }
    }

    fn fill(&mut self) {
        if let Some(r) = self.next_start.take() {
            self.group.push(r);
        }
        loop {
            match self.inner.next() {
                None => {
                    self.flush(self.max_spread_ns);
                    self.done = true;
                    return;
                }
                Some(Err(e)) => {
                    self.flush(self.max_spread_ns);
                    self.error = Some(e);
                    self.done = true;
                    return;
                }
                Some(Ok(r)) => {
                    let Some(t0) = self.group.first().map(|g| g.arrival_ns) else {
                        self.group.push(r);
                        continue;
                    };
                    if r.arrival_ns == t0 {
                        if self.group.len() >= SPREAD_MAX_GROUP {
                            self.flush(0);
                        }
                        self.group.push(r);
                        continue;
                    }
                    let span = (r.arrival_ns - t0).min(self.max_spread_ns);
                    self.next_start = Some(r);
                    self.flush(span);
                    return;
                }
            }
        }
    }
}

impl<I: Iterator<Item = Result<Request, E>>, E> Iterator for SpreadTies<I, E> {
    type Item = Result<Request, E>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.out.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return self.error.take().map(Err);
            }
            self.fill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse() {
        for (s, ns) in [
            ("1970-01-01 00:00:00", 0),
            ("2023-11-16 18:17:03.9799600", 1_700_158_623_979_960_000),
            ("2024-05-10 00:00:00.009930+00:00", 1_715_299_200_009_930_000),
            ("2024-05-10 00:00:00+00:00", 1_715_299_200_000_000_000),
            ("2024-05-10 02:00:00+02:00", 1_715_299_200_000_000_000),
            ("2024-10-15T12:00:00.269Z", 1_728_993_600_269_000_000),
        ] {
            assert_eq!(parse_datetime_ns(s), Ok(ns), "{s}");
        }
        for s in ["2023-11-16", "2023-13-01 00:00:00", "2023-11-16 18:17:03.", "2023-11-16 18:17:03+1"] {
            assert!(parse_datetime_ns(s).is_err(), "{s}");
        }
    }

    #[test]
    fn seconds_parse_exactly() {
        for (s, ns) in
            [("0.052", 52_000_000), ("4.314579", 4_314_579_000), ("12", 12_000_000_000), ("1e3", 1e12 as i64)]
        {
            assert_eq!(parse_seconds_ns(s), Some(ns), "{s}");
        }
        assert_eq!(parse_seconds_ns("x"), None);
    }

    #[test]
    fn formats_are_detected_from_the_first_line() {
        for (line, f) in [
            ("TIMESTAMP,ContextTokens,GeneratedTokens", Some(Format::Azure)),
            ("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type", Some(Format::Burstgpt)),
            (
                "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type",
                Some(Format::Burstgpt),
            ),
            (r#"{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [0]}"#, Some(Format::Mooncake)),
            (r#"{"timestamp_ns": 5, "input_length": 5, "output_length": 1}"#, Some(Format::Llmservingsim)),
            (r#"{"input_toks": 5, "output_toks": 1, "arrival_time_ns": 3}"#, Some(Format::Llmservingsim)),
            (
                r#"{"chat_id": 1, "parent_chat_id": -1, "timestamp": 0.5, "input_length": 5, "output_length": 1}"#,
                Some(Format::QwenBailian),
            ),
            ("0,1.33,8.6,Weibull,0.37,0.39", Some(Format::Servegen)),
            ("600,0,0,,0,0", Some(Format::Servegen)),
            ("num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio", Some(Format::Lengths)),
            ("arrived_at,num_prefill_tokens,num_decode_tokens", Some(Format::Vidur)),
            (crate::native::CSV_HEADER, Some(Format::NativeCsv)),
            (r#"{"id":0,"arrival_ns":1,"input_tokens":2,"output_tokens":3}"#, Some(Format::NativeJsonl)),
            ("a,b,c", None),
        ] {
            assert_eq!(Format::detect(line), f, "{line}");
        }
    }

    #[test]
    fn csv_split_handles_quotes() {
        let line = r#"1,"a,b",,"x""y",z"#;
        let f: Vec<&str> = split_csv(line).into_iter().map(|(a, b)| &line[a..b]).collect();
        assert_eq!(f, vec!["1", "a,b", "", "x\"\"y", "z"]);
    }
}
