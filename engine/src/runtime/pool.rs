//! The CPU worker pool: `threads - 1` workers that run the tasks of one parallel call
//! together with the calling thread.
//!
//! A training step runs a few dozen short kernels (tens of microseconds each) with
//! graph work on the calling thread in between. Workers that went to sleep after each
//! kernel cost a futex wake-up at the start of the next one, more than a small kernel
//! itself on a 2-core VM, so workers spin for a while ([`SPIN`]) before they sleep, as
//! OpenMP runtimes do.
//!
//! One job at a time: a call that finds the pool busy (a task that starts parallel work
//! of its own, or a second thread) runs its tasks on the calling thread.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One task of a job: `task(ctx, i)`.
pub(crate) type Task = unsafe extern "C" fn(ctx: *const c_void, i: usize);

/// How long an idle worker keeps looking for the next job before it sleeps.
const SPIN: Duration = Duration::from_millis(2);

/// Worker threads and the job slot they watch.
pub(crate) struct WorkerPool {
    shared: Arc<Shared>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

struct Shared {
    /// Held by the caller whose job is in the slot.
    busy: Mutex<()>,
    /// Even: the slot holds a published job (or none yet); odd: it is being rewritten.
    generation: AtomicUsize,
    /// Workers that joined the current generation and have not left it.
    inside: AtomicUsize,
    n: AtomicUsize,
    ctx: AtomicPtr<c_void>,
    task: AtomicUsize,
    /// The next task number to hand out.
    next: AtomicUsize,
    /// Tasks finished.
    done: AtomicUsize,
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
    stop: AtomicBool,
}

impl WorkerPool {
    /// A pool with `workers` threads besides the callers.
    pub(crate) fn new(workers: usize) -> WorkerPool {
        let shared = Arc::new(Shared {
            busy: Mutex::new(()),
            generation: AtomicUsize::new(0),
            inside: AtomicUsize::new(0),
            n: AtomicUsize::new(0),
            ctx: AtomicPtr::new(std::ptr::null_mut()),
            task: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let workers = (0..workers)
            .map(|i| {
                let s = shared.clone();
                std::thread::Builder::new()
                    .name(format!("born-cpu-{i}"))
                    .spawn(move || worker(&s))
                    .expect("the CPU thread pool could not start")
            })
            .collect();
        WorkerPool { shared, workers }
    }

    /// Runs `task(ctx, i)` for every `i < n` on the workers and the calling thread;
    /// returns when all have finished.
    ///
    /// # Safety
    /// `task(ctx, i)` must be safe to call for each `i < n`, from any thread, until this
    /// call returns.
    pub(crate) unsafe fn run(&self, n: usize, ctx: *const c_void, task: Task) {
        let s = &*self.shared;
        let Ok(_job) = s.busy.try_lock() else {
            // SAFETY: the caller's contract.
            (0..n).for_each(|i| unsafe { task(ctx, i) });
            return;
        };
        // Close the slot (odd generation), wait for workers still inside the last job
        // to leave, then write and publish the new one.
        let g = s.generation.fetch_add(1, SeqCst) + 1;
        wait_until(|| s.inside.load(SeqCst) == 0);
        s.n.store(n, Relaxed);
        s.ctx.store(ctx as *mut c_void, Relaxed);
        s.task.store(task as usize, Relaxed);
        s.next.store(0, Relaxed);
        s.done.store(0, Relaxed);
        s.generation.store(g + 1, SeqCst);
        if s.sleepers.load(SeqCst) > 0 {
            let _l = s.sleep.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        // SAFETY: the caller's contract.
        unsafe { take_tasks(s, n, ctx, task) };
        // Workers touch nothing of the caller's after their last task is counted.
        wait_until(|| s.done.load(Acquire) >= n);
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
        {
            let _l = self.shared.sleep.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Hands out task numbers until none are left; counts each finished task.
///
/// # Safety
/// As for [`WorkerPool::run`], while tasks of this job are left.
unsafe fn take_tasks(s: &Shared, n: usize, ctx: *const c_void, task: Task) {
    loop {
        let i = s.next.fetch_add(1, AcqRel);
        if i >= n {
            return;
        }
        // SAFETY: `i < n` was unclaimed, so the job's caller is still waiting for it.
        unsafe { task(ctx, i) };
        s.done.fetch_add(1, AcqRel);
    }
}

/// Spins (yielding after a while) until `ready`.
fn wait_until(ready: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !ready() {
        spins += 1;
        if spins < 4096 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

fn worker(s: &Shared) {
    let mut seen = 0;
    while let Some(g) = next_job(s, seen) {
        seen = g;
        s.inside.fetch_add(1, SeqCst);
        // Still the generation we saw: the caller has not closed the slot, and will not
        // rewrite it while we are inside.
        if s.generation.load(SeqCst) == g {
            let n = s.n.load(Relaxed);
            let ctx = s.ctx.load(Relaxed) as *const c_void;
            // SAFETY: `task` was stored from a `Task` by `run` for this generation.
            let task: Task = unsafe { std::mem::transmute::<usize, Task>(s.task.load(Relaxed)) };
            // SAFETY: the contract of the `run` call that published this generation.
            unsafe { take_tasks(s, n, ctx, task) };
        }
        s.inside.fetch_sub(1, SeqCst);
    }
}

/// Waits for a published generation other than `seen`; `None` when the pool stops.
fn next_job(s: &Shared, seen: usize) -> Option<usize> {
    let fresh = |g: usize| g != seen && g.is_multiple_of(2);
    let mut since = Instant::now();
    let mut spins = 0u32;
    loop {
        if s.stop.load(Acquire) {
            return None;
        }
        let g = s.generation.load(Acquire);
        if fresh(g) {
            return Some(g);
        }
        spins = spins.wrapping_add(1);
        if !spins.is_multiple_of(256) || since.elapsed() < SPIN {
            std::hint::spin_loop();
            continue;
        }
        let mut l = s.sleep.lock().unwrap_or_else(|e| e.into_inner());
        s.sleepers.fetch_add(1, SeqCst);
        while !fresh(s.generation.load(SeqCst)) && !s.stop.load(SeqCst) {
            l = s.wake.wait(l).unwrap_or_else(|e| e.into_inner());
        }
        s.sleepers.fetch_sub(1, SeqCst);
        since = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    unsafe extern "C" fn add_index(ctx: *const c_void, i: usize) {
        // SAFETY: the tests pass a live `AtomicU64`.
        let sum = unsafe { &*(ctx as *const AtomicU64) };
        sum.fetch_add(i as u64 + 1, Relaxed);
    }

    #[test]
    fn every_task_runs_once_across_many_jobs() {
        let pool = WorkerPool::new(3);
        for n in [0, 1, 2, 7, 100, 1000] {
            for _ in 0..50 {
                let sum = AtomicU64::new(0);
                // SAFETY: `sum` outlives the call.
                unsafe { pool.run(n, &sum as *const AtomicU64 as *const c_void, add_index) };
                assert_eq!(sum.load(Relaxed), (n * (n + 1) / 2) as u64);
            }
        }
    }

    #[test]
    fn workers_wake_after_sleeping() {
        let pool = WorkerPool::new(1);
        std::thread::sleep(SPIN * 3);
        let sum = AtomicU64::new(0);
        // SAFETY: `sum` outlives the call.
        unsafe { pool.run(64, &sum as *const AtomicU64 as *const c_void, add_index) };
        assert_eq!(sum.load(Relaxed), 64 * 65 / 2);
    }

    #[test]
    fn callers_on_several_threads_share_one_pool() {
        let pool = WorkerPool::new(2);
        std::thread::scope(|sc| {
            for _ in 0..4 {
                sc.spawn(|| {
                    for _ in 0..200 {
                        let sum = AtomicU64::new(0);
                        // SAFETY: `sum` outlives the call.
                        unsafe { pool.run(33, &sum as *const AtomicU64 as *const c_void, add_index) };
                        assert_eq!(sum.load(Relaxed), 33 * 34 / 2);
                    }
                });
            }
        });
    }
}
