//! The binary fails cleanly (clear message, exit code 2, no panic) where it cannot measure.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokenfab-profile"))
}

#[test]
fn run_without_gpu_exits_2_with_message() {
    if cfg!(feature = "gpu") {
        // With the feature, the outcome depends on the machine: probe first.
        let probe = bin().arg("probe").output().unwrap();
        if probe.status.success() {
            println!("skipping the no-GPU path: this machine has a usable GPU");
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("tokenfab-profile-nogpu-{}", std::process::id()));
    let out = bin().args(["run", "--quick", "--out-dir"]).arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    if cfg!(feature = "gpu") {
        assert!(stderr.contains("no usable NVIDIA GPU"), "stderr: {stderr}");
    } else {
        assert!(stderr.contains("built without the `gpu` feature"), "stderr: {stderr}");
    }
    assert!(!dir.exists(), "no output directory is created when nothing was measured");
}

#[test]
fn probe_without_gpu_exits_2() {
    let out = bin().arg("probe").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        println!("skipping: this machine has a usable GPU");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.starts_with("error: "), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

#[test]
fn grid_needs_no_gpu() {
    let out = bin().args(["grid", "--ops", "gemm", "--quick"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "op,model,layers,dtype,m,n,k,batch,seq_len,context_len,heads,kv_heads,head_dim,experts,top_k,hidden,inter,tp"
        )
    );
    assert!(lines.all(|l| l.starts_with("gemm,")));
}

#[test]
fn bad_family_is_a_usage_error() {
    let out = bin().args(["grid", "--ops", "gemm,conv"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("unknown op family `conv`"), "stderr: {stderr}");
}
