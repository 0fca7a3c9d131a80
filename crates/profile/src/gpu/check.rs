//! `Gpu::self_check`: every kernel and cuBLASLt configuration the profiler times is run once on
//! small shapes and compared with a CPU reference, so a table is never built from wrong code.

use super::{DecodeArgs, Gpu, PrefillArgs, ck, kernels, lt};
use crate::ProfileError;
use crate::grid::{Dtype, Families};
use crate::random::{f32_from_bf16, f32_from_e4m3, pattern};
use cudarc::driver::CudaSlice;

fn decode(dtype: Dtype, bytes: &[u8]) -> Vec<f32> {
    match dtype {
        Dtype::Bf16 => bytes.chunks_exact(2).map(|c| f32_from_bf16(u16::from_le_bytes([c[0], c[1]]))).collect(),
        Dtype::Fp8 => bytes.iter().map(|&b| f32_from_e4m3(b)).collect(),
    }
}

/// Largest absolute difference, relative to the largest reference magnitude (at least 1e-3).
fn rel_err(got: &[f32], want: &[f32]) -> f64 {
    let scale = want.iter().fold(1e-3f64, |m, &x| m.max(f64::from(x.abs())));
    let err = got.iter().zip(want).fold(0f64, |m, (&g, &w)| m.max(f64::from((g - w).abs())));
    if got.len() != want.len() || got.iter().any(|g| !g.is_finite()) { f64::INFINITY } else { err / scale }
}

fn attention_ref(q: &[f32], k: &[f32], v: &[f32], keys: usize, causal_row: Option<usize>, hd: usize) -> Vec<f32> {
    // q: [hd]; k, v: rows of hd (already the right KV head), `keys` of them.
    let n = causal_row.map_or(keys, |r| r + 1);
    let scale = 1.0 / (hd as f32).sqrt();
    let s: Vec<f32> = (0..n).map(|j| (0..hd).map(|d| q[d] * k[j * hd + d]).sum::<f32>() * scale).collect();
    let m = s.iter().cloned().fold(f32::MIN, f32::max);
    let p: Vec<f32> = s.iter().map(|x| (x - m).exp()).collect();
    let l: f32 = p.iter().sum();
    (0..hd).map(|d| (0..n).map(|j| p[j] * v[j * hd + d]).sum::<f32>() / l).collect()
}

impl Gpu {
    fn upload(&self, bytes: &[u8]) -> Result<CudaSlice<u8>, ProfileError> {
        ck("cuMemcpyHtoD", self.stream.clone_htod(bytes))
    }

    fn download(&self, s: &CudaSlice<u8>) -> Result<Vec<u8>, ProfileError> {
        let v = ck("cuMemcpyDtoH", self.stream.clone_dtoh(s))?;
        ck("cuStreamSynchronize", self.stream.synchronize())?;
        Ok(v)
    }

    fn check_gemm(&self, dtype: Dtype, batch: u64, m: u64, n: u64, k: u64) -> Result<f64, ProfileError> {
        let eb = dtype.bytes();
        let wb = pattern(dtype, (batch * n * k) as usize * eb, 101);
        let xb = pattern(dtype, (batch * m * k) as usize * eb, 102);
        let (w, x) = (self.upload(&wb)?, self.upload(&xb)?);
        let c = self.alloc("C", (batch * m * n) as usize * 2)?;
        let plan = self.matmul(lt::LtShape { dtype, m, n, k, batch })?;
        plan.launch(self.ptr(&w), self.ptr(&x), self.ptr(&c), self.lt_stream())?;
        let got = decode(Dtype::Bf16, &self.download(&c)?);
        let (wf, xf) = (decode(dtype, &wb), decode(dtype, &xb));
        let (m, n, k) = (m as usize, n as usize, k as usize);
        let mut want = vec![0f32; got.len()];
        for b in 0..batch as usize {
            for i in 0..m {
                for j in 0..n {
                    let s: f32 = (0..k).map(|t| xf[(b * m + i) * k + t] * wf[(b * n + j) * k + t]).sum();
                    want[(b * m + i) * n + j] = s;
                }
            }
        }
        Ok(rel_err(&got, &want))
    }

    fn check_prefill(&self, batch: u64, seq: u64, heads: u64, kv_heads: u64) -> Result<f64, ProfileError> {
        let hd = kernels::HEAD_DIM;
        let qb = pattern(Dtype::Bf16, (batch * seq * heads * hd) as usize * 2, 103);
        let kb = pattern(Dtype::Bf16, (batch * seq * kv_heads * hd) as usize * 2, 104);
        let vb = pattern(Dtype::Bf16, (batch * seq * kv_heads * hd) as usize * 2, 105);
        let (q, k, v) = (self.upload(&qb)?, self.upload(&kb)?, self.upload(&vb)?);
        let o = self.alloc("O", qb.len())?;
        let args = PrefillArgs {
            q: self.ptr(&q),
            k: self.ptr(&k),
            v: self.ptr(&v),
            o: self.ptr(&o),
            batch,
            seq_len: seq,
            heads,
            kv_heads,
        };
        self.launch_prefill(&args)?;
        let got = decode(Dtype::Bf16, &self.download(&o)?);
        let (qf, kf, vf) = (decode(Dtype::Bf16, &qb), decode(Dtype::Bf16, &kb), decode(Dtype::Bf16, &vb));
        let (s, h_n, kv_n, hd) = (seq as usize, heads as usize, kv_heads as usize, hd as usize);
        let mut want = vec![0f32; got.len()];
        for b in 0..batch as usize {
            for h in 0..h_n {
                let kvh = h / (h_n / kv_n);
                let gather = |src: &[f32]| -> Vec<f32> {
                    (0..s).flat_map(|j| src[((b * s + j) * kv_n + kvh) * hd..][..hd].to_vec()).collect()
                };
                let (kr, vr) = (gather(&kf), gather(&vf));
                for i in 0..s {
                    let at = ((b * s + i) * h_n + h) * hd;
                    let out = attention_ref(&qf[at..at + hd], &kr, &vr, s, Some(i), hd);
                    want[at..at + hd].copy_from_slice(&out);
                }
            }
        }
        Ok(rel_err(&got, &want))
    }

    fn check_decode(&self, batch: u64, ctx: u64, heads: u64, kv_heads: u64) -> Result<f64, ProfileError> {
        let hd = kernels::HEAD_DIM;
        let qb = pattern(Dtype::Bf16, (batch * heads * hd) as usize * 2, 106);
        let kb = pattern(Dtype::Bf16, (batch * ctx * kv_heads * hd) as usize * 2, 107);
        let vb = pattern(Dtype::Bf16, (batch * ctx * kv_heads * hd) as usize * 2, 108);
        let (q, k, v) = (self.upload(&qb)?, self.upload(&kb)?, self.upload(&vb)?);
        let (pacc, pml) = self.decode_scratch(batch, heads, kv_heads, ctx)?;
        let o = self.alloc("O", qb.len())?;
        let args = DecodeArgs {
            q: self.ptr(&q),
            k: self.ptr(&k),
            v: self.ptr(&v),
            part_acc: self.ptr(&pacc),
            part_ml: self.ptr(&pml),
            o: self.ptr(&o),
            batch,
            context_len: ctx,
            heads,
            kv_heads,
        };
        self.launch_decode(&args)?;
        let got = decode(Dtype::Bf16, &self.download(&o)?);
        let (qf, kf, vf) = (decode(Dtype::Bf16, &qb), decode(Dtype::Bf16, &kb), decode(Dtype::Bf16, &vb));
        let (c, h_n, kv_n, hd) = (ctx as usize, heads as usize, kv_heads as usize, hd as usize);
        let mut want = vec![0f32; got.len()];
        for b in 0..batch as usize {
            for h in 0..h_n {
                let kvh = h / (h_n / kv_n);
                let gather = |src: &[f32]| -> Vec<f32> {
                    (0..c).flat_map(|j| src[((b * c + j) * kv_n + kvh) * hd..][..hd].to_vec()).collect()
                };
                let at = (b * h_n + h) * hd;
                let out = attention_ref(&qf[at..at + hd], &gather(&kf), &gather(&vf), c, None, hd);
                want[at..at + hd].copy_from_slice(&out);
            }
        }
        Ok(rel_err(&got, &want))
    }

    fn check_silu(&self, rows: u64, inter: u64) -> Result<f64, ProfileError> {
        let gb = pattern(Dtype::Bf16, (rows * 2 * inter) as usize * 2, 109);
        let gu = self.upload(&gb)?;
        let out = self.alloc("out", (rows * inter) as usize * 2)?;
        self.launch_silu_mul(self.ptr(&gu), self.ptr(&out), rows, inter)?;
        let got = decode(Dtype::Bf16, &self.download(&out)?);
        let gf = decode(Dtype::Bf16, &gb);
        let (r_n, i_n) = (rows as usize, inter as usize);
        let want: Vec<f32> = (0..r_n * i_n)
            .map(|i| {
                let (r, c) = (i / i_n, i % i_n);
                let (g, u) = (gf[r * 2 * i_n + c], gf[r * 2 * i_n + i_n + c]);
                g / (1.0 + (-g).exp()) * u
            })
            .collect();
        Ok(rel_err(&got, &want))
    }

    /// Runs every timed code path of the selected families once on small shapes and compares it
    /// with a CPU reference. Returns one line per check; fails if any result is wrong. A
    /// configuration cuBLASLt does not support (no algorithm) is reported, not failed: the grid
    /// cases that need it fail on their own.
    pub fn self_check(&self, families: Families) -> Result<Vec<String>, ProfileError> {
        // bf16 outputs carry ~2^-8 relative rounding; fp8 inputs are exact in the reference.
        let tol = 2e-2;
        let mut checks: Vec<(String, Result<f64, ProfileError>)> = vec![
            ("gemm bf16 m=3 n=64 k=256".into(), self.check_gemm(Dtype::Bf16, 1, 3, 64, 256)),
            ("gemm fp8 m=16 n=64 k=256".into(), self.check_gemm(Dtype::Fp8, 1, 16, 64, 256)),
            ("gemm fp8 m=1 n=64 k=256".into(), self.check_gemm(Dtype::Fp8, 1, 1, 64, 256)),
        ];
        if families.moe {
            checks.push(("batched gemm bf16 3 x (m=5 n=32 k=64)".into(), self.check_gemm(Dtype::Bf16, 3, 5, 32, 64)));
            checks.push(("batched gemm fp8 3 x (m=16 n=32 k=64)".into(), self.check_gemm(Dtype::Fp8, 3, 16, 32, 64)));
            checks.push(("silu_mul rows=5 inter=96".into(), self.check_silu(5, 96)));
        }
        if families.attention {
            checks.push(("attn_prefill batch=2 seq=45 heads=8 kv_heads=2".into(), self.check_prefill(2, 45, 8, 2)));
            checks.push(("attn_decode batch=2 ctx=700 heads=8 kv_heads=2".into(), self.check_decode(2, 700, 8, 2)));
            checks.push(("attn_decode batch=1 ctx=5 heads=32 kv_heads=8".into(), self.check_decode(1, 5, 32, 8)));
        }
        let mut lines = Vec::new();
        let mut bad = 0;
        for (name, r) in checks {
            match r {
                Ok(e) if e <= tol => lines.push(format!("ok   {name}: max error {e:.2e} of max |ref|")),
                Ok(e) => {
                    lines.push(format!("FAIL {name}: max error {e:.2e} of max |ref| (tolerance {tol:.0e})"));
                    bad += 1;
                }
                Err(ProfileError::Cuda { call, detail })
                    if call == "cublasLtMatmulAlgoGetHeuristic" && detail.contains("NOT_SUPPORTED") =>
                {
                    lines.push(format!("skip {name}: cuBLASLt has no algorithm for it ({detail})"));
                }
                Err(e) => {
                    lines.push(format!("FAIL {name}: {e}"));
                    bad += 1;
                }
            }
        }
        if bad == 0 {
            Ok(lines)
        } else {
            Err(ProfileError::Invalid(format!("self-check failed:\n{}", lines.join("\n"))))
        }
    }
}
