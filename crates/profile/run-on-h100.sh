#!/usr/bin/env bash
# Build tokenfab-profile with CUDA support here, then run it on a GPU machine.
#
# Building needs no CUDA toolkit: cudarc loads libcuda / cuBLASLt / NVRTC at run time and
# nvml-wrapper loads libnvidia-ml at run time. The GPU machine needs the NVIDIA driver plus the
# CUDA 13 (or 12) cuBLASLt and NVRTC libraries; on the machines this project is lent they come
# with the PyTorch virtual environment, so LD_LIBRARY_PATH is pointed at its nvidia/*/lib folders.
#
# Usage
#   crates/profile/run-on-h100.sh build            # here: release build with --features gpu
#   crates/profile/run-on-h100.sh check            # on the GPU machine: device info + self-check
#   crates/profile/run-on-h100.sh run [OUT_DIR]    # on the GPU machine: full profile (~3-5 min)
#   crates/profile/run-on-h100.sh quick [OUT_DIR]  # on the GPU machine: smoke run (~1 min)
#
# With the project's `device` tool (the command runs in the repository root there), carry the
# binary built here, which lives under the git-ignored target/ folder:
#   run(command="crates/profile/run-on-h100.sh run $OUT/calibration",
#       carry=["target/release/tokenfab-profile"])
# The tables come back under files_at: calibration/h100-sxm-profiled-ops.csv (GEMM + MoE),
# -ceilings.csv, -attn-nvrtc.csv (attention through the NVRTC fallback kernels), and
# -compare.md / -attn-nvrtc-compare.md (shape-by-shape comparison with calibration/h100-sxm-*.csv).
#
# Environment
#   TOKENFAB_PROFILE_BIN   binary to run (default: target/release/tokenfab-profile)
#   TORCH_VENV             PyTorch venv holding the CUDA wheels (default: /opt/torch/.venv)
#   PROFILE_NAME           table name prefix (default: h100-sxm-profiled)
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${TOKENFAB_PROFILE_BIN:-target/release/tokenfab-profile}"
VENV="${TORCH_VENV:-/opt/torch/.venv}"
NAME="${PROFILE_NAME:-h100-sxm-profiled}"

cuda_env() {
    # Every lib folder of the NVIDIA wheels (nvidia/cublas/lib, nvidia/cu13/lib, ...), first.
    local dirs=() d
    for d in "$VENV"/lib/python3*/site-packages/nvidia/*/lib; do
        [ -d "$d" ] && dirs+=("$d")
    done
    if [ "${#dirs[@]}" -eq 0 ]; then
        echo "warning: no CUDA wheel libraries under $VENV; relying on the system library path" >&2
    else
        LD_LIBRARY_PATH="$(IFS=:; echo "${dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        export LD_LIBRARY_PATH
    fi
    if [ ! -x "$BIN" ]; then
        echo "error: $BIN not found; run '$0 build' on the build machine and carry it here" >&2
        exit 1
    fi
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv || true
}

case "${1:-}" in
    build)
        cargo build --release -p tokenfab-profile --features gpu
        ls -la target/release/tokenfab-profile
        ;;
    check)
        cuda_env
        "$BIN" check
        ;;
    run | quick)
        cuda_env
        out="${2:-calibration}"
        extra=()
        [ "$1" = quick ] && extra=(--quick --sustain-s 2 --idle-s 2)
        rc=0
        "$BIN" run --out-dir "$out" --name "$NAME" "${extra[@]}" || rc=$?
        # Compare with the reference tables (the repository's copy of ../shared/calibration).
        if [ -f "$out/$NAME-ops.csv" ] && [ -f "$out/$NAME-ceilings.csv" ]; then
            "$BIN" compare --ours "$out/$NAME-ops.csv" --reference calibration/h100-sxm-ops.csv \
                --ours-ceilings "$out/$NAME-ceilings.csv" --reference-ceilings calibration/h100-sxm-ceilings.csv \
                --output "$out/$NAME-compare.md" && cat "$out/$NAME-compare.md"
        fi
        if [ -f "$out/$NAME-attn-nvrtc.csv" ]; then
            "$BIN" compare --ours "$out/$NAME-attn-nvrtc.csv" --reference calibration/h100-sxm-ops.csv \
                --output "$out/$NAME-attn-nvrtc-compare.md"
        fi
        exit "$rc"
        ;;
    *)
        sed -n '2,30p' "$0"
        exit 2
        ;;
esac
