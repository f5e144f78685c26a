//! The one runtime: thread pool, random generator and counters.
//!
//! Process state must not live in this crate's statics when several copies of the
//! engine share a process (each separately linked library has its own). A host process
//! that links the engine creates one [`Runtime`] and exports it with
//! [`export_runtime!`]; every copy finds it once through `dlsym` and shares it. A host
//! that does not link the engine (the Born kernel, whose cells load it as one shared
//! library) may export just an interrupt flag ([`HOST_INTERRUPT_SYMBOL`]) for its
//! SIGINT handler. A plain program or test has no host and gets its own runtime.

mod pool;
mod random;

pub use random::Rng;

use crate::backend::gpu::{Gpu, Gpus};
use crate::backend::Parallel;
use crate::graph::Device;
use crate::storage::HostPool;
use pool::WorkerPool;
use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Runs `task(ctx, i)` for `i in 0..n` on the creator copy's thread pool.
/// A plain C function pointer, so engine copies in notebook cells can hand
/// work to the one pool (whose code lives in the copy that created it).
type ParallelFn = unsafe extern "C" fn(rt: *const Runtime, n: usize, ctx: *const c_void, task: TaskFn);
/// One task of a [`ParallelFn`] call, compiled in the calling copy.
type TaskFn = unsafe extern "C" fn(ctx: *const c_void, i: usize);

/// Process-wide engine state.
pub struct Runtime {
    pool: WorkerPool,
    threads: usize,
    // Set by the copy that created the runtime; every copy calls it to run parallel work.
    parallel: ParallelFn,
    memory: HostPool,
    rng: Mutex<Rng>,
    stats: Counters,
    // The host's exported flag when there is one (HOST_INTERRUPT_SYMBOL), else our own.
    interrupt: &'static AtomicBool,
    // Autograd's `no_grad` scopes, per OS thread (so a scope in one thread, say one test,
    // does not switch recording off in another). The count makes the common case lock-free.
    no_grad_open: AtomicUsize,
    no_grad_threads: Mutex<Vec<(usize, usize)>>,
    // The GPUs wgpu sees, discovered on first use (device start-up costs ~100 ms).
    gpus: OnceLock<Gpus>,
    // Where new tensors are made: `BORN_DEVICE`, `:device` or `set_default_device`.
    default_device: Mutex<Option<Device>>,
}

/// Cumulative counters, readable with [`Runtime::stats`].
#[derive(Default)]
struct Counters {
    realizes: AtomicU64,
    kernels: AtomicU64,
    bytes_allocated: AtomicU64,
    plans_reused: AtomicU64,
}

/// A snapshot of the runtime's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Realize calls that ran at least one kernel.
    pub realizes: u64,
    /// Kernels run.
    pub kernels: u64,
    /// Bytes of buffers allocated by schedules.
    pub bytes_allocated: u64,
    /// Host buffers newly allocated (not reused from the pool) by schedules and data loaders.
    pub buffers_allocated: u64,
    /// Realizes that reused the plan of an earlier graph with the same structure.
    pub plans_reused: u64,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// A runtime with one worker per core (or `BORN_NUM_THREADS`).
    pub fn new() -> Runtime {
        let threads = std::env::var("BORN_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        Self::with_threads(threads)
    }

    /// A runtime with exactly `threads` workers.
    pub fn with_threads(threads: usize) -> Runtime {
        keep_freed_memory();
        // Workers besides the calling thread, which takes part in every parallel call (a
        // pool of `threads` workers would leave the caller asleep, two switches a kernel).
        let pool = WorkerPool::new(threads.saturating_sub(1));
        // Idle buffers kept for reuse: 1 GiB unless BORN_POOL_BYTES says otherwise.
        let limit = std::env::var("BORN_POOL_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1usize << 30);
        Runtime {
            pool,
            threads,
            parallel: creator_parallel,
            memory: HostPool::new(limit),
            rng: Mutex::new(Rng::seeded(0)),
            stats: Counters::default(),
            interrupt: host_interrupt_flag().unwrap_or_else(|| Box::leak(Box::new(AtomicBool::new(false)))),
            no_grad_open: AtomicUsize::new(0),
            no_grad_threads: Mutex::new(Vec::new()),
            gpus: OnceLock::new(),
            default_device: Mutex::new(None),
        }
    }

    /// Asks running computations to stop (async-signal-safe: one atomic store,
    /// so a SIGINT handler may call it).
    pub fn request_interrupt(&self) {
        self.interrupt.store(true, Ordering::SeqCst);
    }

    /// The interrupt flag, polled between kernels.
    pub fn interrupt_flag(&self) -> &AtomicBool {
        self.interrupt
    }

    /// Clears a pending interrupt and reports whether there was one. Training
    /// loops call [`check_interrupt`] instead to stop where they are.
    pub fn take_interrupt(&self) -> bool {
        self.interrupt.swap(false, Ordering::SeqCst)
    }

    /// Idle host buffers kept for reuse.
    pub fn host_pool(&self) -> &HostPool {
        &self.memory
    }

    /// Restarts the random stream (`torch.manual_seed`).
    pub fn manual_seed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(|e| e.into_inner()) = Rng::seeded(seed);
    }

    /// Runs `f` with exclusive use of the random generator.
    pub fn with_rng<R>(&self, f: impl FnOnce(&mut Rng) -> R) -> R {
        f(&mut self.rng.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        Stats {
            realizes: self.stats.realizes.load(Ordering::Relaxed),
            kernels: self.stats.kernels.load(Ordering::Relaxed),
            bytes_allocated: self.stats.bytes_allocated.load(Ordering::Relaxed),
            buffers_allocated: self.memory.allocations() as u64,
            plans_reused: self.stats.plans_reused.load(Ordering::Relaxed),
        }
    }

    /// True when ops built on this thread record what autograd needs (outside every
    /// `no_grad` scope). The flag lives here, not in a static: every notebook cell links
    /// its own copy of the engine, and a scope opened in one cell must hold in all of them.
    pub fn grad_enabled(&self) -> bool {
        if self.no_grad_open.load(Ordering::Acquire) == 0 {
            return true;
        }
        let me = thread_key();
        !self
            .no_grad_threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|&(t, _)| t == me)
    }

    /// Opens a `no_grad` scope on this thread (scopes nest; close each with [`Runtime::exit_no_grad`]).
    pub fn enter_no_grad(&self) {
        let me = thread_key();
        let mut threads = self.no_grad_threads.lock().unwrap_or_else(|e| e.into_inner());
        match threads.iter_mut().find(|(t, _)| *t == me) {
            Some((_, depth)) => *depth += 1,
            None => threads.push((me, 1)),
        }
        self.no_grad_open.fetch_add(1, Ordering::AcqRel);
    }

    /// Closes the innermost `no_grad` scope of this thread (no-op when none is open).
    pub fn exit_no_grad(&self) {
        let me = thread_key();
        let mut threads = self.no_grad_threads.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = threads.iter().position(|(t, _)| *t == me) {
            threads[i].1 -= 1;
            if threads[i].1 == 0 {
                threads.swap_remove(i);
            }
            self.no_grad_open.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Adds one realize's work to the counters.
    /// The GPU adapters wgpu sees (asked once).
    pub fn gpus(&self) -> &Gpus {
        self.gpus.get_or_init(Gpus::discover)
    }

    /// GPU `index`, opened on first use; an error naming what is missing otherwise.
    pub fn gpu(&self, index: u16) -> crate::error::Result<&'static Gpu> {
        self.gpus().get(index)
    }

    /// Where new tensors are made. Starts as `BORN_DEVICE` (`cpu`, `gpu`, `gpu:N`); a GPU
    /// that cannot be opened is reported once and the CPU used instead.
    pub fn default_device(&self) -> Device {
        let mut d = self.default_device.lock().unwrap_or_else(|e| e.into_inner());
        *d.get_or_insert_with(|| {
            let asked = std::env::var("BORN_DEVICE").unwrap_or_default();
            match Device::parse(&asked) {
                Some(Device::Gpu(i)) => match self.gpu(i) {
                    Ok(_) => Device::Gpu(i),
                    Err(e) => {
                        eprintln!("born: BORN_DEVICE={asked}: {e}; using the CPU");
                        Device::Cpu
                    }
                },
                Some(dev) => dev,
                None => {
                    if !asked.is_empty() {
                        eprintln!("born: BORN_DEVICE={asked} is not cpu, gpu or gpu:N; using the CPU");
                    }
                    Device::Cpu
                }
            }
        })
    }

    /// Waits until the work queued on `device` has finished (`torch.cuda.synchronize`): for
    /// timing GPU work, which a realize only queues. Returns at once for the CPU.
    pub fn synchronize(device: Device) -> crate::error::Result<()> {
        match device {
            Device::Gpu(i) => runtime().gpu(i)?.wait(),
            Device::Cpu => Ok(()),
        }
    }

    /// Makes `device` where new tensors are created; checks that a GPU opens first.
    pub fn set_default_device(&self, device: Device) -> crate::error::Result<()> {
        if let Device::Gpu(i) = device {
            self.gpu(i)?;
        }
        *self.default_device.lock().unwrap_or_else(|e| e.into_inner()) = Some(device);
        Ok(())
    }

    pub(crate) fn count_realize(&self, kernels: usize, bytes: usize, plan_reused: bool) {
        self.stats.realizes.fetch_add(1, Ordering::Relaxed);
        REALIZES_HERE.with(|n| n.set(n.get() + 1));
        self.stats.plans_reused.fetch_add(plan_reused as u64, Ordering::Relaxed);
        self.stats.kernels.fetch_add(kernels as u64, Ordering::Relaxed);
        self.stats.bytes_allocated.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// Stops glibc from handing freed memory back to the kernel after every step: kernels
/// free and allocate chunk buffers all the time, and with the default thresholds the heap
/// top is trimmed and the next allocation page-faults it back in (`clear_page` in profiles).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; valid parameters, any time.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

thread_local! {
    static REALIZES_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Realizes (that ran kernels) on the calling thread so far: what a test counts when
/// other threads realize at the same time.
pub fn realizes_on_this_thread() -> u64 {
    REALIZES_HERE.with(|n| n.get())
}

/// The calling OS thread, the same number in every engine copy (a Rust `ThreadId` comes
/// from a counter of the std the copy links).
fn thread_key() -> usize {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as usize }
}

/// The creator copy's side of [`ParallelFn`]: its worker pool runs the tasks.
unsafe extern "C" fn creator_parallel(rt: *const Runtime, n: usize, ctx: *const c_void, task: TaskFn) {
    // SAFETY: `rt` is the live runtime whose `parallel` field led here.
    let rt = unsafe { &*rt };
    // SAFETY: `task` and `ctx` come from `Runtime::run`, which outlives this call.
    unsafe { rt.pool.run(n, ctx, task) }
}

/// The calling copy's side of [`TaskFn`]: runs the closure, catching a panic
/// so it never unwinds through the other copy's frames.
unsafe extern "C" fn run_task(ctx: *const c_void, i: usize) {
    // SAFETY: `ctx` points to the `TaskCtx` of the `Runtime::run` call in progress.
    let ctx = unsafe { &*(ctx as *const TaskCtx) };
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (ctx.f)(i))).is_err() {
        ctx.panicked.store(true, Ordering::SeqCst);
    }
}

struct TaskCtx<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    panicked: AtomicBool,
}

impl Parallel for Runtime {
    fn threads(&self) -> usize {
        self.threads
    }

    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        if n <= 1 || self.threads <= 1 {
            (0..n).for_each(f);
            return;
        }
        let ctx = TaskCtx {
            f,
            panicked: AtomicBool::new(false),
        };
        // SAFETY: `ctx` lives until the call returns, and the call returns only
        // when every task has finished.
        unsafe { (self.parallel)(self, n, &ctx as *const TaskCtx as *const c_void, run_task) };
        if ctx.panicked.load(Ordering::SeqCst) {
            panic!("a parallel task of the CPU backend panicked (see the message above)");
        }
    }
}

/// The name of the symbol a host exports; the suffix is the layout version.
pub const HOST_SYMBOL: &CStr = c"born_runtime_v1";

/// The name under which a host executable may export its interrupt flag: a
/// `#[no_mangle] static born_interrupt_v1: AtomicBool` (linked `-rdynamic`). A runtime
/// created in that process polls the host's flag, so the host's SIGINT handler can stop
/// running computations without linking the engine (the Born kernel does this).
pub const HOST_INTERRUPT_SYMBOL: &CStr = c"born_interrupt_v1";

/// The host's exported interrupt flag, if the process has one.
fn host_interrupt_flag() -> Option<&'static AtomicBool> {
    // SAFETY: dlsym with RTLD_DEFAULT only looks a name up. A host defines the symbol as a
    // static `AtomicBool` (HOST_INTERRUPT_SYMBOL's contract), which lives as long as the process.
    unsafe { (libc::dlsym(libc::RTLD_DEFAULT, HOST_INTERRUPT_SYMBOL.as_ptr()) as *const AtomicBool).as_ref() }
}

/// What both sides must agree on before sharing a `Runtime` by pointer:
/// the engine version and the struct's size.
pub fn abi_tag() -> String {
    format!(
        "born {} runtime {}",
        env!("CARGO_PKG_VERSION"),
        std::mem::size_of::<Runtime>()
    )
}

/// Signature of the exported host function: given the caller's ABI tag,
/// returns the host runtime or null when the tags differ.
pub type HostRuntimeFn = unsafe extern "C" fn(*const c_char) -> *const c_void;

/// Defines the exported `born_runtime_v1` symbol in a host executable (link
/// it with `-rdynamic` so the cells' engine copies can see it). The host's
/// runtime lives in a static of the host binary, created on first request;
/// the host's own engine copy finds it through the same symbol.
#[macro_export]
macro_rules! export_runtime {
    () => {
        /// The host's runtime, shared with every engine copy loaded in this process.
        ///
        /// # Safety
        /// `abi` must point to a NUL-terminated string.
        #[no_mangle]
        pub unsafe extern "C" fn born_runtime_v1(abi: *const ::std::ffi::c_char) -> *const ::std::ffi::c_void {
            static HOST: ::std::sync::OnceLock<&'static $crate::runtime::Runtime> = ::std::sync::OnceLock::new();
            // SAFETY: the caller passes a NUL-terminated tag.
            let theirs = unsafe { ::std::ffi::CStr::from_ptr(abi) };
            if theirs.to_bytes() != $crate::runtime::abi_tag().as_bytes() {
                return ::std::ptr::null();
            }
            let rt: &'static $crate::runtime::Runtime =
                HOST.get_or_init(|| ::std::boxed::Box::leak(::std::boxed::Box::new($crate::runtime::Runtime::new())));
            rt as *const $crate::runtime::Runtime as *const ::std::ffi::c_void
        }
    };
}

// This copy's pointer to the shared runtime. It caches a lookup; the state
// itself lives in the one `Runtime` it points to.
static CURRENT: OnceLock<&'static Runtime> = OnceLock::new();

/// Uses `rt` as this engine copy's runtime; fails if one was already chosen.
pub fn install(rt: &'static Runtime) -> Result<(), &'static str> {
    CURRENT.set(rt).map_err(|_| "the runtime was already chosen")
}

/// The runtime: an installed one, else the host's exported one, else a new one.
pub fn runtime() -> &'static Runtime {
    CURRENT.get_or_init(|| from_host().unwrap_or_else(|| Box::leak(Box::new(Runtime::new()))))
}

fn from_host() -> Option<&'static Runtime> {
    // SAFETY: dlsym with RTLD_DEFAULT only looks a name up. The function it
    // finds has the `HostRuntimeFn` signature by the symbol's versioned name,
    // and it returns a pointer only when the ABI tags (version and layout) match.
    unsafe {
        let sym = libc::dlsym(libc::RTLD_DEFAULT, HOST_SYMBOL.as_ptr());
        if sym.is_null() {
            return None;
        }
        let f: HostRuntimeFn = std::mem::transmute(sym);
        let tag = std::ffi::CString::new(abi_tag()).ok()?;
        let ptr = f(tag.as_ptr()) as *const Runtime;
        ptr.as_ref()
    }
}

/// Returns `Err(Interrupted)` (and clears the flag) if the user asked to stop:
/// call it in long loops so Ctrl-C ends them cleanly, keeping their variables.
pub fn check_interrupt() -> crate::error::Result<()> {
    if runtime().take_interrupt() {
        return Err(crate::error::Error::Interrupted);
    }
    Ok(())
}

/// Reseeds the runtime's random generator.
pub fn manual_seed(seed: u64) {
    runtime().manual_seed(seed)
}

/// One device the engine can compute on, as [`devices`] lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceInfo {
    /// The device to pass to `Tensor::to_device`.
    pub device: Device,
    /// What it is (`host CPU, 16 threads`, the adapter's name).
    pub name: String,
    /// `cpu`, or the adapter kind: discrete, integrated, virtual, cpu (software), other.
    pub kind: String,
    /// `native`, or the graphics API wgpu drives the GPU through.
    pub backend: String,
    /// Optional GPU features the kernels use on it (`subgroups`, `f16`); none for the CPU.
    pub features: Vec<String>,
}

impl std::fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({}, {})", self.device, self.name, self.kind, self.backend)?;
        if !self.features.is_empty() {
            write!(f, " [{}]", self.features.join(", "))?;
        }
        Ok(())
    }
}

/// The CPU, then every GPU adapter wgpu sees (discrete first; `llvmpipe` is Mesa's
/// software Vulkan device).
pub fn devices() -> Vec<DeviceInfo> {
    let rt = runtime();
    let mut out = vec![DeviceInfo {
        device: Device::Cpu,
        name: format!("host CPU, {} threads", rt.threads),
        kind: "cpu".into(),
        backend: "native".into(),
        features: Vec::new(),
    }];
    for (i, a) in rt.gpus().summaries().into_iter().enumerate() {
        out.push(DeviceInfo {
            device: Device::gpu(i),
            name: a.name,
            kind: a.kind,
            backend: a.backend,
            features: a.features,
        });
    }
    out
}

/// Waits until the work queued on `device` has finished (`torch.cuda.synchronize`): for
/// timing GPU work, which a realize only queues. Returns at once for the CPU.
pub fn synchronize(device: Device) -> crate::error::Result<()> {
    match device {
        Device::Gpu(i) => runtime().gpu(i)?.wait(),
        Device::Cpu => Ok(()),
    }
}

/// Makes `device` where new tensors are created (what `:device gpu` does in a notebook).
pub fn set_default_device(device: Device) -> crate::error::Result<()> {
    runtime().set_default_device(device)
}

/// What the GPU backend has done on `device` so far: submits, pipelines compiled,
/// dispatches, bytes moved, buffers allocated.
pub fn gpu_stats(device: Device) -> crate::error::Result<crate::backend::gpu::GpuStats> {
    match device {
        Device::Gpu(i) => Ok(runtime().gpu(i)?.stats()),
        Device::Cpu => Err(crate::error::Error::arg(
            "gpu_stats",
            "the CPU has no GPU counters: pass a Device::Gpu",
        )),
    }
}
