//! Catalog entries survive TOML (what `catalog import-hf` prints and users edit), and derived
//! model sizes keep their invariants on arbitrary architectures.

use proptest::prelude::*;
use tokenfab_catalog::{Catalog, CatalogFile, Dtype, Model, import_hf_config};

fn reload(file: CatalogFile) -> Catalog {
    let text = toml::to_string(&file).unwrap_or_else(|e| panic!("serialize: {e}"));
    Catalog::builtin().with_file_text("roundtrip.toml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn every_builtin_entry_round_trips_through_toml() {
    let cat = Catalog::builtin();
    for c in cat.chips.values() {
        let back = reload(CatalogFile { chips: vec![c.clone()], ..Default::default() });
        let mut got = back.chips[&c.id].clone();
        got.origin = c.origin.clone();
        assert_eq!(&got, c, "chip {}", c.id);
    }
    for s in cat.systems.values() {
        let back = reload(CatalogFile { systems: vec![s.clone()], ..Default::default() });
        let mut got = back.systems[&s.id].clone();
        got.origin = s.origin.clone();
        assert_eq!(&got, s, "system {}", s.id);
    }
    for f in cat.fabrics.values() {
        let back = reload(CatalogFile { fabrics: vec![f.clone()], ..Default::default() });
        let mut got = back.fabrics[&f.id].clone();
        got.origin = f.origin.clone();
        assert_eq!(&got, f, "fabric {}", f.id);
    }
    for m in cat.models.values() {
        let back = reload(CatalogFile { models: vec![m.clone()], ..Default::default() });
        let mut got = back.models[&m.id].clone();
        got.origin = m.origin.clone();
        assert_eq!(&got, m, "model {}", m.id);
    }
}

#[test]
fn user_entry_overrides_builtin_by_id() {
    let cat = Catalog::builtin();
    let mut h100 = cat.chip("h100-sxm").unwrap().clone();
    h100.tdp_w.value = 650.0;
    let back = reload(CatalogFile { chips: vec![h100], ..Default::default() });
    assert_eq!(back.chip("h100").unwrap().tdp_w.value, 650.0);
    assert_eq!(back.chip("h100").unwrap().origin, "roundtrip.toml");
    assert_eq!(back.chips.len(), cat.chips.len());
}

/// A random but valid config.json: dense or MoE, GQA or MLA.
fn arch() -> impl Strategy<Value = String> {
    (
        1u32..=16, // hidden / 128
        1u32..=48, // layers
        1u32..=8,  // kv heads
        1u32..=8,  // q heads per kv head
        1u32..=64, // intermediate / 128
        1000u32..=200_000,
        prop_oneof![Just(0u32), 2u32..=64], // experts (0 = dense)
        1u32..=8,                           // top-k (clamped)
        0u32..=2,                           // shared experts
        any::<bool>(),                      // MLA
        any::<bool>(),                      // tied embeddings
    )
        .prop_map(|(h, layers, kv, group, inter, vocab, experts, k, shared, mla, tied)| {
            let mut cfg = serde_json::json!({
                "hidden_size": h * 128, "num_hidden_layers": layers, "num_attention_heads": kv * group,
                "num_key_value_heads": kv, "head_dim": 64, "intermediate_size": inter * 128,
                "vocab_size": vocab, "max_position_embeddings": 4096, "tie_word_embeddings": tied,
            });
            if experts > 0 {
                cfg["n_routed_experts"] = experts.into();
                cfg["num_experts_per_tok"] = k.min(experts).into();
                cfg["moe_intermediate_size"] = (inter * 32).into();
                cfg["n_shared_experts"] = shared.into();
                cfg["first_k_dense_replace"] = (layers / 4).into();
            }
            if mla {
                cfg["kv_lora_rank"] = 128.into();
                cfg["q_lora_rank"] = 256.into();
                cfg["qk_nope_head_dim"] = 32.into();
                cfg["qk_rope_head_dim"] = 16.into();
                cfg["v_head_dim"] = 32.into();
            }
            cfg.to_string()
        })
}

fn import(text: &str) -> Model {
    import_hf_config("prop.json", text, "prop", "proptest").unwrap_or_else(|e| panic!("{e}: {text}"))
}

proptest! {
    #[test]
    fn derived_sizes_are_consistent(text in arch()) {
        let m = import(&text);
        let total = m.total_params();
        let active = m.active_params();
        prop_assert!(active > 0.0 && active <= total, "active {active} total {total}");
        prop_assert!(m.active_params_excluding_embedding() <= active);
        prop_assert!(m.active_params_excluding_embedding() > 0.0);
        if m.moe.is_none() {
            prop_assert_eq!(active, total);
        }
        let bf16 = m.kv_bytes_per_token(Dtype::Bf16);
        prop_assert!(bf16 > 0.0);
        prop_assert_eq!(m.kv_bytes_per_token(Dtype::Fp8) * 2.0, bf16);
        prop_assert_eq!(m.kv_bytes_per_token(Dtype::Fp4) * 4.0, bf16);
    }

    #[test]
    fn imported_models_round_trip_through_toml(text in arch()) {
        let m = import(&text);
        let back = reload(CatalogFile { models: vec![m.clone()], ..Default::default() });
        let mut got = back.models["prop"].clone();
        got.origin = m.origin.clone();
        prop_assert_eq!(got, m);
    }
}
