use super::*;

#[test]
fn builtin_catalog_is_valid() {
    let cat = Catalog::try_builtin().unwrap_or_else(|e| panic!("{e}"));
    assert!(!cat.chips.is_empty());
    assert!(!cat.models.is_empty());
}

#[test]
fn every_estimate_says_why() {
    let cat = Catalog::builtin();
    for chip in cat.chips.values() {
        for (field, (source, conf, note)) in chip.facts() {
            assert!(!source.trim().is_empty(), "{}.{field} has no source", chip.id);
            if conf == Confidence::Estimate {
                assert!(note.is_some_and(|n| !n.trim().is_empty()), "{}.{field} estimate without note", chip.id);
            }
        }
    }
}

#[test]
fn lookups_resolve_aliases_case_insensitively() {
    let cat = Catalog::builtin();
    assert_eq!(cat.chip("H100").unwrap().id, "h100-sxm");
    assert_eq!(cat.model("meta-llama/llama-3.1-8b-instruct").unwrap().id, "llama-3.1-8b");
    let err = cat.chip("nope").unwrap_err().to_string();
    assert!(err.contains("unknown chip `nope`"), "{err}");
}

#[test]
fn llama_8b_parameter_count_matches_published_size() {
    let cat = Catalog::builtin();
    let m = cat.model("llama-3.1-8b").unwrap();
    let p = m.total_params() / 1e9;
    assert!((p - 8.03).abs() < 0.05, "{p}");
    // 32 layers x 8 kv heads x 128 x 2 (K,V) x 2 bytes = 128 KiB per token
    assert_eq!(m.kv_bytes_per_token(Dtype::Bf16), 131072.0);
}

#[test]
fn user_file_overrides_by_id_and_reports_every_problem() {
    let cat = Catalog::builtin();
    let text = r#"
[[chip]]
id = "h100-sxm"
name = "bad"
vendor = "nvidia"
status = "shipping"
year = { value = 2023, source = "x", confidence = "official" }
process = { value = "x", source = "x", confidence = "official" }
peak_dense_tflops.bf16 = { value = -1.0, source = "x", confidence = "official" }
hbm_capacity_gb = { value = 80.0, source = "x", confidence = "official" }
hbm_bandwidth_tbps = { value = 0.0, source = "x", confidence = "official" }
scaleup_bandwidth_gbps = { value = 450.0, source = "x", confidence = "official" }
scaleup_domain_chips = { value = 8, source = "x", confidence = "official" }
scaleout_bandwidth_gbps = { value = 50.0, source = "", confidence = "estimate" }
tdp_w = { value = 700.0, source = "x", confidence = "official" }
idle_power_w = { value = 100.0, source = "x", confidence = "official" }
gemm_efficiency.fp8 = { value = 70.0, source = "x", confidence = "reported", note = "a percentage typed for a fraction" }
"#;
    let errs = cat.with_file_text("mine.toml", text).unwrap_err();
    let msgs: Vec<String> = errs.0.iter().map(|e| e.to_string()).collect();
    assert!(msgs.iter().any(|m| m.contains("chip[h100-sxm].peak_dense_tflops.bf16")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("chip[h100-sxm].hbm_bandwidth_tbps")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("scaleout_bandwidth_gbps.source")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("scaleout_bandwidth_gbps.note")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("chip[h100-sxm].gemm_efficiency.fp8") && m.contains("(0, 1]")), "{msgs:?}");
    assert!(msgs.iter().all(|m| m.starts_with("mine.toml")), "{msgs:?}");
}

#[test]
fn measured_gemm_efficiency_is_sourced_and_per_format() {
    let cat = Catalog::builtin();
    let b200 = cat.chip("b200").unwrap();
    // Published B200 kernel benchmarks: fp4 reaches a smaller share of its peak than bf16.
    let (bf16, fp4) = (b200.gemm_efficiency(Dtype::Bf16).unwrap(), b200.gemm_efficiency(Dtype::Fp4).unwrap());
    assert!(fp4 < bf16 && fp4 > 0.3 && bf16 < 0.8, "{fp4} {bf16}");
    assert_eq!(b200.gemm_efficiency(Dtype::Fp16), Some(bf16));
    assert!(b200.facts().iter().any(|(f, (src, _, _))| *f == "gemm_efficiency.fp4" && src.contains("vllm")));
    // MI300X's comes from AMD's own max-achievable-FLOPs measurement.
    let mi300x = cat.chip("mi300x").unwrap();
    assert!((mi300x.gemm_efficiency(Dtype::Fp8).unwrap() - 1273.0 / 2614.9).abs() < 0.001);
    assert!(
        mi300x.facts().iter().any(|(f, (src, _, _))| *f == "gemm_efficiency.fp8" && src.contains("rocm.blogs.amd"))
    );
    // A chip without the figure has none (the perf model then uses its generic fraction).
    assert_eq!(cat.chip("mi355x").unwrap().gemm_efficiency(Dtype::Bf16), None);
}

#[test]
fn driver_reported_memory_is_what_software_can_allocate() {
    let cat = Catalog::builtin();
    let h100 = cat.chip("h100-sxm").unwrap().clone();
    // 81,559 MiB, not the vendor's 80 × 10^9 bytes.
    assert_eq!(h100.hbm_bytes(), 81559.0 * 1024.0 * 1024.0);
    assert_eq!(h100.hbm_capacity_gb.value, 80.0);
    // Without the driver figure the vendor capacity is used.
    let mut bare = h100.clone();
    bare.hbm_driver_mib = None;
    assert_eq!(bare.hbm_bytes(), 80e9);
    // A unit slip is refused with the field named.
    let text = |mib: f64| {
        let mut c = h100.clone();
        c.hbm_driver_mib.as_mut().unwrap().value = mib;
        #[derive(serde::Serialize)]
        struct F {
            chip: Vec<Chip>,
        }
        toml::to_string(&F { chip: vec![c] }).unwrap()
    };
    assert!(cat.clone().with_file_text("ok.toml", &text(81000.0)).is_ok());
    let err = cat.clone().with_file_text("mine.toml", &text(80.0)).unwrap_err().to_string();
    assert!(err.contains("mine.toml") && err.contains("chip[h100-sxm].hbm_driver_mib"), "{err}");
}

#[test]
fn syntax_error_names_line_and_column() {
    let err = Catalog::builtin().with_file_text("f.toml", "[[chip]]\nid = \n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("f.toml: line 2"), "{msg}");
}

#[test]
fn unknown_field_is_rejected() {
    let err = Catalog::builtin().with_file_text("f.toml", "[[fabric]]\nid = \"x\"\nbogus = 1\n").unwrap_err();
    assert!(err.to_string().contains("f.toml"), "{err}");
}

#[test]
fn hf_import_reads_a_dense_gqa_config() {
    let cfg = r#"{"architectures":["LlamaForCausalLM"],"hidden_size":4096,"intermediate_size":14336,
    "max_position_embeddings":131072,"num_attention_heads":32,"num_hidden_layers":32,
    "num_key_value_heads":8,"vocab_size":128256,"torch_dtype":"bfloat16","tie_word_embeddings":false}"#;
    let m = import_hf_config("config.json", cfg, "my-llama", "local").unwrap();
    let builtin = Catalog::builtin();
    let reference = builtin.model("llama-3.1-8b").unwrap();
    assert_eq!(m.total_params(), reference.total_params());
    assert_eq!(m.head_dim, 128);
}

#[test]
fn hf_import_reads_mla_moe() {
    let cfg = r#"{"hidden_size":7168,"intermediate_size":18432,"moe_intermediate_size":2048,
    "n_routed_experts":256,"n_shared_experts":1,"num_experts_per_tok":8,"first_k_dense_replace":3,
    "num_attention_heads":128,"num_key_value_heads":128,"num_hidden_layers":61,"vocab_size":129280,
    "q_lora_rank":1536,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,"v_head_dim":128,
    "max_position_embeddings":163840,"num_nextn_predict_layers":1,
    "quantization_config":{"quant_method":"fp8","fmt":"e4m3"}}"#;
    let m = import_hf_config("config.json", cfg, "dsv3", "local").unwrap();
    let total = m.total_params() / 1e9;
    let active = m.active_params() / 1e9;
    assert!((total - 671.0).abs() < 8.0, "total {total}");
    assert!((active - 37.0).abs() < 2.0, "active {active}");
    assert_eq!(m.native_dtype, Dtype::Fp8);
    assert_eq!(m.kv_elems_per_token_per_layer(), 576.0);
}

#[test]
fn hf_import_reports_missing_field() {
    let err = import_hf_config("c.json", r#"{"hidden_size":1}"#, "x", "local").unwrap_err();
    assert!(err.to_string().contains("c.json"), "{err}");
}

#[test]
fn schema_mentions_every_section() {
    let s = json_schema().to_string();
    for k in ["chip", "system", "fabric", "model", "hbm_bandwidth_tbps"] {
        assert!(s.contains(k), "{k}");
    }
}
