//! The one-line protocol between a cell process and the front-end session.
//!
//! The session reads the cell's stdout line by line. A display travels as one line:
//! [`PREFIX`] (an ASCII record separator, `born-display`, a space), then a JSON object
//! `{"kind": "display"|"update"|"result"|"clear", "id": "...", "data": {mime: content},
//! "metadata": {...}}`, then `\n`. `id` is present only for live displays. JSON escapes
//! every control character (so the payload holds no newline and no record separator),
//! and this module also escapes U+0085, U+2028 and U+2029, so the line survives any
//! line splitter. Readers should still split on `\n` only: some (Python's
//! `str.splitlines`) also split on the record separator itself. Every other line is
//! ordinary output.

use super::bundle::MimeBundle;
use serde_json::{Map, Value};

/// Starts every display line: a record separator (never in ordinary text) and a tag.
pub const PREFIX: &str = "\u{1e}born-display ";

/// What the front-end does with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Show a new output (Jupyter `display_data`); with an id, later updates replace it.
    Display,
    /// Replace the output shown under the same id (Jupyter `update_display_data`).
    Update,
    /// The cell's value (Jupyter `execute_result`).
    Result,
    /// Clear the cell's output (Jupyter `clear_output`).
    Clear,
}

impl Kind {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Display => "display",
            Kind::Update => "update",
            Kind::Result => "result",
            Kind::Clear => "clear",
        }
    }

    /// Parses a name from the wire.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "display" => Kind::Display,
            "update" => Kind::Update,
            "result" => Kind::Result,
            "clear" => Kind::Clear,
            _ => return None,
        })
    }
}

/// One decoded display line.
#[derive(Clone, Debug, PartialEq)]
pub struct WireMessage {
    /// What to do.
    pub kind: Kind,
    /// The display id of a live display (for `update`, the one to replace).
    pub id: Option<String>,
    /// The content: `data` and `metadata`.
    pub bundle: MimeBundle,
}

impl WireMessage {
    /// The line for this message (see [`encode`]).
    pub fn encode(&self) -> String {
        encode(self.kind, self.id.as_deref(), &self.bundle)
    }
}

/// The full line for a message: [`PREFIX`], one JSON object, `\n`.
pub fn encode(kind: Kind, id: Option<&str>, bundle: &MimeBundle) -> String {
    let mut obj = Map::new();
    obj.insert("kind".into(), Value::from(kind.as_str()));
    if let Some(id) = id {
        obj.insert("id".into(), Value::from(id));
    }
    let data: Map<String, Value> = bundle
        .data
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    obj.insert("data".into(), Value::Object(data));
    obj.insert("metadata".into(), Value::Object(bundle.metadata.clone()));
    let json = Value::Object(obj).to_string();
    // These are line breaks to some readers; inside JSON they can only occur in
    // strings, where the \u form means the same.
    let json = json
        .replace('\u{85}', "\\u0085")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    format!("{PREFIX}{json}\n")
}

/// The message on a display line, or `None` for an ordinary line. The line may keep
/// its `\n` (or `\r\n`). A non-string `data` value is kept as its JSON text.
pub fn decode(line: &str) -> Option<WireMessage> {
    let json = line.trim_end_matches(['\n', '\r']).strip_prefix(PREFIX)?;
    let Value::Object(mut obj) = serde_json::from_str::<Value>(json).ok()? else {
        return None;
    };
    let kind = Kind::parse(obj.get("kind")?.as_str()?)?;
    let id = match obj.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    let data = match obj.remove("data") {
        None | Some(Value::Null) => Default::default(),
        Some(Value::Object(d)) => d
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        Some(_) => return None,
    };
    let metadata = match obj.remove("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return None,
    };
    Some(WireMessage {
        kind,
        id,
        bundle: MimeBundle { data, metadata },
    })
}

/// Splits a line that may carry a display after ordinary text (the cell printed text
/// without a newline, then a display): the text before, and the message if any.
pub fn split_line(line: &str) -> (&str, Option<WireMessage>) {
    match line.find(PREFIX) {
        Some(at) => match decode(&line[at..]) {
            Some(msg) => (&line[..at], Some(msg)),
            None => (line, None),
        },
        None => (line, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::bundle::{TEXT_HTML, TEXT_PLAIN};
    use serde_json::json;

    fn tricky() -> MimeBundle {
        MimeBundle::text("line 1\nline 2\r\n\"quoted\" \\ \u{1e} tab\t é ∑ \u{2028} \u{85}")
            .with(TEXT_HTML, "<table>\n<tr><td>&amp;</td></tr></table>")
            .with_metadata("image/png", json!({"width": 10, "height": 20}))
    }

    #[test]
    fn round_trip_is_one_line() {
        for kind in [Kind::Display, Kind::Update, Kind::Result, Kind::Clear] {
            for id in [None, Some("born-1-2-3")] {
                let line = encode(kind, id, &tricky());
                assert!(line.starts_with(PREFIX) && line.ends_with('\n'));
                let body = &line[..line.len() - 1];
                assert!(!body.contains(['\n', '\r', '\u{85}', '\u{2028}']), "{body:?}");
                assert_eq!(body.matches('\u{1e}').count(), 1);
                let msg = decode(&line).expect("decodes");
                assert_eq!(
                    msg,
                    WireMessage {
                        kind,
                        id: id.map(String::from),
                        bundle: tricky()
                    }
                );
                assert_eq!(msg.encode(), line);
            }
        }
    }

    #[test]
    fn ordinary_lines_are_not_messages() {
        for line in [
            "",
            "\n",
            "hello world\n",
            "born-display {\"kind\":\"display\",\"data\":{}}\n",
            "\u{1e}born-display not json\n",
            "\u{1e}born-display {\"kind\":\"bogus\",\"data\":{}}\n",
            "\u{1e}born-display [1, 2]\n",
            "\u{1e}born-display {\"data\":{}}\n",
            " \u{1e}born-display {\"kind\":\"display\",\"data\":{}}\n",
        ] {
            assert_eq!(decode(line), None, "{line:?}");
        }
    }

    #[test]
    fn lenient_on_optional_fields() {
        let msg = decode("\u{1e}born-display {\"kind\":\"clear\"}\r\n").unwrap();
        assert_eq!(msg.kind, Kind::Clear);
        assert!(msg.bundle.data.is_empty() && msg.id.is_none());
        let msg =
            decode("\u{1e}born-display {\"kind\":\"display\",\"id\":null,\"data\":{\"application/json\":{\"a\":1}}}")
                .unwrap();
        assert_eq!(msg.bundle.get("application/json"), Some("{\"a\":1}"));
    }

    #[test]
    fn split_finds_a_marker_after_text() {
        let line = format!("progress: {}", encode(Kind::Display, None, &MimeBundle::text("x")));
        let (before, msg) = split_line(&line);
        assert_eq!(before, "progress: ");
        assert_eq!(msg.unwrap().bundle.get(TEXT_PLAIN), Some("x"));
        assert_eq!(split_line("plain\n"), ("plain\n", None));
    }
}
