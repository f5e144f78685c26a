//! [`MimeBundle`] and [`Render`]: one trait turns a value into the forms a front-end can show.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `text/plain`: every bundle has it (terminals and plain programs print it).
pub const TEXT_PLAIN: &str = "text/plain";
/// `text/html`.
pub const TEXT_HTML: &str = "text/html";
/// `image/png`, base64-encoded in a bundle (as Jupyter expects).
pub const IMAGE_PNG: &str = "image/png";
/// `image/svg+xml`.
pub const IMAGE_SVG: &str = "image/svg+xml";

/// A value's forms, keyed by mime type, as Jupyter's `display_data` carries them.
///
/// Text formats hold their text; binary formats (`image/png`) hold base64.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MimeBundle {
    /// Mime type -> content.
    pub data: BTreeMap<String, String>,
    /// Jupyter's per-display metadata, e.g. `{"image/png": {"width": 280, "height": 280}}`.
    pub metadata: Map<String, Value>,
}

impl MimeBundle {
    /// A bundle with only `text/plain`.
    pub fn text(text: impl Into<String>) -> MimeBundle {
        MimeBundle::default().with(TEXT_PLAIN, text)
    }

    /// Adds (or replaces) one form.
    pub fn with(mut self, mime: &str, content: impl Into<String>) -> MimeBundle {
        self.data.insert(mime.to_string(), content.into());
        self
    }

    /// Adds (or replaces) one metadata entry.
    pub fn with_metadata(mut self, key: &str, value: Value) -> MimeBundle {
        self.metadata.insert(key.to_string(), value);
        self
    }

    /// The content of one form, if present.
    pub fn get(&self, mime: &str) -> Option<&str> {
        self.data.get(mime).map(String::as_str)
    }

    /// The `text/plain` form, or an empty string.
    pub fn plain(&self) -> &str {
        self.get(TEXT_PLAIN).unwrap_or("")
    }
}

/// Turns a value into a [`MimeBundle`]. Every bundle should carry `text/plain`.
pub trait Render {
    /// The value's forms; the front-end picks the richest it can show.
    fn mime_bundle(&self) -> MimeBundle;

    /// Just the `text/plain` form. Override it when that is cheaper than a whole
    /// bundle (plain programs print only this, so a figure need not be drawn).
    fn plain_text(&self) -> String {
        self.mime_bundle().plain().to_string()
    }
}

impl Render for MimeBundle {
    fn mime_bundle(&self) -> MimeBundle {
        self.clone()
    }
}

impl<T: Render + ?Sized> Render for &T {
    fn mime_bundle(&self) -> MimeBundle {
        (**self).mime_bundle()
    }

    fn plain_text(&self) -> String {
        (**self).plain_text()
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_plain() {
        let b = MimeBundle::text("hi").with(TEXT_HTML, "<b>hi</b>");
        assert_eq!(b.plain(), "hi");
        assert_eq!(b.get(TEXT_HTML), Some("<b>hi</b>"));
        assert_eq!(b.mime_bundle(), b);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
