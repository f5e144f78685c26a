//! [`DataLoader`]: batches of (inputs, targets) over a dataset held in two tensors.
//!
//! The dataset's rows are copied to host memory once, when the loader is built;
//! each batch then copies its rows (contiguous slices) into one buffer per tensor
//! and wraps it as a realized tensor: no graph nodes, no kernels.

use crate::error::{Error, Result};
use crate::runtime::{runtime, Rng};
use crate::storage::{HostBuffer, HostElement};
use crate::tensor::Tensor;
use crate::with_host;
use std::fmt;

/// A transform applied to every batch: `(inputs, targets) -> (inputs, targets)`.
pub type Transform = Box<dyn Fn(Tensor, Tensor) -> (Tensor, Tensor)>;

/// One tensor of the dataset, as host rows.
struct Column {
    data: HostBuffer,
    /// Shape of one row (the tensor's shape without its first axis).
    row_shape: Vec<usize>,
    /// Elements per row.
    row: usize,
}

impl Column {
    fn new(t: &Tensor) -> Result<Column> {
        let shape = t.shape();
        if shape.is_empty() {
            return Err(Error::arg("DataLoader", "a 0-d tensor has no rows to batch"));
        }
        let data = with_dtype(t)?;
        Ok(Column {
            data,
            row_shape: shape[1..].to_vec(),
            row: shape[1..].iter().product(),
        })
    }

    /// The rows `idx`, copied into one tensor `[idx.len(), row_shape...]`. The
    /// buffer comes from the runtime's host pool: a batch dropped before the next
    /// one is made gives its buffer back, so an epoch reuses a few allocations.
    ///
    /// The buffer is taken at the size of a full batch of `batch` rows and shortened: the
    /// last, partial batch then reuses a full batch's buffer instead of allocating.
    fn gather(&self, idx: &[usize], batch: usize) -> Tensor {
        let row = self.row;
        let mut buf = runtime()
            .host_pool()
            .take(self.data.dtype(), idx.len().max(batch) * row);
        with_host!(&mut buf, v => v.truncate(idx.len() * row));
        fn copy<T: HostElement>(src: &[T], dst: &mut HostBuffer, idx: &[usize], row: usize) {
            let dst = T::view_mut(dst).expect("taken with the source's dtype");
            if row == 0 {
                return;
            }
            // Runs of consecutive indices (no shuffle) copy as one slice.
            let (mut k, mut at) = (0, 0);
            while k < idx.len() {
                let start = idx[k];
                let mut end = k + 1;
                while end < idx.len() && idx[end] == idx[end - 1] + 1 {
                    end += 1;
                }
                let len = (end - k) * row;
                dst[at..at + len].copy_from_slice(&src[start * row..start * row + len]);
                at += len;
                k = end;
            }
        }
        with_host!(&self.data, v => copy(v, &mut buf, idx, row));
        let mut shape = Vec::with_capacity(1 + self.row_shape.len());
        shape.push(idx.len());
        shape.extend_from_slice(&self.row_shape);
        Tensor::from_host(buf, &shape)
    }
}

fn with_dtype(t: &Tensor) -> Result<HostBuffer> {
    use crate::dtype::DType::*;
    Ok(match t.dtype() {
        Bool => HostBuffer::Bool(t.try_to_vec()?),
        U8 => HostBuffer::U8(t.try_to_vec()?),
        I32 => HostBuffer::I32(t.try_to_vec()?),
        I64 => HostBuffer::I64(t.try_to_vec()?),
        F16 => HostBuffer::F16(t.try_to_vec()?),
        BF16 => HostBuffer::BF16(t.try_to_vec()?),
        F32 => HostBuffer::F32(t.try_to_vec()?),
        F64 => HostBuffer::F64(t.try_to_vec()?),
    })
}

/// Iterates a dataset of `(inputs, targets)` in batches along the first axis.
///
/// ```
/// use born::prelude::*;
/// use born::data::DataLoader;
/// let x = Tensor::arange(0.0, 20.0, 1.0, DType::F32).reshape([10, 2]);
/// let y = Tensor::arange(0.0, 10.0, 1.0, DType::I64);
/// let mut loader = DataLoader::new(&x, &y, 4).shuffle(true).seed(0).drop_last(true);
/// assert_eq!(loader.len(), 2);
/// for (xb, yb) in &mut loader {
///     assert_eq!((xb.shape(), yb.shape()), (&[4, 2][..], &[4][..]));
/// }
/// ```
///
/// Shuffling draws a new permutation at the start of every epoch: from the
/// loader's own generator when [`DataLoader::seed`] was given (the same seed gives
/// the same epochs), else from the runtime's generator (set by `born::manual_seed`).
pub struct DataLoader {
    inputs: Column,
    targets: Column,
    n: usize,
    batch_size: usize,
    shuffle: bool,
    rng: Option<Rng>,
    drop_last: bool,
    transform: Option<Transform>,
}

impl fmt::Debug for DataLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataLoader")
            .field("samples", &self.n)
            .field("batch_size", &self.batch_size)
            .field("batches", &self.len())
            .field("shuffle", &self.shuffle)
            .field("seeded", &self.rng.is_some())
            .field("drop_last", &self.drop_last)
            .field("transform", &self.transform.is_some())
            .finish()
    }
}

impl DataLoader {
    /// A loader over `inputs` and `targets` (same first dimension), in order,
    /// keeping the last partial batch. The tensors are realized and copied once.
    pub fn try_new(inputs: &Tensor, targets: &Tensor, batch_size: usize) -> Result<DataLoader> {
        if batch_size == 0 {
            return Err(Error::arg("DataLoader", "batch_size must be at least 1"));
        }
        let (a, b) = (inputs.shape(), targets.shape());
        if a.is_empty() || b.is_empty() || a[0] != b[0] {
            return Err(Error::shapes(
                "DataLoader",
                a,
                b,
                "inputs and targets need the same first dimension (one row per example)",
            ));
        }
        Ok(DataLoader {
            inputs: Column::new(inputs)?,
            targets: Column::new(targets)?,
            n: a[0],
            batch_size,
            shuffle: false,
            rng: None,
            drop_last: false,
            transform: None,
        })
    }

    /// Like [`DataLoader::try_new`], but panics with the error message.
    #[track_caller]
    pub fn new(inputs: &Tensor, targets: &Tensor, batch_size: usize) -> DataLoader {
        match DataLoader::try_new(inputs, targets, batch_size) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        }
    }

    /// Shuffle the examples at the start of every epoch.
    pub fn shuffle(mut self, on: bool) -> DataLoader {
        self.shuffle = on;
        self
    }

    /// Shuffle with the loader's own generator seeded with `seed` (implies
    /// `shuffle(true)`), independent of the runtime's generator.
    pub fn seed(mut self, seed: u64) -> DataLoader {
        self.shuffle = true;
        self.rng = Some(Rng::seeded(seed));
        self
    }

    /// Drop the last batch when it is smaller than the batch size.
    pub fn drop_last(mut self, on: bool) -> DataLoader {
        self.drop_last = on;
        self
    }

    /// A function applied to every batch, for example scaling or flattening:
    /// `.transform(|x, y| (born::data::images_f32(&x), y))`.
    pub fn transform(mut self, f: impl Fn(Tensor, Tensor) -> (Tensor, Tensor) + 'static) -> DataLoader {
        self.transform = Some(Box::new(f));
        self
    }

    /// Number of batches in one epoch.
    pub fn len(&self) -> usize {
        if self.drop_last {
            self.n / self.batch_size
        } else {
            self.n.div_ceil(self.batch_size)
        }
    }

    /// True when an epoch yields no batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of examples in the dataset.
    pub fn num_samples(&self) -> usize {
        self.n
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// One epoch: draws the order (a new permutation when shuffling), then
    /// yields [`DataLoader::len`] batches.
    pub fn iter(&mut self) -> Batches<'_> {
        let n = self.n;
        let order = match (self.shuffle, &mut self.rng) {
            (false, _) => (0..n).collect(),
            (true, Some(r)) => r.permutation(n),
            (true, None) => runtime().with_rng(|r| r.permutation(n)),
        };
        Batches {
            loader: self,
            order,
            batch: 0,
        }
    }
}

/// The batches of one epoch of a [`DataLoader`].
pub struct Batches<'a> {
    loader: &'a DataLoader,
    order: Vec<usize>,
    batch: usize,
}

impl Iterator for Batches<'_> {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<(Tensor, Tensor)> {
        let l = self.loader;
        if self.batch >= l.len() {
            return None;
        }
        let lo = self.batch * l.batch_size;
        let hi = (lo + l.batch_size).min(l.n);
        self.batch += 1;
        let idx = &self.order[lo..hi];
        let (x, y) = (l.inputs.gather(idx, l.batch_size), l.targets.gather(idx, l.batch_size));
        Some(match &l.transform {
            Some(f) => f(x, y),
            None => (x, y),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.loader.len() - self.batch;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

impl<'a> IntoIterator for &'a mut DataLoader {
    type Item = (Tensor, Tensor);
    type IntoIter = Batches<'a>;

    fn into_iter(self) -> Batches<'a> {
        self.iter()
    }
}
