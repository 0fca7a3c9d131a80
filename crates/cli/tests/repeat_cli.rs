//! `tokenfab repeat`: a run directory's run.toml runs again and gives the same summary.json.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{run as tokenfab, s};

fn tmp(name: &str) -> PathBuf {
    let p = common::tmp_in("repeat-cli", name);
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// Runs `tokenfab ARGS` in `dir`: (exit code, stdout, stderr).
fn tokenfab_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tokenfab")).args(args).current_dir(dir).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn a_simulation_repeats_byte_for_byte_and_a_changed_summary_is_reported() {
    let run = tmp("sim");
    let (code, _, err) = tokenfab(&["simulate", "--seed", "5", "--out", s(&run)]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = tokenfab(&["repeat", s(&run)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("summary.json identical to"), "{out}");
    // The run.toml path works as well as its directory, and --out keeps the outputs.
    let again = tmp("sim-again");
    let (code, out, err) = tokenfab(&["repeat", s(&run.join("run.toml")), "--out", s(&again)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(s(&again.join("summary.json"))), "{out}");
    assert_eq!(std::fs::read(run.join("summary.json")).unwrap(), std::fs::read(again.join("summary.json")).unwrap());
    assert!(std::fs::read_to_string(again.join("run.toml")).unwrap().contains("seed = 5"));
    // A recorded summary that no longer matches: exit 1, both digests named.
    let mut text = std::fs::read_to_string(run.join("summary.json")).unwrap();
    text.push(' ');
    std::fs::write(run.join("summary.json"), text).unwrap();
    let (code, out, _) = tokenfab(&["repeat", s(&run)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DIFFERS") && out.contains("recorded"), "{out}");
    // A run record given as a scenario says what to do with it.
    let (code, _, err) = tokenfab(&["simulate", "--scenario", s(&run.join("run.toml"))]);
    assert_eq!(code, 1);
    assert!(err.contains("is a run record") && err.contains("tokenfab repeat"), "{err}");
    let (record, x, y) = (run.join("run.toml"), tmp("x"), tmp("y"));
    for args in
        [vec!["plan", s(&record), "-q", "--out", s(&x)], vec!["explore", s(&record), "--no-sim", "--out", s(&y)]]
    {
        let (code, _, err) = tokenfab(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains("is a run record"), "{args:?}: {err}");
    }
    // The recorded run's own directory is never overwritten.
    let (code, _, err) = tokenfab(&["repeat", s(&run), "--out", s(&run)]);
    assert_eq!(code, 1);
    assert!(err.contains("own directory"), "{err}");
}

#[test]
fn a_trace_replay_repeats_from_anywhere_and_refuses_a_changed_trace() {
    let dir = tmp("trace");
    std::fs::create_dir_all(&dir).unwrap();
    let mut trace = String::from("TIMESTAMP,ContextTokens,GeneratedTokens\n");
    for i in 0..60 {
        trace.push_str(&format!("2023-11-16 18:15:{:02}.{:07},{},{}\n", i % 60, i * 1000, 200 + 37 * i, 20 + 7 * i));
    }
    std::fs::write(dir.join("trace.csv"), &trace).unwrap();
    std::fs::write(
        dir.join("scenario.toml"),
        "name = \"tiny-replay\"\n[deployment]\nsystem = \"hgx-h100-8\"\nmodel = \"llama-3.1-8b\"\n\
         [load]\nworkload = { trace = \"trace.csv\" }\n",
    )
    .unwrap();
    // Run from the scenario's directory with a relative path; repeat from the repository root.
    let (code, _, err) = tokenfab_in(&dir, &["simulate", "--scenario", "scenario.toml", "--out", "run"]);
    assert_eq!(code, 0, "{err}");
    let recorded = std::fs::read_to_string(dir.join("run/run.toml")).unwrap();
    assert!(recorded.contains("trace_sha256 = ") && recorded.contains("scenario_dir = "), "{recorded}");
    let (code, out, err) = tokenfab(&["repeat", s(&dir.join("run"))]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("identical"), "{out}");
    trace.push_str("2023-11-16 18:16:00.0000000,999,9\n");
    std::fs::write(dir.join("trace.csv"), &trace).unwrap();
    let (code, _, err) = tokenfab(&["repeat", s(&dir.join("run"))]);
    assert_eq!(code, 1);
    assert!(err.contains("trace.csv changed since the run"), "{err}");
}

#[test]
fn a_run_with_catalog_files_needs_the_same_files() {
    let dir = tmp("catalog");
    std::fs::create_dir_all(&dir).unwrap();
    // An extra model the run does not use: the file still has to be the same.
    let cfg = dir.join("config.json");
    std::fs::write(
        &cfg,
        r#"{"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "head_dim": 128, "hidden_size": 4096,
            "intermediate_size": 12288, "max_position_embeddings": 40960, "num_attention_heads": 32,
            "num_hidden_layers": 36, "num_key_value_heads": 8, "tie_word_embeddings": false,
            "torch_dtype": "bfloat16", "vocab_size": 151936, "_name_or_path": "Qwen/Qwen3-8B"}"#,
    )
    .unwrap();
    let (code, entry, err) = tokenfab(&["catalog", "import-hf", s(&cfg), "--source", "test"]);
    assert_eq!(code, 0, "{err}");
    let cat = dir.join("extra.toml");
    std::fs::write(&cat, &entry).unwrap();
    let run = dir.join("run");
    let (code, _, err) = tokenfab(&["--catalog", s(&cat), "simulate", "--out", s(&run)]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = tokenfab(&["repeat", s(&run)]);
    assert_eq!(code, 1);
    assert!(err.contains("extra.toml") && err.contains("--catalog"), "{err}");
    let (code, out, err) = tokenfab(&["--catalog", s(&cat), "repeat", s(&run)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("identical"), "{out}");
    std::fs::write(&cat, entry.replace("qwen3-8b", "qwen3-8b-copy")).unwrap();
    let (code, _, err) = tokenfab(&["--catalog", s(&cat), "repeat", s(&run)]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn a_plan_with_what_ifs_and_an_exploration_repeat() {
    let plan = tmp("plan");
    let (code, _, err) = tokenfab(&["plan", "-q", "--out", s(&plan), "--delay", "amd=2", "--demand-scale", "1.5"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = tokenfab(&["repeat", s(&plan)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("identical"), "{out}");
    let explore = tmp("explore");
    let (code, _, err) =
        tokenfab(&["explore", "examples/explore/small.toml", "--no-sim", "--seed", "2", "--out", s(&explore)]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = tokenfab(&["repeat", s(&explore)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("identical"), "{out}");
}

#[test]
fn bad_records_fail_clearly() {
    let dir = tmp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("not-toml.toml", "command = = 1\n", "line 1"),
        ("no-seed.toml", "command = \"simulate\"\ntokenfab_version = \"0.1.0\"\n[inputs]\n", "seed"),
        (
            "validate.toml",
            "command = \"validate\"\ntokenfab_version = \"0.1.0\"\nseed = 0\n[inputs]\n",
            "command `validate` cannot be repeated",
        ),
        (
            "no-scenario.toml",
            "command = \"simulate\"\ntokenfab_version = \"0.1.0\"\nseed = 0\n[inputs]\nscenario_name = \"x\"\n",
            "inputs.scenario",
        ),
        (
            "old-plan.toml",
            "command = \"plan\"\ntokenfab_version = \"0.1.0\"\nseed = 0\n[inputs]\nfidelity = \"analytic\"\n",
            "inputs.scenario_text",
        ),
    ];
    for (name, text, want) in cases {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let (code, _, err) = tokenfab(&["repeat", s(&p)]);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(err.contains(s(&p)) && err.contains(want), "{name}: `{want}` not in: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let (code, _, err) = tokenfab(&["repeat", "/no/such/run"]);
    assert_eq!(code, 1);
    assert!(err.contains("/no/such/run"), "{err}");
}
