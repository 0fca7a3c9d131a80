//! `tokenfab plan` end to end: the built-in scenario, the summary.json contract, what-ifs,
//! determinism, the capacity cache on disk, and bad inputs.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tokenfab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenfab")).args(args).output().expect("run tokenfab")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("plan-cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn keys(v: &serde_json::Value) -> String {
    v.as_object().unwrap().keys().cloned().collect::<Vec<_>>().join("\n")
}

#[test]
fn builtin_plan_writes_every_output_with_the_contract_fields() {
    let dir = scratch("builtin");
    let out = tokenfab(&["plan", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&dir);
    let quarters = s["quarters"].as_array().unwrap();
    assert_eq!(quarters.len(), 14);
    assert_eq!(quarters[0]["quarter"], "2026Q3");
    assert_eq!(quarters[13]["quarter"], "2029Q4");
    for q in quarters {
        for f in ["demand_tokens_per_s", "capacity_tokens_per_s", "it_power_mw", "facility_power_mw", "cost_usd"] {
            assert!(q[f].as_f64().unwrap() >= 0.0, "{f}");
        }
        let chips = q["chips_by_vendor"].as_object().unwrap();
        assert!(chips.keys().eq(["amd", "broadcom", "nvidia"]), "{chips:?}");
        assert!(chips.values().all(|c| c.as_u64().is_some()));
        assert!(q["facility_power_mw"].as_f64() >= q["it_power_mw"].as_f64());
    }
    insta::assert_snapshot!("summary_top_keys", keys(&s));
    insta::assert_snapshot!("summary_quarter_keys", keys(&quarters[0]));
    for f in
        ["report.html", "run.toml", "quarters.csv", "quarters.parquet", "vendors.csv", "capacity.csv", "what_ifs.csv"]
    {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.matches("<svg").count() >= 5);
    // Self-contained: nothing to fetch (the SVG namespace URI is not a fetch).
    assert!(!html.contains("<script") && !html.contains(" src=") && !html.contains("<link"), "not self-contained");
    let run = std::fs::read_to_string(dir.join("run.toml")).unwrap();
    assert!(run.contains("command = \"plan\"") && run.contains("frontier-lab-2026-2029"));
    let csv = std::fs::read_to_string(dir.join("quarters.csv")).unwrap();
    assert!(csv.starts_with("quarter,demand_tokens_per_s,served_tokens_per_s,"), "{csv}");
}

#[test]
fn same_inputs_give_byte_identical_outputs() {
    let (a, b) = (scratch("det-a"), scratch("det-b"));
    for d in [&a, &b] {
        let out = tokenfab(&["plan", "--out", d.to_str().unwrap(), "--delay", "amd=2", "-q"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for f in ["summary.json", "report.html", "quarters.csv", "quarters.parquet", "run.toml"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
}

#[test]
fn what_ifs_are_compared_with_the_base_plan() {
    let dir = scratch("what-ifs");
    let out = tokenfab(&[
        "plan",
        "--out",
        dir.to_str().unwrap(),
        "--delay",
        "nvidia=3",
        "--demand-scale",
        "40",
        "--asic-efficiency",
        "-20",
        "--site-cap",
        "own-campus=2000",
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&dir);
    let w = s["what_ifs"].as_array().unwrap();
    let labels: Vec<&str> = w.iter().map(|r| r["what_if"].as_str().unwrap()).collect();
    assert_eq!(labels, ["base", "delay nvidia +3q", "demand x40", "in-house chip -20%", "site own-campus cap 2000 MW"]);
    assert_eq!(w[0]["short_quarters"], 0);
    assert!(w[2]["short_quarters"].as_u64().unwrap() > 0, "40x demand should run short: {}", w[2]);
    assert!(w[4]["peak_facility_power_mw"].as_f64().unwrap() < w[0]["peak_facility_power_mw"].as_f64().unwrap());
    assert!(w[1]["capex_usd"].as_f64().unwrap() < w[0]["capex_usd"].as_f64().unwrap(), "a delay defers capex");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Share of peak demand served") && html.contains("demand x40"));
}

#[test]
fn the_capacity_cache_on_disk_makes_repeats_compute_nothing() {
    let dir = scratch("cache");
    let cache = dir.join("cache");
    let args = ["plan", "--out", dir.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap(), "-q"];
    let first = tokenfab(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!stderr(&first).contains("capacity cache: 0 computed"), "{}", stderr(&first));
    assert!(cache.join("capacity-cache.json").exists());
    let second = tokenfab(&args);
    assert!(stderr(&second).contains("capacity cache: 0 computed"), "{}", stderr(&second));
}

#[test]
fn a_bad_scenario_names_file_and_field() {
    let dir = scratch("bad");
    let text = tokenfab(&["plan", "--print-scenario"]);
    let text = String::from_utf8(text.stdout).unwrap().replacen("system = \"vr-nvl72\"", "system = \"vr-nvl999\"", 1);
    let text = text.replacen("pue = 1.15", "pue = 0.8", 1);
    let file = dir.join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let out = tokenfab(&["plan", file.to_str().unwrap(), "--out", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out).replace(file.to_str().unwrap(), "BAD.toml");
    let first_line = |s: &str| {
        s.lines().take(3).map(|l| l.split("; known").next().unwrap_or(l).to_string()).collect::<Vec<_>>().join("\n")
    };
    insta::assert_snapshot!("bad_scenario", first_line(&err));
}

#[test]
fn bad_what_ifs_are_errors() {
    let dir = scratch("bad-what-if");
    for (args, words) in [
        (vec!["--delay", "intel=2"], "no supply from vendor `intel`"),
        (vec!["--delay", "nvidia"], "--delay expects NAME=VALUE"),
        (vec!["--site-cap", "moon=5"], "unknown site `moon`"),
        (vec!["--delay", "amd=soon"], "whole number of quarters"),
    ] {
        let mut a = vec!["plan", "--out", dir.to_str().unwrap()];
        a.extend(args);
        let out = tokenfab(&a);
        assert_eq!(out.status.code(), Some(1), "{a:?}");
        assert!(stderr(&out).contains(words), "{a:?}: {}", stderr(&out));
    }
}

#[test]
fn simulator_fidelity_plans_the_small_scenario() {
    let dir = scratch("sim");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../plan/data/example-small.toml");
    let out = tokenfab(&["plan", example, "--fidelity", "sim", "--out", dir.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&dir);
    assert_eq!(s["fidelity"], "sim");
    assert_eq!(s["capacity"][0]["capacity"]["fidelity"], "sim");
    assert!(s["quarters"][0]["capacity_tokens_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn run_toml_repeats_the_run() {
    let (a, b) = (scratch("repeat-a"), scratch("repeat-b"));
    let out = tokenfab(&["plan", "--out", a.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run: toml::Table = toml::from_str(&std::fs::read_to_string(a.join("run.toml")).unwrap()).unwrap();
    let scenario = run["inputs"]["scenario"].as_table().unwrap();
    let file = b.join("scenario.toml");
    std::fs::write(&file, toml::to_string(scenario).unwrap()).unwrap();
    let out = tokenfab(&["plan", file.to_str().unwrap(), "--out", b.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(a.join("summary.json")).unwrap(), std::fs::read(b.join("summary.json")).unwrap());
}
