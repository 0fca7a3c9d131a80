//! CUDA measurements (feature `gpu`): cuBLASLt GEMMs, NVRTC attention kernels, device copies,
//! NVML power and clocks.
//!
//! Every library is loaded at run time (cudarc's dynamic loading, nvml-wrapper's libloading), so
//! a binary built with `gpu` starts on a machine without CUDA and [`Gpu::open`] says what is
//! missing. Every CUDA call is checked; errors carry the call's name. Timing uses CUDA events
//! around each repeat, after warm-up, optionally after overwriting L2; tables hold the median.

mod check;
pub mod kernels;
pub mod lt;
pub mod power;

use crate::grid::{Dtype, OpCase, moe_layout};
use crate::table::{Ceiling, OpMeasurement, Provenance};
use crate::{ProfileError, Settings, random, stats};
use cudarc::driver::{
    CudaContext, CudaEvent, CudaFunction, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PushKernelArg,
};
use cudarc::driver::{result as dres, sys as dsys};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Maps a CUDA-library result to [`ProfileError::Cuda`] naming the call.
pub(crate) fn ck<T, E: std::fmt::Debug>(call: &str, r: Result<T, E>) -> Result<T, ProfileError> {
    r.map_err(|e| ProfileError::Cuda { call: call.to_string(), detail: format!("{e:?}") })
}

/// Checks, without panicking, that the driver, cuBLASLt and NVRTC can be loaded.
pub fn check_libraries() -> Result<(), ProfileError> {
    // SAFETY: these only try to open the shared libraries and close them again.
    let (driver, blaslt, nvrtc) = unsafe {
        (
            cudarc::driver::sys::is_culib_present(),
            cudarc::cublaslt::sys::is_culib_present(),
            cudarc::nvrtc::sys::is_culib_present(),
        )
    };
    if !driver {
        return Err(ProfileError::NoGpu(
            "the NVIDIA driver library (libcuda.so.1) could not be loaded: this machine has no NVIDIA driver".into(),
        ));
    }
    let hint = "put the CUDA libraries on LD_LIBRARY_PATH (see crates/profile/run-on-h100.sh)";
    if !blaslt {
        return Err(ProfileError::NoGpu(format!("cuBLASLt (libcublasLt.so.13 or .so.12) could not be loaded; {hint}")));
    }
    if !nvrtc {
        return Err(ProfileError::NoGpu(format!("NVRTC (libnvrtc.so.13 or .so.12) could not be loaded; {hint}")));
    }
    Ok(())
}

/// The device being profiled.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// Marketing name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Compute capability.
    pub compute_capability: (i32, i32),
    /// Streaming multiprocessors.
    pub sms: u64,
    /// Device memory, bytes.
    pub memory_bytes: usize,
    /// UUID as NVML spells it.
    pub uuid: String,
}

/// An open GPU with everything the measurements share.
pub struct Gpu {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    lt: cudarc::cublaslt::sys::cublasLtHandle_t,
    workspace: CudaSlice<u8>,
    flush: CudaSlice<u8>,
    scale: CudaSlice<f32>,
    funcs: Result<BTreeMap<&'static str, CudaFunction>, String>,
    power: Result<power::Power, String>,
    /// What the device is.
    pub info: DeviceInfo,
    settings: Settings,
}

/// Bytes of the L2-flush buffer (H100 L2 is 50 MB).
const FLUSH_BYTES: usize = 256 << 20;
/// cuBLASLt workspace (NVIDIA's recommendation for Hopper).
const WORKSPACE_BYTES: usize = 32 << 20;
/// Size of the random pattern tiled over each buffer.
const PATTERN_BYTES: usize = 4 << 20;

impl Drop for Gpu {
    fn drop(&mut self) {
        // SAFETY: the handle was created in `open` and is destroyed once.
        unsafe {
            let _ = cudarc::cublaslt::result::destroy_handle(self.lt);
        }
    }
}

impl Gpu {
    /// Opens device `settings.device`: context, stream, cuBLASLt handle, NVRTC kernels, NVML.
    pub fn open(settings: &Settings) -> Result<Self, ProfileError> {
        check_libraries()?;
        let ctx = CudaContext::new(settings.device).map_err(|e| {
            ProfileError::NoGpu(format!("cuInit/cuDeviceGet for device {} failed: {e:?}", settings.device))
        })?;
        // One stream, so cudarc's cross-stream event tracking is not needed (and would add
        // event records around every launch).
        // SAFETY: no slice exists yet; all work goes to one stream.
        unsafe { ctx.disable_event_tracking() };
        let stream = ck("cuStreamCreate", ctx.new_stream())?;
        let name = ck("cuDeviceGetName", ctx.name())?;
        let compute_capability = ck("cuDeviceGetAttribute(COMPUTE_CAPABILITY)", ctx.compute_capability())?;
        let sms = ck(
            "cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)",
            ctx.attribute(dsys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
        )? as u64;
        let memory_bytes = ck("cuDeviceTotalMem", ctx.total_mem())?;
        let raw = ck("cuDeviceGetUuid", ctx.uuid())?;
        let uuid = power::uuid_string(&raw.bytes.map(|b| b as u8));
        let lt = ck("cublasLtCreate", cudarc::cublaslt::result::create_handle())?;
        // SAFETY: buffers are written before they are read (workspace and flush are scratch).
        let workspace = ck("cuMemAlloc(workspace)", unsafe { stream.alloc::<u8>(WORKSPACE_BYTES) });
        let flush = ck("cuMemAlloc(flush)", unsafe { stream.alloc::<u8>(FLUSH_BYTES) });
        let (workspace, flush) = match (workspace, flush) {
            (Ok(w), Ok(f)) => (w, f),
            (Err(e), _) | (_, Err(e)) => {
                // SAFETY: created just above, not used elsewhere.
                unsafe {
                    let _ = cudarc::cublaslt::result::destroy_handle(lt);
                }
                return Err(e);
            }
        };
        let mut gpu = Gpu {
            scale: ck("cuMemcpyHtoD(scale)", stream.clone_htod(&[1.0f32]))?,
            ctx,
            stream,
            lt,
            workspace,
            flush,
            funcs: Err("not loaded".into()),
            power: Err(String::new()),
            info: DeviceInfo { name, compute_capability, sms, memory_bytes, uuid },
            settings: settings.clone(),
        };
        // Without NVRTC kernels the GEMM measures still work; attention and MoE cases then fail
        // one by one with this error.
        match gpu.load_kernels() {
            Ok(funcs) => gpu.funcs = Ok(funcs),
            Err(e) => gpu.funcs = Err(e.to_string()),
        }
        gpu.power = power::Power::open(&gpu.info.uuid).map_err(|e| e.to_string());
        Ok(gpu)
    }

    fn load_kernels(&self) -> Result<BTreeMap<&'static str, CudaFunction>, ProfileError> {
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(
            kernels::SOURCE,
            cudarc::nvrtc::CompileOptions { name: Some("tokenfab_profile_kernels.cu".into()), ..Default::default() },
        )
        .map_err(|e| ProfileError::Cuda { call: "nvrtcCompileProgram".into(), detail: format!("{e:?}") })?;
        let module = ck("cuModuleLoadData", self.ctx.load_module(ptx))?;
        let mut funcs = BTreeMap::new();
        for name in kernels::NAMES {
            funcs.insert(name, ck(&format!("cuModuleGetFunction({name})"), module.load_function(name))?);
        }
        Ok(funcs)
    }

    /// NVML, or why it is unavailable.
    pub fn power(&self) -> Result<&power::Power, ProfileError> {
        self.power.as_ref().map_err(|e| ProfileError::NoGpu(format!("NVML unavailable: {e}")))
    }

    fn cu_stream(&self) -> dsys::CUstream {
        self.stream.cu_stream()
    }

    fn ptr<T>(&self, s: &CudaSlice<T>) -> u64 {
        // Event tracking is off, so the guard records nothing.
        s.device_ptr(&self.stream).0
    }

    fn alloc(&self, what: &str, bytes: usize) -> Result<CudaSlice<u8>, ProfileError> {
        // SAFETY: every buffer is filled (random operands) or written by a kernel before being read.
        ck(&format!("cuMemAllocAsync({what}, {bytes} bytes)"), unsafe { self.stream.alloc::<u8>(bytes.max(256)) })
    }

    /// Allocates a buffer of random `dtype` values (never zero), tiling a seeded pattern.
    fn random(&self, what: &str, dtype: Dtype, bytes: usize, seed: u64) -> Result<CudaSlice<u8>, ProfileError> {
        let mut buf = self.alloc(what, bytes)?;
        let len = buf.len();
        let pat = random::pattern(
            dtype,
            PATTERN_BYTES.min(len),
            self.settings.seed.wrapping_mul(0x9E37_79B9).wrapping_add(seed),
        );
        {
            let mut head = buf.slice_mut(0..pat.len());
            ck("cuMemcpyHtoDAsync", self.stream.memcpy_htod(&pat, &mut head))?;
        }
        ck("cuStreamSynchronize", self.stream.synchronize())?;
        let base = self.ptr(&buf);
        let mut filled = pat.len();
        while filled < len {
            let n = filled.min(len - filled);
            // SAFETY: [0, n) and [filled, filled + n) lie inside the buffer and do not overlap.
            ck("cuMemcpyDtoDAsync(fill)", unsafe {
                dres::memcpy_dtod_async(base + filled as u64, base, n, self.cu_stream())
            })?;
            filled += n;
        }
        Ok(buf)
    }

    fn timing_event(&self) -> Result<CudaEvent, ProfileError> {
        ck("cuEventCreate", self.ctx.new_event(Some(dsys::CUevent_flags::CU_EVENT_DEFAULT)))
    }

    fn flush_l2(&self) -> Result<(), ProfileError> {
        let p = self.ptr(&self.flush);
        // SAFETY: the flush buffer is FLUSH_BYTES long and only used as scratch.
        ck("cuMemsetD8Async(flush)", unsafe { dres::memset_d8_async(p, 0x5A, FLUSH_BYTES, self.cu_stream()) })
    }

    /// Times `launch`: warm-up (which also estimates the duration), then repeats, each between
    /// two CUDA events (after an L2 flush if enabled). Returns per-repeat milliseconds.
    pub fn time(&self, launch: &mut dyn FnMut() -> Result<(), ProfileError>) -> Result<Vec<f64>, ProfileError> {
        // The first launch pays one-time costs (lazy module loading, cuBLASLt kernel selection);
        // further warm-ups are skipped for cases that alone take a tenth of the per-case budget.
        let (s, e) = (self.timing_event()?, self.timing_event()?);
        let mut est_s = f64::INFINITY;
        let mut done = 0usize;
        while done < self.settings.warmup.max(1) {
            let batch = if done == 0 { 1 } else { self.settings.warmup - 1 };
            ck("cuEventRecord", s.record(&self.stream))?;
            for _ in 0..batch {
                launch()?;
            }
            ck("cuEventRecord", e.record(&self.stream))?;
            ck("cuStreamSynchronize", self.stream.synchronize())?;
            est_s = f64::from(ck("cuEventElapsedTime", s.elapsed_ms(&e))?) / 1e3 / batch as f64;
            done += batch;
            if est_s > self.settings.case_budget_s / 10.0 {
                break;
            }
        }
        let reps = stats::repeats_for(est_s, self.settings.repeats, self.settings.case_budget_s);
        let mut events = Vec::with_capacity(reps);
        for _ in 0..reps {
            events.push((self.timing_event()?, self.timing_event()?));
        }
        for (s, e) in &events {
            if self.settings.flush_l2 {
                self.flush_l2()?;
            }
            ck("cuEventRecord", s.record(&self.stream))?;
            launch()?;
            ck("cuEventRecord", e.record(&self.stream))?;
        }
        ck("cuStreamSynchronize", self.stream.synchronize())?;
        events.iter().map(|(s, e)| Ok(f64::from(ck("cuEventElapsedTime", s.elapsed_ms(e))?))).collect()
    }

    fn median_ms(&self, launch: &mut dyn FnMut() -> Result<(), ProfileError>) -> Result<f64, ProfileError> {
        let t = self.time(launch)?;
        stats::median(&t).ok_or_else(|| ProfileError::Invalid("no finite timing".into()))
    }

    fn matmul(&self, shape: lt::LtShape) -> Result<lt::LtMatmul, ProfileError> {
        lt::LtMatmul::new(
            self.lt,
            shape,
            self.ptr(&self.scale),
            self.settings.fp8_fast_accum,
            self.ptr(&self.workspace),
            WORKSPACE_BYTES,
        )
    }

    fn lt_stream(&self) -> cudarc::cublaslt::sys::cudaStream_t {
        self.cu_stream() as cudarc::cublaslt::sys::cudaStream_t
    }

    /// Buffers and plan for a GEMM; returns the launch closure's ingredients.
    fn gemm_setup(&self, dtype: Dtype, m: u64, n: u64, k: u64) -> Result<GemmBufs, ProfileError> {
        let eb = dtype.bytes();
        let w = self.random("W", dtype, (n * k) as usize * eb, 1)?;
        let x = self.random("X", dtype, (m * k) as usize * eb, 2)?;
        let c = self.alloc("C", (m * n) as usize * 2)?;
        let plan = self.matmul(lt::LtShape { dtype, m, n, k, batch: 1 })?;
        Ok(GemmBufs { w, x, c, plan })
    }

    fn gemm_launch(&self, g: &GemmBufs) -> Result<(), ProfileError> {
        g.plan.launch(self.ptr(&g.w), self.ptr(&g.x), self.ptr(&g.c), self.lt_stream())
    }

    /// Times each algorithm the heuristic proposed (median of 5 launches after one warm-up, L2
    /// flushed as configured) and keeps the fastest.
    fn autotune(&self, g: &mut GemmBufs) -> Result<usize, ProfileError> {
        let mut best = (f64::INFINITY, 0);
        for i in 0..g.plan.algo_count() {
            g.plan.select(i);
            self.gemm_launch(g)?;
            let (s, e) = (self.timing_event()?, self.timing_event()?);
            let mut t = Vec::with_capacity(5);
            for _ in 0..5 {
                if self.settings.flush_l2 {
                    self.flush_l2()?;
                }
                ck("cuEventRecord", s.record(&self.stream))?;
                self.gemm_launch(g)?;
                ck("cuEventRecord", e.record(&self.stream))?;
                t.push(f64::from(ck("cuEventElapsedTime", s.elapsed_ms(&e))?));
            }
            let ms = stats::median(&t).unwrap_or(f64::INFINITY);
            if ms < best.0 {
                best = (ms, i);
            }
        }
        g.plan.select(best.1);
        Ok(best.1)
    }

    fn func(&self, name: &str) -> Result<&CudaFunction, ProfileError> {
        match &self.funcs {
            Ok(f) => f.get(name).ok_or_else(|| ProfileError::Cuda {
                call: format!("kernel {name}"),
                detail: "not in the module".into(),
            }),
            Err(e) => Err(ProfileError::Cuda {
                call: format!("kernel {name}"),
                detail: format!("NVRTC kernels unavailable: {e}"),
            }),
        }
    }

    /// Measures one case; returns (backend, median ms).
    pub fn measure(&self, case: &OpCase) -> Result<(String, f64), ProfileError> {
        match *case {
            OpCase::Gemm { dtype, m, n, k } => {
                let mut g = self.gemm_setup(dtype, m, n, k)?;
                let backend = if self.settings.gemm_autotune {
                    self.autotune(&mut g)?;
                    "cublaslt-autotune"
                } else {
                    "cublaslt"
                };
                Ok((backend.into(), self.median_ms(&mut || self.gemm_launch(&g))?))
            }
            OpCase::AttnPrefill { batch, seq_len, geom } => {
                check_geom(geom.heads, geom.kv_heads, geom.head_dim)?;
                let (h, kvh, hd) = (geom.heads, geom.kv_heads, geom.head_dim);
                let q = self.random("Q", Dtype::Bf16, (batch * seq_len * h * hd) as usize * 2, 3)?;
                let k = self.random("K", Dtype::Bf16, (batch * seq_len * kvh * hd) as usize * 2, 4)?;
                let v = self.random("V", Dtype::Bf16, (batch * seq_len * kvh * hd) as usize * 2, 5)?;
                let o = self.alloc("O", (batch * seq_len * h * hd) as usize * 2)?;
                let args = PrefillArgs {
                    q: self.ptr(&q),
                    k: self.ptr(&k),
                    v: self.ptr(&v),
                    o: self.ptr(&o),
                    batch,
                    seq_len,
                    heads: h,
                    kv_heads: kvh,
                };
                let ms = self.median_ms(&mut || self.launch_prefill(&args))?;
                Ok((kernels::BACKEND.into(), ms))
            }
            OpCase::AttnDecode { batch, context_len, geom } => {
                check_geom(geom.heads, geom.kv_heads, geom.head_dim)?;
                let (h, kvh, hd) = (geom.heads, geom.kv_heads, geom.head_dim);
                let q = self.random("Q", Dtype::Bf16, (batch * h * hd) as usize * 2, 6)?;
                let kc = self.random("K cache", Dtype::Bf16, (batch * context_len * kvh * hd) as usize * 2, 7)?;
                let vc = self.random("V cache", Dtype::Bf16, (batch * context_len * kvh * hd) as usize * 2, 8)?;
                let (pacc, pml) = self.decode_scratch(batch, h, kvh, context_len)?;
                let o = self.alloc("O", (batch * h * hd) as usize * 2)?;
                let args = DecodeArgs {
                    q: self.ptr(&q),
                    k: self.ptr(&kc),
                    v: self.ptr(&vc),
                    part_acc: self.ptr(&pacc),
                    part_ml: self.ptr(&pml),
                    o: self.ptr(&o),
                    batch,
                    context_len,
                    heads: h,
                    kv_heads: kvh,
                };
                let ms = self.median_ms(&mut || self.launch_decode(&args))?;
                Ok((kernels::BACKEND.into(), ms))
            }
            OpCase::MoeFfn { dtype, m, experts, top_k, hidden, inter } => {
                let (touched, rows) = moe_layout(m, experts, top_k, self.settings.seed);
                let eb = dtype.bytes();
                let w_up = self.random("W gate+up", dtype, (touched * 2 * inter * hidden) as usize * eb, 9)?;
                let x = self.random("X", dtype, (touched * rows * hidden) as usize * eb, 10)?;
                let c_up = self.alloc("gate+up out", (touched * rows * 2 * inter) as usize * 2)?;
                let act = self.alloc("activation", (touched * rows * inter) as usize * 2)?;
                // fp8: the down GEMM reads a pre-quantized fp8 copy (the activation kernel writes bf16).
                let x_down = match dtype {
                    Dtype::Fp8 => Some(self.random("X down", dtype, (touched * rows * inter) as usize, 11)?),
                    Dtype::Bf16 => None,
                };
                let w_down = self.random("W down", dtype, (touched * hidden * inter) as usize * eb, 12)?;
                let c_down = self.alloc("down out", (touched * rows * hidden) as usize * 2)?;
                let up = self.matmul(lt::LtShape { dtype, m: rows, n: 2 * inter, k: hidden, batch: touched })?;
                let down = self.matmul(lt::LtShape { dtype, m: rows, n: hidden, k: inter, batch: touched })?;
                let (cu, ap) = (self.ptr(&c_up), self.ptr(&act));
                let xd = x_down.as_ref().map(|b| self.ptr(b)).unwrap_or(ap);
                let ms = self.median_ms(&mut || {
                    up.launch(self.ptr(&w_up), self.ptr(&x), cu, self.lt_stream())?;
                    self.launch_silu_mul(cu, ap, touched * rows, inter)?;
                    down.launch(self.ptr(&w_down), xd, self.ptr(&c_down), self.lt_stream())
                })?;
                Ok(("cublaslt-batched".into(), ms))
            }
        }
    }

    /// Enqueues the prefill attention kernel.
    fn launch_prefill(&self, a: &PrefillArgs) -> Result<(), ProfileError> {
        let f = self.func("attn_prefill")?;
        let (seq_i, h_i, kvh_i) = (to_i32(a.seq_len)?, to_i32(a.heads)?, to_i32(a.kv_heads)?);
        let scale = 1.0f32 / (kernels::HEAD_DIM as f32).sqrt();
        let cfg = LaunchConfig {
            grid_dim: (to_u32(a.seq_len.div_ceil(u64::from(kernels::PREFILL_ROWS)))?, to_u32(a.batch * a.heads)?, 1),
            block_dim: (kernels::PREFILL_ROWS * 32, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut b = self.stream.launch_builder(f);
        b.arg(&a.q).arg(&a.k).arg(&a.v).arg(&a.o).arg(&seq_i).arg(&h_i).arg(&kvh_i).arg(&scale);
        // SAFETY: argument types and buffer sizes match the kernel's signature and grid.
        ck("cuLaunchKernel(attn_prefill)", unsafe { b.launch(cfg) }).map(|_| ())
    }

    fn decode_geometry(&self, batch: u64, kv_heads: u64, context_len: u64) -> (u64, u64, u64) {
        let splits = kernels::decode_splits(batch, kv_heads, context_len, self.info.sms);
        (splits, context_len.div_ceil(splits), splits * u64::from(kernels::DECODE_WARPS))
    }

    /// Scratch buffers (partial accumulators, partial max/sum) for a decode case.
    fn decode_scratch(
        &self,
        batch: u64,
        heads: u64,
        kv_heads: u64,
        context_len: u64,
    ) -> Result<(CudaSlice<u8>, CudaSlice<u8>), ProfileError> {
        let (_, _, parts) = self.decode_geometry(batch, kv_heads, context_len);
        Ok((
            self.alloc("partial acc", (batch * heads * parts * kernels::HEAD_DIM) as usize * 4)?,
            self.alloc("partial max/sum", (batch * heads * parts * 2) as usize * 4)?,
        ))
    }

    /// Enqueues the two decode attention kernels (split-K partials, then the combine pass).
    fn launch_decode(&self, a: &DecodeArgs) -> Result<(), ProfileError> {
        let (fp, fc) = (self.func("attn_decode_partial")?, self.func("attn_decode_combine")?);
        let (splits, chunk, parts) = self.decode_geometry(a.batch, a.kv_heads, a.context_len);
        let (ctx_i, h_i, kvh_i, chunk_i, parts_i) =
            (to_i32(a.context_len)?, to_i32(a.heads)?, to_i32(a.kv_heads)?, to_i32(chunk)?, to_i32(parts)?);
        let scale = 1.0f32 / (kernels::HEAD_DIM as f32).sqrt();
        let cfg1 = LaunchConfig {
            grid_dim: (to_u32(splits)?, to_u32(a.batch * a.kv_heads)?, 1),
            block_dim: (kernels::DECODE_WARPS * 32, 1, 1),
            shared_mem_bytes: 0,
        };
        let cfg2 = LaunchConfig {
            grid_dim: (to_u32(a.batch * a.heads)?, 1, 1),
            block_dim: (to_u32(kernels::HEAD_DIM)?, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut b = self.stream.launch_builder(fp);
        b.arg(&a.q).arg(&a.k).arg(&a.v).arg(&a.part_acc).arg(&a.part_ml);
        b.arg(&ctx_i).arg(&h_i).arg(&kvh_i).arg(&chunk_i).arg(&scale);
        // SAFETY: argument types and buffer sizes match the kernel's signature and grid.
        ck("cuLaunchKernel(attn_decode_partial)", unsafe { b.launch(cfg1) })?;
        let mut b = self.stream.launch_builder(fc);
        b.arg(&a.part_acc).arg(&a.part_ml).arg(&a.o).arg(&parts_i);
        // SAFETY: as above.
        ck("cuLaunchKernel(attn_decode_combine)", unsafe { b.launch(cfg2) }).map(|_| ())
    }

    /// Enqueues the MoE activation kernel over `rows` rows of `inter` columns.
    fn launch_silu_mul(&self, gate_up: u64, out: u64, rows: u64, inter: u64) -> Result<(), ProfileError> {
        let f = self.func("silu_mul")?;
        let (rows_i, inter_i) = (rows as i64, to_i32(inter)?);
        let threads = 256u32;
        let blocks = to_u32((rows * inter).div_ceil(u64::from(threads)).clamp(1, 128 * self.info.sms))?;
        let cfg = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (threads, 1, 1), shared_mem_bytes: 0 };
        let mut b = self.stream.launch_builder(f);
        b.arg(&gate_up).arg(&out).arg(&rows_i).arg(&inter_i);
        // SAFETY: argument types and buffer sizes match the kernel's signature.
        ck("cuLaunchKernel(silu_mul)", unsafe { b.launch(cfg) }).map(|_| ())
    }

    /// Device-to-device copy of `bytes`; returns TB/s (bytes read + written) from the median time.
    pub fn copy_bandwidth_tbps(&self, bytes: usize) -> Result<f64, ProfileError> {
        let src = self.random("copy src", Dtype::Bf16, bytes, 13)?;
        let dst = self.alloc("copy dst", bytes)?;
        let (s, d) = (self.ptr(&src), self.ptr(&dst));
        let ms = self.median_ms(&mut || {
            // SAFETY: both buffers are `bytes` long.
            ck("cuMemcpyDtoDAsync", unsafe { dres::memcpy_dtod_async(d, s, bytes, self.cu_stream()) })
        })?;
        Ok(2.0 * bytes as f64 / (ms * 1e-3) / 1e12)
    }

    /// Idle board power over `seconds`, from the NVML energy counter.
    pub fn idle_power_w(&self, seconds: f64) -> Result<f64, ProfileError> {
        let p = self.power()?;
        ck("cuStreamSynchronize", self.stream.synchronize())?;
        let e0 = p.energy_j()?;
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        let e1 = p.energy_j()?;
        Ok((e1 - e0) / t0.elapsed().as_secs_f64())
    }

    /// Runs `launch` back to back for `seconds`, keeping two batches in flight, sampling the SM
    /// clock after each batch completes. `est_s` is one launch's duration.
    pub fn sustain(
        &self,
        seconds: f64,
        est_s: f64,
        launch: &mut dyn FnMut() -> Result<(), ProfileError>,
    ) -> Result<Sustained, ProfileError> {
        let p = self.power()?;
        let per_batch = ((0.02 / est_s.max(1e-7)).ceil() as usize).clamp(1, 1_000_000);
        let e0 = p.energy_j()?;
        let t0 = Instant::now();
        let mut queue: VecDeque<CudaEvent> = VecDeque::new();
        let (mut launches, mut clocks) = (0u64, Vec::new());
        while t0.elapsed().as_secs_f64() < seconds {
            for _ in 0..per_batch {
                launch()?;
            }
            launches += per_batch as u64;
            let ev = ck("cuEventCreate", self.ctx.new_event(None))?;
            ck("cuEventRecord", ev.record(&self.stream))?;
            queue.push_back(ev);
            while queue.len() > 2 {
                if let Some(ev) = queue.pop_front() {
                    ck("cuEventSynchronize", ev.synchronize())?;
                }
                clocks.push(f64::from(p.sm_clock_mhz()?));
            }
        }
        ck("cuStreamSynchronize", self.stream.synchronize())?;
        let wall_s = t0.elapsed().as_secs_f64();
        let energy_j = p.energy_j()? - e0;
        Ok(Sustained {
            launches,
            wall_s,
            power_w: energy_j / wall_s,
            sm_clock_mhz: stats::median(&clocks).unwrap_or(f64::NAN),
        })
    }

    /// The ceilings table: copy bandwidth, 8192³ GEMM rates, idle power, sustained power / clock /
    /// rate for bf16 and fp8 GEMMs and a 1 GiB copy, power limit and maximum SM clock. Each
    /// measure is independent: one that fails is reported in the second list and the rest go on.
    pub fn ceilings(&self, progress: &mut dyn FnMut(&str)) -> (Vec<Ceiling>, Vec<(String, ProfileError)>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let c = |measure: &str, value: f64, unit: &str, how: &str| Ceiling {
            measure: measure.into(),
            value,
            unit: unit.into(),
            how: how.into(),
        };
        let power = self.settings.sustain_s > 0.0 && self.power().is_ok();
        let sustain_s = self.settings.sustain_s;
        let mut step = |name: &str, f: &mut dyn FnMut() -> Result<Vec<Ceiling>, ProfileError>| {
            progress(name);
            match f() {
                Ok(rows) => {
                    for r in rows {
                        if r.value.is_finite() {
                            out.push(r);
                        } else {
                            errors.push((
                                r.measure.clone(),
                                ProfileError::Invalid(format!("{} is not finite", r.measure)),
                            ));
                        }
                    }
                }
                Err(e) => errors.push((name.to_string(), e)),
            }
        };
        if power {
            step("idle power", &mut || {
                let w = self.idle_power_w(self.settings.idle_s)?;
                Ok(vec![c("idle_power", w, "W", &format!("NVML energy counter over {} s idle", self.settings.idle_s))])
            });
        }
        let bytes = 1usize << 30;
        step("copy bandwidth", &mut || {
            Ok(vec![c(
                "copy_bandwidth_burst",
                self.copy_bandwidth_tbps(bytes)?,
                "TB/s",
                "1 GiB device-to-device copy, bytes read+written, median of repeats",
            )])
        });
        let n = 8192u64;
        let flop = 2.0 * (n * n * n) as f64;
        for dtype in [Dtype::Bf16, Dtype::Fp8] {
            let name = format!("gemm_{}_8192", dtype.as_str());
            step(&name, &mut || {
                let g = self.gemm_setup(dtype, n, n, n)?;
                let ms = self.median_ms(&mut || self.gemm_launch(&g))?;
                let mut rows = vec![c(
                    &format!("{name}_burst"),
                    flop / (ms * 1e-3) / 1e12,
                    "TFLOP/s",
                    "8192^3 cuBLASLt GEMM on random data, median of repeats (short bursts, before power capping)",
                )];
                if power {
                    let s = self.sustain(sustain_s, ms * 1e-3, &mut || self.gemm_launch(&g))?;
                    self.push_sustained(&mut rows, &name, &s, flop / 1e12, "TFLOP/s", "work done");
                }
                Ok(rows)
            });
        }
        if power {
            step("sustained copy", &mut || {
                let src = self.random("copy src", Dtype::Bf16, bytes, 14)?;
                let dst = self.alloc("copy dst", bytes)?;
                let (s, d) = (self.ptr(&src), self.ptr(&dst));
                let est = 2.0 * bytes as f64 / 3e12;
                let r = self.sustain(sustain_s, est, &mut || {
                    // SAFETY: both buffers are `bytes` long.
                    ck("cuMemcpyDtoDAsync", unsafe { dres::memcpy_dtod_async(d, s, bytes, self.cu_stream()) })
                })?;
                let mut rows = Vec::new();
                self.push_sustained(
                    &mut rows,
                    "d2d_copy_1GiB",
                    &r,
                    2.0 * bytes as f64 / 1e12,
                    "TB/s",
                    "bytes read+written",
                );
                Ok(rows)
            });
        }
        if let Ok(p) = self.power() {
            step("power limit and clocks", &mut || {
                Ok(vec![
                    c("power_limit", p.power_limit_w()?, "W", "NVML enforced power limit"),
                    c("max_sm_clock", f64::from(p.max_clocks_mhz()?.0), "MHz", "NVML max SM clock"),
                ])
            });
        }
        (out, errors)
    }

    fn push_sustained(&self, out: &mut Vec<Ceiling>, name: &str, s: &Sustained, work: f64, unit: &str, what: &str) {
        let secs = self.settings.sustain_s;
        out.push(Ceiling {
            measure: format!("{name}_sustained_power"),
            value: s.power_w,
            unit: "W".into(),
            how: format!("NVML energy counter over {secs} s of back-to-back runs"),
        });
        out.push(Ceiling {
            measure: format!("{name}_sustained_sm_clock"),
            value: s.sm_clock_mhz,
            unit: "MHz".into(),
            how: format!("median NVML SM clock during those {secs} s"),
        });
        out.push(Ceiling {
            measure: format!("{name}_sustained_rate"),
            value: s.launches as f64 * work / s.wall_s,
            unit: unit.into(),
            how: format!("{what} over those {secs} s"),
        });
    }

    /// Provenance entries describing this device and software stack.
    pub fn provenance(&self, prov: &mut Provenance) {
        let i = &self.info;
        prov.push(
            "gpu",
            format!(
                "{} (sm_{}{}, {} SMs, {:.1} GiB)",
                i.name,
                i.compute_capability.0,
                i.compute_capability.1,
                i.sms,
                i.memory_bytes as f64 / (1u64 << 30) as f64
            ),
        );
        prov.push("gpu_uuid", i.uuid.clone());
        let mut v: std::ffi::c_int = 0;
        // SAFETY: writes one int.
        let drv = unsafe { dsys::cuDriverGetVersion(&mut v) };
        if drv == dsys::CUresult::CUDA_SUCCESS {
            prov.push("cuda_driver_api", format!("{}.{}", v / 1000, v % 1000 / 10));
        }
        // SAFETY: plain getters.
        let (ltv, rtv) =
            unsafe { (cudarc::cublaslt::sys::cublasLtGetVersion(), cudarc::cublaslt::sys::cublasLtGetCudartVersion()) };
        prov.push(
            "cublaslt",
            format!("{}.{}.{} (built against CUDA runtime {})", ltv / 10000, ltv % 10000 / 100, ltv % 100, rtv),
        );
        let (mut a, mut b) = (0, 0);
        // SAFETY: writes two ints.
        if unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut a, &mut b) } == cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS
        {
            prov.push("nvrtc", format!("{a}.{b}"));
        }
        if let Err(e) = &self.funcs {
            prov.push("nvrtc_kernels", format!("unavailable ({e}): attention and MoE cases were not measured"));
        }
        match self.power() {
            Ok(p) => {
                if let Ok(d) = p.driver_version() {
                    prov.push("driver", d);
                }
                if let Ok((sm, mem)) = p.max_clocks_mhz() {
                    prov.push("max_clocks", format!("SM {sm} MHz, memory {mem} MHz"));
                }
                if let Ok(sm) = p.sm_clock_mhz() {
                    prov.push("sm_clock_at_start", format!("{sm} MHz"));
                }
                if let Ok(w) = p.power_limit_w() {
                    prov.push("power_limit", format!("{w:.0} W"));
                }
            }
            Err(e) => prov.push("nvml", e.to_string()),
        }
        let s = &self.settings;
        prov.push(
            "method",
            format!(
                "CUDA events around each repeat; {} warm-up launches; median of up to {} repeats (at most ~{} s per case, at least 3); L2 flushed before each repeat: {}; random operands uniform in +-[1/64, 1], seed {}",
                s.warmup, s.repeats, s.case_budget_s, s.flush_l2, s.seed
            ),
        );
        let choice = if s.gemm_autotune {
            "fastest of up to 8 cuBLASLt heuristic proposals (backend cublaslt-autotune)"
        } else {
            "cuBLASLt heuristic's first algorithm"
        };
        prov.push("gemm", format!("{choice}, TN layout, fp32 accumulate, bf16 output; fp8 = e4m3 with per-tensor scales, fast accumulation {}", if s.fp8_fast_accum { "on" } else { "off" }));
        prov.push("attention", "backend nvrtc-tiled: tokenfab's own NVRTC flash-style kernel on CUDA cores (NOT cuDNN/FlashAttention; prefill is several times slower than those)");
        prov.push("moe_ffn", "backend cublaslt-batched: strided-batched cuBLASLt over the experts the seeded uniform routing touched, each padded to ceil(m*top_k/touched) rows, plus an NVRTC SiLU*mul kernel");
    }
}

/// Result of a sustained run.
#[derive(Debug, Clone, Copy)]
pub struct Sustained {
    /// Launches completed.
    pub launches: u64,
    /// Wall time from the first launch to the final synchronize, seconds.
    pub wall_s: f64,
    /// Energy over wall time, watts.
    pub power_w: f64,
    /// Median of the SM clock samples, MHz.
    pub sm_clock_mhz: f64,
}

struct PrefillArgs {
    q: u64,
    k: u64,
    v: u64,
    o: u64,
    batch: u64,
    seq_len: u64,
    heads: u64,
    kv_heads: u64,
}

struct DecodeArgs {
    q: u64,
    k: u64,
    v: u64,
    part_acc: u64,
    part_ml: u64,
    o: u64,
    batch: u64,
    context_len: u64,
    heads: u64,
    kv_heads: u64,
}

struct GemmBufs {
    w: CudaSlice<u8>,
    x: CudaSlice<u8>,
    c: CudaSlice<u8>,
    plan: lt::LtMatmul,
}

fn check_geom(heads: u64, kv_heads: u64, head_dim: u64) -> Result<(), ProfileError> {
    if head_dim != kernels::HEAD_DIM
        || kv_heads == 0
        || !heads.is_multiple_of(kv_heads)
        || heads / kv_heads > kernels::MAX_GROUP
    {
        return Err(ProfileError::Invalid(format!(
            "the nvrtc-tiled attention kernels need head_dim {} and heads/kv_heads an integer <= {}; got heads {heads}, kv_heads {kv_heads}, head_dim {head_dim}",
            kernels::HEAD_DIM,
            kernels::MAX_GROUP
        )));
    }
    Ok(())
}

fn to_i32(v: u64) -> Result<i32, ProfileError> {
    i32::try_from(v).map_err(|_| ProfileError::Invalid(format!("{v} does not fit a 32-bit kernel argument")))
}

fn to_u32(v: u64) -> Result<u32, ProfileError> {
    u32::try_from(v).map_err(|_| ProfileError::Invalid(format!("{v} does not fit a launch dimension")))
}

/// Measures every case, continuing past failures. Returns the measured rows and, per failed case,
/// the error.
pub fn measure_all(
    gpu: &Gpu,
    cases: &[OpCase],
    progress: &mut dyn FnMut(&str),
) -> (Vec<OpMeasurement>, Vec<(OpCase, ProfileError)>) {
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        match gpu.measure(case) {
            Ok((backend, latency_ms)) => {
                progress(&format!(
                    "[{}/{}] {:?}: {latency_ms:.6} ms ({:.1} TFLOP/s, {backend})",
                    i + 1,
                    cases.len(),
                    case,
                    case.flops() / (latency_ms * 1e-3) / 1e12
                ));
                rows.push(OpMeasurement { case: *case, backend, latency_ms });
            }
            Err(e) => {
                progress(&format!("[{}/{}] {:?}: FAILED: {e}", i + 1, cases.len(), case));
                failed.push((*case, e));
            }
        }
    }
    (rows, failed)
}
