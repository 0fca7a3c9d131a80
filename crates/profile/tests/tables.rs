//! The profiler's tables round-trip through the perf crate's parsers, and its grid covers the
//! reference H100 table.

use tokenfab_perf::calib::{parse_ceilings, parse_ops_csv};
use tokenfab_profile::grid::{AttnHeads, Dtype, GridOptions, OpCase, default_grid};
use tokenfab_profile::table::{
    Ceiling, OPS_COLUMNS, OpMeasurement, Provenance, write_ceilings_csv, write_grid_csv, write_ops_csv,
};

const REFERENCE_OPS: &str = include_str!("../../../calibration/h100-sxm-ops.csv");
const REFERENCE_CEILINGS: &str = include_str!("../../../calibration/h100-sxm-ceilings.csv");

fn prov() -> Provenance {
    let mut p = Provenance::default();
    p.push("tool", "tokenfab-profile test");
    p.push("gpu", "NVIDIA Test GPU\nwith a newline");
    p
}

const G: AttnHeads = AttnHeads { heads: 32, kv_heads: 8, head_dim: 128 };

fn sample_rows() -> Vec<OpMeasurement> {
    let r = |case, backend: &str, latency_ms| OpMeasurement { case, backend: backend.into(), latency_ms };
    vec![
        r(OpCase::Gemm { dtype: Dtype::Bf16, m: 1, n: 6144, k: 4096 }, "cublaslt", 0.030496),
        r(OpCase::Gemm { dtype: Dtype::Fp8, m: 16384, n: 128256, k: 4096 }, "cublaslt", 12.5),
        r(OpCase::AttnPrefill { batch: 4, seq_len: 2048, geom: G }, "nvrtc-tiled", 1.25),
        r(OpCase::AttnDecode { batch: 32, context_len: 8192, geom: G }, "nvrtc-tiled", 0.4264321),
        r(
            OpCase::MoeFfn { dtype: Dtype::Bf16, m: 1024, experts: 8, top_k: 2, hidden: 4096, inter: 14336 },
            "cublaslt-batched",
            1.5,
        ),
    ]
}

#[test]
fn ops_table_round_trips_through_perf_parser() {
    let rows = sample_rows();
    let mut out = Vec::new();
    write_ops_csv(&mut out, &prov(), &rows).unwrap();
    let text = String::from_utf8(out).unwrap();
    let parsed = parse_ops_csv("profile.csv", &text, "latency_ms").unwrap();
    assert_eq!(parsed.len(), rows.len());
    for (p, r) in parsed.iter().zip(&rows) {
        assert_eq!(p.row.op, r.case.op());
        assert!((p.latency_ms - r.latency_ms).abs() < 1e-6, "{} vs {}", p.latency_ms, r.latency_ms);
        assert_eq!(p.row.backend.as_deref(), Some(r.backend.as_str()));
        match r.case {
            OpCase::Gemm { dtype, m, n, k } => {
                assert_eq!((p.row.m, p.row.n, p.row.k), (Some(m), Some(n), Some(k)));
                assert_eq!(p.row.dtype.as_deref(), Some(dtype.as_str()));
            }
            OpCase::AttnPrefill { batch, seq_len, geom } => {
                assert_eq!((p.row.batch, p.row.seq_len, p.row.context_len), (Some(batch), Some(seq_len), None));
                assert_eq!((p.row.heads, p.row.kv_heads, p.row.head_dim), (Some(32), Some(8), Some(geom.head_dim)));
            }
            OpCase::AttnDecode { batch, context_len, .. } => {
                assert_eq!((p.row.batch, p.row.context_len, p.row.seq_len), (Some(batch), Some(context_len), None));
            }
            OpCase::MoeFfn { m, experts, top_k, hidden, inter, .. } => {
                assert_eq!(
                    (p.row.m, p.row.experts, p.row.top_k, p.row.hidden, p.row.inter),
                    (Some(m), Some(experts), Some(top_k), Some(hidden), Some(inter))
                );
            }
        }
    }
}

#[test]
fn ops_table_has_reference_header_and_comment_provenance() {
    let mut out = Vec::new();
    write_ops_csv(&mut out, &prov(), &sample_rows()).unwrap();
    let text = String::from_utf8(out).unwrap();
    let reference_header = REFERENCE_OPS.lines().find(|l| !l.starts_with('#')).unwrap();
    let header = text.lines().find(|l| !l.starts_with('#')).unwrap();
    assert_eq!(header, reference_header);
    assert_eq!(header, OPS_COLUMNS.join(","));
    // Provenance: every line before the header is a comment; the newline in a value was flattened.
    let comments: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
    assert!(comments.contains(&"# gpu: NVIDIA Test GPU with a newline"), "{comments:?}");
    assert!(comments.contains(&"# tool: tokenfab-profile test"));
    // Data rows are formatted like the reference (six decimals, empty cells for unused columns).
    assert!(text.contains("\ngemm,,,bf16,1,6144,4096,,,,,,,,,,,,cublaslt,0.030496\n"), "{text}");
    assert!(text.contains("\nattn_decode,,,bf16,,,,32,,8192,32,8,128,,,,,,nvrtc-tiled,0.426432\n"), "{text}");
}

#[test]
fn ops_table_rejects_non_positive_latency() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let rows = vec![OpMeasurement {
            case: OpCase::Gemm { dtype: Dtype::Bf16, m: 1, n: 1, k: 1 },
            backend: "cublaslt".into(),
            latency_ms: bad,
        }];
        let err = write_ops_csv(&mut Vec::new(), &prov(), &rows).unwrap_err();
        assert!(err.to_string().contains("not a positive number"), "{err}");
    }
}

#[test]
fn ceilings_table_round_trips_through_perf_parser() {
    let c =
        |m: &str, v: f64, u: &str, how: &str| Ceiling { measure: m.into(), value: v, unit: u.into(), how: how.into() };
    let rows = vec![
        c("copy_bandwidth_burst", 2.9954, "TB/s", "1 GiB device-to-device copy, bytes read+written, median of repeats"),
        c("gemm_bf16_8192_burst", 743.46, "TFLOP/s", "8192^3 GEMM"),
        c("idle_power", 118.54, "W", "NVML energy counter over 4 s idle"),
        c("gemm_bf16_8192_sustained_sm_clock", 1380.4, "MHz", "median SM clock"),
    ];
    let mut out = Vec::new();
    write_ceilings_csv(&mut out, &prov(), &rows).unwrap();
    let text = String::from_utf8(out).unwrap();
    let parsed = parse_ceilings("ceilings.csv", &text).unwrap();
    assert_eq!(parsed.rows.len(), rows.len());
    assert_eq!(parsed.get("copy_bandwidth_burst"), Some(2.995));
    assert_eq!(parsed.get("gemm_bf16_8192_burst"), Some(743.5));
    assert_eq!(parsed.get("gemm_bf16_8192_sustained_sm_clock"), Some(1380.0));
    // Same header as the reference table; the comma inside `how` is quoted.
    let reference_header = REFERENCE_CEILINGS.lines().find(|l| !l.starts_with('#')).unwrap();
    assert_eq!(text.lines().find(|l| !l.starts_with('#')).unwrap(), reference_header);
    assert!(text.contains("\"1 GiB device-to-device copy, bytes read+written, median of repeats\""));
}

/// Every (op, dtype, shape) of the reference H100 table is in the profiler's default grid, so a
/// profile run can be compared row by row.
#[test]
fn default_grid_covers_reference_table() {
    let grid = default_grid(GridOptions::default());
    let mut out = Vec::new();
    write_grid_csv(&mut out, &grid).unwrap();
    let text = String::from_utf8(out).unwrap();
    let ours: std::collections::BTreeSet<String> = text.lines().skip(1).map(str::to_string).collect();
    let mut missing = Vec::new();
    for line in REFERENCE_OPS.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let key = cells[..18].join(",");
        if !ours.contains(&key) {
            missing.push(key);
        }
    }
    assert!(missing.is_empty(), "reference rows missing from the grid: {missing:?}");
    // The grid also parses as Contract 1 input.
    let rows = tokenfab_perf::calib::parse_op_rows("grid.csv", &text).unwrap();
    assert_eq!(rows.len(), grid.len());
}
