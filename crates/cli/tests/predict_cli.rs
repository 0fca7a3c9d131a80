//! `tokenfab predict` / `step` / `validate ops` end to end (Contract 1 and 2).
use std::process::Command;

fn tokenfab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tokenfab")).args(args).output().expect("run tokenfab")
}

#[test]
fn predict_keeps_every_column_and_flags_bad_rows() {
    let dir = std::env::temp_dir().join(format!("tokenfab-predict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("ops.csv");
    let output = dir.join("preds.csv");
    std::fs::write(
        &input,
        "op,model,dtype,m,n,k,batch,seq_len,context_len,heads,kv_heads,head_dim,tp,note\n\
         gemm,,bf16,4096,4096,4096,,,,,,,,keep me\n\
         attn_decode,,bf16,,,,32,,2048,32,8,128,,\n\
         decode_step,llama-3.1-8b,bf16,,,,16,,1024,,,,1,\n\
         prefill_step,llama-3.1-8b,fp8,,,,1,2048,,,,,2,\n\
         gemm,,fp4,1,1,1,,,,,,,,fp4 on hopper\n\
         bogus,,,,,,,,,,,,,\n",
    )
    .unwrap();
    let out = tokenfab(&[
        "predict",
        "--chip",
        "h100-sxm",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "op,model,dtype,m,n,k,batch,seq_len,context_len,heads,kv_heads,head_dim,tp,note,pred_ms,pred_power_w,pred_bound,error"
    );
    assert_eq!(lines.len(), 7);
    assert!(lines[1].contains("keep me"));
    for l in &lines[1..5] {
        let cols: Vec<&str> = l.split(',').collect();
        let ms: f64 = cols[14].parse().unwrap_or_else(|_| panic!("no pred_ms in {l}"));
        assert!(ms > 0.0, "{l}");
        assert!(["compute", "memory", "network", "overhead"].contains(&cols[16]), "{l}");
    }
    assert!(lines[5].contains("no fp4 tensor support"), "{}", lines[5]);
    assert!(lines[6].contains("unknown op `bogus`"), "{}", lines[6]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 6") && stderr.contains("line 7"), "{stderr}");
}

#[test]
fn predict_missing_file_is_a_clear_error() {
    let out = tokenfab(&["predict", "--chip", "h100-sxm", "--input", "/nonexistent/ops.csv", "--output", "/tmp/x.csv"]);
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("cannot read /nonexistent/ops.csv"), "{e}");
}

#[test]
fn step_json_has_the_breakdown() {
    let out = tokenfab(&[
        "step",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--batch",
        "8",
        "--context",
        "1024",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bound"], "memory");
    let classes = v["classes"].as_array().unwrap();
    let share: f64 = classes.iter().map(|c| c["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-6, "{share}");
}

#[test]
fn step_rejects_tp_beyond_the_domain() {
    let out = tokenfab(&["step", "--model", "llama-3.1-8b", "--chip", "h100-sxm", "--tp", "16", "--batch", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scale-up domain"));
}

/// Attention data parallelism: each rank holds its own share of the batch's KV, so the per-chip
/// KV shrinks with the ranks while the MoE layers span all chips.
#[test]
fn step_with_attention_dp_splits_the_batch_over_ranks() {
    let run = |dp: &str, ep: &str| {
        let out = tokenfab(&[
            "step",
            "--model",
            "deepseek-r1",
            "--chip",
            "b200",
            "--attn-dp",
            dp,
            "--ep",
            ep,
            "--batch",
            "512",
            "--context",
            "2048",
            "--dtype",
            "fp4",
            "--json",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (four, eight) = (run("4", "4"), run("8", "8"));
    assert_eq!(four["attn_dp"], 4);
    let kv = |j: &serde_json::Value| j["kv_gb_per_chip"].as_f64().unwrap();
    assert!((kv(&four) / kv(&eight) - 2.0).abs() < 1e-9, "{} vs {}", kv(&four), kv(&eight));
    let bad = tokenfab(&["step", "--model", "deepseek-r1", "--chip", "b200", "--attn-dp", "8", "--ep", "3"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--ep 3 must divide"));
}

#[test]
fn validate_ops_cross_validates_the_builtin_table() {
    let table = concat!(env!("CARGO_MANIFEST_DIR"), "/../../calibration/h100-sxm-ops.csv");
    let out = tokenfab(&["validate", "ops", "--chip", "h100-sxm", "--input", table, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mode"], "cv");
    let all = v["classes"].as_array().unwrap().iter().find(|c| c["class"] == "all").unwrap().clone();
    assert_eq!(all["count"], 161);
}

/// `validate aic` on a few hand-written rows (the format of AIConfigurator's silicon table; the
/// numbers are illustrative): tables, the request-path picks, the per-row CSV with the simulated
/// TTFT beside the reported one, and unmodellable rows listed with a reason.
/// Writes the hand-written AIC rows into a fresh directory; returns (dir, rows file).
fn aic_rows(tag: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("tokenfab-aic-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("rows.csv");
    let header = "id,silicon_data_source,backend,backend_version,model_path,system,precision,mode,isl,osl,\
        gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,\
        silicon_ttft_ms,silicon_tpot_ms";
    let rows = [
        "a8,src,trtllm,1.0,meta-llama/Llama-3.1-8B-Instruct,h100_sxm,,agg,1024,128,,,8,1,1,,1,1,191,7.9",
        "a8b,src,trtllm,1.0,meta-llama/Llama-3.1-8B-Instruct,h100_sxm,,agg,1024,128,,,8,2,1,,1,1,129,5.2",
        "q32,src,trtllm,1.0,Qwen/Qwen3-32B,h100_sxm,fp8,agg,1024,128,fp8,fp8,8,2,1,,1,1,165,11.9",
        "bad,src,trtllm,1.0,no/such-model,h100_sxm,,agg,1024,128,,,8,1,1,,1,1,100,5.0",
    ];
    std::fs::write(&input, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    (dir, input)
}

#[test]
fn validate_aic_reports_slices_and_request_path() {
    let (dir, input) = aic_rows("slices");
    let output = dir.join("preds.csv");
    let out = tokenfab(&["validate", "aic", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("TTFT MAPE %") && stdout.contains("h100_sxm"), "{stdout}");
    assert!(stdout.contains("request-path time"), "{stdout}");
    assert!(stdout.contains("1 row(s) could not be modelled") && stdout.contains("no/such-model"), "{stdout}");
    let csv = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("id,pred_ttft_ms,pred_tpot_ms,sim_ttft_ms,"), "{}", lines[0]);
    assert!(lines[0].ends_with(",layout,formats"), "{}", lines[0]);
    assert_eq!(lines.len(), 5);
    // Each modelled row says how it was read: layout and weight/expert/KV formats.
    let q32 = lines.iter().find(|l| l.starts_with("q32,")).unwrap();
    assert!(q32.ends_with(",tp2 pp1 dp1 moe_tp2 ep1,fp8/fp8/fp8"), "{q32}");
    // Reported TTFT = simulated TTFT + the request-path time, never less.
    for l in &lines[1..4] {
        let f: Vec<&str> = l.split(',').collect();
        let (pred, sim): (f64, f64) = (f[1].parse().unwrap(), f[3].parse().unwrap());
        assert!(pred >= sim && sim > 0.0, "{l}");
    }
    // Without the request-path term the two columns agree.
    let out = tokenfab(&[
        "validate",
        "aic",
        "--no-request-path",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let csv = std::fs::read_to_string(&output).unwrap();
    for l in csv.lines().skip(1).take(3) {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f[1], f[3], "{l}");
    }
}

/// The engine knobs `validate aic` can fix for a what-if: host time per running sequence slows
/// decoding, drafting speeds it up, and out-of-range values are refused with the flag's name.
#[test]
fn validate_aic_engine_knobs_move_tpot_the_right_way() {
    let (dir, input) = aic_rows("knobs");
    let tpot = |extra: &[&str]| -> Vec<f64> {
        let output = dir.join("knobs.csv");
        let mut args = vec!["validate", "aic", "--kernel-overhead-scale", "1", "--input", input.to_str().unwrap()];
        args.extend_from_slice(&["--output", output.to_str().unwrap()]);
        args.extend_from_slice(extra);
        let out = tokenfab(&args);
        assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        let csv = std::fs::read_to_string(&output).unwrap();
        csv.lines().skip(1).take(3).map(|l| l.split(',').nth(2).unwrap().parse().unwrap()).collect()
    };
    let base = tpot(&["--host-per-step-ms", "0.3", "--host-per-seq-us", "0"]);
    let busy = tpot(&["--host-per-step-ms", "0.3", "--host-per-seq-us", "5000"]);
    let drafted = tpot(&["--speculative-tokens", "2", "--speculative-acceptance", "0.9"]);
    for i in 0..3 {
        // 8 clients × 5 ms = 40 ms of host time per step: more than the device time, so it sets
        // the pace even where an overlap scheduler hides host work behind the device.
        assert!(busy[i] > base[i] + 10.0, "row {i}: {} vs {}", busy[i], base[i]);
        assert!(drafted[i] < base[i], "row {i}: {} vs {}", drafted[i], base[i]);
    }
    for (args, flag) in [
        (vec!["--host-per-step-ms=-1", "--host-per-seq-us", "0"], "--host-per-step-ms"),
        (vec!["--speculative-tokens", "2", "--speculative-acceptance", "1.5"], "--speculative-acceptance"),
        (vec!["--host-per-seq-us", "5"], "--host-per-step-ms"),
    ] {
        let mut all = vec!["validate", "aic", "--input", input.to_str().unwrap()];
        all.extend_from_slice(&args);
        let out = tokenfab(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(flag), "{args:?}: {err}");
    }
}

/// `--calibrate deployment`: a deployment measured at several shapes, all 2 × slower than the
/// performance model, is predicted on each held-out shape with the scale its other shapes give;
/// a deployment with one shape keeps the defaults; the analytic model refuses the flag.
#[test]
fn validate_aic_calibrates_per_deployment_on_other_shapes() {
    let dir = std::env::temp_dir().join(format!("tokenfab-aic-cal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("rows.csv");
    let output = dir.join("preds.csv");
    let header = "id,silicon_data_source,backend,backend_version,model_path,system,precision,mode,isl,osl,\
        gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,moe_tp_size,moe_ep_size,\
        silicon_ttft_ms,silicon_tpot_ms";
    // First the plain simulation of the rows (measured values are placeholders here).
    let shapes = [(1024, 128), (2048, 128), (1024, 512), (4096, 256)];
    let line = |id: &str, build: &str, (isl, osl): (u32, u32), ttft: f64, tpot: f64| {
        format!(
            "{id},src,trtllm,{build},meta-llama/Llama-3.1-8B-Instruct,h100_sxm,,agg,{isl},{osl},,,8,1,1,,1,1,{ttft},{tpot}"
        )
    };
    let mut rows: Vec<String> =
        shapes.iter().enumerate().map(|(i, &s)| line(&format!("a{i}"), "1.0", s, 100.0, 10.0)).collect();
    rows.push(line("b0", "2.0", (1024, 128), 100.0, 10.0));
    std::fs::write(&input, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let args = |extra: &[&str]| {
        let mut v = vec!["validate", "aic", "--kernel-overhead-scale", "1", "--input", input.to_str().unwrap()];
        v.extend_from_slice(&["--output", output.to_str().unwrap()]);
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| -> Vec<Vec<String>> {
        let a = args(extra);
        let out = tokenfab(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let csv = std::fs::read_to_string(&output).unwrap();
        csv.lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect()
    };
    let plain = run(&["--no-request-path"]);
    // "Measure" every shape 2 × slower than simulated (TTFT 1.5 × + 30 ms).
    let mut rows = Vec::new();
    for (i, r) in plain.iter().enumerate() {
        let (ttft, tpot): (f64, f64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        let (id, build, shape) =
            if i < shapes.len() { (format!("a{i}"), "1.0", shapes[i]) } else { ("b0".into(), "2.0", (1024, 128)) };
        rows.push(line(&id, build, shape, ttft * 1.5 + 30.0, 2.0 * tpot));
    }
    std::fs::write(&input, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    let a = args(&["--calibrate", "deployment"]);
    let out = tokenfab(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Calibrated per deployment") && stdout.contains("4 of 5"), "{stdout}");
    let cal: Vec<Vec<String>> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    for r in &cal[..shapes.len()] {
        let (pred, meas): (f64, f64) = (r[2].parse().unwrap(), r[12].parse().unwrap());
        assert_eq!(r[15], "2", "device scale of {}", r[0]);
        assert!((pred / meas - 1.0).abs() < 0.02, "{}: {pred} vs {meas}", r[0]);
    }
    // One shape only: no calibration, the plain simulation (2 × too fast).
    assert_eq!(cal[4][15], "");
    let (pred, meas): (f64, f64) = (cal[4][2].parse().unwrap(), cal[4][12].parse().unwrap());
    assert!(pred < 0.6 * meas, "{pred} vs {meas}");
    let a = args(&["--calibrate", "deployment", "--model", "analytic"]);
    let out = tokenfab(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--calibrate"));
}

/// `validate throughput` on hand-written rows in the format of perf_published.csv (the numbers
/// are illustrative): tables per slice, skipped rows with their reason, the per-row CSV, and a
/// more-GPU deployment predicted at a different per-GPU rate.
#[test]
fn validate_throughput_simulates_overview_rows_and_lists_the_rest() {
    let dir = std::env::temp_dir().join(format!("tokenfab-published-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("published.csv");
    let head = "category,status,benchmark_or_source,model,precision,hardware,num_accel,parallelism,framework,isl,osl,\
        scenario_or_constraint,metric,value,unit,per_accel,source,notes";
    let src = "\"TensorRT-LLM perf overview (trtllm-bench throughput, max load)\"";
    let rows = [
        format!("throughput,official,{src},Llama-3.1-8B,FP8,H100,1,TP1,TRT-LLM,1024,1024,offline max throughput,output tokens/s per GPU,15000,tok/s/GPU,15000,x,"),
        format!("throughput,official,{src},Llama-3.3-70B,FP8,H200,1,TP1,TRT-LLM,1024,1024,offline max throughput,output tokens/s per GPU,2900,tok/s/GPU,2900,x,"),
        format!("throughput,official,{src},No-Such-Model,FP8,H100,1,TP1,TRT-LLM,128,128,offline max throughput,output tokens/s per GPU,1000,tok/s/GPU,1000,x,"),
        "throughput,official,MLPerf Inference v5.1 closed,llama2-70b-99,FP8,H100,8,TP1,TRT-LLM,,,Offline,system tokens/s,30000,tok/s,,x,".to_string(),
    ];
    std::fs::write(&input, format!("{head}\n{}\n", rows.join("\n"))).unwrap();
    let output = dir.join("rows.csv");
    let out =
        tokenfab(&["validate", "throughput", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("median predicted/measured") && stdout.contains("H200"), "{stdout}");
    assert!(stdout.contains("2 row(s) not modelled") && stdout.contains("No-Such-Model"), "{stdout}");
    assert!(stdout.contains("not a TensorRT-LLM performance-overview offline-throughput row"), "{stdout}");
    let csv = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("line,model,precision,hardware,parallelism,isl,osl,measured_tok_s_per_gpu,pred"));
    assert_eq!(lines.len(), 4, "three overview rows: two predicted, one failed");
    let pred = |l: &str| l.split(',').nth(8).unwrap().parse::<f64>().unwrap();
    let (small, big) = (pred(lines[1]), pred(lines[2]));
    assert!(small > 3.0 * big && big > 0.0, "an 8B model serves more tokens per GPU than a 70B: {small} vs {big}");
    // More host time per step and per sequence can only slow the engine down; host work overlaps
    // the device's (TensorRT-LLM's overlap scheduler), so 50 ms a step shows where 1.5 may not.
    let slow = dir.join("rows-host.csv");
    let out = tokenfab(&[
        "validate",
        "throughput",
        "--input",
        input.to_str().unwrap(),
        "--output",
        slow.to_str().unwrap(),
        "--host-per-step-ms",
        "50",
        "--host-per-seq-us",
        "40",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = std::fs::read_to_string(&slow).unwrap();
    let host: Vec<f64> = csv.lines().skip(1).take(2).map(pred).collect();
    assert!(host[0] < small && host[1] < big, "{host:?} vs {small}, {big}");
    // One of the pair alone is a usage error; a negative time is refused with the flags named.
    let out = tokenfab(&["validate", "throughput", "--input", input.to_str().unwrap(), "--host-per-step-ms", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = tokenfab(&[
        "validate",
        "throughput",
        "--input",
        input.to_str().unwrap(),
        "--host-per-step-ms=-1",
        "--host-per-seq-us=0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--host-per-step-ms"));
    // A missing file is a clear error naming it.
    let out = tokenfab(&["validate", "throughput", "--input", "/no/such/published.csv"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/published.csv"));
}

/// `validate mlperf` on hand-written rows in the format of mlperf_v51_llm_results.csv (the
/// numbers are illustrative): llama2-70b rows on catalog accelerators are simulated at their best
/// layout (Offline; Server as a rate search under its p99 bounds), the rest listed with the
/// reason, and the per-row CSV is written.
#[test]
fn validate_mlperf_simulates_offline_rows_and_lists_the_rest() {
    let dir = std::env::temp_dir().join(format!("tokenfab-mlperf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("mlperf.csv");
    let head = "id,division,availability,submitter,platform,accelerator,num_accel,model,scenario,tokens_per_s,\
        tokens_per_s_per_accel,weights,software,details_url,source";
    let rows = [
        "5.1-0001,closed,available,A,p,AMD Instinct MI300X 192GB HBM3,8,llama2-70b-99,Offline,28000,3500,fp8,vLLM,u,s",
        "5.1-0007,closed,available,N,p,NVIDIA H200-SXM-141GB,8,llama2-70b-99,Offline,35000,4375,fp8,TensorRT 10.11,u,s",
        "5.1-0016,closed,available,C,p,NVIDIA H100-SXM-80GB,16,llama2-70b-99,Offline,62000,3875,fp8,TensorRT 10.8,u,s",
        "5.1-0024,closed,available,D,p,NVIDIA B200-SXM-180GB,8,gptj-99,Offline,143000,17900,fp4,TensorRT 10.11,u,s",
        "5.1-0007,closed,available,N,p,NVIDIA H200-SXM-141GB,8,llama2-70b-99,Server,33000,4125,fp8,TensorRT 10.11,u,s",
    ];
    std::fs::write(&input, format!("{head}\n{}\n", rows.join("\n"))).unwrap();
    let output = dir.join("rows.csv");
    let out =
        tokenfab(&["validate", "mlperf", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("mi300x") && stdout.contains("h200-sxm") && stdout.contains("relative MAPE"), "{stdout}");
    assert!(stdout.contains("1 row(s) not simulated") && stdout.contains("gptj-99"), "{stdout}");
    // Relative figures divide by the benchmark's H200 Offline rows.
    assert!(stdout.contains("h200-sxm Offline rows (llama2-70b-99 "), "{stdout}");
    // Server: the highest Poisson rate whose p99 TTFT and TPOT meet the bounds, below Offline's.
    assert!(stdout.contains("llama2-70b-99 Server") && stdout.contains("llama2-70b-99 Offline"), "{stdout}");
    let csv = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("line,id,submitter,accelerator,num_accel,model,scenario,weights,chip,engine,best_layout")
    );
    assert_eq!(lines.len(), 6, "every row, simulated or not");
    let field = |l: &str, i: usize| l.split(',').nth(i).unwrap().to_string();
    // H100 (80 GB) cannot hold Llama-2-70B fp8 with room to batch at tp 1: a wider layout wins.
    assert_ne!(field(lines[3], 10), "tp1", "{}", lines[3]);
    for l in lines[1..4].iter().chain(&lines[5..6]) {
        assert!(field(l, 12).parse::<f64>().unwrap() > 0.0, "{l}");
    }
    let pred = |l: &str| field(l, 12).parse::<f64>().unwrap();
    assert!(pred(lines[5]) <= pred(lines[2]) * 1.0001, "Server {} vs Offline {}", lines[5], lines[2]);
    // Bad input names the file and line.
    std::fs::write(&input, format!("{head}\n{}\n", rows[0].replace("28000", "many"))).unwrap();
    let out = tokenfab(&["validate", "mlperf", "--input", input.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("tokens_per_s"), "{err}");
}

#[test]
fn step_prices_fp4_experts_on_hopper_at_the_bf16_rate_and_says_so() {
    let run = |chip: &str, moe: &str| {
        let out = tokenfab(&[
            "step",
            "--model",
            "gpt-oss-120b",
            "--chip",
            chip,
            "--batch",
            "64",
            "--context",
            "1500",
            "--moe-dtype",
            moe,
            "--json",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let hopper = run("h200-sxm", "fp4");
    let notes = hopper["notes"].as_array().unwrap();
    assert!(notes.len() == 1 && notes[0].as_str().unwrap().contains("bf16 rate"), "{notes:?}");
    // fp4 experts hold a quarter of bf16's bytes: the MoE weights per chip shrink accordingly.
    let bf16 = run("h200-sxm", "bf16");
    let w = |j: &serde_json::Value| j["weights_gb_per_chip"].as_f64().unwrap();
    assert!(w(&hopper) < 0.4 * w(&bf16), "{} vs {}", w(&hopper), w(&bf16));
    assert!(bf16["notes"].as_array().unwrap().is_empty());
    // Blackwell has fp4 tensor cores: no note.
    assert!(run("b200", "fp4")["notes"].as_array().unwrap().is_empty());
}

#[test]
fn a_reader_that_stops_early_is_not_a_panic() {
    // `tokenfab plan --print-scenario | head -1`: the reader closes the pipe; the write fails with a
    // broken pipe, which ends the command quietly (exit 0), like other Unix tools.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenfab"))
        .args(["plan", "--print-scenario"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run tokenfab");
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?} {err}", out.status);
}

#[test]
fn validate_aic_with_no_row_it_can_model_says_so_and_exits_3() {
    let (dir, input) = aic_rows("none");
    let text = std::fs::read_to_string(&input).unwrap();
    let only_bad: Vec<&str> = text.lines().filter(|l| l.starts_with("id,") || l.starts_with("bad,")).collect();
    let input = dir.join("bad-only.csv");
    std::fs::write(&input, only_bad.join("\n") + "\n").unwrap();
    let out = tokenfab(&["validate", "aic", "--input", input.to_str().unwrap()]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("none of the 1 rows could be modelled"), "{stderr}");
    assert!(!stdout.contains("NaN") && stdout.contains("no/such-model"), "{stdout}");
    // A file without the measured columns, or without rows, is refused with its name.
    for (name, body) in [("no-cols.csv", "id,backend\nx,vllm\n"), ("empty.csv", "")] {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        let out = tokenfab(&["validate", "aic", "--input", p.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(p.to_str().unwrap()) && stderr.contains("missing column"), "{stderr}");
    }
    let header_only = dir.join("header-only.csv");
    std::fs::write(&header_only, format!("{}\n", only_bad[0])).unwrap();
    let out = tokenfab(&["validate", "aic", "--input", header_only.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no data rows"));
}

#[test]
fn step_refuses_an_empty_batch_or_prompt() {
    for args in [["--batch", "0"], ["--prefill", "0"], ["--ep", "0"]] {
        let mut all = vec!["step"];
        all.extend(args);
        let out = tokenfab(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(args[0]) && !stderr.contains("panicked"), "{stderr}");
    }
}
