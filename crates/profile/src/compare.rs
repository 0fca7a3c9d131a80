//! Compare a profile with a reference table, shape by shape (issue 5's "within 10 %" check).
//!
//! Rows match on the operator and every Contract 1 shape column. A row is compared with the
//! reference row of the same backend when there is one, otherwise with every reference backend
//! of that shape (so an `nvrtc-tiled` attention row is compared with both `cudnn` and `flash`,
//! and a `cublaslt` GEMM with `cublas`); the report names both backends.

use crate::ProfileError;
use std::collections::BTreeMap;
use tokenfab_perf::calib::{Ceilings, MeasuredRow};

/// One matched shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    /// `op dtype shape` description.
    pub shape: String,
    /// Op name.
    pub op: String,
    /// Dtype (`bf16` when absent).
    pub dtype: String,
    /// Backend of our row.
    pub ours_backend: String,
    /// Our latency, ms.
    pub ours_ms: f64,
    /// Backend of the reference row.
    pub reference_backend: String,
    /// Reference latency, ms.
    pub reference_ms: f64,
}

impl Matched {
    /// (ours − reference) / reference, percent.
    pub fn diff_pct(&self) -> f64 {
        (self.ours_ms - self.reference_ms) / self.reference_ms * 100.0
    }
}

/// The comparison of two operator tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// Matched shapes, in key order.
    pub matched: Vec<Matched>,
    /// Our shapes with no reference row.
    pub only_ours: Vec<String>,
    /// Reference shapes with no row of ours.
    pub only_reference: Vec<String>,
}

fn opt(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn key(r: &MeasuredRow) -> (String, String) {
    let x = &r.row;
    let dtype = x.dtype.clone().unwrap_or_else(|| "bf16".into());
    let shape = match x.op.as_str() {
        "gemm" => format!("m={} n={} k={}", opt(x.m), opt(x.n), opt(x.k)),
        "attn_prefill" => format!(
            "batch={} seq_len={} heads={}/{} head_dim={}",
            opt(x.batch),
            opt(x.seq_len),
            opt(x.heads),
            opt(x.kv_heads),
            opt(x.head_dim)
        ),
        "attn_decode" => format!(
            "batch={} context_len={} heads={}/{} head_dim={}",
            opt(x.batch),
            opt(x.context_len),
            opt(x.heads),
            opt(x.kv_heads),
            opt(x.head_dim)
        ),
        "moe_ffn" => format!(
            "m={} experts={} top_k={} hidden={} inter={}",
            opt(x.m),
            opt(x.experts),
            opt(x.top_k),
            opt(x.hidden),
            opt(x.inter)
        ),
        _ => format!(
            "model={} layers={} batch={} seq_len={} context_len={} tp={}",
            x.model.as_deref().unwrap_or(""),
            opt(x.layers),
            opt(x.batch),
            opt(x.seq_len),
            opt(x.context_len),
            opt(x.tp)
        ),
    };
    (format!("{} {dtype} {shape}", x.op), dtype)
}

/// Orders keys numerically (`m=4` before `m=16`) by zero-padding their numbers.
fn sort_key(s: &str) -> String {
    let mut out = String::new();
    let mut num = String::new();
    for c in s.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            num.push(c);
        } else {
            if !num.is_empty() {
                out.push_str(&format!("{num:0>12}"));
                num.clear();
            }
            out.push(c);
        }
    }
    out
}

/// Matches `ours` against `reference` by shape.
pub fn compare(ours: &[MeasuredRow], reference: &[MeasuredRow]) -> Comparison {
    let mut refs: BTreeMap<String, Vec<&MeasuredRow>> = BTreeMap::new();
    for r in reference {
        refs.entry(sort_key(&key(r).0)).or_default().push(r);
    }
    let mut ours_by: BTreeMap<String, Vec<&MeasuredRow>> = BTreeMap::new();
    for r in ours {
        ours_by.entry(sort_key(&key(r).0)).or_default().push(r);
    }
    let mut c = Comparison::default();
    for (k, os) in &ours_by {
        let Some(rs) = refs.get(k) else {
            c.only_ours.extend(os.iter().map(|o| key(o).0));
            continue;
        };
        for o in os {
            // Same backend when the reference has it; otherwise every reference backend.
            let same: Vec<&&MeasuredRow> = rs.iter().filter(|r| r.row.backend == o.row.backend).collect();
            let pick: Vec<&&MeasuredRow> = if same.is_empty() { rs.iter().collect() } else { same };
            for r in pick {
                let (shape, dtype) = key(o);
                c.matched.push(Matched {
                    shape,
                    op: o.row.op.clone(),
                    dtype,
                    ours_backend: o.row.backend.clone().unwrap_or_default(),
                    ours_ms: o.latency_ms,
                    reference_backend: r.row.backend.clone().unwrap_or_default(),
                    reference_ms: r.latency_ms,
                });
            }
        }
    }
    for (k, rs) in &refs {
        if !ours_by.contains_key(k) {
            c.only_reference.extend(rs.iter().map(|r| key(r).0));
        }
    }
    c
}

/// Markdown report: a summary per (op, dtype, backends) and every row beyond `threshold_pct`.
pub fn markdown(c: &Comparison, threshold_pct: f64) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let mut groups: BTreeMap<(String, String, String, String), Vec<f64>> = BTreeMap::new();
    for m in &c.matched {
        groups
            .entry((m.op.clone(), m.dtype.clone(), m.ours_backend.clone(), m.reference_backend.clone()))
            .or_default()
            .push(m.diff_pct());
    }
    let _ = writeln!(
        s,
        "| op | dtype | ours | reference | shapes | within ±{threshold_pct}% | median diff % | worst diff % |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |");
    for ((op, dtype, ob, rb), diffs) in &groups {
        let within = diffs.iter().filter(|d| d.abs() <= threshold_pct).count();
        let median = crate::stats::median(diffs).unwrap_or(f64::NAN);
        let worst = diffs.iter().copied().fold(0.0f64, |a, d| if d.abs() > a.abs() { d } else { a });
        let _ =
            writeln!(s, "| {op} | {dtype} | {ob} | {rb} | {} | {within} | {median:+.1} | {worst:+.1} |", diffs.len());
    }
    let beyond: Vec<&Matched> = c.matched.iter().filter(|m| m.diff_pct().abs() > threshold_pct).collect();
    let _ = writeln!(s, "\nShapes beyond ±{threshold_pct}% ({} of {}):\n", beyond.len(), c.matched.len());
    if !beyond.is_empty() {
        let _ = writeln!(s, "| shape | ours (backend) ms | reference (backend) ms | diff % |");
        let _ = writeln!(s, "| --- | ---: | ---: | ---: |");
        for m in beyond {
            let _ = writeln!(
                s,
                "| {} | {:.6} ({}) | {:.6} ({}) | {:+.1} |",
                m.shape,
                m.ours_ms,
                m.ours_backend,
                m.reference_ms,
                m.reference_backend,
                m.diff_pct()
            );
        }
    }
    if !c.only_ours.is_empty() {
        let _ = writeln!(s, "\n{} shapes only in ours (e.g. {}).", c.only_ours.len(), c.only_ours[0]);
    }
    if !c.only_reference.is_empty() {
        let _ =
            writeln!(s, "\n{} reference shapes not measured (e.g. {}).", c.only_reference.len(), c.only_reference[0]);
    }
    s
}

/// Markdown comparison of two ceilings tables (measures present in both, mean of repeats).
pub fn ceilings_markdown(ours: &Ceilings, reference: &Ceilings) -> String {
    use std::fmt::Write;
    let mut names: Vec<&str> = Vec::new();
    for (m, _, _) in &ours.rows {
        if !names.contains(&m.as_str()) {
            names.push(m);
        }
    }
    let mut s = String::from("| measure | unit | ours | reference | diff % |\n| --- | --- | ---: | ---: | ---: |\n");
    for name in names {
        let unit = ours.rows.iter().find(|r| r.0 == name).map(|r| r.2.as_str()).unwrap_or("");
        let (Some(o), Some(r)) = (ours.get(name), reference.get(name)) else {
            let _ =
                writeln!(s, "| {name} | {unit} | {} | — | |", ours.get(name).map_or("—".into(), |v| format!("{v}")));
            continue;
        };
        let diff = if r != 0.0 { format!("{:+.1}", (o - r) / r * 100.0) } else { String::new() };
        let _ = writeln!(s, "| {name} | {unit} | {o} | {r} | {diff} |");
    }
    s
}

/// Parses two operator tables and compares them.
pub fn compare_texts(
    ours_name: &str,
    ours: &str,
    reference_name: &str,
    reference: &str,
) -> Result<Comparison, ProfileError> {
    let parse = |name: &str, text: &str| {
        tokenfab_perf::calib::parse_ops_csv(name, text, "latency_ms")
            .map_err(|e| ProfileError::Usage(format!("{name}: {e}")))
    };
    Ok(compare(&parse(ours_name, ours)?, &parse(reference_name, reference)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = include_str!("../../../calibration/h100-sxm-ops.csv");

    #[test]
    fn reference_against_itself_matches_everything_at_zero() {
        let c = compare_texts("a", REFERENCE, "b", REFERENCE).unwrap();
        // Same-backend pairs only (prefill shapes have two backends each).
        assert_eq!(c.matched.len(), 161);
        assert!(c.only_ours.is_empty() && c.only_reference.is_empty());
        assert!(c.matched.iter().all(|m| m.ours_backend == m.reference_backend && m.diff_pct() == 0.0));
        let md = markdown(&c, 10.0);
        assert!(md.contains("| gemm | bf16 | cublas | cublas | 65 | 65 | +0.0 | +0.0 |"), "{md}");
    }

    #[test]
    fn differences_and_unmatched_rows_are_reported() {
        let ours = "op,dtype,m,n,k,backend,latency_ms\n\
                    gemm,bf16,1,6144,4096,cublaslt,0.036\n\
                    gemm,bf16,4,6144,4096,cublaslt,0.0297\n\
                    gemm,bf16,3,6144,4096,cublaslt,0.03\n";
        let c = compare_texts("ours", ours, "ref", REFERENCE).unwrap();
        assert_eq!(c.matched.len(), 2);
        assert_eq!(c.only_ours, vec!["gemm bf16 m=3 n=6144 k=4096".to_string()]);
        assert_eq!(c.only_reference.len(), 161 - 2);
        let md = markdown(&c, 10.0);
        // 0.036 vs 0.030496 is +18.0 %; 0.0297 vs 0.029696 is within.
        assert!(
            md.contains("| gemm bf16 m=1 n=6144 k=4096 | 0.036000 (cublaslt) | 0.030496 (cublas) | +18.0 |"),
            "{md}"
        );
        assert!(md.contains("Shapes beyond ±10% (1 of 2)"), "{md}");
        // Rows are in numeric, not lexical, order of m.
        let ms: Vec<String> = compare_texts("a", REFERENCE, "b", REFERENCE)
            .unwrap()
            .matched
            .iter()
            .filter(|m| m.op == "gemm" && m.dtype == "bf16" && m.shape.ends_with("n=6144 k=4096"))
            .map(|m| m.shape.clone())
            .collect();
        assert_eq!(ms.first().map(String::as_str), Some("gemm bf16 m=1 n=6144 k=4096"));
        assert_eq!(ms.last().map(String::as_str), Some("gemm bf16 m=16384 n=6144 k=4096"));
    }

    #[test]
    fn fallback_attention_is_compared_with_every_reference_backend() {
        let ours = "op,dtype,batch,seq_len,heads,kv_heads,head_dim,backend,latency_ms\n\
                    attn_prefill,bf16,1,512,32,8,128,nvrtc-tiled,0.2\n";
        let c = compare_texts("ours", ours, "ref", REFERENCE).unwrap();
        let backends: Vec<&str> = c.matched.iter().map(|m| m.reference_backend.as_str()).collect();
        assert_eq!(backends, ["flash", "cudnn"]);
    }

    #[test]
    fn ceilings_comparison() {
        let reference =
            tokenfab_perf::calib::parse_ceilings("ref", include_str!("../../../calibration/h100-sxm-ceilings.csv"))
                .unwrap();
        let ours = tokenfab_perf::calib::parse_ceilings(
            "ours",
            "measure,value,unit,how\ncopy_bandwidth_burst,2.7,TB/s,x\nnew_measure,1,W,x\n",
        )
        .unwrap();
        let md = ceilings_markdown(&ours, &reference);
        assert!(md.contains("| copy_bandwidth_burst | TB/s | 2.7 | 3 | -10.0 |"), "{md}");
        assert!(md.contains("| new_measure | W | 1 | — | |"), "{md}");
    }
}
