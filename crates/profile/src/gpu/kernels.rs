//! CUDA C kernels compiled at run time with NVRTC: the attention fallback and the MoE activation.
//!
//! These are NOT production attention kernels. cuDNN's fused SDPA is built by the C++ frontend
//! graph API, which cudarc does not expose, so the profiler times a straightforward flash-style
//! kernel instead (backend label `nvrtc-tiled`): fp32 FMAs on CUDA cores, no tensor cores, online
//! softmax, K/V tiles staged through shared memory (prefill) and split-K with a combine pass
//! (decode). Prefill is therefore much slower than cuDNN or FlashAttention (compute-bound on
//! tensor cores there); decode is memory-bound in both and comes closer. Head dimension is fixed
//! at 128 and the query-head group (heads / kv_heads) at most 8.

/// Backend label of rows measured with these kernels.
pub const BACKEND: &str = "nvrtc-tiled";
/// Head dimension the kernels are compiled for.
pub const HEAD_DIM: u64 = 128;
/// Largest GQA group (query heads per KV head) the decode kernel handles.
pub const MAX_GROUP: u64 = 8;
/// Query rows per prefill block (one warp each).
pub const PREFILL_ROWS: u32 = 8;
/// Warps per decode block.
pub const DECODE_WARPS: u32 = 4;

/// Kernel names in [`SOURCE`].
pub const NAMES: [&str; 4] = ["attn_prefill", "attn_decode_partial", "attn_decode_combine", "silu_mul"];

/// The CUDA C source (no headers: bf16 handled as raw bits).
pub const SOURCE: &str = r#"
typedef unsigned short bf16_t;
#define HD 128
#define KT 32
#define ROWS 8
#define DWARPS 4
#define MAXG 8
#define NEG_BIG (-3.0e38f)

__device__ __forceinline__ float bf(bf16_t x) { return __uint_as_float(((unsigned int)x) << 16); }
__device__ __forceinline__ bf16_t to_bf(float f) {
    unsigned int u = __float_as_uint(f);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
}
__device__ __forceinline__ float warp_sum(float s) {
    s += __shfl_xor_sync(0xffffffffu, s, 16);
    s += __shfl_xor_sync(0xffffffffu, s, 8);
    s += __shfl_xor_sync(0xffffffffu, s, 4);
    s += __shfl_xor_sync(0xffffffffu, s, 2);
    s += __shfl_xor_sync(0xffffffffu, s, 1);
    return s;
}

// Causal prefill. q, o: [batch, seq, heads, HD]; k, v: [batch, seq, kv_heads, HD].
// grid (ceil(seq/ROWS), batch*heads); block ROWS*32 threads; warp w owns query row blockIdx.x*ROWS+w,
// lane l owns dims 4l..4l+3.
extern "C" __global__ void attn_prefill(const bf16_t* __restrict__ q, const bf16_t* __restrict__ k,
                                        const bf16_t* __restrict__ v, bf16_t* __restrict__ o,
                                        int seq, int heads, int kv_heads, float scale) {
    __shared__ __align__(16) float ks[KT][HD];
    __shared__ __align__(16) float vs[KT][HD];
    const int bh = blockIdx.y, b = bh / heads, h = bh % heads, kvh = h / (heads / kv_heads);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int row0 = blockIdx.x * ROWS, row = row0 + warp;
    const bool active = row < seq;
    float qr[4], acc[4] = {0.f, 0.f, 0.f, 0.f};
    float mx = NEG_BIG, l = 0.f;
    if (active) {
        const bf16_t* qp = q + (((size_t)b * seq + row) * heads + h) * HD + lane * 4;
        for (int i = 0; i < 4; ++i) qr[i] = bf(qp[i]) * scale;
    }
    const int last = min(row0 + ROWS, seq) - 1;
    for (int t0 = 0; t0 <= last; t0 += KT) {
        __syncthreads();
        for (int idx = threadIdx.x; idx < KT * HD; idx += blockDim.x) {
            const int kk = idx / HD, d = idx % HD, key = t0 + kk;
            float kv = 0.f, vv = 0.f;
            if (key < seq) {
                const size_t off = (((size_t)b * seq + key) * kv_heads + kvh) * HD + d;
                kv = bf(k[off]);
                vv = bf(v[off]);
            }
            ks[kk][d] = kv;
            vs[kk][d] = vv;
        }
        __syncthreads();
        if (active) {
            const int kmax = min(KT, row - t0 + 1);
            for (int kk = 0; kk < kmax; ++kk) {
                const float4 kq = *reinterpret_cast<const float4*>(&ks[kk][lane * 4]);
                float s = qr[0] * kq.x + qr[1] * kq.y + qr[2] * kq.z + qr[3] * kq.w;
                s = warp_sum(s);
                const float mnew = fmaxf(mx, s);
                const float corr = __expf(mx - mnew), p = __expf(s - mnew);
                const float4 vq = *reinterpret_cast<const float4*>(&vs[kk][lane * 4]);
                l = l * corr + p;
                acc[0] = acc[0] * corr + p * vq.x;
                acc[1] = acc[1] * corr + p * vq.y;
                acc[2] = acc[2] * corr + p * vq.z;
                acc[3] = acc[3] * corr + p * vq.w;
                mx = mnew;
            }
        }
    }
    if (active) {
        bf16_t* op = o + (((size_t)b * seq + row) * heads + h) * HD + lane * 4;
        const float inv = 1.f / l;
        for (int i = 0; i < 4; ++i) op[i] = to_bf(acc[i] * inv);
    }
}

// Decode, pass 1. q: [batch, heads, HD]; kc, vc: [batch, ctx, kv_heads, HD].
// grid (splits, batch*kv_heads); block DWARPS*32. Warp w of split s takes keys s*chunk + w, +DWARPS, ...
// for all query heads of the KV group. Partials: acc [batch*heads, splits*DWARPS, HD], ml [.., 2].
extern "C" __global__ void attn_decode_partial(const bf16_t* __restrict__ q, const bf16_t* __restrict__ kc,
                                               const bf16_t* __restrict__ vc, float* __restrict__ part_acc,
                                               float* __restrict__ part_ml, int ctx, int heads, int kv_heads,
                                               int chunk, float scale) {
    const int split = blockIdx.x, splits = gridDim.x, bk = blockIdx.y;
    const int b = bk / kv_heads, kvh = bk % kv_heads, G = heads / kv_heads;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float qr[MAXG][4], acc[MAXG][4], mx[MAXG], l[MAXG];
#pragma unroll
    for (int g = 0; g < MAXG; ++g) {
        mx[g] = NEG_BIG;
        l[g] = 0.f;
        for (int i = 0; i < 4; ++i) { acc[g][i] = 0.f; qr[g][i] = 0.f; }
        if (g < G) {
            const bf16_t* qp = q + ((size_t)b * heads + kvh * G + g) * HD + lane * 4;
            for (int i = 0; i < 4; ++i) qr[g][i] = bf(qp[i]) * scale;
        }
    }
    const int start = split * chunk, end = min(ctx, start + chunk);
    for (int j = start + warp; j < end; j += DWARPS) {
        const size_t off = (((size_t)b * ctx + j) * kv_heads + kvh) * HD + lane * 4;
        const uint2 kr = *reinterpret_cast<const uint2*>(kc + off);
        const uint2 vr = *reinterpret_cast<const uint2*>(vc + off);
        const float k0 = __uint_as_float(kr.x << 16), k1 = __uint_as_float(kr.x & 0xffff0000u);
        const float k2 = __uint_as_float(kr.y << 16), k3 = __uint_as_float(kr.y & 0xffff0000u);
        const float v0 = __uint_as_float(vr.x << 16), v1 = __uint_as_float(vr.x & 0xffff0000u);
        const float v2 = __uint_as_float(vr.y << 16), v3 = __uint_as_float(vr.y & 0xffff0000u);
#pragma unroll
        for (int g = 0; g < MAXG; ++g) {
            if (g < G) {
                float s = warp_sum(qr[g][0] * k0 + qr[g][1] * k1 + qr[g][2] * k2 + qr[g][3] * k3);
                const float mnew = fmaxf(mx[g], s);
                const float corr = __expf(mx[g] - mnew), p = __expf(s - mnew);
                l[g] = l[g] * corr + p;
                acc[g][0] = acc[g][0] * corr + p * v0;
                acc[g][1] = acc[g][1] * corr + p * v1;
                acc[g][2] = acc[g][2] * corr + p * v2;
                acc[g][3] = acc[g][3] * corr + p * v3;
                mx[g] = mnew;
            }
        }
    }
    const int parts = splits * DWARPS, part = split * DWARPS + warp;
#pragma unroll
    for (int g = 0; g < MAXG; ++g) {
        if (g < G) {
            const size_t p = ((size_t)b * heads + kvh * G + g) * parts + part;
            for (int i = 0; i < 4; ++i) part_acc[p * HD + lane * 4 + i] = acc[g][i];
            if (lane == 0) { part_ml[p * 2] = mx[g]; part_ml[p * 2 + 1] = l[g]; }
        }
    }
}

// Decode, pass 2: merge the partials of each (sequence, head). grid batch*heads; block HD threads.
extern "C" __global__ void attn_decode_combine(const float* __restrict__ part_acc, const float* __restrict__ part_ml,
                                               bf16_t* __restrict__ o, int parts) {
    const int bh = blockIdx.x, d = threadIdx.x;
    const size_t base = (size_t)bh * parts;
    float m = NEG_BIG;
    for (int p = 0; p < parts; ++p) m = fmaxf(m, part_ml[(base + p) * 2]);
    float lsum = 0.f, a = 0.f;
    for (int p = 0; p < parts; ++p) {
        const float w = __expf(part_ml[(base + p) * 2] - m);
        lsum += part_ml[(base + p) * 2 + 1] * w;
        a += part_acc[(base + p) * HD + d] * w;
    }
    o[(size_t)bh * HD + d] = to_bf(lsum > 0.f ? a / lsum : 0.f);
}

// MoE activation: gu [rows, 2*inter] (gate | up) -> out [rows, inter] = silu(gate) * up.
extern "C" __global__ void silu_mul(const bf16_t* __restrict__ gu, bf16_t* __restrict__ out, long long rows, int inter) {
    const long long n = rows * (long long)inter;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        const long long r = i / inter;
        const int c = (int)(i % inter);
        const float g = bf(gu[r * 2 * inter + c]), u = bf(gu[r * 2 * inter + inter + c]);
        out[i] = to_bf(g / (1.f + __expf(-g)) * u);
    }
}
"#;

/// Number of decode splits: enough blocks to cover the SMs about twice, at least 256 keys each.
pub fn decode_splits(batch: u64, kv_heads: u64, context_len: u64, sms: u64) -> u64 {
    let groups = (batch * kv_heads).max(1);
    let want = (2 * sms).div_ceil(groups).max(1);
    let most = context_len.div_ceil(256).max(1);
    want.min(most)
}
