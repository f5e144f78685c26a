//! A cell's outputs drawn on a terminal: text as is, images inline where the terminal
//! speaks an image protocol (kitty graphics, iTerm2 inline images), otherwise as Unicode
//! half blocks plus a saved file whose path is printed; live displays redrawn in place.

use crate::eval::{MimeData, Output};
use base64::Engine as _;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

/// How the terminal shows images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageProtocol {
    /// kitty's graphics protocol (kitty, Ghostty, WezTerm).
    Kitty,
    /// iTerm2's inline images (iTerm2, WezTerm, VS Code's terminal).
    Iterm2,
    /// None: Unicode half blocks and a saved file.
    Blocks,
}

impl ImageProtocol {
    /// Reads the environment: `BORN_IMAGE_PROTOCOL` (kitty, iterm2, none) wins; then
    /// kitty's and iTerm2's own variables. Not a terminal: no images.
    pub fn detect(env: impl Fn(&str) -> Option<String>, is_tty: bool) -> ImageProtocol {
        match env("BORN_IMAGE_PROTOCOL").as_deref() {
            Some("kitty") => return ImageProtocol::Kitty,
            Some("iterm2") => return ImageProtocol::Iterm2,
            Some(_) => return ImageProtocol::Blocks,
            None => {}
        }
        if !is_tty {
            return ImageProtocol::Blocks;
        }
        let term = env("TERM").unwrap_or_default();
        let program = env("TERM_PROGRAM").unwrap_or_default();
        if env("KITTY_WINDOW_ID").is_some() || term.contains("kitty") || program == "ghostty" {
            ImageProtocol::Kitty
        } else if matches!(program.as_str(), "iTerm.app" | "WezTerm" | "vscode") {
            ImageProtocol::Iterm2
        } else {
            ImageProtocol::Blocks
        }
    }
}

/// Draws outputs on a terminal (or any writer).
pub struct Terminal {
    out: Box<dyn Write>,
    protocol: ImageProtocol,
    /// Columns for block images.
    width: usize,
    /// Where figures are saved when they cannot be shown inline.
    figures: PathBuf,
    saved: usize,
    /// Lines the last output took, when it was a live display: (display id, lines).
    last_live: Option<(String, usize)>,
    /// The latest image bundle, for `:save`.
    last_image: Option<MimeData>,
    /// Live displays seen, by id (an update to one no longer last prints anew).
    live: HashMap<String, ()>,
}

impl Terminal {
    /// A terminal writing to `out`.
    pub fn new(out: Box<dyn Write>, protocol: ImageProtocol, width: usize, figures: PathBuf) -> Terminal {
        Terminal {
            out,
            protocol,
            width: width.clamp(20, 160),
            figures,
            saved: 0,
            last_live: None,
            last_image: None,
            live: HashMap::new(),
        }
    }

    /// The latest image bundle shown (for `:save`).
    pub fn last_image(&self) -> Option<&MimeData> {
        self.last_image.as_ref()
    }

    /// Draws one output.
    pub fn output(&mut self, o: Output) {
        match o {
            Output::Stdout(t) | Output::Stderr(t) => {
                self.last_live = None;
                self.write(&t);
            }
            Output::Display {
                data,
                display_id,
                update,
                ..
            } => self.display(&data, display_id, update),
            Output::Clear { .. } => {}
        }
    }

    /// Draws a cell's final value.
    pub fn result(&mut self, data: &MimeData) {
        self.display(data, None, false)
    }

    fn display(&mut self, data: &MimeData, id: Option<String>, update: bool) {
        let text = self.render(data, id.as_deref());
        if let Some(id) = id {
            // Redraw in place when this display was the last thing drawn.
            if update {
                if let Some((last, lines)) = &self.last_live {
                    if *last == id && *lines > 0 {
                        let up = format!("\x1b[{lines}F\x1b[J");
                        self.write(&up);
                    }
                }
            }
            self.live.insert(id.clone(), ());
            let lines = text.matches('\n').count();
            self.write(&text);
            self.last_live = Some((id, lines));
        } else {
            self.last_live = None;
            self.write(&text);
        }
    }

    /// The text for a bundle: an image inline (or as blocks plus a saved file), else text/plain.
    fn render(&mut self, data: &MimeData, id: Option<&str>) -> String {
        let png = data.get("image/png").and_then(Value::as_str).map(str::to_string);
        let svg = data.get("image/svg+xml").and_then(Value::as_str).map(str::to_string);
        let plain = data.get("text/plain").and_then(Value::as_str).unwrap_or("").to_string();
        if png.is_none() && svg.is_none() {
            return with_newline(plain);
        }
        self.last_image = Some(data.clone());
        let mut text = String::new();
        match (self.protocol, &png) {
            (ImageProtocol::Kitty, Some(b64)) => text.push_str(&kitty(b64)),
            (ImageProtocol::Iterm2, Some(b64)) => {
                text.push_str(&format!("\x1b]1337;File=inline=1;preserveAspectRatio=1:{b64}\x07\n"))
            }
            _ => {
                if let Some(bytes) = png.as_deref().and_then(decode_base64) {
                    if let Some(blocks) = blocks(&bytes, self.width) {
                        text.push_str(&blocks);
                    }
                }
                match self.save(&png, &svg, id) {
                    Ok(path) => text.push_str(&format!("{plain}  [saved {}]\n", path.display())),
                    Err(e) => text.push_str(&format!("{plain}  [not saved: {e}]\n")),
                }
            }
        }
        text
    }

    /// Saves a figure: a new file each time, except that a live display (`id`) keeps
    /// rewriting its own file, so a training curve updated 1000 times leaves one.
    fn save(&mut self, png: &Option<String>, svg: &Option<String>, id: Option<&str>) -> Result<PathBuf, String> {
        std::fs::create_dir_all(&self.figures).map_err(|e| format!("{}: {e}", self.figures.display()))?;
        let name = match id {
            Some(id) => {
                let safe: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                format!("live-{}-{safe}", std::process::id())
            }
            None => {
                self.saved += 1;
                format!("figure-{}-{}", std::process::id(), self.saved)
            }
        };
        let stem = self.figures.join(name);
        match (png, svg) {
            (Some(b64), _) => {
                let path = stem.with_extension("png");
                let bytes = decode_base64(b64).ok_or("the PNG is not valid base64")?;
                std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(path)
            }
            (None, Some(text)) => {
                let path = stem.with_extension("svg");
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(path)
            }
            (None, None) => Err("no image".into()),
        }
    }

    fn write(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }
}

/// Writes the image of `bundle` to `path` (`.png` or `.svg`, by its extension).
pub fn save_image(bundle: &MimeData, path: &std::path::Path) -> Result<(), String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let bytes = match ext {
        "png" => bundle
            .get("image/png")
            .and_then(Value::as_str)
            .and_then(decode_base64)
            .ok_or("the last figure has no PNG")?,
        "svg" => bundle
            .get("image/svg+xml")
            .and_then(Value::as_str)
            .ok_or("the last figure has no SVG")?
            .as_bytes()
            .to_vec(),
        _ => return Err(format!("{}: give a name ending in .png or .svg", path.display())),
    };
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn with_newline(mut s: String) -> String {
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// kitty's graphics protocol: a PNG sent in chunks of at most 4096 base64 bytes.
fn kitty(b64: &str) -> String {
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let chunks: Vec<&str> = clean
        .as_bytes()
        .chunks(4096)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let mut out = String::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let more = u8::from(i + 1 < chunks.len());
        if i == 0 {
            out.push_str(&format!("\x1b_Gf=100,a=T,m={more};{chunk}\x1b\\"));
        } else {
            out.push_str(&format!("\x1b_Gm={more};{chunk}\x1b\\"));
        }
    }
    out.push('\n');
    out
}

/// A PNG drawn with upper half blocks: each character is two pixels stacked, the top one
/// its foreground colour and the bottom one its background (24-bit colour).
pub fn blocks(png_bytes: &[u8], columns: usize) -> Option<String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).ok()?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Grayscale => 1,
        png::ColorType::Indexed => return None,
    };
    if info.bit_depth != png::BitDepth::Eight || w == 0 || h == 0 {
        return None;
    }
    let cols = columns.min(w).max(1);
    let rows = ((h * cols) as f64 / w as f64 / 2.0).round().max(1.0) as usize;
    // Average the source pixels under each target pixel (box filter).
    let pixel = |tx: usize, ty: usize| -> [u8; 3] {
        let (x0, x1) = (tx * w / cols, ((tx + 1) * w / cols).max(tx * w / cols + 1));
        let (y0, y1) = (
            ty * h / (2 * rows),
            ((ty + 1) * h / (2 * rows)).max(ty * h / (2 * rows) + 1),
        );
        let mut sum = [0u64; 3];
        let mut n = 0u64;
        for y in y0..y1.min(h) {
            for x in x0..x1.min(w) {
                let p = &buf[(y * w + x) * channels..][..channels];
                let (rgb, alpha) = match channels {
                    4 => ([p[0], p[1], p[2]], p[3]),
                    3 => ([p[0], p[1], p[2]], 255),
                    2 => ([p[0], p[0], p[0]], p[1]),
                    _ => ([p[0], p[0], p[0]], 255),
                };
                // Transparent pixels show as white (figures have a white page).
                for c in 0..3 {
                    sum[c] += (rgb[c] as u64 * alpha as u64 + 255 * (255 - alpha as u64)) / 255;
                }
                n += 1;
            }
        }
        let n = n.max(1);
        [(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8]
    };
    let mut out = String::new();
    for row in 0..rows {
        for col in 0..cols {
            let (t, b) = (pixel(col, 2 * row), pixel(col, 2 * row + 1));
            out.push_str(&format!(
                "\x1b[38;2;{};{};{}m\x1b[48;2;{};{};{}m\u{2580}",
                t[0], t[1], t[2], b[0], b[1], b[2]
            ));
        }
        out.push_str("\x1b[0m\n");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn protocol_detection() {
        assert_eq!(
            ImageProtocol::detect(env(&[("TERM", "xterm-kitty")]), true),
            ImageProtocol::Kitty
        );
        assert_eq!(
            ImageProtocol::detect(env(&[("TERM_PROGRAM", "iTerm.app")]), true),
            ImageProtocol::Iterm2
        );
        assert_eq!(
            ImageProtocol::detect(env(&[("TERM", "xterm-256color")]), true),
            ImageProtocol::Blocks
        );
        assert_eq!(
            ImageProtocol::detect(env(&[("TERM", "xterm-kitty")]), false),
            ImageProtocol::Blocks
        );
        assert_eq!(
            ImageProtocol::detect(env(&[("BORN_IMAGE_PROTOCOL", "iterm2")]), false),
            ImageProtocol::Iterm2
        );
    }

    #[test]
    fn a_png_becomes_half_blocks_of_its_colours() {
        // 2x2: red over blue in the left column, white over black in the right.
        let mut bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut bytes, 2, 2);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&[255, 0, 0, 255, 255, 255, 0, 0, 255, 0, 0, 0])
                .unwrap();
        }
        let text = blocks(&bytes, 2).unwrap();
        assert_eq!(text.matches('\u{2580}').count(), 2);
        assert!(text.contains("\x1b[38;2;255;0;0m\x1b[48;2;0;0;255m"), "{text:?}");
        assert!(text.contains("\x1b[38;2;255;255;255m\x1b[48;2;0;0;0m"), "{text:?}");
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_live_figure_is_redrawn_in_place_and_keeps_one_file() {
        let dir = std::env::temp_dir().join(format!("born-render-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Shared::default();
        let mut term = Terminal::new(Box::new(out.clone()), ImageProtocol::Blocks, 4, dir.clone());
        let mut png = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut png, 1, 2);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.write_header()
                .unwrap()
                .write_image_data(&[0, 0, 0, 255, 255, 255])
                .unwrap();
        }
        let mut data = MimeData::new();
        data.insert("text/plain".into(), Value::from("<figure>"));
        data.insert(
            "image/png".into(),
            Value::from(base64::engine::general_purpose::STANDARD.encode(&png)),
        );
        for update in [false, true, true] {
            term.output(Output::Display {
                data: data.clone(),
                metadata: MimeData::new(),
                display_id: Some("curve-1".into()),
                update,
            });
        }
        let text = String::from_utf8(out.0.borrow().clone()).unwrap();
        // One block row and the "[saved ...]" line: each update goes up two lines and clears.
        assert_eq!(text.matches("\x1b[2F\x1b[J").count(), 2, "{text:?}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn kitty_chunks_are_at_most_4096_bytes() {
        let text = kitty(&"A".repeat(9000));
        assert_eq!(text.matches("\x1b_G").count(), 3);
        assert!(text.starts_with("\x1b_Gf=100,a=T,m=1;"));
        assert!(text.contains("\x1b_Gm=0;"));
    }
}
