//! The GPUs wgpu sees, one opened device per adapter in use, its pipeline cache and counters.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::{gpu::element_bytes, GpuBuffer, GpuPool, HostBuffer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What wgpu reports of one adapter.
#[derive(Clone, Debug, PartialEq)]
pub struct AdapterSummary {
    /// Adapter name (`NVIDIA H200`, `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// Discrete, integrated, virtual, cpu (a software rasterizer) or other.
    pub kind: String,
    /// The API wgpu drives it through (Vulkan, Metal, Dx12).
    pub backend: String,
    /// The optional features Born's kernels use on it (`subgroups`, `f16`).
    pub features: Vec<String>,
}

/// The kernels' optional features `adapter` offers and the environment allows: each
/// unless its variable says 0 (`BORN_GPU_SUBGROUPS`, `BORN_GPU_F16`), to compare, and to
/// test the kernels written for devices without it.
fn caps_of(adapter: &wgpu::Adapter) -> super::kernels::Caps {
    let wanted = |feature, var| adapter.features().contains(feature) && std::env::var(var).map_or(true, |v| v != "0");
    super::kernels::Caps {
        subgroups: wanted(wgpu::Features::SUBGROUP, "BORN_GPU_SUBGROUPS"),
        f16: wanted(wgpu::Features::SHADER_F16, "BORN_GPU_F16"),
    }
}

/// Every adapter wgpu finds, best first, each opened on first use.
pub struct Gpus {
    adapters: Vec<wgpu::Adapter>,
    opened: Vec<OnceLock<std::result::Result<&'static Gpu, String>>>,
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl Gpus {
    /// Asks wgpu for its adapters (Vulkan, Metal, DX12; `WGPU_BACKEND` narrows them) and
    /// orders them discrete first, software last.
    pub fn discover() -> Gpus {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::PRIMARY;
        let instance = wgpu::Instance::new(desc.with_env());
        let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        adapters.sort_by_key(|a| rank(a.get_info().device_type));
        let opened = adapters.iter().map(|_| OnceLock::new()).collect();
        Gpus { adapters, opened }
    }

    /// One summary per adapter, in device-index order.
    pub fn summaries(&self) -> Vec<AdapterSummary> {
        self.adapters
            .iter()
            .map(|a| {
                let i = a.get_info();
                AdapterSummary {
                    name: i.name,
                    kind: format!("{:?}", i.device_type).replace("Gpu", "").to_lowercase(),
                    backend: format!("{:?}", i.backend),
                    features: caps_of(a).names(),
                }
            })
            .collect()
    }

    /// The opened device `index` (opened now if it is the first use).
    pub fn get(&self, index: u16) -> Result<&'static Gpu> {
        let i = index as usize;
        let Some(adapter) = self.adapters.get(i) else {
            let reason = if self.adapters.is_empty() {
                "wgpu found no GPU adapter (no Vulkan, Metal or DX12 driver: on Linux install the \
                 vendor driver, or Mesa's `mesa-vulkan-drivers` for the llvmpipe software device)"
                    .to_string()
            } else {
                format!(
                    "there are {} GPU adapter(s): gpu:0 to gpu:{}",
                    self.adapters.len(),
                    self.adapters.len() - 1
                )
            };
            return Err(Error::arg("device", format!("gpu:{index} is not available: {reason}")));
        };
        self.opened[i]
            .get_or_init(|| Gpu::open(adapter, index).map(|g| &*Box::leak(Box::new(g))))
            .clone()
            .map_err(|e| Error::arg("device", format!("gpu:{index} could not be opened: {e}")))
    }
}

/// What the GPU backend has done, for tests and users (`born::gpu_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    /// Queue submits of computation (one per realize that runs kernels).
    pub submits: u64,
    /// Read-backs to the host (`to_vec`, `item`, display, `to_device(Cpu)`), a submit each.
    pub downloads: u64,
    /// Compute pipelines compiled (a training loop compiles none after its first step).
    pub pipelines_compiled: u64,
    /// Kernel launches.
    pub dispatches: u64,
    /// Bytes written from the host.
    pub bytes_uploaded: u64,
    /// Bytes read back to the host.
    pub bytes_downloaded: u64,
    /// GPU buffers created (rather than reused from the pool).
    pub buffers_allocated: u64,
    /// Bind groups created (rather than found: a settled training loop creates none).
    pub bind_groups_created: u64,
}

#[derive(Default)]
struct Counters {
    submits: AtomicU64,
    downloads: AtomicU64,
    pipelines: AtomicU64,
    dispatches: AtomicU64,
    uploaded: AtomicU64,
    downloaded: AtomicU64,
    bind_groups: AtomicU64,
}

/// One opened GPU: device, queue, buffer pool and the pipelines compiled for it.
pub struct Gpu {
    /// Its index in [`Gpus`].
    pub index: u16,
    /// What wgpu says of it.
    pub info: wgpu::AdapterInfo,
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    /// Its buffer pool.
    pub pool: &'static GpuPool,
    /// Where kernels record a bad gather/scatter index ([kind, index, size, 0]); read and
    /// cleared with every read-back, which returns the error.
    pub(crate) errors: wgpu::Buffer,
    pipelines: Mutex<HashMap<String, Arc<wgpu::ComputePipeline>>>,
    counters: Counters,
    /// Compile kernels with wgpu's bounds checks on (`BORN_GPU_CHECKED=1`, or
    /// [`Gpu::set_checked`]), to compare results with the unchecked kernels normally run.
    checked: std::sync::atomic::AtomicBool,
    /// `BORN_GPU_PROFILE=1`: every kernel is submitted and waited for alone, and its time
    /// recorded by description and shape (see [`Gpu::profile_report`]). Slow; for finding
    /// which kernel a step spends its time in.
    pub(crate) profiling: bool,
    /// Compiled launches by kernel (with its reads' dtypes and the checked flag): a
    /// training loop's later steps skip WGSL generation and the source lookup.
    plans: Mutex<HashMap<PlanKey, Arc<CompiledPlan>>>,
    /// Bind groups by pipeline and buffers: a training loop's pool hands the same buffers
    /// to the same launches step after step, and creating a bind group costs more than
    /// finding one. Cleared when full; it never keeps a buffer's memory from the pool's
    /// limit (the pool destroys the buffers it lets go).
    bind_groups: Mutex<HashMap<BindKey, wgpu::BindGroup>>,
    /// Small read-back buffers kept for reuse (see [`Gpu::download`]).
    read_backs: Mutex<Vec<wgpu::Buffer>>,
    /// Set (with the driver's words) when the device is lost; every later use is an error.
    lost: Arc<Mutex<Option<String>>>,
    profile: Mutex<HashMap<String, (u64, f64)>>,
    caps: super::kernels::Caps,
}

impl Gpu {
    fn open(adapter: &wgpu::Adapter, index: u16) -> std::result::Result<Gpu, String> {
        let limits = adapter.limits();
        let caps = caps_of(adapter);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("born"),
            required_features: caps.features(),
            // Everything the adapter offers: large storage buffers and many bindings per kernel.
            required_limits: limits,
            experimental_features: Default::default(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: Default::default(),
        }))
        .map_err(|e| e.to_string())?;
        // Errors are caught per realize by error scopes; anything else is logged, not a panic.
        device.on_uncaptured_error(Arc::new(|e| eprintln!("born: GPU error: {e}")));
        let lost = Arc::new(Mutex::new(None));
        let on_loss = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            let what = match (reason, message.is_empty()) {
                (wgpu::DeviceLostReason::Destroyed, _) => "destroyed".to_string(),
                (_, true) => "the driver gave no reason".to_string(),
                (_, false) => message,
            };
            on_loss.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(what);
        });
        let limit = std::env::var("BORN_GPU_POOL_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2usize << 30);
        let pool: &'static GpuPool = Box::leak(Box::new(GpuPool::new(device.clone(), limit, caps.f16)));
        let errors = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("born errors"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(Gpu {
            errors,
            index,
            info: adapter.get_info(),
            device,
            queue,
            pool,
            pipelines: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            checked: std::env::var("BORN_GPU_CHECKED").is_ok_and(|v| v == "1").into(),
            profiling: std::env::var("BORN_GPU_PROFILE").is_ok_and(|v| v == "1"),
            profile: Mutex::new(HashMap::new()),
            plans: Mutex::new(HashMap::new()),
            bind_groups: Mutex::new(HashMap::new()),
            lost,
            read_backs: Mutex::new(Vec::new()),
            caps,
        })
    }

    /// What this device offers that kernels may use.
    pub(crate) fn caps(&self) -> super::kernels::Caps {
        self.caps
    }

    /// Compiles kernels from now on with wgpu's runtime checks on (bounds checks, loop
    /// bounding) or off (the default, and what generated kernels are written for).
    pub fn set_checked(&self, on: bool) {
        self.checked.store(on, Ordering::Relaxed);
    }

    /// An error naming `op` if the device has been lost.
    pub(crate) fn check_alive(&self, op: &'static str) -> Result<()> {
        match &*self.lost.lock().unwrap_or_else(|e| e.into_inner()) {
            None => Ok(()),
            Some(reason) => Err(Error::DeviceLost {
                op,
                device: format!("gpu:{}", self.index),
                reason: reason.clone(),
            }),
        }
    }

    /// Gives the device up now: its memory is freed once queued work ends, its tensors are
    /// gone, and every later use is an [`Error::DeviceLost`] (as after a driver reset).
    pub fn destroy(&self) {
        self.lost
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(|| "destroyed".into());
        self.bind_groups.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.pool.release_idle();
        self.device.destroy();
    }

    /// Whether kernels compile with wgpu's runtime checks on.
    pub fn is_checked(&self) -> bool {
        self.checked.load(Ordering::Relaxed)
    }

    /// A bind group giving `pipeline` its buffers in binding order (output first).
    pub(crate) fn bind_group(
        &self,
        pipeline: &Arc<wgpu::ComputePipeline>,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        // Pipelines are never dropped (the cache above keeps them), so the address is an id.
        let key = (
            Arc::as_ptr(pipeline) as usize,
            buffers.iter().map(|&b| b.clone()).collect(),
        );
        let mut groups = self.bind_groups.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = groups.get(&key) {
            return g.clone();
        }
        self.counters.bind_groups.fetch_add(1, Ordering::Relaxed);
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        if groups.len() >= BIND_GROUP_CAPACITY {
            groups.clear();
        }
        groups.insert(key, group.clone());
        group
    }

    /// Waits for every submitted piece of work.
    pub fn wait(&self) -> Result<()> {
        self.check_alive("synchronize")?;
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| Error::arg("synchronize", format!("waiting for gpu:{}: {e}", self.index)))
    }

    /// Whether kernel `k` with reads of `dtypes` has its launches compiled already.
    pub(crate) fn is_compiled(&self, k: &crate::schedule::Kernel, dtypes: &[DType]) -> bool {
        let key = (k.clone(), dtypes.to_vec(), self.checked.load(Ordering::Relaxed));
        self.plans.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&key)
    }

    /// Compiles the pipelines of `sources` not compiled yet, on several threads: a model's
    /// first step brings a hundred new kernels, and the driver compiles each for tens of
    /// milliseconds. A source that fails is left out, for [`Gpu::pipeline`] to report.
    pub(crate) fn precompile(&self, sources: &[&str]) {
        let mut missing: Vec<&str> = {
            let have = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
            sources
                .iter()
                .copied()
                .filter(|src| !have.contains_key(&self.pipeline_key(src)))
                .collect()
        };
        missing.sort_unstable();
        missing.dedup();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        if missing.len() < 2 || threads < 2 {
            return;
        }
        let per_thread = missing.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for chunk in missing.chunks(per_thread) {
                scope.spawn(move || {
                    for src in chunk {
                        let _ = self.pipeline(src);
                    }
                });
            }
        });
    }

    /// The compiled launches of kernel `k` (`dtypes`: its reads' dtypes), made by `make`
    /// on first use.
    pub(crate) fn compiled(
        &self,
        k: &crate::schedule::Kernel,
        dtypes: Vec<DType>,
        make: impl FnOnce() -> Result<super::kernels::Plan>,
    ) -> Result<Arc<CompiledPlan>> {
        let key = (k.clone(), dtypes, self.checked.load(Ordering::Relaxed));
        if let Some(p) = self.plans.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(p.clone());
        }
        let plan = make()?;
        let mut launches = Vec::with_capacity(plan.launches.len());
        for l in plan.launches {
            launches.push(CompiledLaunch {
                pipeline: self.pipeline(&l.source).map_err(|e| match e {
                    Error::InvalidArgument { reason, .. } => {
                        Error::arg("realize", format!("kernel {} {:?}: {reason}", k.describe(), k.shape))
                    }
                    other => other,
                })?,
                reads: l.reads.into_iter().map(|(s, _)| s).collect(),
                groups: l.groups,
                writes_scratch: l.writes_scratch,
            });
        }
        let compiled = Arc::new(CompiledPlan {
            launches,
            scratch: plan.scratch,
        });
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, compiled.clone());
        Ok(compiled)
    }

    pub(crate) fn record(&self, kernel: String, seconds: f64) {
        let mut p = self.profile.lock().unwrap_or_else(|e| e.into_inner());
        let e = p.entry(kernel).or_default();
        e.0 += 1;
        e.1 += seconds;
    }

    /// With `BORN_GPU_PROFILE=1`: the kernels by total time (launches, total and mean ms).
    pub fn profile_report(&self) -> String {
        let p = self.profile.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<_> = p.iter().collect();
        rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        let total: f64 = rows.iter().map(|r| r.1 .1).sum();
        let mut out = format!("GPU kernels, {:.1} ms in all (each launched alone):\n", total * 1e3);
        for (k, (n, s)) in rows.iter().take(30) {
            out.push_str(&format!(
                "{:>9.3} ms {:>6} x {:>8.3} ms  {k}\n",
                s * 1e3,
                n,
                s * 1e3 / *n as f64
            ));
        }
        out
    }

    /// The counters so far.
    pub fn stats(&self) -> GpuStats {
        let c = &self.counters;
        GpuStats {
            submits: c.submits.load(Ordering::Relaxed),
            downloads: c.downloads.load(Ordering::Relaxed),
            pipelines_compiled: c.pipelines.load(Ordering::Relaxed),
            dispatches: c.dispatches.load(Ordering::Relaxed),
            bytes_uploaded: c.uploaded.load(Ordering::Relaxed),
            bytes_downloaded: c.downloaded.load(Ordering::Relaxed),
            buffers_allocated: self.pool.allocations(),
            bind_groups_created: c.bind_groups.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_submit(&self, dispatches: usize) {
        self.counters.submits.fetch_add(1, Ordering::Relaxed);
        self.counters.dispatches.fetch_add(dispatches as u64, Ordering::Relaxed);
    }

    /// The pipeline for a kernel's WGSL, compiled on first use. Sources come from the
    /// backend's own code generator, whose every index is in bounds by construction (views
    /// are checked against their buffers before a launch), so they compile without wgpu's
    /// injected bounds checks and loop bounding: on an H100 those cost 59x.
    pub(crate) fn pipeline(&self, source: &str) -> Result<Arc<wgpu::ComputePipeline>> {
        let checked = self.checked.load(Ordering::Relaxed);
        let key = self.pipeline_key(source);
        if let Some(p) = self.pipelines.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(p.clone());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some("born kernel"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        };
        let module = if checked {
            self.device.create_shader_module(desc)
        } else {
            // SAFETY: see above: generated kernels index only inside their bound buffers.
            unsafe {
                self.device
                    .create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked())
            }
        };
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("born kernel"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::arg(
                "gpu",
                format!("internal: a generated kernel did not compile: {e}\n{source}"),
            ));
        }
        self.counters.pipelines.fetch_add(1, Ordering::Relaxed);
        let pipeline = Arc::new(pipeline);
        self.pipelines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// The pipeline cache's key for `source` in the current compile mode.
    fn pipeline_key(&self, source: &str) -> String {
        let checked = self.checked.load(Ordering::Relaxed);
        format!("{}{source}", if checked { "checked\n" } else { "" })
    }

    /// A GPU buffer for `len` elements of `dtype`, or an error naming the dtype.
    pub(crate) fn alloc(&self, dtype: DType, len: usize, op: &'static str) -> Result<GpuBuffer> {
        check_dtype(dtype, op)?;
        self.check_alive(op)?;
        self.pool.take(dtype, len, self.index, op)
    }

    /// Copies host data into a new GPU buffer.
    pub fn upload(&self, data: &HostBuffer) -> Result<GpuBuffer> {
        let mut buf = self.alloc(data.dtype(), data.len(), "to_device")?;
        let bytes: Vec<u8> = match data {
            HostBuffer::F32(v) => bytemuck::cast_slice(v).to_vec(),
            HostBuffer::I32(v) => bytemuck::cast_slice(v).to_vec(),
            HostBuffer::I64(v) => bytemuck::cast_slice(v).to_vec(),
            HostBuffer::U8(v) => v.iter().flat_map(|&x| (x as u32).to_le_bytes()).collect(),
            HostBuffer::Bool(v) => v.iter().flat_map(|&x| (x as u32).to_le_bytes()).collect(),
            // Two bytes each (padded to a word: copies go in words), or a word each.
            HostBuffer::F16(v) if self.caps.f16 => {
                let mut b: Vec<u8> = v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect();
                b.resize(b.len().next_multiple_of(4), 0);
                b
            }
            HostBuffer::F16(v) => v.iter().flat_map(|x| (x.to_bits() as u32).to_le_bytes()).collect(),
            HostBuffer::BF16(v) => v
                .iter()
                .flat_map(|x| ((x.to_bits() as u32) << 16).to_le_bytes())
                .collect(),
            other => unreachable!("checked above: {}", other.dtype()),
        };
        if !bytes.is_empty() {
            self.queue.write_buffer(&buf.raw, 0, &bytes);
        }
        self.counters.uploaded.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if !data.dtype().is_float() && data.len() <= 1 << 16 {
            buf.host = Some(data.clone());
        }
        Ok(buf)
    }

    /// Copies a GPU buffer to the host (waits for the work queued before it).
    pub fn download(&self, buf: &GpuBuffer) -> Result<HostBuffer> {
        self.check_alive("to_vec")?;
        let bytes = (buf.len * element_bytes(buf.dtype, self.caps.f16).unwrap_or(4)) as u64;
        if bytes == 0 {
            return Ok(HostBuffer::zeros(buf.dtype, 0));
        }
        // The data, then the error record kernels may have written.
        let at = bytes.next_multiple_of(4);
        let staging = self.staging(at + 16);
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&buf.raw, 0, &staging, 0, at);
        enc.copy_buffer_to_buffer(&self.errors, 0, &staging, at, 16);
        self.queue.submit([enc.finish()]);
        self.counters.downloads.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| Error::arg("to_vec", format!("waiting for gpu:{}: {e}", self.index)))?;
        rx.recv()
            .map_err(|_| Error::arg("to_vec", "the GPU read-back was dropped"))?
            .map_err(|e| Error::arg("to_vec", format!("reading gpu:{} memory: {e}", self.index)))?;
        let view = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::arg("to_vec", format!("reading gpu:{} memory: {e}", self.index)))?;
        let record: Vec<u32> = bytemuck::pod_collect_to_vec(&view[at as usize..at as usize + 16]);
        if record[0] != 0 {
            self.queue.write_buffer(&self.errors, 0, &[0u8; 16]);
            return Err(Error::IndexOutOfRange {
                op: if record[0] == 1 {
                    "gather (on the GPU)"
                } else {
                    "scatter (on the GPU)"
                },
                index: record[1] as i32 as i64,
                size: record[2] as usize,
            });
        }
        let words = &view[..bytes as usize];
        let out = match buf.dtype {
            DType::F32 => HostBuffer::F32(bytemuck::pod_collect_to_vec(words)),
            DType::I32 => HostBuffer::I32(bytemuck::pod_collect_to_vec(words)),
            DType::I64 => HostBuffer::I64(bytemuck::pod_collect_to_vec(words)),
            DType::U8 => HostBuffer::U8(words.chunks_exact(4).map(|w| w[0]).collect()),
            DType::Bool => HostBuffer::Bool(words.chunks_exact(4).map(|w| w[0] != 0).collect()),
            DType::F16 if self.caps.f16 => HostBuffer::F16(
                words
                    .chunks_exact(2)
                    .map(|w| half::f16::from_bits(u16::from_le_bytes([w[0], w[1]])))
                    .collect(),
            ),
            DType::F16 => HostBuffer::F16(
                words
                    .chunks_exact(4)
                    .map(|w| half::f16::from_bits(u16::from_le_bytes([w[0], w[1]])))
                    .collect(),
            ),
            DType::BF16 => HostBuffer::BF16(
                words
                    .chunks_exact(4)
                    .map(|w| half::bf16::from_bits(u16::from_le_bytes([w[2], w[3]])))
                    .collect(),
            ),
            other => unreachable!("GPU buffers of {other} are never made"),
        };
        drop(view);
        staging.unmap();
        self.keep_staging(staging);
        self.counters.downloaded.fetch_add(bytes, Ordering::Relaxed);
        Ok(out)
    }

    /// A mappable buffer of at least `bytes` for a read-back: small ones (a loss read every
    /// training step) come from a few kept from earlier read-backs instead of a new allocation.
    fn staging(&self, bytes: u64) -> wgpu::Buffer {
        if bytes <= SMALL_READ_BACK {
            let mut kept = self.read_backs.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = kept.iter().position(|b| b.size() >= bytes) {
                return kept.swap_remove(i);
            }
        }
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("born download"),
            size: if bytes <= SMALL_READ_BACK {
                SMALL_READ_BACK
            } else {
                bytes
            },
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Keeps an unmapped small read-back buffer for the next read-back.
    fn keep_staging(&self, staging: wgpu::Buffer) {
        let mut kept = self.read_backs.lock().unwrap_or_else(|e| e.into_inner());
        if staging.size() == SMALL_READ_BACK && kept.len() < 4 {
            kept.push(staging);
        }
    }
}

type PlanKey = (crate::schedule::Kernel, Vec<DType>, bool);

/// One compiled launch: its pipeline, the slots bound at 1, 2, ..., its grid.
/// Read-backs up to this many bytes use a kept staging buffer of this size.
const SMALL_READ_BACK: u64 = 64 << 10;

/// Bind groups kept per GPU (a CNN training step binds about a hundred).
const BIND_GROUP_CAPACITY: usize = 4096;

/// A bind group's pipeline (by address) and buffers.
type BindKey = (usize, Vec<wgpu::Buffer>);

pub(crate) struct CompiledLaunch {
    pub pipeline: Arc<wgpu::ComputePipeline>,
    pub reads: Vec<crate::schedule::Slot>,
    pub groups: [u32; 3],
    pub writes_scratch: bool,
}

/// A schedule kernel's compiled launches and the f32 scratch elements they share.
pub(crate) struct CompiledPlan {
    pub launches: Vec<CompiledLaunch>,
    pub scratch: usize,
}

/// An error unless the GPU backend has kernels for `dtype`.
pub fn check_dtype(dtype: DType, op: &'static str) -> Result<()> {
    if element_bytes(dtype, false).is_some() {
        return Ok(());
    }
    Err(Error::UnsupportedDType {
        op,
        dtype,
        reason: "the GPU backend computes f32, f16, bf16, i32, i64, u8 and bool (WGSL has no 64-bit \
                 floats): cast first, e.g. `.to_dtype(DType::F32)`"
            .into(),
    })
}
