//! Every reader reproduces the exact request count and token sums of the shared traces
//! (../shared/traces), computed here independently by naive line parsing. Skips with a message when
//! ../shared is absent.

use std::path::PathBuf;
use tokenfab_workload::{Format, ReadOptions, Request, ServeGenLengths, TraceReader};

fn traces() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIP: {} is absent; shared-trace tests not run", p.display());
        None
    }
}

fn read_all(path: &std::path::Path, format: Option<Format>, opts: ReadOptions) -> (Format, Vec<Request>) {
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut r = TraceReader::new(f, format, opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reqs: Vec<Request> = r.by_ref().map(|x| x.unwrap_or_else(|e| panic!("{}: {e}", path.display()))).collect();
    assert_eq!(r.counts().skipped_rows, 0);
    (r.format(), reqs)
}

/// (count, input sum, output sum) of a CSV by column index, header skipped.
fn naive_csv(path: &std::path::Path, input_col: usize, output_col: usize) -> (u64, u64, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut t = (0, 0, 0);
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        t.0 += 1;
        t.1 += f[input_col].trim().parse::<u64>().unwrap();
        t.2 += f[output_col].trim().parse::<u64>().unwrap();
    }
    t
}

/// (count, input sum, output sum, hash id count) of a JSONL by key, found by string search.
fn naive_jsonl(path: &std::path::Path, input_key: &str, output_key: &str) -> (u64, u64, u64, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let num_after = |line: &str, key: &str| -> u64 {
        let i = line.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {line}")) + key.len() + 3;
        line[i..].trim_start().chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap()
    };
    let mut t = (0, 0, 0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        t.0 += 1;
        t.1 += num_after(line, input_key);
        t.2 += num_after(line, output_key);
        if let Some(i) = line.find("\"hash_ids\": [") {
            let body = &line[i + 13..line[i..].find(']').unwrap() + i];
            t.3 += body.split(',').filter(|s| !s.trim().is_empty()).count() as u64;
        }
    }
    t
}

fn sums(reqs: &[Request]) -> (u64, u64, u64, u64) {
    (
        reqs.len() as u64,
        reqs.iter().map(|r| r.input_tokens as u64).sum(),
        reqs.iter().map(|r| r.output_tokens as u64).sum(),
        reqs.iter().map(|r| r.prefix.as_ref().map_or(0, |p| p.ids.len() as u64)).sum(),
    )
}

fn check_common(reqs: &[Request]) {
    assert_eq!(reqs[0].arrival_ns, 0, "arrivals are relative to the first request");
    for (i, w) in reqs.windows(2).enumerate() {
        assert_eq!(w[0].id, i as u64);
        assert!(w[1].arrival_ns >= w[0].arrival_ns, "arrivals non-decreasing at {i}");
    }
}

#[test]
fn csv_readers_reproduce_counts_and_token_sums() {
    let Some(t) = traces() else { return };
    for (file, format, cols) in [
        ("azure_llm_2023/AzureLLMInferenceTrace_code.csv", Format::Azure, (1, 2)),
        ("azure_llm_2023/AzureLLMInferenceTrace_conv.csv", Format::Azure, (1, 2)),
        ("vidur_processed/splitwise_code.csv", Format::Vidur, (1, 2)),
        ("vidur_processed/splitwise_conv.csv", Format::Vidur, (1, 2)),
        ("sharegpt_lengths/sharegpt_8k_filtered_stats_llama2_tokenizer.csv", Format::Lengths, (0, 1)),
        ("vidur_processed/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv", Format::Lengths, (0, 1)),
    ] {
        let path = t.join(file);
        let (got_format, reqs) = read_all(&path, None, ReadOptions::default());
        assert_eq!(got_format, format, "{file}: detected format");
        let (n, i, o) = naive_csv(&path, cols.0, cols.1);
        let (gn, gi, go, _) = sums(&reqs);
        assert_eq!((gn, gi, go), (n, i, o), "{file}: count, input sum, output sum");
        check_common(&reqs);
    }
}

#[test]
fn azure_timestamps_match_vidur_seconds() {
    // Vidur's splitwise_conv.csv is the Azure 2023 conv trace with arrived_at in seconds since the
    // first request: an independent check of the 7-fraction-digit timestamp parser.
    let Some(t) = traces() else { return };
    let (_, azure) = read_all(&t.join("azure_llm_2023/AzureLLMInferenceTrace_conv.csv"), None, ReadOptions::default());
    let (_, vidur) = read_all(&t.join("vidur_processed/splitwise_conv.csv"), None, ReadOptions::default());
    assert_eq!(azure.len(), vidur.len());
    for (a, v) in azure.iter().zip(&vidur) {
        assert!(a.arrival_ns.abs_diff(v.arrival_ns) <= 1_000, "{a:?} vs {v:?}");
        assert_eq!((a.input_tokens, a.output_tokens), (v.input_tokens, v.output_tokens));
    }
    assert_eq!(azure.last().unwrap().arrival_ns / 1_000_000, 3_501_721, "SUMMARY: 3,502 s span");
}

#[test]
fn jsonl_readers_reproduce_counts_token_sums_and_prefix_blocks() {
    let Some(t) = traces() else { return };
    for (file, format, keys, block) in [
        ("mooncake/conversation_trace.jsonl", Format::Mooncake, ("input_length", "output_length"), 512),
        ("mooncake/synthetic_trace.jsonl", Format::Mooncake, ("input_length", "output_length"), 512),
        (
            "llmservingsim_sharegpt/sharegpt-llama-3.1-8b-300-sps10_lengths_hash16.jsonl",
            Format::Llmservingsim,
            ("input_length", "output_length"),
            16,
        ),
        (
            "llmservingsim_sharegpt/sharegpt-qwen3-32b-300-sps10_lengths_hash16.jsonl",
            Format::Llmservingsim,
            ("input_length", "output_length"),
            16,
        ),
    ] {
        let path = t.join(file);
        let (got_format, reqs) = read_all(&path, None, ReadOptions::default());
        assert_eq!(got_format, format, "{file}");
        assert_eq!(sums(&reqs), naive_jsonl(&path, keys.0, keys.1), "{file}: count, sums, hash ids");
        check_common(&reqs);
        for r in &reqs {
            let p = r.prefix.as_ref().expect("hash_ids present");
            assert_eq!(p.block_tokens, block);
        }
        if format == Format::Mooncake {
            // README: len(hash_ids) == ceil(input_length / 512) on every row.
            assert!(reqs.iter().all(|r| r.prefix.as_ref().unwrap().ids.len() as u32 == r.input_tokens.div_ceil(512)));
        }
    }
}

#[test]
fn mooncake_timestamps_are_milliseconds() {
    let Some(t) = traces() else { return };
    let (_, reqs) = read_all(&t.join("mooncake/conversation_trace.jsonl"), None, ReadOptions::default());
    // README: 0 → 3,536,999 ms.
    assert_eq!(reqs.last().unwrap().arrival_ns, 3_536_999 * 1_000_000);
}

#[test]
fn servegen_windows_generate_the_recorded_rate_with_dataset_lengths() {
    let Some(t) = traces() else { return };
    for (trace, dataset) in [
        ("servegen/reason/deepseek-r1/chunk-1-trace.csv", Some("servegen/reason/deepseek-r1/chunk-1-dataset.json")),
        ("servegen/language/m-large/chunk-0-trace.csv", None),
    ] {
        let path = t.join(trace);
        // Expected count: Σ rate × 600 over the windows, read naively.
        let text = std::fs::read_to_string(&path).unwrap();
        let expected: f64 =
            text.lines().map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap() * 600.0).sum::<f64>();
        let lengths = dataset.map(|d| ServeGenLengths::parse(&std::fs::read_to_string(t.join(d)).unwrap()).unwrap());
        let opts = ReadOptions { seed: 11, servegen_lengths: lengths.clone(), ..ReadOptions::default() };
        let (format, reqs) = read_all(&path, None, opts.clone());
        assert_eq!(format, Format::Servegen);
        check_common(&reqs);
        let n = reqs.len() as f64;
        // Bursty windows (CV up to ~10) make the count noisy: allow 5 %, far above a wrong unit.
        assert!((n / expected - 1.0).abs() < 0.05, "{trace}: {n} requests vs Σ rate×600 = {expected:.0}");
        // Deterministic for a seed.
        let (_, again) = read_all(&path, None, opts);
        assert_eq!(reqs, again);
        if dataset.is_some() {
            // The 6-h PDFs of this client give mean input lengths between 45 and ~500 tokens.
            let mean_in = reqs.iter().map(|r| r.input_tokens as f64).sum::<f64>() / n;
            assert!((45.0..600.0).contains(&mean_in), "mean input {mean_in}");
        }
    }
}
