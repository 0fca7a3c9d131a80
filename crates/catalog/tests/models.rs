//! Built-in model architectures against their published sizes, and the derived figures
//! (KV bytes per token) against hand computations.

use tokenfab_catalog::{Catalog, Dtype, Model};

/// How a model card counts "active" parameters.
#[derive(Clone, Copy, Debug)]
enum Active {
    /// Including the input embedding table (DeepSeek, Qwen, Mistral, Moonshot, Zhipu cards).
    WithEmbedding(f64),
    /// Without the input embedding table (OpenAI's gpt-oss card).
    WithoutEmbedding(f64),
    /// Dense model: active = total.
    Dense,
}

/// (id, published total in billions, published active, tolerance as a fraction)
const PUBLISHED: &[(&str, f64, Active, f64)] = &[
    ("llama-3.1-8b", 8.03, Active::Dense, 0.03),
    // Meta's model card: 70 B (68.98 B counted from the config).
    ("llama-2-70b", 70.0, Active::Dense, 0.03),
    ("llama-3.1-70b", 70.6, Active::Dense, 0.03),
    ("llama-3.1-405b", 405.9, Active::Dense, 0.03),
    ("qwen3-32b", 32.8, Active::Dense, 0.03),
    ("qwen3-235b-a22b", 235.0, Active::WithEmbedding(22.0), 0.03),
    // Model card: 30.5 B total, 3.3 B activated.
    ("qwen3-30b-a3b", 30.5, Active::WithEmbedding(3.3), 0.03),
    ("qwen3.5-397b-a17b", 397.0, Active::WithEmbedding(17.0), 0.03),
    // Meta: 400 B total, 17 B active (model card).
    ("llama-4-maverick", 400.0, Active::WithEmbedding(17.0), 0.03),
    ("deepseek-v3", 671.0, Active::WithEmbedding(37.0), 0.03),
    ("deepseek-r1", 671.0, Active::WithEmbedding(37.0), 0.03),
    // Moonshot: "1 T total, 32 B activated"; the text backbone counts 1.03 T.
    ("kimi-k2.5", 1000.0, Active::WithEmbedding(32.0), 0.04),
    // Zhipu: 744 B total, 40 B active.
    ("glm-5", 744.0, Active::WithEmbedding(40.0), 0.05),
    // MiniMax: 230 B total, 10 B active (a rounded figure: the architecture gives 11.0 B).
    ("minimax-m2.5", 230.0, Active::WithEmbedding(10.0), 0.11),
    ("gpt-oss-120b", 116.8, Active::WithoutEmbedding(5.13), 0.03),
    ("gpt-oss-20b", 20.9, Active::WithoutEmbedding(3.61), 0.03),
    ("mixtral-8x7b", 46.7, Active::WithEmbedding(12.9), 0.03),
];

fn within(what: &str, got: f64, want: f64, tol: f64) -> Result<(), String> {
    let err = (got - want).abs() / want;
    if err <= tol {
        Ok(())
    } else {
        Err(format!(
            "{what}: {got:.2} B vs published {want:.2} B ({:.1} % off, allowed {:.0} %)",
            err * 100.0,
            tol * 100.0
        ))
    }
}

fn check(m: &Model, total: f64, active: Active, tol: f64) -> Vec<String> {
    let mut errs = Vec::new();
    let t = m.total_params() / 1e9;
    errs.extend(within(&format!("{} total", m.id), t, total, tol).err());
    let a = match active {
        Active::Dense => within(&format!("{} active", m.id), m.active_params() / 1e9, t, 1e-9),
        Active::WithEmbedding(p) => within(&format!("{} active", m.id), m.active_params() / 1e9, p, tol),
        Active::WithoutEmbedding(p) => {
            within(&format!("{} active (excl. embedding)", m.id), m.active_params_excluding_embedding() / 1e9, p, tol)
        }
    };
    errs.extend(a.err());
    errs
}

#[test]
fn every_builtin_model_matches_its_published_size() {
    let cat = Catalog::builtin();
    let mut errs = Vec::new();
    for (id, total, active, tol) in PUBLISHED {
        match cat.model(id) {
            Ok(m) => errs.extend(check(m, *total, *active, *tol)),
            Err(e) => errs.push(e.to_string()),
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

#[test]
fn every_builtin_model_has_a_published_size_to_check() {
    let cat = Catalog::builtin();
    for id in cat.models.keys() {
        assert!(PUBLISHED.iter().any(|(p, ..)| p == id), "model {id} has no published size in the test table");
    }
}

#[test]
fn required_model_ids_exist() {
    let cat = Catalog::builtin();
    for id in [
        "llama-3.1-8b",
        "llama-3.1-70b",
        "llama-3.1-405b",
        "qwen3-32b",
        "qwen3-235b-a22b",
        "qwen3.5-397b-a17b",
        "deepseek-v3",
        "deepseek-r1",
        "kimi-k2.5",
        "glm-5",
        "minimax-m2.5",
        "gpt-oss-20b",
        "gpt-oss-120b",
        "mixtral-8x7b",
    ] {
        assert!(cat.models.contains_key(id), "missing model {id}");
    }
}

#[test]
fn hugging_face_names_resolve() {
    let cat = Catalog::builtin();
    for (alias, id) in [
        ("deepseek-ai/DeepSeek-R1", "deepseek-r1"),
        ("deepseek-ai/DeepSeek-V3", "deepseek-v3"),
        ("Qwen/Qwen3-235B-A22B", "qwen3-235b-a22b"),
        ("Qwen/Qwen3-235B-A22B-FP8", "qwen3-235b-a22b"),
        ("Qwen/Qwen3.5-397B-A17B", "qwen3.5-397b-a17b"),
        ("Qwen/Qwen3-32B", "qwen3-32b"),
        ("zhipuai/GLM-5", "glm-5"),
        ("zai-org/GLM-5", "glm-5"),
        ("openai/gpt-oss-120b", "gpt-oss-120b"),
        ("openai/gpt-oss-20b", "gpt-oss-20b"),
        ("meta-llama/Llama-3.1-70B", "llama-3.1-70b"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),
        ("nvidia/DeepSeek-R1-NVFP4", "deepseek-r1"),
        ("nvidia/DeepSeek-V3.1-NVFP4", "deepseek-v3"),
        ("moonshotai/Kimi-K2.5", "kimi-k2.5"),
        ("MiniMaxAI/MiniMax-M2.5", "minimax-m2.5"),
        ("mistralai/Mixtral-8x7B-v0.1", "mixtral-8x7b"),
    ] {
        assert_eq!(cat.model(alias).map(|m| m.id.as_str()), Ok(id), "{alias}");
    }
}

#[test]
fn every_model_of_the_validation_set_resolves() {
    // Model names used in ../shared/validation/aic-silicon-held-in.csv, when present.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/validation/aic-silicon-held-in.csv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipping: {} not found", path.display());
        return;
    };
    let cat = Catalog::builtin();
    let mut header = text.lines().next().unwrap_or("").split(',');
    let col = header.position(|h| h == "model_path").expect("model_path column");
    let mut missing = std::collections::BTreeSet::new();
    for line in text.lines().skip(1) {
        let name = line.split(',').nth(col).unwrap_or("");
        if cat.model(name).is_err() {
            missing.insert(name.to_string());
        }
    }
    assert!(missing.is_empty(), "unresolved models: {missing:?}");
}

/// (id, kv dtype, bytes per token) computed by hand from the configs.
const KV_BYTES: &[(&str, Dtype, f64)] = &[
    // 80 layers x 8 kv heads x 128 x 2 (K, V) x 2 bytes
    ("llama-3.1-70b", Dtype::Bf16, 327_680.0),
    // MLA: 61 layers x (512 + 64) x 1 byte
    ("deepseek-v3", Dtype::Fp8, 35_136.0),
    // MLA + DSA indexer key: 78 x (512 + 64 + 128) x 2 bytes
    ("glm-5", Dtype::Bf16, 109_824.0),
    // only the 15 softmax layers cache K/V: 15 x 2 x 2 x 256 x 2 bytes
    ("qwen3.5-397b-a17b", Dtype::Bf16, 30_720.0),
    // 36 layers x 8 x 64 x 2 x 1 byte (sliding layers counted in full)
    ("gpt-oss-120b", Dtype::Fp8, 36_864.0),
];

#[test]
fn kv_bytes_per_token_match_hand_computation() {
    let cat = Catalog::builtin();
    for (id, dtype, want) in KV_BYTES {
        let got = cat.model(id).unwrap().kv_bytes_per_token(*dtype);
        assert_eq!(got, *want, "{id} at {dtype}");
    }
}

#[test]
fn qwen35_linear_attention_state_is_constant_per_sequence() {
    let cat = Catalog::builtin();
    let m = cat.model("qwen3.5-397b-a17b").unwrap();
    assert_eq!(m.softmax_attention_layers(), 15);
    // 45 layers x 64 value heads x 128 x 128 x 4 bytes (fp32 state)
    assert_eq!(m.linear_state_bytes_per_seq(), 45.0 * 64.0 * 128.0 * 128.0 * 4.0);
}
