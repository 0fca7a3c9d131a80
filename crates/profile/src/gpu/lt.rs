//! cuBLASLt matmuls with descriptors and algorithm chosen once, then launched many times.
//!
//! Row-major C[m,n] = X[m,k] · W[n,k]ᵀ is column-major Dᵀ[n,m] = op(W)·X with W as cuBLASLt's
//! "A" (k×n, transposed) and X as "B" (k×m, not transposed): the TN layout, the only one fp8
//! supports on Hopper. fp8 operands are e4m3 with per-tensor fp32 scale pointers (1.0); every
//! output is bf16; accumulation is fp32.

use super::ck;
use crate::ProfileError;
use crate::grid::Dtype;
use cudarc::cublaslt::{result, sys};
use std::ffi::c_void;
use std::mem::size_of;

/// Algorithms requested from the heuristic (the first is what a plain cuBLASLt call would use).
const MAX_ALGOS: usize = 8;

/// One prepared (possibly strided-batched) matmul.
pub struct LtMatmul {
    handle: sys::cublasLtHandle_t,
    desc: sys::cublasLtMatmulDesc_t,
    a: sys::cublasLtMatrixLayout_t,
    b: sys::cublasLtMatrixLayout_t,
    c: sys::cublasLtMatrixLayout_t,
    /// Algorithms the heuristic proposed, best first (at least one).
    algos: Vec<sys::cublasLtMatmulAlgo_t>,
    selected: usize,
    workspace: u64,
    workspace_bytes: usize,
}

/// Shape of a prepared matmul.
#[derive(Debug, Clone, Copy)]
pub struct LtShape {
    /// Operand format.
    pub dtype: Dtype,
    /// Rows of X and C (tokens).
    pub m: u64,
    /// Rows of W, columns of C.
    pub n: u64,
    /// Reduction dimension.
    pub k: u64,
    /// Strided batch count (1 for a plain GEMM); each batch has its own W, X and C.
    pub batch: u64,
}

fn layout(
    dt: sys::cudaDataType,
    rows: u64,
    cols: u64,
    ld: u64,
    batch: u64,
) -> Result<sys::cublasLtMatrixLayout_t, ProfileError> {
    let l = ck("cublasLtMatrixLayoutCreate", result::create_matrix_layout(dt, rows, cols, ld as i64))?;
    if batch > 1 {
        let count = batch as i32;
        let stride = (rows * cols) as i64;
        // SAFETY: l is a live layout; the attribute buffers have the documented types and sizes.
        unsafe {
            ck(
                "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)",
                result::set_matrix_layout_attribute(
                    l,
                    sys::cublasLtMatrixLayoutAttribute_t::CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                    (&count) as *const i32 as *const c_void,
                    size_of::<i32>(),
                ),
            )?;
            ck(
                "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)",
                result::set_matrix_layout_attribute(
                    l,
                    sys::cublasLtMatrixLayoutAttribute_t::CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                    (&stride) as *const i64 as *const c_void,
                    size_of::<i64>(),
                ),
            )?;
        }
    }
    Ok(l)
}

fn set_desc<T>(
    desc: sys::cublasLtMatmulDesc_t,
    name: &str,
    attr: sys::cublasLtMatmulDescAttributes_t,
    v: &T,
) -> Result<(), ProfileError> {
    // SAFETY: desc is live; v points to a value of the attribute's documented type.
    let r = unsafe { result::set_matmul_desc_attribute(desc, attr, v as *const T as *const c_void, size_of::<T>()) };
    r.map_err(|e| ProfileError::Cuda {
        call: format!("cublasLtMatmulDescSetAttribute({name})"),
        detail: format!("{e:?}"),
    })
}

impl LtMatmul {
    /// Prepares a matmul and asks cuBLASLt's heuristic for its best algorithm. `scale_ptr` is a
    /// device pointer to an fp32 1.0 (used for fp8 A and B scales).
    pub(crate) fn new(
        handle: sys::cublasLtHandle_t,
        shape: LtShape,
        scale_ptr: u64,
        fast_accum: bool,
        workspace: u64,
        workspace_bytes: usize,
    ) -> Result<Self, ProfileError> {
        use sys::cudaDataType_t::{CUDA_R_8F_E4M3, CUDA_R_16BF, CUDA_R_32F};
        let in_dt = match shape.dtype {
            Dtype::Bf16 => CUDA_R_16BF,
            Dtype::Fp8 => CUDA_R_8F_E4M3,
        };
        let desc = ck(
            "cublasLtMatmulDescCreate",
            result::create_matmul_desc(sys::cublasComputeType_t::CUBLAS_COMPUTE_32F, CUDA_R_32F),
        )?;
        // Build the struct now so Drop releases whatever was created if a later step fails.
        let mut mm = LtMatmul {
            handle,
            desc,
            a: std::ptr::null_mut(),
            b: std::ptr::null_mut(),
            c: std::ptr::null_mut(),
            algos: Vec::new(),
            selected: 0,
            workspace,
            workspace_bytes,
        };
        use sys::cublasLtMatmulDescAttributes_t as A;
        // cublasOperation_t: CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 (cublasLt's sys module does not export it).
        let t: i32 = 1;
        let n: i32 = 0;
        set_desc(desc, "TRANSA", A::CUBLASLT_MATMUL_DESC_TRANSA, &t)?;
        set_desc(desc, "TRANSB", A::CUBLASLT_MATMUL_DESC_TRANSB, &n)?;
        if shape.dtype == Dtype::Fp8 {
            set_desc(desc, "A_SCALE_POINTER", A::CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &scale_ptr)?;
            set_desc(desc, "B_SCALE_POINTER", A::CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &scale_ptr)?;
            let fa: i8 = i8::from(fast_accum);
            set_desc(desc, "FAST_ACCUM", A::CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fa)?;
        }
        mm.a = layout(in_dt, shape.k, shape.n, shape.k, shape.batch)?;
        mm.b = layout(in_dt, shape.k, shape.m, shape.k, shape.batch)?;
        mm.c = layout(CUDA_R_16BF, shape.n, shape.m, shape.n, shape.batch)?;
        let pref = ck("cublasLtMatmulPreferenceCreate", result::create_matmul_pref())?;
        // SAFETY: pref is live; the attribute is a usize byte count.
        let set = unsafe {
            result::set_matmul_pref_attribute(
                pref,
                sys::cublasLtMatmulPreferenceAttributes_t::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                (&workspace_bytes) as *const usize as *const c_void,
                size_of::<usize>(),
            )
        };
        let heur = set.map_err(|e| e.0).and_then(|_| {
            // SAFETY: cublasLtMatmulHeuristicResult_t is plain data, filled by the call below.
            let mut results: Vec<sys::cublasLtMatmulHeuristicResult_t> =
                (0..MAX_ALGOS).map(|_| unsafe { std::mem::zeroed() }).collect();
            let mut count: std::ffi::c_int = 0;
            // SAFETY: every handle is live; C and D share a layout (D = C, beta = 0); the result
            // array holds MAX_ALGOS entries.
            let status = unsafe {
                sys::cublasLtMatmulAlgoGetHeuristic(
                    handle,
                    desc,
                    mm.a,
                    mm.b,
                    mm.c,
                    mm.c,
                    pref,
                    MAX_ALGOS as std::ffi::c_int,
                    results.as_mut_ptr(),
                    &mut count,
                )
            };
            status.result().map_err(|e| e.0)?;
            results.truncate(count.max(0) as usize);
            Ok(results)
        });
        // SAFETY: pref was created above and is not used after this.
        let destroyed = unsafe { result::destroy_matmul_pref(pref) };
        let heur = heur.map_err(|status| ProfileError::Cuda {
            call: "cublasLtMatmulAlgoGetHeuristic".into(),
            detail: format!("{status:?}"),
        })?;
        ck("cublasLtMatmulPreferenceDestroy", destroyed)?;
        mm.algos = heur
            .iter()
            .filter(|h| h.state == sys::cublasStatus_t::CUBLAS_STATUS_SUCCESS && h.workspaceSize <= workspace_bytes)
            .map(|h| h.algo)
            .collect();
        if mm.algos.is_empty() {
            return Err(ProfileError::Cuda {
                call: "cublasLtMatmulAlgoGetHeuristic".into(),
                detail: "CUBLAS_STATUS_NOT_SUPPORTED (no algorithm for this configuration)".into(),
            });
        }
        Ok(mm)
    }

    /// Enqueues D = op(W)·X on `stream`. Pointers are device addresses of buffers large enough for
    /// the prepared shape.
    pub(crate) fn launch(&self, w: u64, x: u64, c: u64, stream: sys::cudaStream_t) -> Result<(), ProfileError> {
        let alpha: f32 = 1.0;
        let beta: f32 = 0.0;
        // SAFETY: descriptors are live; the caller guarantees buffer sizes; alpha/beta are host fp32
        // (default host pointer mode, scale type fp32).
        let r = unsafe {
            result::matmul(
                self.handle,
                self.desc,
                (&alpha) as *const f32 as *const c_void,
                (&beta) as *const f32 as *const c_void,
                w as *const c_void,
                self.a,
                x as *const c_void,
                self.b,
                c as *const c_void,
                self.c,
                c as *mut c_void,
                self.c,
                &self.algos[self.selected],
                self.workspace as *mut c_void,
                self.workspace_bytes,
                stream,
            )
        };
        ck("cublasLtMatmul", r)
    }
}

impl LtMatmul {
    /// How many algorithms the heuristic proposed (usable with this workspace).
    pub fn algo_count(&self) -> usize {
        self.algos.len()
    }

    /// Launches use the heuristic's `i`-th proposal from now on (0 is its first choice).
    pub fn select(&mut self, i: usize) {
        self.selected = i.min(self.algos.len().saturating_sub(1));
    }
}

impl Drop for LtMatmul {
    fn drop(&mut self) {
        // SAFETY: each handle was created by this struct and is destroyed once; errors on teardown
        // cannot be acted on and are ignored.
        unsafe {
            for l in [self.a, self.b, self.c] {
                if !l.is_null() {
                    let _ = result::destroy_matrix_layout(l);
                }
            }
            let _ = result::destroy_matmul_desc(self.desc);
        }
    }
}
