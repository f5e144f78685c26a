//! Data: the IDX file format, MNIST-style datasets (found locally or downloaded
//! with checksums), and a [`DataLoader`] that yields shuffled batches.
//!
//! ```no_run
//! use born::prelude::*;
//! use born::data::{datasets, images_f32};
//! let fm = datasets::fashion_mnist()?;
//! let mut train = DataLoader::new(&fm.train_images, &fm.train_labels, 64)
//!     .seed(0)
//!     .transform(|x, y| (images_f32(&x).reshape([x.shape()[0], 784]), y));
//! for (x, y) in &mut train {
//!     // x: [64, 784] f32 in [0, 1], y: [64] i64
//! #   let _ = (x, y);
//! }
//! # Ok::<(), born::Error>(())
//! ```

pub mod datasets;
pub mod download;
pub mod idx;
pub mod loader;

pub use datasets::{fashion_mnist, images_f32, mnist, mnist_test_split, Mnist};
pub use download::{FileSpec, Source, DATA_ENV};
pub use loader::{Batches, DataLoader, Transform};
