//! AIC row parsing, mapping and prediction behaviour.
use tokenfab_aic::{EngineProfile, map_row, parse_rows, predict};
use tokenfab_catalog::{Catalog, Dtype};

const HEADER: &str = "id,silicon_data_source,backend,backend_version,model_path,system,precision,mode,isl,osl,gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,prefill_batch_size,prefill_num_workers,prefill_tp_size,prefill_pp_size,prefill_attention_dp_size,prefill_moe_tp_size,prefill_moe_ep_size,decode_batch_size,decode_num_workers,decode_tp_size,decode_pp_size,decode_attention_dp_size,decode_moe_tp_size,decode_moe_ep_size,silicon_ttft_ms,silicon_tpot_ms";

fn rows(body: &str) -> Vec<tokenfab_aic::AicRow> {
    parse_rows("t.csv", &format!("{HEADER}\n{body}\n")).unwrap()
}

/// A prediction of this TPOT (the other figures are placeholders), as the grid studies see it.
fn pred_tpot(tpot: f64) -> Result<tokenfab_aic::Prediction, String> {
    Ok(tokenfab_aic::Prediction {
        ttft_ms: 1.0,
        tpot_ms: tpot,
        decode_step_ms: tpot,
        output_tokens_per_s: 1.0,
        memory_fraction: None,
    })
}

#[test]
fn dense_agg_row_predicts_plausible_tpot() {
    let cat = Catalog::builtin();
    let r = rows(
        "a,src,trtllm,1,meta-llama/Llama-3.1-8B-Instruct,h100_sxm,,agg,1024,128,,,8,1,1,,1,1,,,,,,,,,,,,,,,191.0,7.94",
    );
    let dep = map_row(&cat, &r[0]).unwrap();
    assert_eq!(dep.prefill.parallel.tp, 1);
    let p = predict(&cat, &dep, 1024, 128, 8, &EngineProfile::for_backend("trtllm")).unwrap();
    // Decode of 8 × ~1.1k context on one H100: weights (16 GB) dominate, ~6-9 ms.
    assert!(p.tpot_ms > 5.0 && p.tpot_ms < 12.0, "{p:?}");
    assert!(p.ttft_ms > 0.0 && p.ttft_ms < p.tpot_ms * 128.0, "{p:?}");
}

#[test]
fn more_concurrency_means_slower_tokens() {
    let cat = Catalog::builtin();
    let r = rows(
        "a,src,trtllm,1,meta-llama/Llama-3.1-8B-Instruct,h100_sxm,,agg,1024,128,,,8,1,1,,1,1,,,,,,,,,,,,,,,191.0,7.94",
    );
    let dep = map_row(&cat, &r[0]).unwrap();
    let prof = EngineProfile::for_backend("trtllm");
    let a = predict(&cat, &dep, 1024, 128, 8, &prof).unwrap();
    let b = predict(&cat, &dep, 1024, 128, 64, &prof).unwrap();
    assert!(b.tpot_ms > a.tpot_ms && b.output_tokens_per_s > a.output_tokens_per_s);
}

#[test]
fn concurrency_comes_from_the_source_column_when_batch_size_is_empty() {
    let r = rows(
        "d,db; silicon_concurrency=64; x,trtllm,1,deepseek-ai/DeepSeek-R1,b200_sxm,fp8,disagg,1024,1024,fp8,fp8,,,,,,,,,8,1,1,1,8,,,8,1,1,1,8,500,12",
    );
    assert_eq!(r[0].concurrency, 64);
}

#[test]
fn unmodellable_rows_say_why() {
    let cat = Catalog::builtin();
    for (body, needle) in [
        (
            "d,db; silicon_concurrency=64,trtllm,1,deepseek-ai/DeepSeek-R1,b200_sxm,fp8,disagg,1024,1024,fp8,fp8,,,,,,,,,8,1,1,1,8,,,8,1,1,1,8,500,12",
            "pool sizes unknown",
        ),
        ("x,s,trtllm,1,no/such-model,h100_sxm,,agg,1,1,,,1,1,1,,1,1,,,,,,,,,,,,,,,1,1", "unknown model"),
        (
            "x,s,trtllm,1,meta-llama/Llama-3.1-8B-Instruct,nosuch_gpu,,agg,1,1,,,1,1,1,,1,1,,,,,,,,,,,,,,,1,1",
            "unknown chip",
        ),
    ] {
        let r = rows(body);
        let outcome = map_row(&cat, &r[0]).and_then(|dep| {
            predict(&cat, &dep, r[0].isl, r[0].osl, r[0].concurrency, &EngineProfile::for_backend("trtllm"))
        });
        let e = outcome.unwrap_err();
        assert!(e.contains(needle), "{e}");
    }
}

#[test]
fn bad_numbers_name_the_line_and_column() {
    let e =
        parse_rows("t.csv", &format!("{HEADER}\nx,s,trtllm,1,m,h100_sxm,,agg,abc,1,,,1,1,1,,1,1,,,,,,,,,,,,,,,1,1\n"))
            .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("t.csv: line 2") && msg.contains("`isl`"), "{msg}");
}

#[test]
fn held_in_table_is_mostly_modelled_when_present() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/validation/aic-silicon-held-in.csv");
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} not found (../shared is only present in the development checkout)");
        return;
    };
    let cat = Catalog::builtin();
    let rs = parse_rows(path, &text).unwrap();
    assert_eq!(rs.len(), 2117);
    let agg_ok = rs.iter().filter(|r| r.mode == "agg").filter(|r| {
        map_row(&cat, r)
            .and_then(|d| predict(&cat, &d, r.isl, r.osl, r.concurrency, &EngineProfile::for_backend(&r.backend)))
            .is_ok()
    });
    assert!(agg_ok.count() > 1300);
}

#[test]
fn host_cross_validation_never_uses_the_held_out_model() {
    use tokenfab_aic::{AicRow, cross_validate_host};
    let row = |model: &str, tpot: f64| AicRow {
        backend: "trtllm".into(),
        model_path: model.into(),
        tpot_ms: tpot,
        ttft_ms: 1.0,
        ..Default::default()
    };
    let p = pred_tpot;
    // Model a is fitted best by grid point 0, model b by grid point 1.
    let rows = vec![row("a", 10.0), row("b", 20.0)];
    let by_grid = vec![vec![p(10.0), p(10.0)], vec![p(20.0), p(20.0)]];
    let (out, picks) = cross_validate_host(&rows, &by_grid);
    // a is scored with the point chosen on b (1), b with the point chosen on a (0).
    assert_eq!(out[0].prediction.as_ref().unwrap().tpot_ms, 20.0);
    assert_eq!(out[1].prediction.as_ref().unwrap().tpot_ms, 10.0);
    assert_eq!(picks.len(), 2);
}

#[test]
fn request_path_cross_validation_never_uses_the_held_out_model() {
    use tokenfab_aic::{AicRow, Outcome, Prediction, cross_validate_request_path};
    let o = |backend: &str, model: &str, sim_ttft: f64, meas_ttft: f64| Outcome {
        row: AicRow {
            backend: backend.into(),
            model_path: model.into(),
            isl: 1000,
            ttft_ms: meas_ttft,
            tpot_ms: 10.0,
            ..Default::default()
        },
        prediction: Ok(Prediction {
            ttft_ms: sim_ttft,
            tpot_ms: 10.0,
            decode_step_ms: 10.0,
            output_tokens_per_s: 1.0,
            memory_fraction: None,
        }),
    };
    // Model a's rows miss 300 ms, model b's none; vLLM has one model (c) and learns from the
    // other backends' models.
    let outs = vec![o("trtllm", "a", 100.0, 400.0), o("trtllm", "b", 100.0, 100.0), o("vllm", "c", 50.0, 50.0)];
    let (cv, picks) = cross_validate_request_path(&outs);
    // a is scored with b's fit (nothing to add), b with a's (300 ms).
    assert_eq!(cv[0].prediction.as_ref().unwrap().ttft_ms, 100.0);
    assert_eq!(cv[1].prediction.as_ref().unwrap().ttft_ms, 400.0);
    // c: a's and b's rows together; 0 ms fits b exactly and misses a by 75 %, the best MAPE.
    assert_eq!(cv[2].prediction.as_ref().unwrap().ttft_ms, 50.0);
    assert_eq!(picks.len(), 3);
    assert!(picks.iter().any(|(b, m, rp)| b == "trtllm" && m == "b" && rp.fixed_ms == 300.0));
}

#[test]
fn request_path_per_client_term_follows_concurrency() {
    use tokenfab_aic::{AicRow, Outcome, Prediction, RequestPath, cross_validate_request_path};
    let rp = RequestPath { fixed_ms: 10.0, per_token_us: 20.0, per_client_ms: 2.0 };
    // 10 + 20 µs × 1000 + 2 ms × 63 others.
    assert!((rp.ttft_ms(5.0, 1000, 64) - (5.0 + 10.0 + 20.0 + 126.0)).abs() < 1e-9);
    assert!((rp.ttft_ms(5.0, 1000, 1) - 35.0).abs() < 1e-9);
    // Two models whose measured TTFT grows by 4 ms per other client: each is fitted on the
    // other and gets the slope back exactly.
    let o = |model: &str, c: u32| Outcome {
        row: AicRow {
            backend: "sglang".into(),
            model_path: model.into(),
            isl: 1000,
            concurrency: c,
            ttft_ms: 50.0 + 4.0 * (c - 1) as f64,
            tpot_ms: 10.0,
            ..Default::default()
        },
        prediction: Ok(Prediction {
            ttft_ms: 50.0,
            tpot_ms: 10.0,
            decode_step_ms: 10.0,
            output_tokens_per_s: 1.0,
            memory_fraction: None,
        }),
    };
    let outs: Vec<Outcome> = [1, 8, 64, 128].iter().flat_map(|&c| [o("a", c), o("b", c)]).collect();
    let (cv, picks) = cross_validate_request_path(&outs);
    for x in &cv {
        assert!((x.prediction.as_ref().unwrap().ttft_ms - x.row.ttft_ms).abs() < 1e-9, "{x:?}");
    }
    assert!(picks.iter().all(|(_, _, rp)| rp.per_client_ms == 4.0 && rp.fixed_ms == 0.0));
    // Disaggregated rows: the first token comes from a prefill worker, which holds only the
    // request it prefills, so the per-request term does not grow with the clients.
    let disagg = AicRow { mode: "disagg".into(), concurrency: 4096, ..Default::default() };
    assert_eq!(tokenfab_aic::first_token_in_flight(&disagg), 1);
    assert_eq!(
        tokenfab_aic::first_token_in_flight(&AicRow { mode: "agg".into(), concurrency: 64, ..Default::default() }),
        64
    );
}

#[test]
fn disaggregated_hand_off_is_chosen_on_the_other_backends() {
    use tokenfab_aic::{AicRow, Outcome, Prediction, cross_validate_handoff};
    // Measured TTFT = predicted + `steps` × predicted TPOT.
    let o = |backend: &str, mode: &str, steps: f64, tpot: f64| Outcome {
        row: AicRow {
            backend: backend.into(),
            mode: mode.into(),
            ttft_ms: 100.0 + steps * tpot,
            tpot_ms: tpot,
            ..Default::default()
        },
        prediction: Ok(Prediction {
            ttft_ms: 100.0,
            tpot_ms: tpot,
            decode_step_ms: tpot,
            output_tokens_per_s: 1.0,
            memory_fraction: None,
        }),
    };
    let outs = vec![
        o("sglang", "disagg", 40.0, 10.0),
        o("sglang", "disagg", 40.0, 20.0),
        o("trtllm", "disagg", 20.0, 10.0),
        o("trtllm", "agg", 20.0, 10.0),
        o("vllm", "agg", 0.0, 10.0),
    ];
    let (cv, picks) = cross_validate_handoff(&outs);
    // Each backend gets the other's steps: SGLang's rows 20 steps (trtllm's), trtllm's 40.
    let ttft: Vec<f64> = cv.iter().map(|x| x.prediction.as_ref().unwrap().ttft_ms).collect();
    assert_eq!(ttft, vec![300.0, 500.0, 500.0, 100.0, 100.0], "aggregated rows are left alone");
    assert_eq!(picks, vec![("sglang".to_string(), Some(20.0)), ("trtllm".to_string(), Some(40.0))]);
    // One backend alone has nobody to learn from: no term.
    let (cv, picks) = cross_validate_handoff(&outs[..2]);
    assert_eq!(picks, vec![("sglang".to_string(), None)]);
    assert_eq!(cv[0].prediction.as_ref().unwrap().ttft_ms, 100.0);
    // A row that could not be modelled stays an error and does not vote.
    let mut bad = outs.clone();
    bad[2].prediction = Err("pool sizes unknown".into());
    let (cv, picks) = cross_validate_handoff(&bad);
    assert!(cv[2].prediction.is_err());
    assert_eq!(picks, vec![("sglang".to_string(), None)]);
}

#[test]
fn measurement_floor_is_the_spread_of_identical_deployments() {
    use tokenfab_aic::{AicRow, Outcome, Prediction, measurement_floor};
    let o = |id: &str, version: &str, tpot: f64, c: u32| {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("id".to_string(), id.to_string());
        fields.insert("backend_version".to_string(), version.to_string());
        fields.insert("tp_size".to_string(), "8".to_string());
        Outcome {
            row: AicRow { id: id.into(), concurrency: c, ttft_ms: 100.0, tpot_ms: tpot, fields, ..Default::default() },
            prediction: Ok(Prediction {
                ttft_ms: 1.0,
                tpot_ms: 1.0,
                decode_step_ms: 1.0,
                output_tokens_per_s: 1.0,
                memory_fraction: None,
            }),
        }
    };
    // Same deployment measured at 10 and 5 ms (two builds): the best single prediction misses
    // one of them by 50 % (predicting 5) or 100 % (predicting 10): 50 % over the pair, 25 % mean
    // over the pair; the third row (other concurrency) is alone and adds 0.
    let outs = vec![o("x", "post2", 10.0, 4), o("y", "post3", 5.0, 4), o("z", "post2", 7.0, 8)];
    let (ttft, tpot) = measurement_floor(&outs);
    assert_eq!(ttft, 0.0);
    assert!((tpot - 50.0 / 3.0).abs() < 1e-9, "{tpot}");
    // Rows that could not be modelled do not count.
    let mut skipped = o("w", "post2", 1.0, 8);
    skipped.prediction = Err("no".into());
    let (_, tpot2) = measurement_floor(&[outs, vec![skipped]].concat());
    assert!((tpot2 - tpot).abs() < 1e-12);
}

#[test]
fn kernel_overhead_cross_validation_picks_from_other_models_and_defaults_alone() {
    use tokenfab_aic::{AicRow, KERNEL_OVERHEAD_GRID, cross_validate_kernel_overhead};
    let row = |backend: &str, model: &str, tpot: f64| AicRow {
        backend: backend.into(),
        model_path: model.into(),
        tpot_ms: tpot,
        ttft_ms: 1.0,
        ..Default::default()
    };
    let p = pred_tpot;
    // TensorRT-LLM models a and b are matched at grid point 2 (0.5); vLLM's only model c, on one
    // system, has no other model or system to learn from and keeps the default (point 0, 1).
    let rows = vec![row("trtllm", "a", 10.0), row("trtllm", "b", 20.0), row("vllm", "c", 5.0)];
    let by_grid: Vec<Vec<_>> = (0..KERNEL_OVERHEAD_GRID.len())
        .map(|g| {
            let f = if g == 2 { 1.0 } else { 1.3 };
            vec![p(10.0 * f), p(20.0 * f), p(5.0 * f * 2.0)]
        })
        .collect();
    let (out, picks) = cross_validate_kernel_overhead(&rows, &by_grid);
    assert_eq!(out[0].prediction.as_ref().unwrap().tpot_ms, 10.0);
    assert_eq!(out[1].prediction.as_ref().unwrap().tpot_ms, 20.0);
    assert_eq!(out[2].prediction.as_ref().unwrap().tpot_ms, 13.0);
    let pick = |m: &str| picks.iter().find(|x| x.1 == m).map(|x| x.2);
    assert_eq!((pick("a"), pick("b")), (Some(0.5), Some(0.5)));
    assert_eq!(tokenfab_aic::kernel_pick(&picks, &rows[2]), Some(1.0));
    // The same vLLM model measured on two systems: each system's rows learn from the other's.
    let mut two = vec![row("vllm", "c", 5.0), row("vllm", "c", 6.0)];
    two[0].system = "h100_sxm".into();
    two[1].system = "h200_sxm".into();
    let by_grid: Vec<Vec<_>> = (0..KERNEL_OVERHEAD_GRID.len())
        .map(|g| if g == 1 { vec![p(5.0), p(6.0)] } else { vec![p(9.0), p(9.0)] })
        .collect();
    let (out, picks) = cross_validate_kernel_overhead(&two, &by_grid);
    assert_eq!(out[0].prediction.as_ref().unwrap().tpot_ms, 5.0);
    assert_eq!(tokenfab_aic::kernel_pick(&picks, &two[1]), Some(KERNEL_OVERHEAD_GRID[1]));
}

#[test]
fn build_pairs_find_one_deployment_measured_under_two_builds() {
    use tokenfab_aic::{AicRow, build_pairs};
    let row = |version: &str, tp: &str, c: u32, tpot: f64| {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("backend_version".to_string(), version.to_string());
        fields.insert("tp_size".to_string(), tp.to_string());
        AicRow { concurrency: c, tpot_ms: tpot, fields, ..Default::default() }
    };
    let rows = vec![
        row("post2", "8", 4, 10.0),
        row("post3", "8", 4, 4.5), // same deployment, 2.2 × faster: a pair
        row("post3", "8", 8, 7.0), // alone at its concurrency
        row("post2", "4", 4, 9.0),
        row("post2", "4", 4, 4.0), // same build: not a pair
        row("post3", "2", 4, 10.0),
        row("post2", "2", 4, 11.0), // 1.1 ×: below the ratio
    ];
    assert_eq!(build_pairs(&rows, 1.3), vec![(1, 0)]);
}

#[test]
fn sglang_rows_raise_the_memory_fraction_only_when_0_88_cannot_hold_the_concurrency() {
    use tokenfab_aic::{SimKnobs, predict_simulated};
    let cat = Catalog::builtin();
    // DeepSeek-R1 fp8 on 4 × B200: 168 GB of weights per chip leave ~1.5 GB of KV at 0.88,
    // under 16 prompts of 8192 + 1024 tokens; the measured TTFT (≈1 s) shows no queueing.
    let big = rows(
        "a,src,sglang,0.5.9,deepseek-ai/DeepSeek-R1,b200_sxm,fp8,agg,8192,64,fp8_block,fp8_block,16,4,1,1,4,1,,,,,,,,,,,,,,,997.0,22.3",
    );
    let dep = map_row(&cat, &big[0]).unwrap();
    let p = predict_simulated(&cat, &dep, &big[0], SimKnobs::default()).unwrap();
    let f = p.memory_fraction.unwrap();
    assert!(f > 0.88 && f <= 0.95, "{p:?}");
    // A small model at the same concurrency has room at 0.88 and keeps it.
    let small = rows(
        "b,src,sglang,0.5.9,meta-llama/Llama-3.1-8B-Instruct,h100_sxm,,agg,1024,64,,,16,1,1,,1,1,,,,,,,,,,,,,,,100.0,8.0",
    );
    let dep = map_row(&cat, &small[0]).unwrap();
    let p = predict_simulated(&cat, &dep, &small[0], SimKnobs::default()).unwrap();
    assert_eq!(p.memory_fraction, Some(0.88), "{p:?}");
}

#[test]
fn moe_rows_with_tensor_parallelism_wider_than_8_gpus_map_to_attention_dp() {
    let cat = Catalog::builtin();
    // GB200's NVLink domain is 72 GPUs and 32 divides DeepSeek-R1's 128 heads, but the row is
    // one of the wide-EP sweep (moe_tp = tp): attention DP, like its tp 28 and 36 siblings.
    for tp in [32, 36] {
        let r = rows(&format!(
            "a,src,trtllm,,deepseek-ai/DeepSeek-R1,gb200,fp4,agg,8192,1024,nvfp4,nvfp4,256,{tp},1,1,{tp},1,,,,,,,,,,,,,,,1000.0,20.0"
        ));
        let dep = map_row(&cat, &r[0]).unwrap();
        let p = dep.prefill.parallel;
        assert_eq!((p.tp, p.attn_dp), (1, tp), "tp {tp}");
        // Its experts (recorded as moe_tp = tp, ep 1) are spread whole over all the GPUs: 36 GPUs
        // cannot split DeepSeek-R1's 2,048-wide experts, and neither layout runs experts
        // tensor-parallel over more than 8 GPUs.
        assert_eq!((p.moe_tp, p.moe_ep), (1, tp), "tp {tp}");
    }
    // Expert TP within 8 GPUs of a wide attention-DP row is kept (tp 16 = moe_tp 2 × ep 8).
    let r = rows(
        "a,src,trtllm,,deepseek-ai/DeepSeek-R1,b200_sxm,fp4,agg,8192,1024,nvfp4,nvfp4,64,16,1,1,2,8,,,,,,,,,,,,,,,1000.0,20.0",
    );
    let p = map_row(&cat, &r[0]).unwrap().prefill.parallel;
    assert_eq!((p.tp, p.attn_dp, p.moe_tp, p.moe_ep), (1, 16, 2, 8));
    // Eight-way tensor parallelism stays tensor parallel; so does a dense model's.
    let r = rows(
        "a,src,trtllm,,deepseek-ai/DeepSeek-R1,gb200,fp4,agg,8192,1024,nvfp4,nvfp4,256,8,1,1,8,1,,,,,,,,,,,,,,,1000.0,20.0",
    );
    assert_eq!(map_row(&cat, &r[0]).unwrap().prefill.parallel.tp, 8);
    let r = rows("a,src,trtllm,,Qwen/Qwen3-32B,gb200,,agg,1024,1024,,,16,16,1,1,1,1,,,,,,,,,,,,,,,100.0,10.0");
    let p = map_row(&cat, &r[0]).unwrap().prefill.parallel;
    assert_eq!((p.tp, p.attn_dp), (16, 1));
}

#[test]
fn fit_host_pools_every_model_of_one_backend_only() {
    use tokenfab_aic::{AicRow, HOST_GRID, fit_host};
    let row = |backend: &str, model: &str, tpot: f64| AicRow {
        backend: backend.into(),
        model_path: model.into(),
        tpot_ms: tpot,
        ttft_ms: 1.0,
        ..Default::default()
    };
    let p = pred_tpot;
    // Two TensorRT-LLM models: grid point 2 fits both within 10 %, point 0 fits one exactly and
    // misses the other by half; the SGLang row (fitted exactly by point 0) must not count.
    let rows = vec![row("trtllm", "a", 10.0), row("trtllm", "b", 20.0), row("sglang", "c", 5.0)];
    let mut by_grid = vec![vec![Err("not run".to_string()); 3]; HOST_GRID.len()];
    by_grid[0] = vec![p(10.0), p(10.0), p(5.0)];
    by_grid[2] = vec![p(11.0), p(18.0), p(50.0)];
    assert_eq!(fit_host(&rows, &by_grid, "trtllm"), Some(HOST_GRID[2]));
    assert_eq!(fit_host(&rows, &by_grid, "sglang"), Some(HOST_GRID[0]));
    assert_eq!(fit_host(&rows, &by_grid, "vllm"), None);
}

#[test]
fn request_path_of_a_one_model_backend_is_held_out_by_system() {
    use tokenfab_aic::{AicRow, Outcome, Prediction, cross_validate_request_path};
    let o = |backend: &str, model: &str, system: &str, ttft: f64, sim: f64| Outcome {
        row: AicRow {
            backend: backend.into(),
            model_path: model.into(),
            system: system.into(),
            isl: 1024,
            concurrency: 1,
            ttft_ms: ttft,
            tpot_ms: 10.0,
            ..Default::default()
        },
        prediction: Ok(Prediction {
            ttft_ms: sim,
            tpot_ms: 10.0,
            decode_step_ms: 10.0,
            output_tokens_per_s: 1.0,
            memory_fraction: None,
        }),
    };
    // vLLM: one model on two systems, measured ~10 ms above the simulation. TensorRT-LLM: two
    // models measured ~200 ms above it. vLLM must learn from its own other system, not from
    // TensorRT-LLM.
    let rows = vec![
        o("vllm", "m", "h100", 60.0, 50.0),
        o("vllm", "m", "h200", 50.0, 40.0),
        o("trtllm", "a", "h100", 250.0, 50.0),
        o("trtllm", "b", "h100", 240.0, 40.0),
    ];
    let (out, picks) = cross_validate_request_path(&rows);
    for i in 0..2 {
        let p = out[i].prediction.as_ref().unwrap().ttft_ms;
        assert!((p - rows[i].row.ttft_ms).abs() < 30.0, "vLLM row {i}: {p} ms");
    }
    assert!(picks.iter().any(|(b, m, _)| b == "vllm" && m.contains("held out: h100")), "{picks:?}");
    // The two-model backend is still held out by model.
    assert!(picks.iter().any(|(b, m, _)| b == "trtllm" && m == "a"), "{picks:?}");
}

#[test]
fn gpt_oss_rows_run_openais_checkpoint_whatever_their_quant_labels() {
    let cat = Catalog::builtin();
    for (precision, quant) in [("fp4", "nvfp4"), ("fp8", "fp8")] {
        let r = rows(&format!(
            "a,src,trtllm,,openai/gpt-oss-120b,h200_sxm,{precision},agg,1024,1024,{quant},{quant},8,1,1,1,1,1,,,,,,,,,,,,,,,100.0,5.0"
        ));
        let dep = map_row(&cat, &r[0]).unwrap();
        assert_eq!((dep.weight_dtype, dep.moe_dtype, dep.kv_dtype), (Dtype::Bf16, Dtype::Fp4, Dtype::Bf16), "{quant}");
    }
    // Other models keep their rows' labels.
    let r = rows("a,src,trtllm,,Qwen/Qwen3-32B,h100_sxm,fp8,agg,1024,1024,fp8,fp8,8,1,1,1,1,1,,,,,,,,,,,,,,,100.0,5.0");
    let dep = map_row(&cat, &r[0]).unwrap();
    assert_eq!((dep.weight_dtype, dep.kv_dtype), (Dtype::Fp8, Dtype::Fp8));
}

#[test]
fn rows_that_record_tp_times_ep_as_the_world_run_on_tp_gpus() {
    let cat = Catalog::builtin();
    let layout = |id: &str, model: &str, system: &str, cols: &str| {
        let r = rows(&format!(
            "{id},src,trtllm,,{model},{system},fp4,agg,1024,1024,nvfp4,nvfp4,8,{cols},,,,,,,,,,,,,,,100.0,10.0"
        ));
        let p = map_row(&cat, &r[0]).unwrap().prefill.parallel;
        (p.tp, p.attn_dp, p.moe_tp, p.moe_ep)
    };
    // The id names `tp2_ep2`; the columns record tp 4 with experts 2 × 2: two GPUs, EP 2.
    assert_eq!(layout("x_c8_tp2_ep2_927", "openai/gpt-oss-120b", "h200_sxm", "4,1,1,2,2"), (2, 1, 1, 2));
    // `tp8_ep8` recorded as tp 64 (or as attention DP 64): eight GPUs.
    assert_eq!(layout("x_c8_tp8_ep8_1010", "deepseek-ai/DeepSeek-R1", "b200_sxm", "64,1,1,8,8"), (8, 1, 1, 8));
    assert_eq!(layout("x_c64_tp8_ep8_937", "deepseek-ai/DeepSeek-R1", "b200_sxm", "1,1,64,8,8"), (1, 8, 1, 8));
    // Without the id, only a square expert layout wider than one node reads this way.
    assert_eq!(layout("dsr1_cfg181", "deepseek-ai/DeepSeek-R1", "h200_sxm", "64,1,1,8,8"), (8, 1, 1, 8));
    assert_eq!(layout("qwen_cfg736", "Qwen/Qwen3.5-397B-A17B", "b300_sxm", "4,1,1,2,2"), (4, 1, 2, 2));
    // An id whose layout agrees with the columns changes nothing; nor does a disaggregated-style
    // id (`tp4_0_ep4_0`) or one without EP (`tp8_epnone`).
    assert_eq!(layout("x_c4_tp8_ep1_20", "deepseek-ai/DeepSeek-R1", "b200_sxm", "8,1,1,8,1"), (8, 1, 8, 1));
    assert_eq!(layout("x_tp4_0_ep4_0_783", "deepseek-ai/DeepSeek-R1", "b200_sxm", "4,1,1,2,2"), (4, 1, 2, 2));
    assert_eq!(layout("x_c96_tp8_epnone_4", "deepseek-ai/DeepSeek-R1", "b200_sxm", "8,1,1,2,4"), (8, 1, 2, 4));
}

#[test]
fn the_benchmark_client_comes_from_the_source_column() {
    use tokenfab_aic::Harness;
    let row = |src: &str, system: &str| {
        rows(&format!(
            "a,{src},vllm,,meta-llama/Llama-3.1-70B,{system},fp8,agg,1024,1024,fp8,,8,8,1,1,8,1,,,,,,,,,,,,,,,100.0,10.0"
        ))
        .remove(0)
    };
    // InferenceX's dated sweep files, on single-node systems.
    assert_eq!(Harness::of(&row("source_file=2026-04-06.csv; model=Llama-3.1-70B", "h200_sxm")), Harness::InferenceX);
    assert_eq!(Harness::of(&row("source_file=2026-03-25.csv", "b200_sxm")), Harness::InferenceX);
    // Rack-scale rows run through Dynamo's sweep scripts; other sources are AIConfigurator's own.
    assert_eq!(Harness::of(&row("source_file=2026-04-06.csv; model=DeepSeek-R1", "gb200")), Harness::Aiperf);
    assert_eq!(
        Harness::of(&row("source_file=/Users/x/data/h100_sxm/trtllm/1.0.0rc3/m.csv", "h100_sxm")),
        Harness::Aiperf
    );
    assert_eq!(Harness::of(&row("source_file=qwen3.5-397b-gap-analysis.csv", "h200_sxm")), Harness::Aiperf);
    assert_eq!(Harness::of(&row("db-dump/2026-04-27; config_id=83", "h200_sxm")), Harness::Aiperf);
    assert_eq!(Harness::of(&row("", "h200_sxm")), Harness::Aiperf);
    // Not a date, whatever its length; multi-byte names never panic.
    assert_eq!(Harness::of(&row("source_file=2026-0x-06.csv", "h200_sxm")), Harness::Aiperf);
    assert_eq!(Harness::of(&row("source_file=ééééé.csv", "h200_sxm")), Harness::Aiperf);
}

#[test]
fn inferencex_rows_draw_shorter_prompts_than_their_nominal_length() {
    use tokenfab_aic::{SimKnobs, predict_simulated};
    let cat = Catalog::builtin();
    // One client: no queueing, so TTFT is one prompt's prefill (plus a step). InferenceX draws
    // prompts uniformly on [0.8 L, L] (mean 0.9 L); AIConfigurator's aiperf sends L exactly.
    let at = |src: &str| {
        let r = rows(&format!(
            "a,{src},vllm,,meta-llama/Llama-3.1-70B,h200_sxm,fp8,agg,8192,64,fp8,,1,8,1,1,8,1,,,,,,,,,,,,,,,100.0,10.0"
        ));
        let dep = map_row(&cat, &r[0]).unwrap();
        predict_simulated(&cat, &dep, &r[0], SimKnobs::default()).unwrap()
    };
    let aiperf = at("db-dump/2026-04-27");
    let ix = at("source_file=2026-04-06.csv");
    let ratio = ix.ttft_ms / aiperf.ttft_ms;
    assert!(ratio > 0.8 && ratio < 0.97, "InferenceX {ix:?} vs aiperf {aiperf:?}");
    // Deterministic: the draw is seeded.
    assert_eq!(at("source_file=2026-04-06.csv").ttft_ms, ix.ttft_ms);
    // `harness` overrides the source: the InferenceX row simulated as aiperf runs is the aiperf row.
    let r = rows(
        "a,source_file=2026-04-06.csv,vllm,,meta-llama/Llama-3.1-70B,h200_sxm,fp8,agg,8192,64,fp8,,1,8,1,1,8,1,,,,,,,,,,,,,,,100.0,10.0",
    );
    let dep = map_row(&cat, &r[0]).unwrap();
    let knobs = SimKnobs { harness: Some(tokenfab_aic::Harness::Aiperf), ..Default::default() };
    assert_eq!(predict_simulated(&cat, &dep, &r[0], knobs).unwrap(), aiperf);
}
