// Batched f32 matrix product C[b] = A[b] x B[b] for large aligned operands: 128x128 output
// tiles per workgroup of 16x16 threads, each thread 8x8 elements of C in registers (rows
// 4*ty..+4 and 64+4*ty..+4, columns likewise, so its reads of the tiles and its stores are
// vec4s). A and B are read as vec4s, 16 columns of A (rows of B) a step, and the next
// step's loads are issued before this step's products so they overlap. The accumulators
// are 16 named vec4s, and the 16 products of a step are written out (the backend repeats
// the UNROLL block): left a loop, the driver kept it one, 30 TFLOP/s at 4096 on an H200
// against 40-42 unrolled.
//
// The generated part in front declares the bindings (`out`, `a`, `b` as array<vec4<f32>>),
// `M`, `N`, `K` (M and N multiples of 128, K of 16) and `A_OFF`, `B_OFF`: the operands'
// offsets in vec4s. Every index is inside its buffer by those preconditions, which the
// backend checks before it picks this kernel.

var<workgroup> tile_a: array<array<vec4<f32>, 32>, 16>;
var<workgroup> tile_b: array<array<vec4<f32>, 32>, 16>;

fn store_a(e: u32, v: vec4<f32>) {
  let r = e / 4u;
  let c = (e % 4u) * 4u;
  tile_a[c][r / 4u][r % 4u] = v.x;
  tile_a[c + 1u][r / 4u][r % 4u] = v.y;
  tile_a[c + 2u][r / 4u][r % 4u] = v.z;
  tile_a[c + 3u][r / 4u][r % 4u] = v.w;
}

// Row r of this thread's block: vec4 columns tx and tx + 16 of the tile at col0.
fn store_row(batch: u32, r: u32, col0: u32, tx: u32, v0: vec4<f32>, v1: vec4<f32>) {
  let at = ((batch * M + r) * N + col0) / 4u;
  out[at + tx] = v0;
  out[at + tx + 16u] = v1;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let batch = wg.z;
  let row0 = wg.y * 128u;
  let col0 = wg.x * 128u;
  let tid = l.y * 16u + l.x;
  // This thread's two vec4 loads of A (row e / 4, vec4 column e % 4) and of B (row e / 32,
  // vec4 column e % 32), e = tid and tid + 256, for k0 = 0.
  let a_base = A_OFF + ((batch * M + row0) * K) / 4u;
  let b_base = B_OFF + (batch * K * N + col0) / 4u;
  let e0 = tid;
  let e1 = tid + 256u;
  var a0n = a[a_base + (e0 / 4u) * (K / 4u) + e0 % 4u];
  var a1n = a[a_base + (e1 / 4u) * (K / 4u) + e1 % 4u];
  var b0n = b[b_base + (e0 / 32u) * (N / 4u) + e0 % 32u];
  var b1n = b[b_base + (e1 / 32u) * (N / 4u) + e1 % 32u];
  var c0 = vec4<f32>(0.0);
  var c1 = vec4<f32>(0.0);
  var c2 = vec4<f32>(0.0);
  var c3 = vec4<f32>(0.0);
  var c4 = vec4<f32>(0.0);
  var c5 = vec4<f32>(0.0);
  var c6 = vec4<f32>(0.0);
  var c7 = vec4<f32>(0.0);
  var c8 = vec4<f32>(0.0);
  var c9 = vec4<f32>(0.0);
  var c10 = vec4<f32>(0.0);
  var c11 = vec4<f32>(0.0);
  var c12 = vec4<f32>(0.0);
  var c13 = vec4<f32>(0.0);
  var c14 = vec4<f32>(0.0);
  var c15 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    store_a(e0, a0n);
    store_a(e1, a1n);
    tile_b[e0 / 32u][e0 % 32u] = b0n;
    tile_b[e1 / 32u][e1 % 32u] = b1n;
    workgroupBarrier();
    if (k0 + 16u < K) {
      let kn = (k0 + 16u) / 4u;
      a0n = a[a_base + (e0 / 4u) * (K / 4u) + kn + e0 % 4u];
      a1n = a[a_base + (e1 / 4u) * (K / 4u) + kn + e1 % 4u];
      b0n = b[b_base + ((k0 + 16u) + e0 / 32u) * (N / 4u) + e0 % 32u];
      b1n = b[b_base + ((k0 + 16u) + e1 / 32u) * (N / 4u) + e1 % 32u];
    }
    // UNROLL kk 0..16: the backend repeats this block for kk = 0u, 1u, ... 15u.
    {
      let a0 = tile_a[kk][l.y];
      let a1 = tile_a[kk][l.y + 16u];
      let b0 = tile_b[kk][l.x];
      let b1 = tile_b[kk][l.x + 16u];
      c0 = fma(vec4<f32>(a0.x), b0, c0);
      c1 = fma(vec4<f32>(a0.x), b1, c1);
      c2 = fma(vec4<f32>(a0.y), b0, c2);
      c3 = fma(vec4<f32>(a0.y), b1, c3);
      c4 = fma(vec4<f32>(a0.z), b0, c4);
      c5 = fma(vec4<f32>(a0.z), b1, c5);
      c6 = fma(vec4<f32>(a0.w), b0, c6);
      c7 = fma(vec4<f32>(a0.w), b1, c7);
      c8 = fma(vec4<f32>(a1.x), b0, c8);
      c9 = fma(vec4<f32>(a1.x), b1, c9);
      c10 = fma(vec4<f32>(a1.y), b0, c10);
      c11 = fma(vec4<f32>(a1.y), b1, c11);
      c12 = fma(vec4<f32>(a1.z), b0, c12);
      c13 = fma(vec4<f32>(a1.z), b1, c13);
      c14 = fma(vec4<f32>(a1.w), b0, c14);
      c15 = fma(vec4<f32>(a1.w), b1, c15);
    }
    // END UNROLL
    workgroupBarrier();
  }
  // c(2 * i + h): row (i < 4 ? 4 * ty + i : 64 + 4 * ty + i - 4), vec4 column tx + 16 * h.
  store_row(batch, row0 + 0u + l.y * 4u + 0u, col0, l.x, c0, c1);
  store_row(batch, row0 + 0u + l.y * 4u + 1u, col0, l.x, c2, c3);
  store_row(batch, row0 + 0u + l.y * 4u + 2u, col0, l.x, c4, c5);
  store_row(batch, row0 + 0u + l.y * 4u + 3u, col0, l.x, c6, c7);
  store_row(batch, row0 + 64u + l.y * 4u + 0u, col0, l.x, c8, c9);
  store_row(batch, row0 + 64u + l.y * 4u + 1u, col0, l.x, c10, c11);
  store_row(batch, row0 + 64u + l.y * 4u + 2u, col0, l.x, c12, c13);
  store_row(batch, row0 + 64u + l.y * 4u + 3u, col0, l.x, c14, c15);
}
