// Batched matrix product C[b] = A[b] x B[b], 64x64 output tiles per workgroup of 16x16
// threads, each thread 4x4 elements of C held in registers, 16 rows and columns apart (so
// neighbouring threads read neighbouring words of the tiles and store neighbouring
// words); A and B pass through workgroup memory 16 columns of A (rows of B) at a time.
// The accumulators are 16 named values and the 16 products of a step are written out
// (the backend repeats the UNROLL block): a driver that keeps such a loop a loop moves an
// indexed accumulator array out of registers.
//
// The generated part in front declares `T` (the compute type), `M`, `N`, `K`, `ZERO`,
// `load_a(b, row, col)`, `load_b(b, row, col)` and `store_c(b, part, row, col, v)` for the
// operands' views, and `SPLIT`, `KCHUNK`: a product with few output tiles and a long K (a
// weight gradient sums over the batch) is split into SPLIT parts of KCHUNK, each its own
// workgroup writing a partial product that a second kernel sums.

var<workgroup> tile_a: array<array<T, 64>, 16>;
var<workgroup> tile_b: array<array<T, 64>, 16>;

// Row r of this thread's 4x4 block: columns c, c + 16, c + 32, c + 48, inside the matrix.
fn store_row(batch: u32, part: u32, r: u32, c: u32, v0: T, v1: T, v2: T, v3: T) {
  if (r >= M) {
    return;
  }
  if (c < N) { store_c(batch, part, r, c, v0); }
  if (c + 16u < N) { store_c(batch, part, r, c + 16u, v1); }
  if (c + 32u < N) { store_c(batch, part, r, c + 32u, v2); }
  if (c + 48u < N) { store_c(batch, part, r, c + 48u, v3); }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let batch = wg.z / SPLIT;
  let part = wg.z % SPLIT;
  let k_begin = part * KCHUNK;
  let k_end = min(K, k_begin + KCHUNK);
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  let tid = l.y * 16u + l.x;
  var c00: T = ZERO;
  var c01: T = ZERO;
  var c02: T = ZERO;
  var c03: T = ZERO;
  var c10: T = ZERO;
  var c11: T = ZERO;
  var c12: T = ZERO;
  var c13: T = ZERO;
  var c20: T = ZERO;
  var c21: T = ZERO;
  var c22: T = ZERO;
  var c23: T = ZERO;
  var c30: T = ZERO;
  var c31: T = ZERO;
  var c32: T = ZERO;
  var c33: T = ZERO;
  for (var k0 = k_begin; k0 < k_end; k0 += 16u) {
    for (var e = tid; e < 1024u; e += 256u) {
      let r = e / 16u;
      let c = e % 16u;
      var v = ZERO;
      if (row0 + r < M && k0 + c < k_end) {
        v = load_a(batch, row0 + r, k0 + c);
      }
      tile_a[c][r] = v;
      let rb = e / 64u;
      let cb = e % 64u;
      var w = ZERO;
      if (k0 + rb < k_end && col0 + cb < N) {
        w = load_b(batch, k0 + rb, col0 + cb);
      }
      tile_b[rb][cb] = w;
    }
    workgroupBarrier();
    // UNROLL kk 0..16: the backend repeats this block for kk = 0u, 1u, ... 15u.
    {
      let a0 = tile_a[kk][l.y + 0u];
      let a1 = tile_a[kk][l.y + 16u];
      let a2 = tile_a[kk][l.y + 32u];
      let a3 = tile_a[kk][l.y + 48u];
      let b0 = tile_b[kk][l.x + 0u];
      let b1 = tile_b[kk][l.x + 16u];
      let b2 = tile_b[kk][l.x + 32u];
      let b3 = tile_b[kk][l.x + 48u];
      c00 = c00 + a0 * b0;
      c01 = c01 + a0 * b1;
      c02 = c02 + a0 * b2;
      c03 = c03 + a0 * b3;
      c10 = c10 + a1 * b0;
      c11 = c11 + a1 * b1;
      c12 = c12 + a1 * b2;
      c13 = c13 + a1 * b3;
      c20 = c20 + a2 * b0;
      c21 = c21 + a2 * b1;
      c22 = c22 + a2 * b2;
      c23 = c23 + a2 * b3;
      c30 = c30 + a3 * b0;
      c31 = c31 + a3 * b1;
      c32 = c32 + a3 * b2;
      c33 = c33 + a3 * b3;
    }
    // END UNROLL
    workgroupBarrier();
  }
  store_row(batch, part, row0 + l.y + 0u, col0 + l.x, c00, c01, c02, c03);
  store_row(batch, part, row0 + l.y + 16u, col0 + l.x, c10, c11, c12, c13);
  store_row(batch, part, row0 + l.y + 32u, col0 + l.x, c20, c21, c22, c23);
  store_row(batch, part, row0 + l.y + 48u, col0 + l.x, c30, c31, c32, c33);
}
