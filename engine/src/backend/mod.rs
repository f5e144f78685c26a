//! Backends: they implement only the primitives of [`crate::ops`], as kernels of a [`crate::schedule::Schedule`].

pub mod cpu;
pub mod gpu;

/// Where a backend runs parallel work: the runtime's one thread pool, reached
/// through a C-ABI call so engine copies in notebook cells share it.
pub trait Parallel: Sync {
    /// Number of workers.
    fn threads(&self) -> usize;
    /// Runs `f(i)` for every `i in 0..n`, returning when all are done.
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync));
}

/// No parallelism: for work nested inside a parallel task.
pub struct Serial;

impl Parallel for Serial {
    fn threads(&self) -> usize {
        1
    }
    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..n).for_each(f)
    }
}

/// Splits `data` into chunks of `chunk` elements and runs `f(index, chunk)` on each in parallel.
pub fn par_chunks_mut<T: Send>(par: &dyn Parallel, data: &mut [T], chunk: usize, f: &(dyn Fn(usize, &mut [T]) + Sync)) {
    let chunk = chunk.max(1);
    let n = data.len().div_ceil(chunk);
    let len = data.len();
    let base = data.as_mut_ptr() as usize;
    par.run(n, &|i| {
        let start = i * chunk;
        let end = (start + chunk).min(len);
        // SAFETY: chunks are disjoint and inside `data`, which is borrowed mutably for the call.
        let part = unsafe { std::slice::from_raw_parts_mut((base as *mut T).add(start), end - start) };
        f(i, part)
    });
}
