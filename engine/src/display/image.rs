//! [`Image`]: an encoded PNG with its size, shown as `image/png`.

use super::bundle::{MimeBundle, Render, IMAGE_PNG};
use super::raster::encode_png;
use crate::error::{Error, Result};
use base64::Engine;
use std::path::Path;

/// A PNG image (the file bytes) and its size in pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    png: Vec<u8>,
    width: u32,
    height: u32,
}

impl Image {
    /// Encodes 8-bit RGB pixels (row-major, 3 bytes a pixel) as PNG.
    pub fn from_rgb(width: u32, height: u32, rgb: &[u8]) -> Result<Image> {
        Ok(Image {
            png: encode_png(width, height, rgb)?,
            width,
            height,
        })
    }

    /// Wraps existing PNG file bytes; the size is read from the PNG header.
    pub fn from_png(png: Vec<u8>) -> Result<Image> {
        let reader = png::Decoder::new(png.as_slice())
            .read_info()
            .map_err(|e| Error::arg("png", e.to_string()))?;
        let (width, height) = (reader.info().width, reader.info().height);
        drop(reader);
        Ok(Image { png, width, height })
    }

    /// The PNG file bytes.
    pub fn png_bytes(&self) -> &[u8] {
        &self.png
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Writes the PNG file.
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, &self.png)
    }

    /// Shows the image as a cell's result (evcxr calls this on a cell's last expression).
    pub fn evcxr_display(&self) {
        super::output::show_result(self);
    }
}

impl Render for Image {
    /// `image/png` (base64) and `text/plain` `<image WxH>`.
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(self.plain_text()).with(IMAGE_PNG, base64::engine::general_purpose::STANDARD.encode(&self.png))
    }

    fn plain_text(&self) -> String {
        format!("<image {}x{}>", self.width, self.height)
    }
}
