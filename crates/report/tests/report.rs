//! Round trips of tables through CSV and Parquet, summary/run files, and an HTML snapshot.

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::RowAccessor;
use tokenfab_report::html::{LabeledPoint, LineChart, Page, Scatter, Series, StackedBars};
use tokenfab_report::{Column, RecordedFile, RunRecord, Table, summary_json, write_atomic, write_table};

fn sample() -> Table {
    let mut t = Table::new();
    t.add("name", Column::Str(vec!["a".into(), "b, \"quoted\"".into(), "ü".into()])).unwrap();
    t.add("x", Column::F64(vec![0.1, -2.5, 1e300])).unwrap();
    t.add("n", Column::I64(vec![1, i64::MAX, -7])).unwrap();
    t
}

fn tmpdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tokenfab-report-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn csv_round_trip() {
    let t = sample();
    let text = t.to_csv_string().unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), ["name", "x", "n"]);
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[1][0], "b, \"quoted\"");
    assert_eq!(rows[2][1].parse::<f64>().unwrap(), 1e300);
    assert_eq!(rows[1][2].parse::<i64>().unwrap(), i64::MAX);
}

#[test]
fn parquet_round_trip() {
    let t = sample();
    let dir = tmpdir("pq");
    write_table(&dir, "rows", &t).unwrap();
    let file = std::fs::File::open(dir.join("rows.parquet")).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 3);
    let rows: Vec<_> = reader.get_row_iter(None).unwrap().map(|r| r.unwrap()).collect();
    for (i, row) in rows.iter().enumerate() {
        let Column::Str(names) = &t.columns()[0] else { unreachable!() };
        let Column::F64(xs) = &t.columns()[1] else { unreachable!() };
        let Column::I64(ns) = &t.columns()[2] else { unreachable!() };
        assert_eq!(row.get_string(0).unwrap(), &names[i]);
        assert_eq!(row.get_double(1).unwrap(), xs[i]);
        assert_eq!(row.get_long(2).unwrap(), ns[i]);
    }
    // Same table, same bytes.
    assert_eq!(t.to_parquet_bytes().unwrap(), std::fs::read(dir.join("rows.parquet")).unwrap());
    assert!(std::fs::read_to_string(dir.join("rows.csv")).unwrap().starts_with("name,x,n\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_table_writes() {
    let mut t = Table::new();
    t.add("x", Column::F64(vec![])).unwrap();
    assert_eq!(t.to_csv_string().unwrap(), "x\n");
    assert!(t.to_parquet_bytes().unwrap().starts_with(b"PAR1"));
}

#[test]
fn column_errors() {
    let mut t = sample();
    let e = t.add("short", Column::I64(vec![1])).unwrap_err().to_string();
    assert_eq!(e, "table column `short`: has 1 rows, the table has 3");
    let e = t.add("x", Column::I64(vec![1, 2, 3])).unwrap_err().to_string();
    assert_eq!(e, "table column `x`: duplicate column name");
}

#[test]
fn summary_json_sorts_keys() {
    #[derive(serde::Serialize)]
    struct S {
        zeta: u32,
        alpha: f64,
        nan: f64,
    }
    let s = summary_json(&S { zeta: 1, alpha: 0.5, nan: f64::NAN }).unwrap();
    assert_eq!(s, "{\n  \"alpha\": 0.5,\n  \"nan\": null,\n  \"zeta\": 1\n}\n");
}

#[test]
fn run_record_toml() {
    let mut inputs = toml::Table::new();
    inputs.insert("scenario".into(), toml::Value::String("builtin:default".into()));
    let r = RunRecord {
        command: "simulate".into(),
        tokenfab_version: "0.1.0".into(),
        git_revision: Some("abc123".into()),
        seed: 7,
        catalog_files: vec![RecordedFile { path: "my-chips.toml".into(), sha256: "ab12".into() }],
        inputs,
    };
    let text = r.to_toml().unwrap();
    insta::assert_snapshot!(text);
    // It reads back to the same record, and a broken one is named with its line.
    assert_eq!(RunRecord::from_toml("run.toml", &text).unwrap(), r);
    let e =
        RunRecord::from_toml("runs/x/run.toml", "command = \"simulate\"\nseed = \"seven\"\n").unwrap_err().to_string();
    assert!(e.starts_with("runs/x/run.toml: ") && e.contains("line 2"), "{e}");
}

#[test]
fn write_atomic_replaces_and_reports_path() {
    let dir = tmpdir("atomic");
    let p = dir.join("sub/summary.json");
    write_atomic(&p, b"one").unwrap();
    write_atomic(&p, b"two").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"two");
    // A directory in the way of the file: the error names the path.
    let e = write_atomic(&dir.join("sub"), b"x").unwrap_err().to_string();
    assert!(e.contains("sub"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn html_page_snapshot() {
    let mut t = Table::new();
    t.add("chip", Column::Str(vec!["h100<sxm>".into(), "b200".into()])).unwrap();
    t.add("tok_per_s", Column::F64(vec![1234.56789, 3000.0])).unwrap();
    t.add("chips", Column::I64(vec![8, 72])).unwrap();
    let mut page = Page::new("Tiny & small");
    page.heading("Table").paragraph("Two rows.").table(&t);
    page.line_chart(&LineChart {
        title: "Latency".into(),
        x_label: "load, req/s".into(),
        y_label: "TTFT, ms".into(),
        series: vec![
            Series { name: "p50".into(), points: vec![(0.0, 10.0), (1.0, 12.0), (2.0, 30.0)] },
            Series { name: "p99".into(), points: vec![(0.0, 20.0), (1.0, 40.0), (2.0, 95.0)] },
        ],
    });
    page.scatter(&Scatter {
        title: "Pareto".into(),
        x_label: "cost".into(),
        y_label: "speed".into(),
        points: vec![
            LabeledPoint { x: 1.0, y: 2.0, label: "a".into(), group: 0 },
            LabeledPoint { x: 3.0, y: 1.0, label: "".into(), group: 1 },
        ],
    });
    page.stacked_bars(&StackedBars {
        title: "Step time".into(),
        y_label: "ms".into(),
        categories: vec!["prefill".into(), "decode".into()],
        stacks: vec![("gemm".into(), vec![5.0, 2.0]), ("attn".into(), vec![1.0, 3.0])],
    });
    let html = page.render();
    assert!(!html.contains("<script"));
    insta::assert_snapshot!(html);
}

#[test]
fn sha256_known_answer() {
    assert_eq!(tokenfab_report::sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

#[test]
fn progress_hidden_off_tty_is_harmless() {
    let p = tokenfab_report::Progress::new(3, "work");
    p.inc(3);
    p.finish();
}
