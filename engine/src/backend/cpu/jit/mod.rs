//! Fused elementwise kernels compiled to machine code (Cranelift) instead of interpreted
//! chunk by chunk: one loop nest per kernel signature that reads each input element
//! once, keeps every intermediate in registers and writes the output once. Compiled code
//! is cached by [`plan::Signature`] (shape, strides, ops; not buffers or offsets), so a
//! training loop compiles its kernels in the first step only.
//!
//! Covered: f32 and bool values, every unary and binary op on them, selects and casts
//! between the two, loads through any strided view. Padded reads, integer and
//! half-precision kernels, and small kernels (compiling costs about a millisecond) stay
//! with the interpreter (`eval`), which defines the results: compiled kernels match it bit
//! for bit. `BORN_JIT=0` turns compilation off.

mod codegen;
mod plan;

use crate::backend::Parallel;
use crate::schedule::Expr;
use crate::storage::HostBuffer;
use codegen::{Compiled, Entry};
use plan::{Signature, Ty};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

/// Kernels with fewer output elements run in the interpreter.
const MIN_ELEMENTS: usize = 4096;
/// Kernels with fewer elements than this run on the calling thread alone.
const MIN_PARALLEL: usize = 16384;
/// Signatures kept; past it the cache starts over (a session making ever new shapes).
const CACHE_LIMIT: usize = 2048;

/// Compiled kernels by signature; `None` remembers one that failed to compile.
static CACHE: LazyLock<Mutex<HashMap<Signature, Option<Arc<Compiled>>>>> = LazyLock::new(Default::default);

/// False when `BORN_JIT=0`.
fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("BORN_JIT").map_or(true, |v| v != "0"))
}

/// Runs an elementwise kernel as compiled code, writing `out`; `false` (nothing written)
/// when the kernel is not one the compiler covers.
pub fn run(expr: &Expr, bufs: &[&HostBuffer], out: &mut HostBuffer, par: &dyn Parallel) -> bool {
    enabled() && out.len() >= MIN_ELEMENTS && run_any_size(expr, bufs, out, par)
}

/// [`run`] without the size floor (tests compile small kernels too).
fn run_any_size(expr: &Expr, bufs: &[&HostBuffer], out: &mut HostBuffer, par: &dyn Parallel) -> bool {
    let Some(plan) = plan::lower(expr, out.dtype()) else {
        return false;
    };
    let Some(kernel) = compiled(&plan.sig) else {
        return false;
    };
    // Per load its start address, then per load its first element (see `codegen::Entry`).
    let n = plan.sources.len();
    let mut table = vec![0usize; 2 * n];
    for (l, (src, load)) in plan.sources.iter().zip(&plan.sig.loads).enumerate() {
        let (ptr, len) = match (bufs[src.slot], load.ty) {
            (HostBuffer::F32(d), Ty::F32) => (d.as_ptr() as usize, d.len()),
            (HostBuffer::Bool(d), Ty::Bool) => (d.as_ptr() as usize, d.len()),
            _ => return false,
        };
        // The compiled loops read without checks: every address a view reaches is checked
        // here (a padded read reaches only its interior).
        let view = &src.view;
        let (lo, hi) = view.span().expect("kernels read at least one element");
        assert!(lo >= 0 && hi as usize <= len, "view {view:?} outside a buffer of {len}");
        let size = load.ty.size() as isize;
        table[l] = ptr.wrapping_add_signed(src.start_offset() * size);
        table[n + l] = ptr + view.offset as usize * size as usize;
    }
    let numel: usize = plan.sig.dims.iter().product();
    let base = match out {
        HostBuffer::F32(o) if o.len() == numel => o.as_mut_ptr() as usize,
        HostBuffer::Bool(o) if o.len() == numel => o.as_mut_ptr() as usize,
        _ => return false,
    };
    // SAFETY: load addresses are within their buffers (checked above), the output holds
    // `numel` elements of the compiled type, and `&mut out` keeps it to this call.
    unsafe { execute(&plan.sig, kernel.entry, &table, base, par) };
    true
}

/// The compiled kernel for `sig`, compiling it on first use.
fn compiled(sig: &Signature) -> Option<Arc<Compiled>> {
    if let Some(k) = CACHE.lock().expect("cache lock").get(sig) {
        return k.clone();
    }
    let kernel = match codegen::compile(sig) {
        Ok(k) => Some(Arc::new(k)),
        Err(e) => {
            // A gap in the lowering or a system that forbids executable memory, not the
            // user's doing: the interpreter still runs it. Said once, not per kernel.
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                eprintln!("born: a fused kernel failed to compile and runs interpreted ({e})");
            }
            None
        }
    };
    let mut cache = CACHE.lock().expect("cache lock");
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(sig.clone(), kernel.clone());
    kernel
}

/// Runs the kernel over all of `sig.dims`: tasks take runs of whole rows (see
/// [`Signature::row`]) and call the code once per stretch along the call dim.
///
/// # Safety
/// `table` (see `codegen::Entry`) and `out` must be valid for every address the
/// signature reads or writes.
unsafe fn execute(sig: &Signature, entry: Entry, table: &[usize], out: usize, par: &dyn Parallel) {
    let n = sig.loads.len();
    let row = sig.row();
    let numel: usize = sig.dims.iter().product();
    let rows = numel / row;
    let call_dim = sig.dims.len() - sig.inner - 1;
    let tasks = if numel < MIN_PARALLEL || par.threads() == 1 {
        1
    } else {
        (par.threads() * 4).min(rows)
    };
    let per = rows.div_ceil(tasks);
    let out_row = row * sig.out.size();
    let task = |t: usize| {
        let (mut r, end) = (t * per, ((t + 1) * per).min(rows));
        let mut ptrs = table.to_vec();
        let mut index = vec![0usize; call_dim + 1];
        while r < end {
            let mut rest = r;
            ptrs[..n].copy_from_slice(&table[..n]);
            for d in (0..=call_dim).rev() {
                index[d] = rest % sig.dims[d];
                rest /= sig.dims[d];
                for (p, load) in ptrs.iter_mut().zip(&sig.loads) {
                    *p = p.wrapping_add_signed(index[d] as isize * load.strides[d] * load.ty.size() as isize);
                }
            }
            let run = (sig.dims[call_dim] - index[call_dim]).min(end - r);
            // SAFETY: the caller's contract; rows `r..r + run` are this task's alone.
            unsafe { entry(ptrs.as_ptr(), (out + r * out_row) as *mut u8, run, index.as_ptr()) };
            r += run;
        }
    };
    if tasks == 1 {
        task(0)
    } else {
        par.run(tasks, &task)
    }
}

#[cfg(test)]
mod tests;
