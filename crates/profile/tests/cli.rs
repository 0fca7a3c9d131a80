//! Snapshots of the GPU-free subcommands' output.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokenfab-profile"))
}

fn reference(name: &str) -> String {
    format!("{}/../../calibration/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn compare_markdown_snapshot() {
    let dir = std::env::temp_dir().join(format!("tokenfab-profile-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = dir.join("ours-ops.csv");
    std::fs::write(
        &ours,
        "# tokenfab-profile operator table\n\
         op,model,layers,dtype,m,n,k,batch,seq_len,context_len,heads,kv_heads,head_dim,experts,top_k,hidden,inter,tp,backend,latency_ms\n\
         gemm,,,bf16,1,6144,4096,,,,,,,,,,,,cublaslt,0.031\n\
         gemm,,,bf16,16384,6144,4096,,,,,,,,,,,,cublaslt,1.40\n\
         gemm,,,fp8,1,6144,4096,,,,,,,,,,,,cublaslt,0.0185\n\
         attn_decode,,,bf16,,,,8,,8192,32,8,128,,,,,,nvrtc-tiled,0.15\n\
         moe_ffn,,,bf16,16,,,,,,,,,8,2,4096,14336,,cublaslt-batched,0.5\n",
    )
    .unwrap();
    let ceilings = dir.join("ours-ceilings.csv");
    std::fs::write(
        &ceilings,
        "measure,value,unit,how\ncopy_bandwidth_burst,2.95,TB/s,x\ngemm_bf16_8192_burst,700.0,TFLOP/s,x\n",
    )
    .unwrap();
    let out = bin()
        .arg("compare")
        .arg("--ours")
        .arg(&ours)
        .arg("--reference")
        .arg(reference("h100-sxm-ops.csv"))
        .arg("--ours-ceilings")
        .arg(&ceilings)
        .arg("--reference-ceilings")
        .arg(reference("h100-sxm-ceilings.csv"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // The header names the files by path; keep only what follows it.
    let body = text.split_once("\n\n").map(|(_, b)| b).unwrap_or(&text);
    insta::assert_snapshot!(body);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn quick_grid_snapshot() {
    let out = bin().args(["grid", "--quick", "--ops", "attn,moe"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}
