//! Device buffers as plain data. Backends compute on them; the graph only
//! holds them.

pub mod gpu;

use crate::dtype::{DType, Element, Scalar};
use crate::graph::Device;
pub use gpu::{GpuBuffer, GpuPool};
use half::{bf16, f16};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A typed, contiguous host allocation: the CPU backend's buffer.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum HostBuffer {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F16(Vec<f16>),
    BF16(Vec<bf16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Runs `$body` with `$v` bound to the inner `Vec` of a [`HostBuffer`],
/// whatever its element type.
#[macro_export]
#[doc(hidden)]
macro_rules! with_host {
    ($buf:expr, $v:ident => $body:expr) => {
        match $buf {
            $crate::storage::HostBuffer::Bool($v) => $body,
            $crate::storage::HostBuffer::U8($v) => $body,
            $crate::storage::HostBuffer::I32($v) => $body,
            $crate::storage::HostBuffer::I64($v) => $body,
            $crate::storage::HostBuffer::F16($v) => $body,
            $crate::storage::HostBuffer::BF16($v) => $body,
            $crate::storage::HostBuffer::F32($v) => $body,
            $crate::storage::HostBuffer::F64($v) => $body,
        }
    };
}

/// Conversion between element vectors and [`HostBuffer`].
pub trait HostElement: Element + Sized {
    /// Wraps a vector.
    fn wrap(v: Vec<Self>) -> HostBuffer;
    /// Borrows the vector if the buffer holds this type.
    fn view(b: &HostBuffer) -> Option<&[Self]>;
    /// Mutably borrows the vector if the buffer holds this type.
    fn view_mut(b: &mut HostBuffer) -> Option<&mut [Self]>;
}

macro_rules! host_element {
    ($t:ty, $v:ident) => {
        impl HostElement for $t {
            fn wrap(v: Vec<Self>) -> HostBuffer {
                HostBuffer::$v(v)
            }
            fn view(b: &HostBuffer) -> Option<&[Self]> {
                match b {
                    HostBuffer::$v(v) => Some(v),
                    _ => None,
                }
            }
            fn view_mut(b: &mut HostBuffer) -> Option<&mut [Self]> {
                match b {
                    HostBuffer::$v(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
host_element!(bool, Bool);
host_element!(u8, U8);
host_element!(i32, I32);
host_element!(i64, I64);
host_element!(f16, F16);
host_element!(bf16, BF16);
host_element!(f32, F32);
host_element!(f64, F64);

impl HostBuffer {
    /// A buffer of `len` elements, all `value`.
    pub fn filled(dtype: DType, len: usize, value: Scalar) -> HostBuffer {
        fn fill<T: HostElement>(len: usize, s: Scalar) -> HostBuffer {
            T::wrap(vec![T::from_scalar(s); len])
        }
        match dtype {
            DType::Bool => fill::<bool>(len, value),
            DType::U8 => fill::<u8>(len, value),
            DType::I32 => fill::<i32>(len, value),
            DType::I64 => fill::<i64>(len, value),
            DType::F16 => fill::<f16>(len, value),
            DType::BF16 => fill::<bf16>(len, value),
            DType::F32 => fill::<f32>(len, value),
            DType::F64 => fill::<f64>(len, value),
        }
    }

    /// A zeroed buffer.
    pub fn zeros(dtype: DType, len: usize) -> HostBuffer {
        HostBuffer::filled(dtype, len, Scalar::Int(0))
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            HostBuffer::Bool(_) => DType::Bool,
            HostBuffer::U8(_) => DType::U8,
            HostBuffer::I32(_) => DType::I32,
            HostBuffer::I64(_) => DType::I64,
            HostBuffer::F16(_) => DType::F16,
            HostBuffer::BF16(_) => DType::BF16,
            HostBuffer::F32(_) => DType::F32,
            HostBuffer::F64(_) => DType::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        with_host!(self, v => v.len())
    }

    /// True when the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` as a scalar (slow; for printing and tests).
    pub fn scalar_at(&self, i: usize) -> Scalar {
        with_host!(self, v => v[i].to_scalar())
    }
}

/// Freed host buffers kept for reuse, by dtype and capacity. Reusing a buffer
/// skips the page faults and zeroing of a fresh allocation, which cost more
/// than a fused kernel's whole pass over the data. Owned by the runtime.
///
/// Capacities come in size classes (at most 1/8 over the request) and a request takes
/// an idle buffer of its own class. (Taking a bigger idle one as well made a training
/// loop allocate again after an evaluation pass had rearranged which buffer served what.)
pub struct HostPool {
    free: Mutex<HashMap<(DType, usize), Vec<HostBuffer>>>,
    bytes: AtomicUsize,
    limit: usize,
    /// Buffers that `take` had to allocate (no idle buffer of that dtype and size).
    fresh: AtomicUsize,
}

/// `len` rounded up to its size class: eight classes per power of two.
fn size_class(len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let octave = 1usize << (usize::BITS - 1 - len.leading_zeros());
    let step = (octave / 8).max(1);
    len.div_ceil(step) * step
}

impl HostPool {
    /// A pool that keeps at most `limit` bytes of idle buffers.
    pub fn new(limit: usize) -> HostPool {
        HostPool {
            free: Mutex::new(HashMap::new()),
            bytes: AtomicUsize::new(0),
            limit,
            fresh: AtomicUsize::new(0),
        }
    }

    /// A buffer of `len` elements with unspecified contents (zeros if new):
    /// every kernel writes its whole output.
    pub fn take(&self, dtype: DType, len: usize) -> HostBuffer {
        let class = size_class(len);
        let reused = self
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&(dtype, class))
            .and_then(|v| v.pop());
        match reused {
            Some(mut b) => {
                self.bytes.fetch_sub(capacity_bytes(&b), Ordering::Relaxed);
                with_host!(&mut b, v => v.resize(len, Default::default()));
                b
            }
            None => {
                self.fresh.fetch_add(1, Ordering::Relaxed);
                let mut b = HostBuffer::zeros(dtype, class);
                with_host!(&mut b, v => v.truncate(len));
                b
            }
        }
    }

    /// How many buffers `take` has allocated (rather than reused) so far: a training loop
    /// whose steps have the same shapes stops allocating after its first step.
    pub fn allocations(&self) -> usize {
        self.fresh.load(Ordering::Relaxed)
    }

    /// Keeps a buffer for reuse if the pool has room. Small buffers are kept too: a
    /// training step's logits and biases are small, and steady steps should allocate nothing.
    pub fn give(&self, b: HostBuffer) {
        let bytes = capacity_bytes(&b);
        if bytes == 0 || self.bytes.load(Ordering::Relaxed) + bytes > self.limit {
            return;
        }
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let key = (b.dtype(), with_host!(&b, v => v.capacity()));
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .push(b);
    }

    /// Bytes held by idle buffers.
    pub fn idle_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// A buffer on some device. Dropping the last handle returns it to its pool.
#[derive(Debug)]
pub enum Buffer {
    /// Host memory, used by the CPU backend, and the pool it returns to.
    Host(HostBuffer, Option<&'static HostPool>),
    /// GPU memory, used by the wgpu backend.
    Gpu(GpuBuffer),
}

/// Bytes a buffer's allocation holds (its capacity, not its length).
fn capacity_bytes(b: &HostBuffer) -> usize {
    with_host!(b, v => v.capacity()) * b.dtype().size_in_bytes()
}

impl std::fmt::Debug for HostPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostPool({} idle bytes)", self.idle_bytes())
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        match self {
            Buffer::Host(data, Some(pool)) => pool.give(std::mem::replace(data, HostBuffer::Bool(Vec::new()))),
            // A GPU buffer returns to its pool when the `GpuBuffer` drops.
            Buffer::Host(_, None) | Buffer::Gpu(_) => {}
        }
    }
}

impl Buffer {
    /// The host data. Callers reach it only for host buffers (the CPU backend, host
    /// constants); GPU data comes to the host through `Tensor::to_vec` or `to_device`.
    pub fn host(&self) -> &HostBuffer {
        match self {
            Buffer::Host(h, _) => h,
            Buffer::Gpu(g) => panic!("internal: host data asked of a {} buffer on gpu:{}", g.dtype, g.device),
        }
    }

    /// Where the data lives.
    pub fn device(&self) -> Device {
        match self {
            Buffer::Host(..) => Device::Cpu,
            Buffer::Gpu(g) => Device::Gpu(g.device),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buffer::Host(h, _) => h.len(),
            Buffer::Gpu(g) => g.len,
        }
    }

    /// True when the buffer holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            Buffer::Host(h, _) => h.dtype(),
            Buffer::Gpu(g) => g.dtype,
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.len() * self.dtype().size_in_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_at_most_an_eighth_over() {
        for len in [1, 7, 8, 9, 100, 1000, 50176, 1 << 20, (1 << 20) + 1] {
            let c = size_class(len);
            assert!(c >= len && c <= len + len / 8 + 1, "{len} -> {c}");
            assert_eq!(size_class(c), c, "a class is its own class");
        }
    }

    #[test]
    fn a_request_reuses_an_idle_buffer_of_its_class() {
        let pool = HostPool::new(1 << 30);
        let first = pool.take(DType::F32, 50_000);
        assert_eq!(pool.allocations(), 1);
        pool.give(first);
        // A slightly different length in the same class: the same allocation.
        let second = pool.take(DType::F32, 51_000);
        assert_eq!((second.len(), pool.allocations()), (51_000, 1));
        pool.give(second);
        // Another class or dtype: a new one.
        assert_eq!(pool.take(DType::F32, 25_000).len(), 25_000);
        assert_eq!(pool.take(DType::F64, 50_000).len(), 50_000);
        assert_eq!(pool.allocations(), 3);
    }
}
