//! The native trace format (CSV or JSONL), written by `tokenfab workload gen` and read back by
//! [`crate::readers::TraceReader`].
//!
//! CSV header (fixed order):
//! `id,arrival_ns,input_tokens,output_tokens,class,session,turn,block_tokens,prefix_ids,prefix_unique_tail`
//! - `session`: empty when the request belongs to no conversation.
//! - `block_tokens`, `prefix_ids`: empty when there are no prefix blocks; otherwise `prefix_ids` lists
//!   block ids as space-separated runs, `a-b` for the consecutive ids a..=b and `a` for one id
//!   (`0-61 900-903` = 0, 1, …, 61, 900, …, 903). Runs keep multi-turn prefixes compact.
//! - `prefix_unique_tail`: [`crate::PrefixBlocks::unique_tail`], empty for 0. Optional on input:
//!   files written before it existed read as 0.
//!
//! JSONL: one [`crate::Request`] per line as serde writes it:
//! `{"id":0,"arrival_ns":1,"input_tokens":2,"output_tokens":3,"class":0,"session":null,"turn":0,"prefix":null}`.

use crate::{PrefixBlocks, Request};
use std::io::Write;

/// The native CSV header line (without newline).
pub const CSV_HEADER: &str =
    "id,arrival_ns,input_tokens,output_tokens,class,session,turn,block_tokens,prefix_ids,prefix_unique_tail";

/// Which native flavour to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeFormat {
    /// Comma-separated values with [`CSV_HEADER`].
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// Streams requests out in the native format.
pub struct NativeWriter<W: Write> {
    out: W,
    format: NativeFormat,
    line: String,
}

impl<W: Write> NativeWriter<W> {
    /// Starts a file (writes the CSV header).
    pub fn new(mut out: W, format: NativeFormat) -> std::io::Result<Self> {
        if format == NativeFormat::Csv {
            writeln!(out, "{CSV_HEADER}")?;
        }
        Ok(NativeWriter { out, format, line: String::with_capacity(256) })
    }

    /// Writes one request.
    pub fn write(&mut self, r: &Request) -> std::io::Result<()> {
        match self.format {
            NativeFormat::Csv => {
                use std::fmt::Write as _;
                self.line.clear();
                let l = &mut self.line;
                let _ = write!(l, "{},{},{},{},{},", r.id, r.arrival_ns, r.input_tokens, r.output_tokens, r.class);
                if let Some(s) = r.session {
                    let _ = write!(l, "{s}");
                }
                let _ = write!(l, ",{},", r.turn);
                if let Some(p) = &r.prefix {
                    let _ = write!(l, "{},", p.block_tokens);
                    encode_ids(&p.ids, l);
                    l.push(',');
                    if p.unique_tail > 0 {
                        let _ = write!(l, "{}", p.unique_tail);
                    }
                } else {
                    l.push_str(",,");
                }
                l.push('\n');
                self.out.write_all(self.line.as_bytes())
            }
            NativeFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, r).map_err(std::io::Error::other)?;
                self.out.write_all(b"\n")
            }
        }
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Appends `ids` as runs (`a-b`, `a`) separated by spaces.
pub fn encode_ids(ids: &[u64], out: &mut String) {
    use std::fmt::Write as _;
    let mut i = 0;
    let mut first = true;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j].wrapping_add(1) {
            j += 1;
        }
        if !first {
            out.push(' ');
        }
        first = false;
        if j == i {
            let _ = write!(out, "{}", ids[i]);
        } else {
            let _ = write!(out, "{}-{}", ids[i], ids[j]);
        }
        i = j + 1;
    }
}

/// Parses runs written by [`encode_ids`]; bounded by `max_ids` (a malformed `0-99999999999` cannot
/// exhaust memory).
pub fn decode_ids(text: &str, max_ids: usize) -> Result<Vec<u64>, String> {
    let mut ids = Vec::new();
    for run in text.split_ascii_whitespace() {
        let (a, b) = match run.split_once('-') {
            Some((a, b)) => (a, b),
            None => (run, run),
        };
        let a: u64 = a.parse().map_err(|_| format!("prefix id run {run:?} is not `N` or `N-M`"))?;
        let b: u64 = b.parse().map_err(|_| format!("prefix id run {run:?} is not `N` or `N-M`"))?;
        if b < a {
            return Err(format!("prefix id run {run:?} goes backwards"));
        }
        if (b - a) as usize >= max_ids.saturating_sub(ids.len()) {
            return Err(format!("more than {max_ids} prefix ids"));
        }
        ids.extend(a..=b);
    }
    Ok(ids)
}

/// Convenience: prefix blocks from the CSV cells (`tail` empty when the column is absent).
pub(crate) fn prefix_from_cells(
    block: &str,
    ids: &str,
    tail: &str,
    max_ids: usize,
) -> Result<Option<PrefixBlocks>, String> {
    if block.is_empty() && ids.is_empty() {
        if !tail.is_empty() {
            return Err(format!("prefix_unique_tail {tail:?} without prefix blocks"));
        }
        return Ok(None);
    }
    let block_tokens: u32 =
        block.parse().map_err(|_| format!("block_tokens {block:?} is not a non-negative integer"))?;
    let ids = decode_ids(ids, max_ids)?;
    let unique_tail = if tail.is_empty() {
        0
    } else {
        tail.parse().map_err(|_| format!("prefix_unique_tail {tail:?} is not a non-negative integer"))?
    };
    let p = PrefixBlocks { block_tokens, ids, unique_tail };
    check_unique_tail(&p)?;
    Ok(Some(p))
}

/// A unique tail cannot be longer than the prefix.
pub(crate) fn check_unique_tail(p: &PrefixBlocks) -> Result<(), String> {
    if p.unique_tail as usize > p.ids.len() {
        return Err(format!("prefix_unique_tail {} exceeds the {} prefix ids", p.unique_tail, p.ids.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_runs_round_trip() {
        for ids in [vec![], vec![5], vec![0, 1, 2, 3], vec![0, 1, 7, 9, 10, 11, 3]] {
            let mut s = String::new();
            encode_ids(&ids, &mut s);
            assert_eq!(decode_ids(&s, 1000).unwrap(), ids, "{s}");
        }
        let mut s = String::new();
        encode_ids(&[0, 1, 2, 900, 901, 5], &mut s);
        assert_eq!(s, "0-2 900-901 5");
        assert!(decode_ids("0-99999999999", 1000).is_err());
        assert!(decode_ids("3-1", 1000).is_err());
    }
}
