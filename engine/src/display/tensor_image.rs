//! Tensors as pictures: [`Tensor::heatmap`] of a matrix, [`Tensor::image_grid`] of a batch.

use super::color::{viridis, NAN_RGB};
use super::image::Image;
use super::raster::Rgb;
use crate::error::{Error, Result};
use crate::tensor::{panicking, Tensor};

/// A heatmap's longer side is scaled up to at least this many pixels (a 28x28 becomes 224x224).
const HEATMAP_MIN_SIDE: usize = 200;
/// Each grid tile is scaled up to at least this many pixels on its longer side.
const TILE_MIN_SIDE: usize = 64;
/// Larger results are sampled down to this longer side, so the PNG stays small.
const MAX_SIDE: usize = 1600;
/// The lines between grid tiles (1 source pixel wide, scaled with the grid): a dark
/// blue, so they stand out from any grayscale image.
const GRID_LINE: [u8; 3] = [40, 70, 130];

/// Maps values to `0..=1`: min-max over the finite values; NaN stays `None`.
struct Normalize {
    lo: f64,
    scale: f64,
    /// The value every element maps to when all finite values are equal.
    constant: Option<f64>,
}

impl Normalize {
    fn over(vals: &[f64]) -> Normalize {
        let (lo, hi) = vals
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        // All equal (or none finite): there is no range; a value already in 0..1 is shown
        // as itself (an all-zero image is black), anything else mid-scale.
        let constant = (lo >= hi).then(|| if (0.0..=1.0).contains(&lo) { lo } else { 0.5 });
        Normalize {
            lo,
            scale: 1.0 / (hi - lo),
            constant,
        }
    }

    /// `None` for NaN; infinities clamp to the ends.
    fn map(&self, v: f64) -> Option<f64> {
        if v.is_nan() {
            return None;
        }
        Some(match self.constant {
            Some(c) if v.is_finite() => c,
            _ => ((v - self.lo) * self.scale).clamp(0.0, 1.0),
        })
    }
}

fn gray(t: Option<f64>) -> [u8; 3] {
    t.map_or(NAN_RGB, |t| [(t * 255.0).round() as u8; 3])
}

impl Tensor {
    /// A heatmap of a 2-D tensor `[rows, cols]`: the viridis colormap over the min..max
    /// of the finite values (row 0 at the top), NaN in red, +-inf at the ends of the
    /// scale; scaled up with square cells so the longer side is at least 200 pixels,
    /// and down to at most 1600.
    pub fn try_heatmap(&self) -> Result<Image> {
        let shape = self.shape();
        if shape.len() != 2 || shape.contains(&0) {
            return Err(Error::arg(
                "heatmap",
                format!("needs a non-empty 2-D tensor [rows, cols], the shape is {shape:?}"),
            ));
        }
        let (rows, cols) = (shape[0], shape[1]);
        let vals = self.try_to_vec_f64()?;
        let norm = Normalize::over(&vals);
        let mut img = Rgb::filled(cols, rows, [0; 3]);
        for (i, &v) in vals.iter().enumerate() {
            img.put(i % cols, i / cols, norm.map(v).map_or(NAN_RGB, viridis));
        }
        let img = img.fit(HEATMAP_MIN_SIDE, MAX_SIDE);
        Image::from_rgb(img.width as u32, img.height as u32, &img.data)
    }

    /// A grid of images, `ncols` to a row, from a batch `[N, H, W]` or `[N, 1, H, W]`
    /// (grayscale) or `[N, 3, H, W]` (RGB).
    ///
    /// Values are min-max normalized over the whole batch (so images stay comparable:
    /// the batch's smallest finite value is black, its largest white); a batch of one
    /// constant value in 0..1 is shown as that gray level. NaN pixels are red. Tiles
    /// are separated by dark blue lines and scaled up so each is at least 64 pixels.
    pub fn try_image_grid(&self, ncols: usize) -> Result<Image> {
        let shape = self.shape();
        let (n, channels, h, w) = match *shape {
            [n, h, w] => (n, 1, h, w),
            [n, c @ (1 | 3), h, w] => (n, c, h, w),
            _ => {
                return Err(Error::arg(
                    "image_grid",
                    format!("needs a batch [N, H, W], [N, 1, H, W] or [N, 3, H, W], the shape is {shape:?}"),
                ))
            }
        };
        if n == 0 || h == 0 || w == 0 || ncols == 0 {
            return Err(Error::arg(
                "image_grid",
                format!("needs non-empty images and ncols > 0, the shape is {shape:?}, ncols is {ncols}"),
            ));
        }
        let vals = self.try_to_vec_f64()?;
        let norm = Normalize::over(&vals);
        let (gcols, grows) = (ncols.min(n), n.div_ceil(ncols));
        // One line of GRID_LINE between tiles and around the edge.
        let mut img = Rgb::filled(gcols * (w + 1) + 1, grows * (h + 1) + 1, GRID_LINE);
        let plane = h * w;
        for k in 0..n {
            let (ox, oy) = (1 + (k % ncols) * (w + 1), 1 + (k / ncols) * (h + 1));
            let base = k * channels * plane;
            for p in 0..plane {
                let channel = |c: usize| norm.map(vals[base + c * plane + p]);
                let color = if channels == 1 {
                    gray(channel(0))
                } else {
                    match (channel(0), channel(1), channel(2)) {
                        (Some(r), Some(g), Some(b)) => [r, g, b].map(|t| (t * 255.0).round() as u8),
                        _ => NAN_RGB,
                    }
                };
                img.put(ox + p % w, oy + p / w, color);
            }
        }
        let k = TILE_MIN_SIDE.div_ceil(h.max(w)).max(1);
        let long = img.width.max(img.height);
        let img = img.fit(long * k, MAX_SIDE);
        Image::from_rgb(img.width as u32, img.height as u32, &img.data)
    }
}

panicking! {
    heatmap => try_heatmap() -> Image;
    image_grid => try_image_grid(ncols: usize) -> Image;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heatmap_of_28x28_is_visible() {
        let t = Tensor::from_vec((0..784).map(|i| i as f32).collect::<Vec<f32>>(), [28, 28]);
        let img = t.heatmap();
        assert_eq!((img.width(), img.height()), (224, 224));
    }

    #[test]
    fn heatmap_rejects_other_ranks() {
        let e = Tensor::from_vec(vec![1.0f32; 8], [2, 2, 2]).try_heatmap().unwrap_err();
        assert!(e.to_string().contains("[2, 2, 2]"), "{e}");
    }

    #[test]
    fn normalize_handles_nan_inf_and_constants() {
        let n = Normalize::over(&[0.0, 2.0, f64::NAN, f64::INFINITY]);
        assert_eq!(n.map(1.0), Some(0.5));
        assert_eq!(n.map(f64::NAN), None);
        assert_eq!(n.map(f64::INFINITY), Some(1.0));
        assert_eq!(Normalize::over(&[0.0, 0.0]).map(0.0), Some(0.0));
        assert_eq!(Normalize::over(&[7.0]).map(7.0), Some(0.5));
    }

    #[test]
    fn grid_layout_and_errors() {
        let t = Tensor::from_vec(vec![0.5f32; 5 * 3 * 4 * 4], [5, 3, 4, 4]);
        let img = t.image_grid(2);
        // 2 columns x 3 rows of 4x4 tiles with 1-pixel lines, scaled by 64/4 = 16.
        assert_eq!((img.width(), img.height()), ((2 * 5 + 1) * 16, (3 * 5 + 1) * 16));
        assert!(Tensor::from_vec(vec![0.0f32; 8], [1, 2, 2, 2])
            .try_image_grid(1)
            .is_err());
        assert!(t.try_image_grid(0).is_err());
    }
}
