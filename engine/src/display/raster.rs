//! RGB pixel buffers: nearest-neighbour resizing to a visible size, and PNG encoding.

use crate::error::{Error, Result};

/// An 8-bit RGB image, row-major, 3 bytes a pixel.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rgb {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) data: Vec<u8>,
}

impl Rgb {
    /// A `width x height` image filled with one color.
    pub(crate) fn filled(width: usize, height: usize, color: [u8; 3]) -> Rgb {
        Rgb {
            width,
            height,
            data: color.repeat(width * height),
        }
    }

    /// Sets one pixel.
    pub(crate) fn put(&mut self, x: usize, y: usize, color: [u8; 3]) {
        let i = 3 * (y * self.width + x);
        self.data[i..i + 3].copy_from_slice(&color);
    }

    /// Resized so the longer side is at least `min_side` (by a whole factor, so
    /// every source pixel becomes an equal square: a 28x28 matrix becomes 224x224) and
    /// at most `max_side` (sampled down, so a huge matrix does not make a huge PNG).
    pub(crate) fn fit(self, min_side: usize, max_side: usize) -> Rgb {
        let long = self.width.max(self.height).max(1);
        if long < min_side {
            let k = min_side.div_ceil(long);
            let (w, h) = (self.width * k, self.height * k);
            self.resize(w, h)
        } else if long > max_side {
            let (w, h) = (self.width * max_side / long, self.height * max_side / long);
            self.resize(w.max(1), h.max(1))
        } else {
            self
        }
    }

    /// Nearest-neighbour resize: no blending, so cell edges stay sharp.
    fn resize(&self, width: usize, height: usize) -> Rgb {
        let mut out = Rgb::filled(width, height, [0; 3]);
        for y in 0..height {
            let sy = y * self.height / height;
            for x in 0..width {
                let sx = x * self.width / width;
                let i = 3 * (sy * self.width + sx);
                out.put(x, y, [self.data[i], self.data[i + 1], self.data[i + 2]]);
            }
        }
        out
    }
}

/// Encodes 8-bit RGB pixels as a PNG file.
pub(crate) fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>> {
    let expected = width as usize * height as usize * 3;
    if rgb.len() != expected {
        return Err(Error::arg(
            "png",
            format!("{width}x{height} RGB needs {expected} bytes, got {}", rgb.len()),
        ));
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Figures travel base64 in every notebook output: trade a little time for size.
    enc.set_compression(png::Compression::Best);
    enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let fail = |e: png::EncodingError| Error::arg("png", e.to_string());
    let mut writer = enc.write_header().map_err(fail)?;
    writer.write_image_data(rgb).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_scales_by_whole_factors_and_caps() {
        let small = Rgb::filled(28, 14, [1, 2, 3]).fit(200, 1000);
        assert_eq!((small.width, small.height), (224, 112));
        let big = Rgb::filled(3000, 1500, [0; 3]).fit(200, 1000);
        assert_eq!((big.width, big.height), (1000, 500));
        let mid = Rgb::filled(300, 300, [0; 3]).fit(200, 1000);
        assert_eq!(mid.width, 300);
    }

    #[test]
    fn resize_is_nearest() {
        let mut img = Rgb::filled(2, 1, [0; 3]);
        img.put(1, 0, [9, 9, 9]);
        let up = img.fit(4, 100);
        assert_eq!(&up.data[..12], &[0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9]);
    }

    #[test]
    fn png_checks_length() {
        assert!(encode_png(2, 2, &[0; 11]).is_err());
        assert_eq!(&encode_png(1, 1, &[0; 3]).unwrap()[1..4], b"PNG");
    }
}
