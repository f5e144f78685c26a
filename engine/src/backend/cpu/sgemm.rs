//! Dense f32 / f64 matrix multiply for the CPU backend.
//!
//! The f32 path is a BLIS-style GEMM with an AVX-512 microkernel: the `gemm`
//! crate only uses AVX2 on stable Rust, which leaves roughly half of the
//! machine's FMA throughput unused. Without AVX-512 (or on other
//! architectures) everything is forwarded to the `gemm` crate.
//!
//! Structure (names follow the BLIS papers):
//! * B is packed once per call (per `NC` column block) into `NR`-column
//!   micro-panels covering all of `k`, in parallel; the packed B is shared
//!   read-only by all workers, so there is one barrier per column block.
//! * C is split into row strips (or column strips when that balances the
//!   two cores better), one task each. A task walks `k` in `KC` steps,
//!   packs its rows of A into `MR`-row micro-panels (private, L2-resident)
//!   and runs the 14x32 microkernel over its tiles, one B micro-panel
//!   against all of its A micro-panels.
//! * Tiles that are cut by the matrix edge are computed in full on
//!   zero-padded packed data and only the valid part is written back.
//! * Tiny products use a plain loop, small ones run on the calling thread:
//!   waking the pool costs ~10-25 us on the 2-core VM this was tuned on.
//!
//! Measured on that VM (2 cores, AVX-512, 176 GFLOP/s/core FMA peak):
//! ~290-300 GFLOP/s at n = 1024/2048 on 2 threads, about 0.95-0.97x of
//! NumPy/OpenBLAS in the same conditions.

use crate::backend::Parallel;
use std::cell::Cell;

/// Read-only strided view of a row-major-addressed f32 matrix.
///
/// Element `(i, j)` lives at `ptr.offset(i * rs + j * cs)`. `rs` and `cs` are
/// element (not byte) strides; they must be non-zero and may be negative,
/// so transposed and flipped views need no copy. Rows (or columns) that are
/// not one stride apart, such as the columns of an implicit im2col matrix
/// (a convolution's input read through its sliding windows, never copied),
/// come with a table of offsets that replaces the stride.
#[derive(Clone, Copy, Debug)]
pub struct MatRef {
    /// Address of element `(0, 0)` (with tables: the base the offsets add to).
    pub ptr: *const f32,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Element stride between consecutive rows.
    pub rs: isize,
    /// Element stride between consecutive columns.
    pub cs: isize,
    /// Per row, its offset from `ptr` in elements; null to use `rs`.
    pub row_offsets: *const isize,
    /// Per column, its offset from `ptr` in elements; null to use `cs`.
    pub col_offsets: *const isize,
}

impl MatRef {
    /// A matrix whose rows and columns are each one stride apart.
    pub fn strided(ptr: *const f32, rows: usize, cols: usize, rs: isize, cs: isize) -> MatRef {
        MatRef {
            ptr,
            rows,
            cols,
            rs,
            cs,
            row_offsets: std::ptr::null(),
            col_offsets: std::ptr::null(),
        }
    }

    /// True when rows or columns go through an offset table.
    fn tabled(&self) -> bool {
        !self.row_offsets.is_null() || !self.col_offsets.is_null()
    }

    /// Offset of row `i` from `ptr`.
    unsafe fn row(&self, i: usize) -> isize {
        if self.row_offsets.is_null() {
            i as isize * self.rs
        } else {
            *self.row_offsets.add(i)
        }
    }

    /// Offset of column `j` from `ptr`.
    unsafe fn col(&self, j: usize) -> isize {
        if self.col_offsets.is_null() {
            j as isize * self.cs
        } else {
            *self.col_offsets.add(j)
        }
    }

    /// Address of element `(i, j)`.
    unsafe fn at(&self, i: usize, j: usize) -> *const f32 {
        self.ptr.offset(self.row(i) + self.col(j))
    }

    /// The `rows x cols` block starting at `(i, j)`.
    unsafe fn sub(&self, i: usize, j: usize, rows: usize, cols: usize) -> MatRef {
        let mut m = MatRef { rows, cols, ..*self };
        if m.row_offsets.is_null() {
            m.ptr = m.ptr.offset(i as isize * self.rs);
        } else {
            m.row_offsets = m.row_offsets.add(i);
        }
        if m.col_offsets.is_null() {
            m.ptr = m.ptr.offset(j as isize * self.cs);
        } else {
            m.col_offsets = m.col_offsets.add(j);
        }
        m
    }

    /// The transpose (the same elements).
    fn t(self) -> MatRef {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            row_offsets: self.col_offsets,
            col_offsets: self.row_offsets,
            ..self
        }
    }

    /// A row-major copy (for code that needs plain strides).
    unsafe fn dense(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.rows * self.cols);
        for i in 0..self.rows {
            v.extend((0..self.cols).map(|j| *self.at(i, j)));
        }
        v
    }
}

/// Mutable strided view of an f32 matrix; same addressing as [`MatRef`].
#[derive(Clone, Copy, Debug)]
pub struct MatMut {
    /// Address of element `(0, 0)`.
    pub ptr: *mut f32,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Element stride between consecutive rows.
    pub rs: isize,
    /// Element stride between consecutive columns.
    pub cs: isize,
}

/// Below this many multiply-adds (`m*n*k`) a plain triple loop beats the
/// cost of packing.
const NAIVE_MAX_FMAS: usize = 128;
/// Below this many multiply-adds the work runs on the calling thread: waking
/// the pool costs more than the second core gains.
const PAR_MIN_FMAS: usize = 6 << 20;

/// `C = A·B`, or `C += A·B` when `accumulate`.
///
/// `A` is `m×k`, `B` is `k×n`, `C` is `m×n`, all with arbitrary non-zero
/// element strides. `k == 0` sets C to zero (or leaves it unchanged when
/// accumulating). Large problems run on `pool`; small ones run on the
/// calling thread, so calling this in a loop over a batch of small matrices
/// is cheap.
///
/// # Safety
/// Every element reachable through the views' pointers and strides must be
/// valid (readable for `a`, `b`; writable for `c`), and `c` must not overlap
/// `a` or `b`.
///
/// # Panics
/// If the shapes do not agree.
pub unsafe fn sgemm(a: MatRef, b: MatRef, c: MatMut, accumulate: bool, par: &dyn Parallel) {
    assert!(
        a.rows == c.rows && b.cols == c.cols && a.cols == b.rows,
        "sgemm: shape mismatch ({}x{}) * ({}x{}) -> ({}x{})",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
    let (m, n, k) = (c.rows, c.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    // A few columns (a 3x3 conv's weight gradient: n = 9) waste most of a 32-wide
    // microkernel; Cᵀ = Bᵀ·Aᵀ puts them on the 14-row side instead.
    if n < 16 && m > n {
        let ct = MatMut {
            ptr: c.ptr,
            rows: n,
            cols: m,
            rs: c.cs,
            cs: c.rs,
        };
        // SAFETY: the same elements through swapped strides.
        return unsafe { sgemm(b.t(), a.t(), ct, accumulate, par) };
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.ptr.offset(i as isize * c.rs + j as isize * c.cs) = 0.0;
                }
            }
        }
        return;
    }
    let fmas = m.saturating_mul(n).saturating_mul(k);
    if fmas <= NAIVE_MAX_FMAS {
        naive_sgemm(a, b, c, accumulate);
        return;
    }
    let threads = par.threads();
    let pool = if threads > 1 && fmas >= PAR_MIN_FMAS {
        Some(par)
    } else {
        None
    };
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            avx512::sgemm(a, b, c, accumulate, pool);
            return;
        }
    }
    fallback_sgemm(a, b, c, accumulate, pool);
}

/// Triple loop for tiny products, where packing would dominate.
unsafe fn naive_sgemm(a: MatRef, b: MatRef, c: MatMut, accumulate: bool) {
    for i in 0..c.rows {
        for j in 0..c.cols {
            let mut s = 0.0f32;
            for p in 0..a.cols {
                s += *a.at(i, p) * *b.at(p, j);
            }
            let cp = c.ptr.offset(i as isize * c.rs + j as isize * c.cs);
            *cp = if accumulate { *cp + s } else { s };
        }
    }
}

/// Non-AVX-512 path: the `gemm` crate (AVX2/FMA or NEON where available).
unsafe fn fallback_sgemm(a: MatRef, b: MatRef, c: MatMut, accumulate: bool, pool: Option<&dyn Parallel>) {
    if a.tabled() || b.tabled() {
        // The crate takes strides only: copy a tabled operand into rows first.
        let dense = |m: MatRef| (m.tabled()).then(|| m.dense());
        let (da, db) = (dense(a), dense(b));
        let plain = |m: MatRef, d: &Option<Vec<f32>>| match d {
            Some(v) => MatRef::strided(v.as_ptr(), m.rows, m.cols, m.cols as isize, 1),
            None => m,
        };
        return fallback_sgemm(plain(a, &da), plain(b, &db), c, accumulate, pool);
    }
    // Row blocks of C, each a single-threaded `gemm` call: the crate's own
    // threading would use rayon directly, which notebook cells must not.
    let blocks = pool.map_or(1, |p| 2 * p.threads());
    let rows = c.rows.div_ceil(blocks).max(1);
    let (a, b, c) = (Shared(a), Shared(b), Shared(c));
    let run = |i: usize| {
        let (a, b, c) = (a.get(), b.get(), c.get());
        let r0 = i * rows;
        let mi = rows.min(c.rows.saturating_sub(r0));
        if mi == 0 {
            return;
        }
        gemm::gemm(
            mi,
            c.cols,
            a.cols,
            c.ptr.offset(r0 as isize * c.rs),
            c.cs,
            c.rs,
            accumulate,
            a.ptr.offset(r0 as isize * a.rs),
            a.cs,
            a.rs,
            b.ptr,
            b.cs,
            b.rs,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    };
    match pool {
        Some(p) => p.run(blocks, &run),
        None => run(0),
    }
}

/// Raw pointers (or views holding them) that cross into pool tasks. Sound
/// because tasks only read the shared inputs and write disjoint parts of C.
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Shared<T>(T);
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T: Copy> Shared<T> {
    /// Accessor rather than `.0`: closures then capture the whole wrapper,
    /// not the (non-`Send`) field.
    fn get(self) -> T {
        self.0
    }
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
/// Hands out a per-thread scratch buffer of at least `len` floats, 64-byte
/// aligned. The buffer is taken out of the thread-local for the duration of
/// `f`, so a re-entrant call on the same thread (a nested parallel call while
/// we wait) gets a fresh allocation instead of aliasing ours.
fn with_scratch<R>(
    key: &'static std::thread::LocalKey<Cell<Vec<f32>>>,
    len: usize,
    f: impl FnOnce(*mut f32) -> R,
) -> R {
    let mut v = key.take();
    // 16 extra floats leave room to align the start to a cache line.
    if v.len() < len + 16 {
        // Grow to the largest size seen so far (at least doubling): calls of varying
        // sizes then settle on one buffer instead of allocating (and zeroing) each time.
        v = vec![0.0f32; (len + 16).max((2 * v.len()).min(SCRATCH_KEEP_MAX))];
    }
    let off = v.as_ptr().align_offset(64);
    let r = f(unsafe { v.as_mut_ptr().add(off) });
    // Keeping the buffer saves page-faulting it in on every call (16 MiB of
    // packed B at n = 2048), but a one-off huge product should not pin its
    // memory.
    if v.len() <= SCRATCH_KEEP_MAX {
        key.set(v);
    }
    r
}

/// Largest scratch buffer (in floats, 64 MiB) kept for reuse by a thread.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const SCRATCH_KEEP_MAX: usize = 16 << 20;

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// Packed A block of the worker running on this thread.
    static A_SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Packed B of the call issued from this thread.
    static B_SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

// AVX-512 intrinsics are stable since Rust 1.89: this module raises the
// crate's MSRV to 1.89 (the workspace still says 1.85).
#[cfg(target_arch = "x86_64")]
#[clippy::msrv = "1.89"]
mod avx512 {
    use super::{with_scratch, MatMut, MatRef, Parallel, Shared, A_SCRATCH, B_SCRATCH};
    use std::arch::x86_64::*;

    /// Microkernel rows: 14 rows x 2 zmm = 28 accumulators, leaving 2
    /// registers for the B row and 2 for A broadcasts; 14 broadcasts + 2
    /// loads per 28 FMAs keeps the load ports under the FMA ports.
    const MR: usize = 14;
    /// Microkernel columns: two 16-lane zmm vectors.
    const NR: usize = 32;
    /// Max depth of one packed block. Much deeper than the classic "B
    /// micro-panel fits L1" choice (it is 128 KiB here and streams from L2
    /// fine): measured, what costs is re-reading and re-writing C once per
    /// depth block, and that needs few, deep blocks. 512..1536 all measure
    /// the same at n = 1024/2048.
    const KC: usize = 1024;
    /// Bytes of packed A per task block, to stay in the 2 MiB L2 next to the
    /// current B micro-panel and the C tiles (9 micro-panels at KC = 1024).
    const A_BLOCK_BYTES: usize = 512 << 10;
    /// Max floats of packed B held at once (16 MiB): beyond it the columns
    /// are processed in blocks, each with its own packing pass.
    const B_PACK_MAX: usize = 4 << 20;

    /// AVX-512 GEMM driver; `pool` is `None` when the call should stay on
    /// the calling thread. Shapes are already checked and non-empty.
    pub(super) unsafe fn sgemm(a: MatRef, b: MatRef, c: MatMut, accumulate: bool, pool: Option<&dyn Parallel>) {
        let (m, n, k) = (c.rows, c.cols, a.cols);
        let threads = pool.map_or(1, |p| p.threads());
        if let Some(p) = pool {
            // Fewer tiles than threads but a long depth (a conv's weight gradient sums
            // over every pixel of the batch): each thread takes a slice of `k`.
            if m.div_ceil(MR) * n.div_ceil(NR) < threads && k >= 2 * KC {
                return split_depth(a, b, c, accumulate, p);
            }
        }
        let nc = if k * n.next_multiple_of(NR) <= B_PACK_MAX {
            n
        } else {
            ((B_PACK_MAX / k) / NR * NR).max(NR)
        };
        // Depth blocks of near-equal size rather than KC + remainder: a thin
        // last block would cost a full pass over C for little work.
        let kc_step = k.div_ceil(k.div_ceil(KC));
        let mut jc = 0;
        while jc < n {
            let ncb = nc.min(n - jc);
            let b_panels = ncb.div_ceil(NR);
            let bblk = Shared(b.sub(0, jc, k, ncb));
            let cblk = Shared(MatMut {
                ptr: c.ptr.offset(jc as isize * c.cs),
                cols: ncb,
                ..c
            });
            let a = Shared(a);
            // Split C by rows (each task then packs only its own A),
            // or by columns when there are too few row panels to go
            // round or the column split balances the threads better.
            let m_panels = m.div_ceil(MR);
            let mc_panels = (A_BLOCK_BYTES / (kc_step * MR * 4)).max(1);
            // Fraction of `threads` kept busy when `parts` equal parts
            // are dealt out: MR = 14 rarely divides m evenly, and a
            // 10/9 split costs 5% of the second core.
            let eff = |parts: usize| parts as f64 / (threads * parts.div_ceil(threads)) as f64;
            let split_cols = threads > 1 && (m_panels < 2 * threads || eff(b_panels) > eff(m_panels) + 0.02);
            let (tm, tn) = if split_cols {
                // Every column strip then packs all of A; cheap next to
                // the imbalance it avoids.
                (m_panels.div_ceil(mc_panels), threads.min(b_panels))
            } else {
                (threads * m_panels.div_ceil(threads * mc_panels), 1)
            };
            let task = |t: usize, packed_b: Option<*const f32>| {
                // Column-major task order: consecutive task numbers share
                // a column strip (and so its packed B panels).
                let (ti, tj) = (t % tm, t / tm);
                let (p0, p1) = (ti * m_panels / tm, (ti + 1) * m_panels / tm);
                let (q0, q1) = (tj * b_panels / tn, (tj + 1) * b_panels / tn);
                if p0 == p1 || q0 == q1 {
                    return;
                }
                let r0 = p0 * MR;
                let r1 = (p1 * MR).min(m);
                let b_src = match packed_b {
                    Some(bp) => BSource::Packed { bp, b_panels },
                    None => BSource::Inline(bblk.get()),
                };
                run_task(a.get(), cblk.get(), b_src, kc_step, r0, r1, q0, q1, accumulate);
            };
            if tm == 1 {
                // Each B micro-panel has one reader: it packs its panels as it goes, so
                // they are still in L1/L2 when used (with few rows of A, a separate
                // packing pass made the product memory-bound: B written and read back).
                let task = |t: usize| task(t, None);
                match pool {
                    Some(p) => p.run(tn, &task),
                    None => (0..tn).for_each(task),
                }
            } else {
                with_scratch(&B_SCRATCH, k * b_panels * NR, |bp| {
                    let bp = Shared(bp);
                    let pack_panel = |q: usize| pack_b_panel(bblk.get(), q, b_panels, kc_step, bp.get());
                    let task = |t: usize| task(t, Some(bp.get() as *const f32));
                    match pool {
                        Some(p) => {
                            p.run(b_panels, &pack_panel);
                            p.run(tm * tn, &task);
                        }
                        None => {
                            (0..b_panels).for_each(pack_panel);
                            (0..tm * tn).for_each(task);
                        }
                    }
                });
            }
            jc += ncb;
        }
    }

    /// `C (+)= A·B` with `k` cut into one slice per thread: slice 0 goes into C, the
    /// others into scratch tiles added to C at the end (C is small here).
    unsafe fn split_depth(a: MatRef, b: MatRef, c: MatMut, accumulate: bool, pool: &dyn Parallel) {
        let (m, n, k) = (c.rows, c.cols, a.cols);
        let parts = pool.threads();
        let mut partial = vec![0.0f32; (parts - 1) * m * n];
        let (a, b, c) = (Shared(a), Shared(b), Shared(c));
        let scratch = Shared(partial.as_mut_ptr());
        pool.run(parts, &|t| {
            let (k0, k1) = (t * k / parts, (t + 1) * k / parts);
            let (a, b) = (a.get(), b.get());
            let a_part = a.sub(0, k0, m, k1 - k0);
            let b_part = b.sub(k0, 0, k1 - k0, n);
            if t == 0 {
                sgemm(a_part, b_part, c.get(), accumulate, None);
            } else {
                let out = MatMut {
                    ptr: scratch.get().add((t - 1) * m * n),
                    rows: m,
                    cols: n,
                    rs: n as isize,
                    cs: 1,
                };
                sgemm(a_part, b_part, out, false, None);
            }
        });
        let c = c.get();
        for tile in partial.chunks_exact(m * n) {
            for i in 0..m {
                for j in 0..n {
                    *c.ptr.offset(i as isize * c.rs + j as isize * c.cs) += tile[i * n + j];
                }
            }
        }
    }

    /// Where a task's B micro-panels come from.
    #[derive(Clone, Copy)]
    enum BSource {
        /// Packed for all tasks beforehand (`pack_b_panel` layout, `b_panels` wide).
        Packed { bp: *const f32, b_panels: usize },
        /// Packed by the task itself, one micro-panel and depth block at a time.
        Inline(MatRef),
    }

    /// One task: rows `r0..r1` of C, B micro-panels `q0..q1`, all of `k`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn run_task(
        a: MatRef,
        c: MatMut,
        b: BSource,
        kc_step: usize,
        r0: usize,
        r1: usize,
        q0: usize,
        q1: usize,
        accumulate: bool,
    ) {
        let k = a.cols;
        let n = c.cols;
        let mc = r1 - r0;
        let a_panels = mc.div_ceil(MR);
        let b_len = if matches!(b, BSource::Inline(_)) {
            kc_step * NR
        } else {
            0
        };
        with_scratch(&A_SCRATCH, a_panels * MR * kc_step + b_len, |ap| {
            let own_b = ap.add(a_panels * MR * kc_step);
            let mut pc = 0;
            while pc < k {
                let kc = kc_step.min(k - pc);
                pack_a(a, r0, mc, pc, kc, ap);
                let load_c = accumulate || pc > 0;
                for q in q0..q1 {
                    let j = q * NR;
                    let nr = NR.min(n - j);
                    let bq = match b {
                        // Packed B for depth block `pc` starts at row `pc` of every
                        // panel-group: blocks are stored one after another.
                        BSource::Packed { bp, b_panels } => bp.add(pc * b_panels * NR + q * kc * NR),
                        BSource::Inline(bm) => {
                            pack_lines::<NR>(bm.sub(pc, j, kc, nr).t(), own_b);
                            own_b as *const f32
                        }
                    };
                    for ip in 0..a_panels {
                        let i = r0 + ip * MR;
                        let mr = MR.min(r1 - i);
                        let cp = c.ptr.offset(i as isize * c.rs + j as isize * c.cs);
                        kernel(kc, ap.add(ip * kc * MR), bq, cp, c.rs, c.cs, mr, nr, load_c);
                    }
                }
                pc += kc;
            }
        });
    }

    /// Packs rows `r0..r0+mc`, depths `p0..p0+kc` of A into MR-row
    /// micro-panels: panel `ip`, depth `p`, row `r` at `ip*kc*MR + p*MR + r`,
    /// zero-padded past the last row so the kernel never needs a row mask.
    unsafe fn pack_a(a: MatRef, r0: usize, mc: usize, p0: usize, kc: usize, out: *mut f32) {
        for ip in 0..mc.div_ceil(MR) {
            let i = r0 + ip * MR;
            let rows = MR.min(r0 + mc - i);
            pack_lines::<MR>(a.sub(i, p0, rows, kc), out.add(ip * kc * MR));
        }
    }

    /// Packs B micro-panel `q` (columns `q*NR..`) for all of `k`, one KC
    /// block after another: block at `pc*b_panels*NR`, then `q*kc*NR`.
    unsafe fn pack_b_panel(b: MatRef, q: usize, b_panels: usize, kc_step: usize, out: *mut f32) {
        let k = b.rows;
        let j = q * NR;
        let cols = NR.min(b.cols - j);
        let mut pc = 0;
        while pc < k {
            let kc = kc_step.min(k - pc);
            let dst = out.add(pc * b_panels * NR + q * kc * NR);
            // A B panel is "W lines along depth": its columns, so the transpose's rows.
            pack_lines::<NR>(b.sub(pc, j, kc, cols).t(), dst);
            pc += kc;
        }
    }

    /// Packs the rows of `m` (at most W) as lines along its columns (the depth):
    /// `dst[p*W + l] = m[l, p]`, lines past `m.rows` zero.
    #[inline(always)]
    unsafe fn pack_lines<const W: usize>(m: MatRef, dst: *mut f32) {
        if m.tabled() {
            gather_pack::<W>(m, dst)
        } else {
            pack_panel::<W>(m.ptr, m.rs, m.cs, m.rows, m.cols, dst)
        }
    }

    /// [`pack_lines`] through offset tables: per depth, 16 lines at a time in one
    /// gather (the lines' offsets as 32-bit indices, prepared once per panel). Measured:
    /// expanding loads over runs of consecutive lines (a window row) were no faster.
    #[target_feature(enable = "avx512f")]
    unsafe fn gather_pack<const W: usize>(m: MatRef, dst: *mut f32) {
        let groups = W.div_ceil(16);
        let mut index = [[0i32; 16]; 2];
        let lines: Vec<isize> = (0..m.rows).map(|l| m.row(l)).collect();
        let fits = lines.iter().all(|&o| i32::try_from(o).is_ok());
        if groups > 2 || !fits {
            for p in 0..m.cols {
                for l in 0..W {
                    *dst.add(p * W + l) = if l < m.rows { *m.at(l, p) } else { 0.0 };
                }
            }
            return;
        }
        for (l, &o) in lines.iter().enumerate() {
            index[l / 16][l % 16] = o as i32;
        }
        let vindex = [
            _mm512_loadu_si512(index[0].as_ptr() as *const _),
            _mm512_loadu_si512(index[1].as_ptr() as *const _),
        ];
        for p in 0..m.cols {
            let base = m.ptr.offset(m.col(p));
            for (g, &ix) in vindex.iter().enumerate().take(groups) {
                let lanes = (W - 16 * g).min(16);
                let valid = m.rows.saturating_sub(16 * g).min(16);
                let v =
                    _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), ((1u32 << valid) - 1) as __mmask16, ix, base);
                _mm512_mask_storeu_ps(dst.add(p * W + 16 * g), ((1u32 << lanes) - 1) as __mmask16, v);
            }
        }
    }

    /// Generic panel pack: `lines` (<= W) lines of `kc` elements; line `l`,
    /// depth `p` is at `src + l*ls + p*ps`; written to `dst[p*W + l]`,
    /// zero-filling lines `lines..W`.
    #[inline(always)]
    unsafe fn pack_panel<const W: usize>(
        src: *const f32,
        ls: isize,
        ps: isize,
        lines: usize,
        kc: usize,
        dst: *mut f32,
    ) {
        if ls == 1 && lines == W {
            // Lines contiguous at each depth: straight copies.
            for p in 0..kc {
                std::ptr::copy_nonoverlapping(src.offset(p as isize * ps), dst.add(p * W), W);
            }
        } else if ps == 1 {
            // Each line contiguous along depth (row-major A, col-major B):
            // a transpose, done 16x16 in registers.
            for g in 0..W.div_ceil(16) {
                let l0 = 16 * g;
                transpose_pack(
                    src.offset(l0 as isize * ls),
                    ls,
                    lines.saturating_sub(l0).min(16),
                    (W - l0).min(16),
                    kc,
                    dst.add(l0),
                    W,
                );
            }
        } else {
            for p in 0..kc {
                for x in 0..W {
                    *dst.add(p * W + x) = if x < lines {
                        *src.offset(x as isize * ls + p as isize * ps)
                    } else {
                        0.0
                    };
                }
            }
        }
    }

    /// Transposing pack of up to 16 lines that are contiguous along depth:
    /// `dst[p*dst_stride + l] = src[l*ls + p]` for `l < lanes` (lines past
    /// `lines` read as zero), `p < kc`. 16x16 blocks are transposed with
    /// the usual unpack / shuffle / 128-bit-lane-shuffle ladder, which is
    /// several times fewer instructions than moving scalars.
    #[target_feature(enable = "avx512f")]
    unsafe fn transpose_pack(
        src: *const f32,
        ls: isize,
        lines: usize,
        lanes: usize,
        kc: usize,
        dst: *mut f32,
        dst_stride: usize,
    ) {
        let lane_mask: __mmask16 = ((1u32 << lanes) - 1) as __mmask16;
        let mut p = 0;
        while p < kc {
            let cols = (kc - p).min(16);
            let load_mask: __mmask16 = ((1u32 << cols) - 1) as __mmask16;
            let mut r = [_mm512_setzero_ps(); 16];
            for (l, v) in r.iter_mut().enumerate().take(lines) {
                *v = _mm512_maskz_loadu_ps(load_mask, src.offset(l as isize * ls + p as isize));
            }
            let mut t = [_mm512_setzero_ps(); 16];
            for i in 0..8 {
                t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            for i in 0..4 {
                r[4 * i] = _mm512_shuffle_ps::<0x44>(t[4 * i], t[4 * i + 2]);
                r[4 * i + 1] = _mm512_shuffle_ps::<0xEE>(t[4 * i], t[4 * i + 2]);
                r[4 * i + 2] = _mm512_shuffle_ps::<0x44>(t[4 * i + 1], t[4 * i + 3]);
                r[4 * i + 3] = _mm512_shuffle_ps::<0xEE>(t[4 * i + 1], t[4 * i + 3]);
            }
            for i in 0..4 {
                t[i] = _mm512_shuffle_f32x4::<0x88>(r[i], r[i + 4]);
                t[i + 4] = _mm512_shuffle_f32x4::<0xDD>(r[i], r[i + 4]);
                t[i + 8] = _mm512_shuffle_f32x4::<0x88>(r[i + 8], r[i + 12]);
                t[i + 12] = _mm512_shuffle_f32x4::<0xDD>(r[i + 8], r[i + 12]);
            }
            for i in 0..8 {
                r[i] = _mm512_shuffle_f32x4::<0x88>(t[i], t[i + 8]);
                r[i + 8] = _mm512_shuffle_f32x4::<0xDD>(t[i], t[i + 8]);
            }
            for (j, v) in r.iter().enumerate().take(cols) {
                _mm512_mask_storeu_ps(dst.add((p + j) * dst_stride), lane_mask, *v);
            }
            p += 16;
        }
    }

    /// 14x32 microkernel: `C[0..mr, 0..nr] (+)= Apanel · Bpanel` over depth
    /// `kc`. Full tiles with unit column stride are updated in place; edge
    /// tiles and strided C go through a stack tile.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    unsafe fn kernel(
        kc: usize,
        mut a: *const f32,
        mut b: *const f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
        mr: usize,
        nr: usize,
        load_c: bool,
    ) {
        // C usually comes from L3 (it is touched once per depth block):
        // fetch it into L2 while we compute; +3-8% at n = 1024/2048. Not
        // into L1: rows a power-of-two apart alias to a single L1 set. Also
        // when C is only written, to save the read-for-ownership stall.
        // First, middle and last column cover the 3 lines an unaligned row
        // of 32 floats can span.
        for i in 0..mr {
            let cp = c.wrapping_offset(i as isize * rsc) as *const i8;
            _mm_prefetch::<_MM_HINT_T1>(cp);
            _mm_prefetch::<_MM_HINT_T1>(cp.wrapping_offset((nr as isize / 2) * csc * 4));
            _mm_prefetch::<_MM_HINT_T1>(cp.wrapping_offset((nr as isize - 1) * csc * 4));
        }
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        for _ in 0..kc {
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.add(16));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*a.add(i));
                row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
            }
            a = a.add(MR);
            b = b.add(NR);
        }
        if mr == MR && nr == NR && csc == 1 {
            for (i, row) in acc.iter().enumerate() {
                let cp = c.offset(i as isize * rsc);
                let (mut v0, mut v1) = (row[0], row[1]);
                if load_c {
                    v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cp));
                    v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cp.add(16)));
                }
                _mm512_storeu_ps(cp, v0);
                _mm512_storeu_ps(cp.add(16), v1);
            }
        } else {
            let mut tile = [0.0f32; MR * NR];
            for (i, row) in acc.iter().enumerate() {
                _mm512_storeu_ps(tile.as_mut_ptr().add(i * NR), row[0]);
                _mm512_storeu_ps(tile.as_mut_ptr().add(i * NR + 16), row[1]);
            }
            for i in 0..mr {
                for j in 0..nr {
                    let cp = c.offset(i as isize * rsc + j as isize * csc);
                    let v = tile[i * NR + j];
                    *cp = if load_c { *cp + v } else { v };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(t: usize) -> crate::runtime::Runtime {
        crate::runtime::Runtime::with_threads(t)
    }

    /// Deterministic pseudo-random data in [-1, 1).
    fn data(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// A view over `buf` with the requested layout. `trans` stores it
    /// column-major; `flip` walks rows backwards (negative row stride).
    fn view(buf: &[f32], rows: usize, cols: usize, trans: bool, flip: bool) -> MatRef {
        let (mut rs, cs) = if trans {
            (1isize, rows as isize)
        } else {
            (cols as isize, 1isize)
        };
        let mut ptr = buf.as_ptr();
        if flip && rows > 0 {
            ptr = unsafe { ptr.offset((rows as isize - 1) * rs) };
            rs = -rs;
        }
        MatRef::strided(ptr, rows, cols, rs, cs)
    }

    fn get(v: MatRef, i: usize, j: usize) -> f32 {
        unsafe { *v.at(i, j) }
    }

    #[allow(clippy::too_many_arguments)]
    fn check(m: usize, n: usize, k: usize, ta: bool, tb: bool, fa: bool, tc: bool, accumulate: bool, p: &dyn Parallel) {
        let abuf = data(m * k, 1 + m as u64);
        let bbuf = data(k * n, 2 + n as u64);
        let a = view(&abuf, m, k, ta, fa);
        let b = view(&bbuf, k, n, tb, false);
        let init = data(m * n, 3);
        let mut cbuf = init.clone();
        let (crs, ccs) = if tc { (1isize, m as isize) } else { (n as isize, 1isize) };
        let c = MatMut {
            ptr: cbuf.as_mut_ptr(),
            rows: m,
            cols: n,
            rs: crs,
            cs: ccs,
        };
        unsafe { sgemm(a, b, c, accumulate, p) };
        let tol = 1e-5 * (k as f64 + 1.0) * 4.0;
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for q in 0..k {
                    s += get(a, i, q) as f64 * get(b, q, j) as f64;
                }
                let idx = (i as isize * crs + j as isize * ccs) as usize;
                if accumulate {
                    s += init[idx] as f64;
                }
                let got = cbuf[idx] as f64;
                assert!(
                    (got - s).abs() <= tol,
                    "m={m} n={n} k={k} ta={ta} tb={tb} fa={fa} tc={tc} acc={accumulate}: \
                     C[{i},{j}] = {got}, want {s}"
                );
            }
        }
    }

    const SHAPES: &[(usize, usize, usize)] = &[
        (1, 1, 1),
        (7, 13, 5),
        (33, 65, 17),
        (100, 1, 100),
        (1, 100, 100),
        (257, 255, 129),
        (14, 32, 256),
        (15, 33, 257),
        (28, 64, 600),
        (3, 200, 70),
        (9, 40, 2100),
        (20, 17, 1100),
        // Few columns: computed as the transposed product.
        (64, 9, 5000),
        (40, 15, 300),
        (130, 97, 300),
        (600, 40, 31),
        (5, 3000, 9),
        // One row panel, column strips on two threads: B packed by each task as it goes.
        (64, 300, 400),
        // One tile and a long depth (a conv weight gradient): the depth split across threads.
        (14, 30, 16000),
        (30, 9, 24000),
    ];

    #[test]
    fn shapes_plain() {
        let p = pool(2);
        for &(m, n, k) in SHAPES {
            check(m, n, k, false, false, false, false, false, &p);
        }
    }

    #[test]
    fn shapes_layouts() {
        let p = pool(2);
        for &(m, n, k) in SHAPES {
            for bits in 1..16u32 {
                let f = |x: u32| bits & (1 << x) != 0;
                check(m, n, k, f(0), f(1), f(2), f(3), false, &p);
            }
        }
    }

    #[test]
    fn accumulate() {
        let p = pool(2);
        for &(m, n, k) in SHAPES {
            check(m, n, k, false, false, false, false, true, &p);
            check(m, n, k, true, true, true, true, true, &p);
        }
    }

    #[test]
    fn single_thread_pool() {
        let p = pool(1);
        for &(m, n, k) in SHAPES {
            check(m, n, k, false, true, false, false, false, &p);
        }
    }

    #[test]
    fn big_parallel() {
        let p = pool(2);
        check(300, 500, 700, false, false, false, false, false, &p);
        check(300, 500, 700, true, true, false, false, true, &p);
    }

    #[test]
    fn zero_dims() {
        let p = pool(2);
        for acc in [false, true] {
            check(5, 7, 0, false, false, false, false, acc, &p);
            check(0, 7, 5, false, false, false, false, acc, &p);
            check(5, 0, 5, false, false, false, false, acc, &p);
            check(0, 0, 0, false, false, false, false, acc, &p);
        }
    }

    #[test]
    fn nan_in_c_is_overwritten() {
        // accumulate=false must not read C (it may be uninitialised memory).
        let p = pool(2);
        for &(m, n, k) in &[(3usize, 4usize, 5usize), (40, 70, 300)] {
            let abuf = data(m * k, 1);
            let bbuf = data(k * n, 2);
            let mut cbuf = vec![f32::NAN; m * n];
            let c = MatMut {
                ptr: cbuf.as_mut_ptr(),
                rows: m,
                cols: n,
                rs: n as isize,
                cs: 1,
            };
            let a = view(&abuf, m, k, false, false);
            let b = view(&bbuf, k, n, false, false);
            unsafe { sgemm(a, b, c, false, &p) };
            assert!(cbuf.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn fallback_matches() {
        // The non-AVX-512 path cannot be selected on this machine through
        // `sgemm`; call it directly against the main path.
        let p = pool(2);
        for &(m, n, k) in SHAPES {
            let abuf = data(m * k, 7);
            let bbuf = data(k * n, 8);
            let a = view(&abuf, m, k, false, true);
            let b = view(&bbuf, k, n, true, false);
            let mut want = data(m * n, 9);
            let mut got = want.clone();
            for (buf, fb) in [(&mut want, false), (&mut got, true)] {
                let c = MatMut {
                    ptr: buf.as_mut_ptr(),
                    rows: m,
                    cols: n,
                    rs: n as isize,
                    cs: 1,
                };
                unsafe {
                    if fb {
                        fallback_sgemm(a, b, c, true, Some(&p));
                    } else {
                        sgemm(a, b, c, true, &p);
                    }
                }
            }
            for (x, y) in want.iter().zip(&got) {
                assert!((x - y).abs() <= 1e-5 * (k as f32 + 1.0) * 4.0, "{m}x{n}x{k}");
            }
        }
    }

    #[test]
    fn nested_in_pool() {
        // The engine may call in from its own pool's workers, several at
        // once: scratch buffers must not be shared between them.
        let p = pool(2);
        p.run(8, &|i| {
            check(200 + i, 190, 300, false, false, false, false, true, &p);
            check(9, 13, 7 + i, false, true, false, false, false, &p);
        });
    }

    /// `m` as a tabled view: its rows (or columns) through a table of offsets that
    /// visits them in reverse, or (`runs`) in swapped runs of four lines one element
    /// apart (as a window row's are), the storage `buf` laid out accordingly.
    fn tabled(m: MatRef, rows_tabled: bool, runs: bool, buf: &mut Vec<f32>, table: &mut Vec<isize>) -> MatRef {
        let (r, c) = (m.rows, m.cols);
        buf.clear();
        table.clear();
        // Lines stored out of order, read back in order through the table; with `runs`
        // the lines are the fast dim, so neighbours in a run are one element apart.
        let lines = if rows_tabled { r } else { c };
        let along = if rows_tabled { c } else { r };
        let (line_unit, x_unit) = if runs { (1, lines) } else { (along, 1) };
        buf.resize(r * c, 0.0);
        for l in 0..lines {
            let stored = match runs {
                true if l ^ 4 < lines => l ^ 4,
                true => l,
                false => lines - 1 - l,
            };
            table.push((stored * line_unit) as isize);
            for x in 0..along {
                let (i, j) = if rows_tabled { (l, x) } else { (x, l) };
                buf[stored * line_unit + x * x_unit] = get(m, i, j);
            }
        }
        let mut t = MatRef::strided(buf.as_ptr(), r, c, x_unit as isize, x_unit as isize);
        if rows_tabled {
            t.row_offsets = table.as_ptr();
        } else {
            t.col_offsets = table.as_ptr();
        }
        t
    }

    #[test]
    fn tabled_operands_match_strided_ones() {
        // Implicit im2col reaches the kernel as offset tables on either side, through the
        // packed, inline-packed, transposed and depth-split paths, and the fallback.
        let p = pool(2);
        for &(m, n, k) in SHAPES {
            let (abuf, bbuf) = (data(m * k, 11), data(k * n, 12));
            let (a, b) = (view(&abuf, m, k, false, false), view(&bbuf, k, n, false, false));
            let mut want = vec![0.0f32; m * n];
            let c = |buf: &mut Vec<f32>| MatMut {
                ptr: buf.as_mut_ptr(),
                rows: m,
                cols: n,
                rs: n as isize,
                cs: 1,
            };
            unsafe { sgemm(a, b, c(&mut want), false, &p) };
            for bits in 1..32u32 {
                let f = |x: u32| bits & (1 << x) != 0;
                let (mut ab, mut at, mut bb, mut bt) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                let ta = if f(0) || f(1) {
                    tabled(a, f(0), f(4), &mut ab, &mut at)
                } else {
                    a
                };
                let tb = if f(2) || f(3) {
                    tabled(b, f(2), f(4), &mut bb, &mut bt)
                } else {
                    b
                };
                let mut got = vec![0.0f32; m * n];
                unsafe {
                    if f(3) && f(1) {
                        fallback_sgemm(ta, tb, c(&mut got), false, Some(&p));
                    } else {
                        sgemm(ta, tb, c(&mut got), false, &p);
                    }
                }
                for (x, y) in want.iter().zip(&got) {
                    assert!(
                        (x - y).abs() <= 1e-5 * (k as f32 + 1.0) * 4.0,
                        "{m}x{n}x{k} bits {bits}"
                    );
                }
            }
        }
    }
}
