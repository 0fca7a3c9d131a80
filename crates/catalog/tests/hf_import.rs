//! `import_hf_config` on the public configs of the built-in models (abridged to the fields the
//! architecture needs, as published): the import must describe the same architecture as the
//! hand-written built-in entry.

use tokenfab_catalog::{Catalog, Dtype, Model, import_hf_config};

fn layer_types(n: usize, pattern: &[&str]) -> String {
    let v: Vec<String> = (0..n).map(|i| format!("\"{}\"", pattern[i % pattern.len()])).collect();
    format!("[{}]", v.join(","))
}

/// (builtin id, config.json text)
fn configs() -> Vec<(&'static str, String)> {
    vec![
        (
            "llama-3.1-70b",
            r#"{"architectures":["LlamaForCausalLM"],"hidden_size":8192,"intermediate_size":28672,
            "max_position_embeddings":131072,"num_attention_heads":64,"num_hidden_layers":80,"num_key_value_heads":8,
            "tie_word_embeddings":false,"torch_dtype":"bfloat16","vocab_size":128256}"#
                .to_string(),
        ),
        (
            "qwen3-235b-a22b",
            r#"{"architectures":["Qwen3MoeForCausalLM"],"head_dim":128,"hidden_size":4096,"intermediate_size":12288,
            "max_position_embeddings":40960,"moe_intermediate_size":1536,"num_attention_heads":64,"num_experts":128,
            "num_experts_per_tok":8,"num_hidden_layers":94,"num_key_value_heads":4,"tie_word_embeddings":false,
            "torch_dtype":"bfloat16","vocab_size":151936}"#
                .to_string(),
        ),
        (
            // Gated DeltaNet hybrid; `layer_types` left out so full_attention_interval is used.
            "qwen3.5-397b-a17b",
            r#"{"architectures":["Qwen3_5MoeForConditionalGeneration"],"model_type":"qwen3_5_moe",
            "text_config":{"model_type":"qwen3_5_moe_text","full_attention_interval":4,"head_dim":256,"hidden_size":4096,
            "linear_conv_kernel_dim":4,"linear_key_head_dim":128,"linear_num_key_heads":16,"linear_num_value_heads":64,
            "linear_value_head_dim":128,"max_position_embeddings":262144,"moe_intermediate_size":1024,
            "num_attention_heads":32,"num_experts":512,"num_experts_per_tok":10,"num_hidden_layers":60,
            "num_key_value_heads":2,"shared_expert_intermediate_size":1024,"tie_word_embeddings":false,
            "dtype":"bfloat16","vocab_size":248320}}"#
                .to_string(),
        ),
        (
            "kimi-k2.5",
            r#"{"architectures":["KimiK25ForConditionalGeneration"],"model_type":"kimi_k25",
            "text_config":{"model_type":"kimi_k2","hidden_size":7168,"intermediate_size":18432,"moe_intermediate_size":2048,
            "num_hidden_layers":61,"num_attention_heads":64,"num_key_value_heads":64,"kv_lora_rank":512,"q_lora_rank":1536,
            "qk_nope_head_dim":128,"qk_rope_head_dim":64,"v_head_dim":128,"n_routed_experts":384,"n_shared_experts":1,
            "num_experts_per_tok":8,"first_k_dense_replace":1,"num_nextn_predict_layers":0,"max_position_embeddings":262144,
            "tie_word_embeddings":false,"vocab_size":163840,
            "quantization_config":{"quant_method":"compressed-tensors","config_groups":{"group_0":{"weights":{"num_bits":4,"type":"int"}}}}}}"#
                .to_string(),
        ),
        (
            "glm-5",
            r#"{"architectures":["GlmMoeDsaForCausalLM"],"dtype":"bfloat16","first_k_dense_replace":3,"head_dim":64,
            "hidden_size":6144,"index_head_dim":128,"index_n_heads":32,"index_topk":2048,"intermediate_size":12288,
            "kv_lora_rank":512,"max_position_embeddings":202752,"moe_intermediate_size":2048,"model_type":"glm_moe_dsa",
            "n_routed_experts":256,"n_shared_experts":1,"num_attention_heads":64,"num_experts_per_tok":8,
            "num_hidden_layers":78,"num_key_value_heads":64,"num_nextn_predict_layers":1,"q_lora_rank":2048,
            "qk_nope_head_dim":192,"qk_rope_head_dim":64,"tie_word_embeddings":false,"v_head_dim":256,"vocab_size":154880}"#
                .to_string(),
        ),
        (
            "minimax-m2.5",
            r#"{"architectures":["MiniMaxM2ForCausalLM"],"head_dim":128,"hidden_size":3072,"intermediate_size":1536,
            "max_position_embeddings":196608,"mlp_intermediate_size":8192,"model_type":"minimax_m2","num_attention_heads":48,
            "num_experts_per_tok":8,"num_hidden_layers":62,"num_key_value_heads":8,"num_local_experts":256,
            "quantization_config":{"activation_scheme":"dynamic","fmt":"float8_e4m3fn","quant_method":"fp8"},
            "shared_intermediate_size":0,"sliding_window":null,"tie_word_embeddings":false,"vocab_size":200064}"#
                .to_string(),
        ),
        (
            "gpt-oss-120b",
            format!(
                r#"{{"architectures":["GptOssForCausalLM"],"attention_bias":true,"experts_per_token":4,"head_dim":64,
                "hidden_size":2880,"intermediate_size":2880,"layer_types":{},"max_position_embeddings":131072,
                "model_type":"gpt_oss","num_attention_heads":64,"num_experts_per_tok":4,"num_hidden_layers":36,
                "num_key_value_heads":8,"num_local_experts":128,"quantization_config":{{"quant_method":"mxfp4"}},
                "sliding_window":128,"tie_word_embeddings":false,"vocab_size":201088}}"#,
                layer_types(36, &["sliding_attention", "full_attention"])
            ),
        ),
        (
            "mixtral-8x7b",
            r#"{"architectures":["MixtralForCausalLM"],"hidden_size":4096,"intermediate_size":14336,
            "max_position_embeddings":32768,"num_attention_heads":32,"num_experts_per_tok":2,"num_hidden_layers":32,
            "num_key_value_heads":8,"num_local_experts":8,"sliding_window":null,"tie_word_embeddings":false,
            "torch_dtype":"bfloat16","vocab_size":32000}"#
                .to_string(),
        ),
    ]
}

fn same_architecture(imported: &Model, builtin: &Model) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut cmp = |what: &str, a: String, b: String| {
        if a != b {
            diffs.push(format!("{}: {what}: imported {a}, built-in {b}", builtin.id));
        }
    };
    cmp("total params", format!("{:.0}", imported.total_params()), format!("{:.0}", builtin.total_params()));
    cmp("active params", format!("{:.0}", imported.active_params()), format!("{:.0}", builtin.active_params()));
    for d in [Dtype::Bf16, Dtype::Fp8] {
        cmp(
            &format!("kv bytes {d}"),
            imported.kv_bytes_per_token(d).to_string(),
            builtin.kv_bytes_per_token(d).to_string(),
        );
    }
    cmp("native dtype", imported.native_dtype.to_string(), builtin.native_dtype.to_string());
    cmp("attention", format!("{:?}", imported.attention), format!("{:?}", builtin.attention));
    cmp("moe", format!("{:?}", imported.moe), format!("{:?}", builtin.moe));
    cmp("sliding", format!("{:?}", imported.sliding_window), format!("{:?}", builtin.sliding_window));
    cmp("linear", format!("{:?}", imported.linear_attention), format!("{:?}", builtin.linear_attention));
    cmp("sparse", format!("{:?}", imported.sparse_attention), format!("{:?}", builtin.sparse_attention));
    cmp("output gate", imported.attn_output_gate.to_string(), builtin.attn_output_gate.to_string());
    cmp("head_dim", imported.head_dim.to_string(), builtin.head_dim.to_string());
    cmp("max context", imported.max_context.to_string(), builtin.max_context.to_string());
    diffs
}

#[test]
fn imported_configs_match_the_builtin_architectures() {
    let cat = Catalog::builtin();
    let mut diffs = Vec::new();
    for (id, text) in configs() {
        let builtin = cat.model(id).unwrap();
        match import_hf_config("config.json", &text, id, &builtin.source) {
            Ok(m) => diffs.extend(same_architecture(&m, builtin)),
            Err(e) => diffs.push(format!("{id}: {e}")),
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn hybrid_layer_types_list_and_interval_agree() {
    let (_, text) = configs().into_iter().find(|(id, _)| *id == "qwen3.5-397b-a17b").unwrap();
    let with_list = text.replace(
        "\"full_attention_interval\":4,",
        &format!(
            "\"full_attention_interval\":4,\"layer_types\":{},",
            layer_types(60, &["linear_attention", "linear_attention", "linear_attention", "full_attention"])
        ),
    );
    assert_ne!(with_list, text);
    let a = import_hf_config("a.json", &text, "q", "x").unwrap();
    let b = import_hf_config("b.json", &with_list, "q", "x").unwrap();
    assert_eq!(a.linear_attention, b.linear_attention);
    assert_eq!(a.linear_attention.as_ref().map(|l| l.layers), Some(45));
}

/// (config, text the error must contain)
const BAD: &[(&str, &str)] = &[
    (r#"{"hidden_size":1}"#, "num_hidden_layers"),
    (r#"{"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":"many"}"#, "vocab_size"),
    (
        r#"{"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":10,"intermediate_size":8,
        "num_local_experts":8}"#,
        "num_experts_per_tok",
    ),
    (
        r#"{"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"vocab_size":10,"intermediate_size":8,
        "kv_lora_rank":16}"#,
        "qk_nope_head_dim",
    ),
    (
        r#"{"hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":3,"vocab_size":10,
        "intermediate_size":8}"#,
        "num_kv_heads",
    ),
    ("[1, 2", "not valid JSON"),
];

#[test]
fn bad_configs_name_the_file_and_field() {
    for (text, field) in BAD {
        let err = import_hf_config("cfg.json", text, "x", "local").unwrap_err().to_string();
        assert!(err.starts_with("cfg.json"), "{err}");
        assert!(err.contains(field), "`{field}` not in: {err}");
    }
}
