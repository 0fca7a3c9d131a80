//! Tests of the `gpu` feature. Each needs something this machine may lack (NVRTC, a GPU) and
//! prints why it skips.
#![cfg(feature = "gpu")]

use tokenfab_profile::Settings;
use tokenfab_profile::gpu::{Gpu, kernels};

/// The kernel source compiles with NVRTC (needs only libnvrtc, no GPU).
#[test]
fn kernels_compile_with_nvrtc() {
    // SAFETY: only tries to open the library.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        println!("skipping: libnvrtc is not loadable here (set LD_LIBRARY_PATH to a CUDA lib directory to run this)");
        return;
    }
    for arch in [None, Some("compute_90")] {
        let opts = cudarc::nvrtc::CompileOptions { arch, ..Default::default() };
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(kernels::SOURCE, opts)
            .unwrap_or_else(|e| panic!("NVRTC failed for arch {arch:?}: {e:?}"));
        let text = ptx.to_src();
        for name in kernels::NAMES {
            assert!(text.contains(&format!(".entry {name}(")), "PTX lacks {name}");
        }
    }
}

/// On a GPU: the kernels and cuBLASLt calls agree with a CPU reference on small shapes.
#[test]
fn self_check_on_gpu() {
    let gpu = match Gpu::open(&Settings::default()) {
        Ok(g) => g,
        Err(e) => {
            println!("skipping: {e}");
            return;
        }
    };
    let report = gpu.self_check(tokenfab_profile::grid::Families::default()).unwrap();
    for line in &report {
        println!("{line}");
    }
}
