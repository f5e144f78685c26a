// Batched matrix product C[b] = A[b] x B[b], 64x64 output tiles per workgroup of 16x16
// threads, each thread 4x4 elements of C held in registers, 16 rows and columns apart (so
// neighbouring threads read neighbouring words of the tiles and store neighbouring words); A and B pass through workgroup
// memory 16 columns of A (rows of B) at a time. The generated part in front declares
// `T` (the compute type), `M`, `N`, `K`, `ZERO`, `load_a(b, row, col)`,
// `load_b(b, row, col)` and `store_c(b, part, row, col, v)` for the operands' views, and
// `SPLIT`, `KCHUNK`: a product with few output tiles and a long K (a weight gradient sums
// over the batch) is split into SPLIT parts of KCHUNK, each its own workgroup writing a
// partial product that a second kernel sums.

var<workgroup> tile_a: array<array<T, 64>, 16>;
var<workgroup> tile_b: array<array<T, 64>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let batch = wg.z / SPLIT;
  let part = wg.z % SPLIT;
  let k_begin = part * KCHUNK;
  let k_end = min(K, k_begin + KCHUNK);
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  let tid = l.y * 16u + l.x;
  var acc: array<array<T, 4>, 4>;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      acc[i][j] = ZERO;
    }
  }
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
    for (var kk = 0u; kk < 16u; kk++) {
      var a: array<T, 4>;
      var b: array<T, 4>;
      for (var i = 0u; i < 4u; i++) {
        a[i] = tile_a[kk][l.y + 16u * i];
        b[i] = tile_b[kk][l.x + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i][j] = acc[i][j] + a[i] * b[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let r = row0 + l.y + 16u * i;
      let c = col0 + l.x + 16u * j;
      if (r < M && c < N) {
        store_c(batch, part, r, c, acc[i][j]);
      }
    }
  }
}
