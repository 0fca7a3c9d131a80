//! Reader behaviour on small inline inputs: every format, malformed rows with their line numbers,
//! lenient counting, BurstGPT v1/v2 columns and failed rows, native round trips.

use proptest::prelude::*;
use tokenfab_workload::{
    Format, NativeFormat, NativeWriter, ReadCounts, ReadOptions, Request, TraceReader, WorkloadError, WorkloadSpec,
};

fn read(text: &str, format: Option<Format>, lenient: bool) -> (Vec<Result<Request, String>>, ReadCounts) {
    let opts = ReadOptions { lenient, ..ReadOptions::default() };
    let mut r = match TraceReader::new(text.as_bytes(), format, opts) {
        Ok(r) => r,
        Err(e) => return (vec![Err(e.to_string())], ReadCounts::default()),
    };
    let v: Vec<_> = r.by_ref().map(|x| x.map_err(|e| e.to_string())).collect();
    (v, r.counts().clone())
}

/// (arrival_ns, input, output) of each request, or the error text.
fn check(text: &str, expect: &[(u64, u32, u32)]) {
    let (v, _) = read(text, None, false);
    let got: Vec<(u64, u32, u32)> = v
        .into_iter()
        .map(|r| r.map(|r| (r.arrival_ns, r.input_tokens, r.output_tokens)).unwrap_or_else(|e| panic!("{e}\n{text}")))
        .collect();
    assert_eq!(got, expect, "{text}");
}

#[test]
fn every_format_reads_a_small_sample() {
    check(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04.0319600,3180,8\n",
        &[(0, 4808, 10), (52_000_000, 3180, 8)],
    );
    check(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2024-05-10 00:00:00.009930+00:00,100,5\n2024-05-10 00:00:01+00:00,7,1\n",
        &[(0, 100, 5), (990_070_000, 7, 1)],
    );
    check(
        "TIMESTAMP,NumImages,ContextTokens,GeneratedTokens\n2024-10-15T12:00:00.269Z,1,50,6\n2024-10-15T12:00:01.269Z,0,60,7\n",
        &[(0, 50, 6), (1_000_000_000, 60, 7)],
    );
    check(
        "{\"timestamp\": 0, \"input_length\": 600, \"output_length\": 3, \"hash_ids\": [0, 1]}\n\
         {\"timestamp\": 3000, \"input_length\": 10, \"output_length\": 4, \"hash_ids\": [0]}\n",
        &[(0, 600, 3), (3_000_000_000, 10, 4)],
    );
    check(
        "{\"timestamp_ns\": 46926808, \"input_length\": 20, \"output_length\": 5, \"hash_ids\": [0, 1]}\n\
         {\"timestamp_ns\": 56926808, \"input_length\": 30, \"output_length\": 6, \"hash_ids\": [0, 1, 2]}\n",
        &[(0, 20, 5), (10_000_000, 30, 6)],
    );
    check(
        "{\"input_toks\": 12, \"output_toks\": 3, \"arrival_time_ns\": 5, \"input_tok_ids\": [1, 2]}\n\
         {\"input_toks\": 13, \"output_toks\": 4, \"arrival_time_ns\": 9}\n",
        &[(0, 12, 3), (4, 13, 4)],
    );
    check(
        "arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,4808,10\n0.052,3180,8\n",
        &[(0, 4808, 10), (52_000_000, 3180, 8)],
    );
    check(
        "id,arrival_ns,input_tokens,output_tokens,class,session,turn,block_tokens,prefix_ids\n\
         0,5,10,2,0,,0,,\n1,9,20,3,1,7,2,16,0-1\n",
        &[(5, 10, 2), (9, 20, 3)],
    );
}

#[test]
fn length_tables_get_arrivals_from_a_process() {
    let (v, _) = read(
        "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n74,918,992,0.08\n290,905,1195,0.32\n",
        None,
        false,
    );
    let v: Vec<Request> = v.into_iter().map(Result::unwrap).collect();
    assert_eq!(v.len(), 2);
    assert!(v[0].arrival_ns == 0 && v[1].arrival_ns > 0, "Poisson arrivals from the first request: {v:?}");
    assert_eq!((v[1].input_tokens, v[1].output_tokens), (290, 905));
}

const BURST_V1: &str = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
    5,ChatGPT,472,18,490,Conversation log\n\
    45,GPT-4,1087,0,1087,Conversation log\n\
    118,ChatGPT,417,276,693,API log\n";

const BURST_V2: &str = "Timestamp,Session ID,Elapsed time,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
    19440110,aaaa-1,3,ChatGPT,100,20,120,Conversation log\n\
    19440111,,1,GPT-4,50,0,50,API log\n\
    19440115,aaaa-1,2,ChatGPT,150,30,180,Conversation log\n\
    19440119,bbbb-2,9,ChatGPT,10,5,15,Conversation log\n";

#[test]
fn burstgpt_v1_and_v2_select_columns_by_name_and_count_failed_rows() {
    let (v, c) = read(BURST_V1, None, false);
    let v: Vec<Request> = v.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        v.iter().map(|r| (r.arrival_ns, r.input_tokens, r.output_tokens, r.class)).collect::<Vec<_>>(),
        vec![(0, 472, 18, 0), (40_000_000_000, 1087, 0, 1), (113_000_000_000, 417, 276, 0)]
    );
    assert_eq!(c.failed_rows, 1, "the 0-response-token row is kept and counted");

    let (v, c) = read(BURST_V2, None, false);
    let v: Vec<Request> = v.into_iter().map(Result::unwrap).collect();
    assert_eq!(c.failed_rows, 1);
    assert_eq!(v.iter().map(|r| r.input_tokens).collect::<Vec<_>>(), vec![100, 50, 150, 10]);
    assert_eq!(v[0].session, v[2].session, "same Session ID, same session");
    assert!(v[0].session.is_some() && v[1].session.is_none() && v[3].session != v[0].session);
    assert_eq!(v.iter().map(|r| r.turn).collect::<Vec<_>>(), vec![0, 0, 1, 0]);
    assert_eq!(v[3].arrival_ns, 9_000_000_000);
}

/// (input, expected error line, expected message fragment), strict mode.
#[test]
fn malformed_rows_name_their_line_and_lenient_mode_counts_them() {
    for (text, line, fragment, good_rows) in [
        ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10,1\nnot-a-date,5,1\n", 3, "timestamp", 1),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10,1\n2023-11-16 18:17:04.9,x,1\n",
            3,
            "input",
            1,
        ),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10\n2023-11-16 18:17:04.9,3,1\n",
            2,
            "fields",
            1,
        ),
        (
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:05,10,1\n2023-11-16 18:17:04,3,1\n",
            3,
            "backwards",
            1,
        ),
        ("arrived_at,num_prefill_tokens,num_decode_tokens\n0.0,1,1\n\n1.0,-4,1\n2.0,1,1\n", 4, "input tokens", 2),
        (
            "{\"timestamp\": 0, \"input_length\": 6, \"output_length\": 3}\n{\"timestamp\": 1, \"input_length\": 6\n",
            2,
            "JSON",
            1,
        ),
        (
            "{\"timestamp\": 0, \"input_length\": 6, \"output_length\": 3}\n{\"timestamp\": 1, \"input_length\": 6}\n",
            2,
            "output_length",
            1,
        ),
        ("0,1.0,1.0,Gamma,1.0,1.0\n600,1.0,1.0,Pareto,1.0,1.0\n", 2, "family", -1),
        (&format!("{}\n0,5,10,2,0,,0,16,3-1,\n", tokenfab_workload::native::CSV_HEADER), 2, "backwards", 0),
        (
            &format!("{}\n0,5,10,2,0,,0,16,0-3,\n1,6,10,2,0,,0,16,0-3,5\n", tokenfab_workload::native::CSV_HEADER),
            3,
            "exceeds the 4",
            1,
        ),
        (&format!("{}\n0,5,10,2,0,,0,,,3\n", tokenfab_workload::native::CSV_HEADER), 2, "without prefix blocks", 0),
        (
            "{\"id\":0,\"arrival_ns\":1,\"input_tokens\":2,\"output_tokens\":3,\"class\":0,\"session\":null,\"turn\":0,\"prefix\":{\"block_tokens\":16,\"ids\":[1],\"unique_tail\":2}}\n",
            1,
            "exceeds the 1",
            0,
        ),
        (
            "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,4,1,5,x\n6,ChatGPT,4,,5,x\n",
            3,
            "output",
            1,
        ),
    ] {
        let (v, _) = read(text, None, false);
        let err = v.iter().find_map(|r| r.as_ref().err()).unwrap_or_else(|| panic!("no error for\n{text}"));
        assert!(err.starts_with(&format!("line {line}: ")), "{err:?} should name line {line}\n{text}");
        assert!(err.contains(fragment), "{err:?} should mention {fragment:?}");
        assert!(v.last().unwrap().is_err(), "the stream ends at the error");

        let (v, c) = read(text, None, true);
        assert!(v.iter().all(|r| r.is_ok()), "lenient mode returns no errors");
        assert_eq!(c.skipped_rows, 1, "{text}");
        assert!(c.first_skipped.as_deref().unwrap().starts_with(&format!("line {line}: ")));
        if good_rows >= 0 {
            assert_eq!(v.len() as i64, good_rows, "{text}");
        }
    }
}

#[test]
fn undetectable_input_and_missing_columns_are_clear_errors() {
    let (v, _) = read("a,b,c\n1,2,3\n", None, false);
    assert!(v[0].as_ref().unwrap_err().contains("cannot detect"), "{v:?}");
    let (v, _) = read("TIMESTAMP,GeneratedTokens\n", Some(Format::Azure), false);
    assert!(v[0].as_ref().unwrap_err().contains("ContextTokens"), "{v:?}");
    let e = TraceReader::new("".as_bytes(), None, ReadOptions::default()).err().unwrap();
    assert!(matches!(e, WorkloadError::Parse { line: 1, .. }), "{e}");
}

fn round_trip(reqs: &[Request], format: NativeFormat) -> Vec<Request> {
    let mut w = NativeWriter::new(Vec::new(), format).unwrap();
    for r in reqs {
        w.write(r).unwrap();
    }
    let bytes = w.finish().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    TraceReader::new(text.as_bytes(), None, ReadOptions::default()).unwrap().map(Result::unwrap).collect()
}

#[test]
fn native_csv_without_the_unique_tail_column_reads_as_no_tail() {
    let text =
        "id,arrival_ns,input_tokens,output_tokens,class,session,turn,block_tokens,prefix_ids\n0,5,40,2,0,,0,16,0-2\n";
    let (v, _) = read(text, None, false);
    let p = v[0].as_ref().unwrap().prefix.clone().unwrap();
    assert_eq!((p.ids, p.unique_tail), (vec![0, 1, 2], 0));
}

#[test]
fn native_csv_and_jsonl_round_trip_generated_requests() {
    let spec = WorkloadSpec::builtin("assistant").unwrap();
    let reqs: Vec<Request> = spec.generate(5).unwrap().take(3_000).collect();
    assert_eq!(round_trip(&reqs, NativeFormat::Csv), reqs);
    assert_eq!(round_trip(&reqs, NativeFormat::Jsonl), reqs);
}

proptest! {
    #[test]
    fn native_csv_round_trips_arbitrary_requests(
        rows in proptest::collection::vec(
            (0u64..1_000_000, any::<u32>(), any::<u32>(), any::<u16>(), proptest::option::of(any::<u64>()), any::<u32>(),
             proptest::option::of((1u32..1024, proptest::collection::vec(0u64..50, 0..20), any::<u32>()))),
            1..30)
    ) {
        let mut t = 0;
        let reqs: Vec<Request> = rows.into_iter().enumerate().map(|(i, (dt, a, b, c, s, turn, p))| {
            t += dt;
            Request {
                id: i as u64, arrival_ns: t, input_tokens: a, output_tokens: b, class: c, session: s, turn,
                prefix: p.map(|(block_tokens, ids, u)| {
                    let unique_tail = u % (ids.len() as u32 + 1);
                    tokenfab_workload::PrefixBlocks { block_tokens, ids, unique_tail }
                }),
            }
        }).collect();
        prop_assert_eq!(round_trip(&reqs, NativeFormat::Csv), reqs.clone());
        prop_assert_eq!(round_trip(&reqs, NativeFormat::Jsonl), reqs);
    }
}

#[test]
fn spread_ties_spaces_bucketed_arrivals_evenly() {
    use tokenfab_workload::readers::SpreadTies;
    let text = "{\"timestamp\": 0, \"input_length\": 1, \"output_length\": 1}\n\
                {\"timestamp\": 0, \"input_length\": 2, \"output_length\": 1}\n\
                {\"timestamp\": 0, \"input_length\": 3, \"output_length\": 1}\n\
                {\"timestamp\": 3000, \"input_length\": 4, \"output_length\": 1}\n\
                {\"timestamp\": 3000, \"input_length\": 5, \"output_length\": 1}\n\
                {\"timestamp\": 4000, \"input_length\": 6, \"output_length\": 1}\n\
                {\"timestamp\": 4000, \"input_length\": 7, \"output_length\": 1\n";
    let r = TraceReader::new(text.as_bytes(), None, ReadOptions::default()).unwrap();
    let v: Vec<Result<Request, WorkloadError>> = SpreadTies::new(r, 3_000_000_000, 1).collect();
    let ok: Vec<&Request> = v.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(
        ok.iter().map(|r| (r.id, r.input_tokens)).collect::<Vec<_>>(),
        (0..6).map(|i| (i, i as u32 + 1)).collect::<Vec<_>>()
    );
    let t: Vec<u64> = ok.iter().map(|r| r.arrival_ns).collect();
    assert!(t.windows(2).all(|w| w[0] <= w[1]), "non-decreasing: {t:?}");
    // Slot 0 spreads over [0, 3 s); slot 3 s over [3 s, 4 s) (the gap to the next slot); the
    // first request of each slot keeps its timestamp.
    assert_eq!((t[0], t[3], t[5]), (0, 3_000_000_000, 4_000_000_000));
    assert!(t[1..3].iter().all(|x| *x < 3_000_000_000) && t[4] < 4_000_000_000, "{t:?}");
    assert!(matches!(v.last(), Some(Err(WorkloadError::Parse { line: 7, .. }))), "the error still comes last");
}

#[test]
fn qwen_bailian_keeps_sessions_turns_types_and_16_token_blocks() {
    let text = "{\"chat_id\": 55, \"parent_chat_id\": -1, \"timestamp\": 1.5, \"input_length\": 40, \"output_length\": 9, \"type\": \"text\", \"turn\": 1, \"hash_ids\": [0, 1, 2]}\n\
                {\"chat_id\": 56, \"parent_chat_id\": -1, \"timestamp\": 2.0, \"input_length\": 10, \"output_length\": 3, \"type\": \"search\", \"turn\": 1, \"hash_ids\": [3]}\n\
                {\"chat_id\": 159, \"parent_chat_id\": 55, \"timestamp\": 61.114, \"input_length\": 80, \"output_length\": 4, \"type\": \"text\", \"turn\": 2, \"hash_ids\": [0, 1, 2, 4, 5]}\n\
                {\"chat_id\": 160, \"parent_chat_id\": 159, \"timestamp\": 70, \"input_length\": 99, \"output_length\": 5, \"type\": \"file\", \"turn\": 3}\n";
    let (v, _) = read(text, None, false);
    let v: Vec<Request> = v.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        v.iter().map(|r| (r.arrival_ns, r.session, r.turn, r.class)).collect::<Vec<_>>(),
        vec![
            (0, Some(55), 0, 0),
            (500_000_000, Some(56), 0, 1),
            (59_614_000_000, Some(55), 1, 0),
            (68_500_000_000, Some(55), 2, 3)
        ]
    );
    assert_eq!(v[2].prefix.as_ref().unwrap().block_tokens, 16);
    assert!(v[3].prefix.is_none());
}
