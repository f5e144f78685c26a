//! GPU memory: buffers of one wgpu device and the pool that recycles them.

use super::size_class;
use crate::dtype::DType;
use crate::error::{human_bytes, Error, Result};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Bytes one element takes in GPU memory, or `None` where the backend has no kernels for
/// the dtype (f64: WGSL has no 64-bit floats). WGSL has no 8-, 16- or 64-bit integers
/// and f16 only behind an optional feature: u8 and bool widen to a 32-bit word each; f16
/// is two bytes on a device with `shader-f16` (`native_f16`), else a word like bf16
/// (their bits in the low / high half); an i64 is two words (low, high) so its bytes
/// are the host's, and kernels compute on its low word (values must fit in i32).
pub fn element_bytes(dtype: DType, native_f16: bool) -> Option<usize> {
    match dtype {
        DType::F16 if native_f16 => Some(2),
        DType::F32 | DType::I32 | DType::U8 | DType::Bool | DType::F16 | DType::BF16 => Some(4),
        DType::I64 => Some(8),
        DType::F64 => None,
    }
}

/// A typed allocation in one GPU's memory. Dropping it returns the allocation to its pool.
#[derive(Debug)]
pub struct GpuBuffer {
    /// The wgpu buffer (storage, copy source and destination).
    pub raw: wgpu::Buffer,
    /// Element type.
    pub dtype: DType,
    /// Elements.
    pub len: usize,
    /// Adapter index.
    pub device: u16,
    /// The pool it returns to.
    pub(crate) pool: &'static GpuPool,
    /// The host data it was uploaded from, kept for small integer tensors (labels, indices):
    /// checks that read them on the host (a loss's label range) then cost no read-back.
    /// GPU buffers are written once, so the copy stays true.
    pub host: Option<super::HostBuffer>,
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        self.pool.give(self.raw.clone());
    }
}

/// Freed GPU buffers kept for reuse by byte size class (eight classes per power of two),
/// so a training loop whose steps have the same shapes allocates nothing after its first.
pub struct GpuPool {
    device: wgpu::Device,
    free: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
    idle: AtomicUsize,
    limit: usize,
    allocations: AtomicU64,
    bytes_allocated: AtomicU64,
    /// f16 elements take two bytes (the device has `shader-f16`).
    native_f16: bool,
}

impl std::fmt::Debug for GpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuPool({} idle bytes)", self.idle.load(Ordering::Relaxed))
    }
}

impl GpuPool {
    /// A pool over `device` keeping at most `limit` idle bytes; `native_f16`: the device's
    /// kernels store f16 as two bytes (see [`element_bytes`]).
    pub fn new(device: wgpu::Device, limit: usize, native_f16: bool) -> GpuPool {
        GpuPool {
            device,
            free: Mutex::new(HashMap::new()),
            idle: AtomicUsize::new(0),
            limit,
            allocations: AtomicU64::new(0),
            bytes_allocated: AtomicU64::new(0),
            native_f16,
        }
    }

    /// A buffer for `len` elements of `dtype` (contents unspecified: kernels write all of it)
    /// for `op`. The caller has checked that the backend supports the dtype. A size over the
    /// device's limits, or a device out of memory even after the pool let its idle buffers
    /// go, is an [`Error::OutOfMemory`] naming `op`.
    pub fn take(&'static self, dtype: DType, len: usize, device: u16, op: &'static str) -> Result<GpuBuffer> {
        let bytes = (len * element_bytes(dtype, self.native_f16).unwrap_or(4)).max(16);
        let class = size_class(bytes).next_multiple_of(4) as u64;
        let reused = self.free_lists().get_mut(&class).and_then(|v| v.pop());
        let raw = match reused {
            Some(b) => {
                self.idle.fetch_sub(class as usize, Ordering::Relaxed);
                Ok(b)
            }
            None => self.create(class).or_else(|_| {
                // Memory the pool keeps idle may be what is missing: let it go and try again.
                self.release_idle();
                self.create(class)
            }),
        }
        .map_err(|reason| Error::OutOfMemory {
            op,
            device: format!("gpu:{device}"),
            bytes,
            reason,
        })?;
        Ok(GpuBuffer {
            raw,
            dtype,
            len,
            device,
            pool: self,
            host: None,
        })
    }

    /// A new buffer of `bytes`, or why the device could not make it.
    fn create(&self, bytes: u64) -> std::result::Result<wgpu::Buffer, String> {
        let limits = self.device.limits();
        let most = limits.max_buffer_size.min(limits.max_storage_buffer_binding_size);
        if bytes > most {
            return Err(format!(
                "the largest buffer a kernel can use there is {}",
                human_bytes(most as usize)
            ));
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let raw = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("born"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(e.to_string());
        }
        self.allocations.fetch_add(1, Ordering::Relaxed);
        self.bytes_allocated.fetch_add(bytes, Ordering::Relaxed);
        Ok(raw)
    }

    /// Destroys every idle buffer (their memory goes back to the device).
    pub fn release_idle(&self) {
        for (_, buffers) in self.free_lists().drain() {
            for b in buffers {
                self.idle.fetch_sub(b.size() as usize, Ordering::Relaxed);
                b.destroy();
            }
        }
    }

    /// The idle buffers by size class (a poisoned lock still holds valid lists).
    fn free_lists(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Vec<wgpu::Buffer>>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `raw` for reuse if there is room.
    pub(crate) fn give(&self, raw: wgpu::Buffer) {
        let class = raw.size();
        if self.idle.load(Ordering::Relaxed) + class as usize > self.limit {
            // Freed now even if a cached bind group still names it (it is never bound again:
            // only the pool hands buffers out). Queued work that reads it finishes first.
            raw.destroy();
            return;
        }
        self.idle.fetch_add(class as usize, Ordering::Relaxed);
        self.free_lists().entry(class).or_default().push(raw);
    }

    /// Buffers created (not reused) so far.
    pub fn allocations(&self) -> u64 {
        self.allocations.load(Ordering::Relaxed)
    }

    /// Bytes of the buffers created so far.
    pub fn bytes_allocated(&self) -> u64 {
        self.bytes_allocated.load(Ordering::Relaxed)
    }

    /// Bytes held by idle buffers.
    pub fn idle_bytes(&self) -> usize {
        self.idle.load(Ordering::Relaxed)
    }
}
