//! MNIST and Fashion-MNIST: found locally or downloaded, checked, and loaded as tensors.
//!
//! ```no_run
//! use born::data::datasets;
//! let fm = datasets::fashion_mnist()?;          // $BORN_DATA, cache, Debian package, or download
//! assert_eq!(fm.train_images.shape(), &[60_000, 28, 28]); // u8
//! assert_eq!(fm.train_labels.shape(), &[60_000]);          // i64
//! let x = fm.train_images_f32();                          // f32 in [0, 1]
//! # Ok::<(), born::Error>(())
//! ```
//!
//! Lookup order: `$BORN_DATA/<name>/`, the user cache
//! (`$XDG_CACHE_HOME/born/datasets/<name>` or `~/.cache/born/datasets/<name>`),
//! system locations (Debian's `dataset-fashion-mnist` in
//! `/usr/share/datasets/fashion-mnist`), then a download from the public mirrors
//! into the user cache (SHA-256 checked, see [`Source`]).

use super::download::Source;
use super::idx;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::HostBuffer;
use crate::tensor::Tensor;
use std::path::Path;

/// An MNIST-format dataset: 28x28 `u8` images and their class labels.
///
/// Labels are `I64` (class indices in `0..10`), the dtype that `cross_entropy`,
/// `one_hot` and gathers take as indices; images stay `U8` (a quarter of the memory
/// of f32) and [`Mnist::train_images_f32`] / [`images_f32`] scale them to `[0, 1]`.
#[derive(Clone)]
pub struct Mnist {
    /// Training images, `[N, 28, 28]` `U8`.
    pub train_images: Tensor,
    /// Training labels, `[N]` `I64`.
    pub train_labels: Tensor,
    /// Test images, `[M, 28, 28]` `U8`.
    pub test_images: Tensor,
    /// Test labels, `[M]` `I64`.
    pub test_labels: Tensor,
}

impl std::fmt::Debug for Mnist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Mnist {{ train: {:?} {}, test: {:?} {} }}",
            self.train_images.shape(),
            self.train_images.dtype(),
            self.test_images.shape(),
            self.test_images.dtype()
        )
    }
}

/// Images as `F32` scaled to `[0, 1]` (divided by 255). Lazy: fuses into the
/// consumer when used in a bigger expression.
pub fn images_f32(images: &Tensor) -> Tensor {
    &images.to_dtype(DType::F32) * (1.0 / 255.0)
}

impl Mnist {
    /// Training images as `F32` in `[0, 1]`, `[N, 28, 28]`.
    pub fn train_images_f32(&self) -> Tensor {
        images_f32(&self.train_images)
    }

    /// Test images as `F32` in `[0, 1]`, `[M, 28, 28]`.
    pub fn test_images_f32(&self) -> Tensor {
        images_f32(&self.test_images)
    }

    /// Number of training examples.
    pub fn train_len(&self) -> usize {
        self.train_labels.shape()[0]
    }

    /// Number of test examples.
    pub fn test_len(&self) -> usize {
        self.test_labels.shape()[0]
    }
}

fn err(reason: impl Into<String>) -> Error {
    Error::arg("datasets", reason)
}

/// MNIST (60,000 training and 10,000 test digits), found or downloaded (see the module docs).
pub fn mnist() -> Result<Mnist> {
    load(&Source::mnist())
}

/// Fashion-MNIST (60,000 training and 10,000 test clothing images), found or downloaded.
pub fn fashion_mnist() -> Result<Mnist> {
    load(&Source::fashion_mnist())
}

/// Locates (or downloads) a source with the four MNIST file names and loads it.
pub fn load(source: &Source) -> Result<Mnist> {
    load_dir(&source.locate()?)
}

/// Loads the four MNIST-format files (`train-images-idx3-ubyte[.gz]`,
/// `train-labels-idx1-ubyte[.gz]`, `t10k-images-...`, `t10k-labels-...`) from `dir`.
pub fn load_dir(dir: &Path) -> Result<Mnist> {
    let (train_images, train_labels) = load_split(dir, "train")?;
    let (test_images, test_labels) = load_split(dir, "t10k")?;
    Ok(Mnist {
        train_images,
        train_labels,
        test_images,
        test_labels,
    })
}

/// The real MNIST test digits in `dir` (the `t10k-*` files) split for a small
/// offline run: the first 8,000 as the training set, the last 2,000 as the test set.
pub fn mnist_test_split(dir: impl AsRef<Path>) -> Result<Mnist> {
    let (images, labels) = load_split(dir.as_ref(), "t10k")?;
    let n = labels.shape()[0];
    if n < 10_000 {
        return Err(err(format!(
            "mnist_test_split: {} holds {n} test digits, the split needs 10,000",
            dir.as_ref().display()
        )));
    }
    let img: Vec<u8> = images.try_to_vec()?;
    let lab: Vec<i64> = labels.try_to_vec()?;
    let px = 28 * 28;
    let (a, b) = (8_000, 2_000);
    let rows = |v: &[u8], lo: usize, k: usize| {
        Tensor::from_host(HostBuffer::U8(v[lo * px..(lo + k) * px].to_vec()), &[k, 28, 28])
    };
    Ok(Mnist {
        train_images: rows(&img, 0, a),
        train_labels: Tensor::from_host(HostBuffer::I64(lab[..a].to_vec()), &[a]),
        test_images: rows(&img, n - b, b),
        test_labels: Tensor::from_host(HostBuffer::I64(lab[n - b..].to_vec()), &[b]),
    })
}

fn file(dir: &Path, name: &str) -> Result<std::path::PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    Err(err(format!("{} is missing from {}", gz.display(), dir.display())))
}

/// Reads `<split>-images-idx3-ubyte` and `<split>-labels-idx1-ubyte` and checks them.
fn load_split(dir: &Path, split: &str) -> Result<(Tensor, Tensor)> {
    let ipath = file(dir, &format!("{split}-images-idx3-ubyte"))?;
    let lpath = file(dir, &format!("{split}-labels-idx1-ubyte"))?;
    let images = idx::read(&ipath)?;
    let labels = idx::read(&lpath)?;
    let bad = |what: &str| err(format!("{what} ({} and {})", ipath.display(), lpath.display()));
    if images.dtype() != DType::U8 || images.shape().len() != 3 || images.shape()[1..] != [28, 28] {
        return Err(bad(&format!(
            "images must be [N, 28, 28] u8, the file holds {:?} {}",
            images.shape(),
            images.dtype()
        )));
    }
    if labels.dtype() != DType::U8 || labels.shape().len() != 1 {
        return Err(bad(&format!(
            "labels must be [N] u8, the file holds {:?} {}",
            labels.shape(),
            labels.dtype()
        )));
    }
    if labels.shape()[0] != images.shape()[0] {
        return Err(bad(&format!(
            "{} images but {} labels",
            images.shape()[0],
            labels.shape()[0]
        )));
    }
    let raw: Vec<u8> = labels.try_to_vec()?;
    if let Some((i, &l)) = raw.iter().enumerate().find(|(_, &l)| l > 9) {
        return Err(bad(&format!("label {i} is {l}, outside the classes 0..10")));
    }
    let n = raw.len();
    let labels = Tensor::from_host(HostBuffer::I64(raw.into_iter().map(i64::from).collect()), &[n]);
    Ok((images, labels))
}
