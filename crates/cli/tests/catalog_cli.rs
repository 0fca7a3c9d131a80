//! `tokenfab catalog` end to end: list, show, import-hf, and bad user catalog files.
use std::path::PathBuf;
use std::process::{Command, Output};

fn tokenfab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenfab")).args(args).output().expect("run tokenfab")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("catalog-cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn list_models_table() {
    let out = tokenfab(&["catalog", "list", "models"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn show_h100_every_figure_with_source() {
    let out = tokenfab(&["catalog", "show", "h100-sxm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn list_without_kind_shows_every_kind() {
    let out = tokenfab(&["catalog", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for (heading, id) in
        [("chips", "custom-inference-asic"), ("systems", "gb200-nvl72"), ("fabrics", "tomahawk6"), ("models", "glm-5")]
    {
        assert!(text.lines().any(|l| l == heading), "no `{heading}` heading");
        assert!(text.contains(id), "{id} missing");
    }
}

#[test]
fn list_json_is_machine_readable() {
    let out = tokenfab(&["catalog", "list", "chips", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let chips = v.as_array().unwrap();
    assert_eq!(chips.len(), 17);
    assert!(chips.iter().any(|c| c["id"] == "h100-sxm" && c["tdp_w"]["value"] == 700.0));

    let out = tokenfab(&["catalog", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for k in ["chips", "systems", "fabrics", "models"] {
        assert!(v[k].as_array().is_some_and(|a| !a.is_empty()), "{k}");
    }
    let glm = v["models"].as_array().unwrap().iter().find(|m| m["id"] == "glm-5").unwrap();
    assert!(glm["derived"]["total_params"].as_f64().unwrap() > 7e11);
}

#[test]
fn show_resolves_aliases_and_every_kind() {
    for (id, first_line) in [
        ("deepseek-ai/DeepSeek-R1", "model"),
        ("h100_sxm", "chip"),
        ("gb200", "chip"),
        ("gb200-nvl72", "system"),
        ("ib-ndr400", "fabric"),
    ] {
        let out = tokenfab(&["catalog", "show", id]);
        assert!(out.status.success(), "{id}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.starts_with(first_line), "{id}: {text}");
    }
}

#[test]
fn show_model_json_has_derived_sizes() {
    let out = tokenfab(&["catalog", "show", "deepseek-v3", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["kind"], "model");
    let total = v["derived"]["total_params"].as_f64().unwrap() / 1e9;
    assert!((total - 671.0).abs() < 20.0, "{total}");
    assert_eq!(v["derived"]["kv_bytes_per_token_fp8"], 35136.0);
}

#[test]
fn show_unknown_id_is_an_error() {
    let out = tokenfab(&["catalog", "show", "no-such-thing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no-such-thing"), "{}", stderr(&out));
}

/// (file name, contents, text the error must contain)
const BAD_CATALOGS: &[(&str, &str, &str)] = &[
    // A negative figure: the field path is named.
    (
        "negative.toml",
        r#"[[fabric]]
id = "my-link"
name = "mine"
kind = "scale-up"
bandwidth_gbps = { value = -5.0, source = "me", confidence = "official" }
latency_us = { value = 1.0, source = "me", confidence = "official" }
"#,
        "fabric[my-link].bandwidth_gbps",
    ),
    // An estimate without a note.
    (
        "no-note.toml",
        r#"[[fabric]]
id = "my-link"
name = "mine"
kind = "scale-up"
bandwidth_gbps = { value = 5.0, source = "me", confidence = "estimate" }
latency_us = { value = 1.0, source = "me", confidence = "official" }
"#,
        "fabric[my-link].bandwidth_gbps.note",
    ),
    // A misspelt field: the line is named.
    ("unknown-field.toml", "[[model]]\nid = \"x\"\nhiden_size = 12\n", "line 3, column 1: unknown field `hiden_size`"),
    // A system that names a chip nobody defined.
    (
        "dangling.toml",
        r#"[[system]]
id = "my-box"
name = "box"
vendor = "me"
kind = "node"
chip = "no-such-chip"
chips = { value = 8, source = "me", confidence = "official" }
scaleup_domain_chips = { value = 8, source = "me", confidence = "official" }
system_power_kw = { value = 10.0, source = "me", confidence = "official" }
systems_per_rack = { value = 4.0, source = "me", confidence = "official" }
"#,
        "system[my-box].chip",
    ),
    // Not TOML at all.
    ("garbage.toml", "this is = = not toml\n", "line 1"),
];

#[test]
fn bad_user_catalog_names_the_file_and_field() {
    let dir = scratch("bad");
    for (name, text, want) in BAD_CATALOGS {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = tokenfab(&["--catalog", path.to_str().unwrap(), "catalog", "list"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(path.to_str().unwrap()), "{name}: file not named: {err}");
        assert!(err.contains(want), "{name}: `{want}` not in: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(stdout(&out).is_empty(), "{name}: printed a table anyway");
    }
}

#[test]
fn missing_user_catalog_names_the_file() {
    let out = tokenfab(&["--catalog", "/no/such/dir/cat.toml", "catalog", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/no/such/dir/cat.toml"), "{}", stderr(&out));
}

const QWEN3_8B_CONFIG: &str = r#"{
  "_name_or_path": "Qwen/Qwen3-8B",
  "architectures": ["Qwen3ForCausalLM"],
  "head_dim": 128,
  "hidden_size": 4096,
  "intermediate_size": 12288,
  "max_position_embeddings": 40960,
  "model_type": "qwen3",
  "num_attention_heads": 32,
  "num_hidden_layers": 36,
  "num_key_value_heads": 8,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "vocab_size": 151936
}"#;

#[test]
fn import_hf_prints_a_catalog_entry_that_loads_back() {
    let dir = scratch("import");
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, QWEN3_8B_CONFIG).unwrap();
    let out = tokenfab(&[
        "catalog",
        "import-hf",
        cfg.to_str().unwrap(),
        "--source",
        "https://huggingface.co/Qwen/Qwen3-8B/blob/main/config.json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let toml_text = stdout(&out);
    assert!(toml_text.contains("[[model]]"), "{toml_text}");
    assert!(toml_text.contains("id = \"qwen3-8b\""), "{toml_text}");

    let entry = dir.join("qwen3-8b.toml");
    std::fs::write(&entry, &toml_text).unwrap();
    let out = tokenfab(&["--catalog", entry.to_str().unwrap(), "catalog", "show", "Qwen/Qwen3-8B", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let total = v["derived"]["total_params"].as_f64().unwrap() / 1e9;
    assert!((total - 8.19).abs() < 0.1, "Qwen3-8B is 8.2 B, got {total}");
    assert_eq!(v["origin"], entry.to_str().unwrap());
}

#[test]
fn import_hf_errors_name_file_and_field() {
    let dir = scratch("import-bad");
    let cases = [
        ("missing.json", r#"{"hidden_size": 4096, "num_hidden_layers": 2}"#, "num_attention_heads"),
        ("badtype.json", r#"{"hidden_size": "big", "num_hidden_layers": 2}"#, "hidden_size"),
        ("notjson.json", "{ nope", "not valid JSON"),
    ];
    for (name, text, field) in cases {
        let cfg = dir.join(name);
        std::fs::write(&cfg, text).unwrap();
        let out = tokenfab(&["catalog", "import-hf", cfg.to_str().unwrap(), "--id", "x"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(cfg.to_str().unwrap()), "{name}: {err}");
        assert!(err.contains(field), "{name}: {err}");
    }
    // No --id and no _name_or_path.
    let cfg = dir.join("anon.json");
    std::fs::write(&cfg, r#"{"hidden_size": 64}"#).unwrap();
    let out = tokenfab(&["catalog", "import-hf", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--id"), "{}", stderr(&out));
}

#[test]
fn closed_pipe_is_not_an_error() {
    // `tokenfab catalog list --json | head -c 100`: the JSON is larger than a pipe buffer, so
    // the write fails with EPIPE once the reader is gone.
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenfab"))
        .args(["catalog", "list", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tokenfab");
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
