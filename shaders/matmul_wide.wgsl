// Batched f32 matrix product C[b] = A[b] x B[b] for large aligned operands: 128x128 output
// tiles per workgroup of 16x16 threads, each thread 8x8 elements of C in registers (rows
// 4*ty..+4 and 64+4*ty..+4, columns likewise, so its reads of the tiles and its stores are
// vec4s). A and B are read as vec4s, 16 columns of A (rows of B) a step, and the next
// step's loads are issued before this step's products so they overlap.
//
// The generated part in front declares the bindings (`out`, `a`, `b` as array<vec4<f32>>),
// `M`, `N`, `K` (M and N multiples of 128, K of 16) and `A_OFF`, `B_OFF`: the operands'
// offsets in vec4s. Every index is inside its buffer by those preconditions, which the
// backend checks before it picks this kernel.

var<workgroup> tile_a: array<array<vec4<f32>, 32>, 16>;
var<workgroup> tile_b: array<array<vec4<f32>, 32>, 16>;

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
  var a_next: array<vec4<f32>, 2>;
  var b_next: array<vec4<f32>, 2>;
  for (var p = 0u; p < 2u; p++) {
    let e = tid + 256u * p;
    a_next[p] = a[a_base + (e / 4u) * (K / 4u) + e % 4u];
    b_next[p] = b[b_base + (e / 32u) * (N / 4u) + e % 32u];
  }
  var acc: array<vec4<f32>, 16>;
  for (var i = 0u; i < 16u; i++) {
    acc[i] = vec4<f32>(0.0);
  }
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    for (var p = 0u; p < 2u; p++) {
      let e = tid + 256u * p;
      let r = e / 4u;
      let c = (e % 4u) * 4u;
      let v = a_next[p];
      tile_a[c][r / 4u][r % 4u] = v.x;
      tile_a[c + 1u][r / 4u][r % 4u] = v.y;
      tile_a[c + 2u][r / 4u][r % 4u] = v.z;
      tile_a[c + 3u][r / 4u][r % 4u] = v.w;
      tile_b[e / 32u][e % 32u] = b_next[p];
    }
    workgroupBarrier();
    if (k0 + 16u < K) {
      for (var p = 0u; p < 2u; p++) {
        let e = tid + 256u * p;
        a_next[p] = a[a_base + (e / 4u) * (K / 4u) + (k0 + 16u) / 4u + e % 4u];
        b_next[p] = b[b_base + ((k0 + 16u) + e / 32u) * (N / 4u) + e % 32u];
      }
    }
    for (var kk = 0u; kk < 16u; kk++) {
      let a0 = tile_a[kk][l.y];
      let a1 = tile_a[kk][l.y + 16u];
      let b0 = tile_b[kk][l.x];
      let b1 = tile_b[kk][l.x + 16u];
      acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
      acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
      acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
      acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
      acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
      acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
      acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
      acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
      acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
      acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
      acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
      acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
      acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
      acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
      acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
      acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
    }
    workgroupBarrier();
  }
  // acc[2 * i + h]: row (i < 4 ? 4 * ty + i : 64 + 4 * ty + i - 4), vec4 column tx + 16 * h.
  for (var i = 0u; i < 8u; i++) {
    let r = row0 + (i / 4u) * 64u + l.y * 4u + i % 4u;
    let at = ((batch * M + r) * N + col0) / 4u;
    out[at + l.x] = acc[2u * i];
    out[at + l.x + 16u] = acc[2u * i + 1u];
  }
}
