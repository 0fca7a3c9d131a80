//! Calibration tables: the operator table (`calibration/h100-sxm-ops.csv` schema) and the
//! ceilings table (`calibration/h100-sxm-ceilings.csv` schema), each preceded by `#` provenance
//! lines that `tokenfab_perf::calib` skips.

use crate::ProfileError;
use crate::grid::{Dtype, OpCase};
use std::io::Write;

/// Columns of the operator table, in order (Contract 1's inputs, then `backend`, `latency_ms`).
pub const OPS_COLUMNS: [&str; 20] = [
    "op",
    "model",
    "layers",
    "dtype",
    "m",
    "n",
    "k",
    "batch",
    "seq_len",
    "context_len",
    "heads",
    "kv_heads",
    "head_dim",
    "experts",
    "top_k",
    "hidden",
    "inter",
    "tp",
    "backend",
    "latency_ms",
];

/// Columns of the ceilings table.
pub const CEILINGS_COLUMNS: [&str; 4] = ["measure", "value", "unit", "how"];

/// One measured operator case.
#[derive(Debug, Clone, PartialEq)]
pub struct OpMeasurement {
    /// The case.
    pub case: OpCase,
    /// Kernel library or implementation that ran it (`cublaslt`, `cublaslt-batched`, `nvrtc-tiled`).
    pub backend: String,
    /// Median latency over the repeats, milliseconds.
    pub latency_ms: f64,
}

/// One ceiling measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    /// Name, e.g. `gemm_bf16_8192_burst` (the names `tokenfab_perf::calib::apply_ceilings` reads).
    pub measure: String,
    /// Value in `unit`.
    pub value: f64,
    /// Unit (`TB/s`, `TFLOP/s`, `W`, `MHz`).
    pub unit: String,
    /// How it was measured, one sentence.
    pub how: String,
}

impl Ceiling {
    /// Decimals written for a unit: enough to keep about four significant digits.
    fn decimals(&self) -> usize {
        match self.unit.as_str() {
            "TB/s" => 3,
            "MHz" => 0,
            _ => 1,
        }
    }
}

/// Provenance written as `# key: value` lines at the top of each table (GPU, driver, CUDA,
/// clocks, tool version, date, command).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    /// (key, value) pairs in order.
    pub entries: Vec<(String, String)>,
}

impl Provenance {
    /// Appends an entry; newlines in the value are replaced by spaces so each stays one comment line.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let value: String = value.into();
        self.entries.push((key.into(), value.replace(['\n', '\r'], " ")));
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn write_to(&self, title: &str, w: &mut dyn Write) -> std::io::Result<()> {
        writeln!(w, "# {title}")?;
        for (k, v) in &self.entries {
            writeln!(w, "# {k}: {v}")?;
        }
        Ok(())
    }
}

fn cell(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The 20 cells of an operator row.
pub fn ops_row(m: &OpMeasurement) -> [String; 20] {
    let mut r: [String; 20] = Default::default();
    r[0] = m.case.op().to_string();
    let (dtype, cols): (Dtype, [(usize, Option<u64>); 6]) = match m.case {
        OpCase::Gemm { dtype, m, n, k } => {
            (dtype, [(4, Some(m)), (5, Some(n)), (6, Some(k)), (0, None), (0, None), (0, None)])
        }
        OpCase::AttnPrefill { batch, seq_len, geom } => (
            Dtype::Bf16,
            [
                (7, Some(batch)),
                (8, Some(seq_len)),
                (10, Some(geom.heads)),
                (11, Some(geom.kv_heads)),
                (12, Some(geom.head_dim)),
                (0, None),
            ],
        ),
        OpCase::AttnDecode { batch, context_len, geom } => (
            Dtype::Bf16,
            [
                (7, Some(batch)),
                (9, Some(context_len)),
                (10, Some(geom.heads)),
                (11, Some(geom.kv_heads)),
                (12, Some(geom.head_dim)),
                (0, None),
            ],
        ),
        OpCase::MoeFfn { dtype, m, experts, top_k, hidden, inter } => (
            dtype,
            [(4, Some(m)), (13, Some(experts)), (14, Some(top_k)), (15, Some(hidden)), (16, Some(inter)), (0, None)],
        ),
    };
    r[3] = dtype.as_str().to_string();
    for (i, v) in cols {
        if i > 0 {
            r[i] = cell(v);
        }
    }
    r[18] = m.backend.clone();
    r[19] = format!("{:.6}", m.latency_ms);
    r
}

fn csv_err(e: csv::Error) -> ProfileError {
    ProfileError::Io(std::io::Error::other(e.to_string()))
}

/// Writes the operator table. Every latency must be finite and positive (a failed case is left out
/// by the caller, not written as zero).
pub fn write_ops_csv(w: &mut dyn Write, prov: &Provenance, rows: &[OpMeasurement]) -> Result<(), ProfileError> {
    for r in rows {
        if !(r.latency_ms.is_finite() && r.latency_ms > 0.0) {
            return Err(ProfileError::Invalid(format!(
                "{} {:?}: latency {} ms is not a positive number",
                r.case.op(),
                r.case,
                r.latency_ms
            )));
        }
    }
    prov.write_to("tokenfab-profile operator table (schema of calibration/h100-sxm-ops.csv)", w)?;
    let mut cw = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(w);
    cw.write_record(OPS_COLUMNS).map_err(csv_err)?;
    for r in rows {
        cw.write_record(ops_row(r)).map_err(csv_err)?;
    }
    cw.flush()?;
    Ok(())
}

/// Writes the ceilings table.
pub fn write_ceilings_csv(w: &mut dyn Write, prov: &Provenance, rows: &[Ceiling]) -> Result<(), ProfileError> {
    for r in rows {
        if !r.value.is_finite() {
            return Err(ProfileError::Invalid(format!("ceiling `{}` is not finite", r.measure)));
        }
    }
    prov.write_to("tokenfab-profile ceilings table (schema of calibration/h100-sxm-ceilings.csv)", w)?;
    let mut cw = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(w);
    cw.write_record(CEILINGS_COLUMNS).map_err(csv_err)?;
    for r in rows {
        let value = format!("{:.*}", r.decimals(), r.value);
        cw.write_record([r.measure.as_str(), value.as_str(), r.unit.as_str(), r.how.as_str()]).map_err(csv_err)?;
    }
    cw.flush()?;
    Ok(())
}

/// Writes the grid as a Contract 1 input table (no `backend`/`latency_ms`), for
/// `tokenfab predict --input`.
pub fn write_grid_csv(w: &mut dyn Write, cases: &[OpCase]) -> Result<(), ProfileError> {
    let mut cw = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(w);
    cw.write_record(&OPS_COLUMNS[..18]).map_err(csv_err)?;
    for &case in cases {
        let row = ops_row(&OpMeasurement { case, backend: String::new(), latency_ms: 1.0 });
        cw.write_record(&row[..18]).map_err(csv_err)?;
    }
    cw.flush()?;
    Ok(())
}

/// Formats a UTC calendar date-time (`YYYY-MM-DDTHH:MM:SSZ`) from seconds since the Unix epoch.
pub fn utc_timestamp(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}
