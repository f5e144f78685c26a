//! Lines from the cell process: ordinary output, `born::display` markers, and the
//! panic marker the prelude's panic hook prints.

use super::CellLog;
use crate::eval::{MimeData, Output};
use evcxr::EvalOutputs;
use serde_json::{Map, Value};
use std::time::Duration;

/// Starts a display line (`born::display::wire::PREFIX`).
pub const DISPLAY_PREFIX: &str = "\u{1e}born-display ";
/// Starts the line the prelude's panic hook prints.
pub const PANIC_PREFIX: &str = "\u{1e}born-panic ";

/// Code run before the first cell (and again after the cell process restarts): the
/// prelude, and a panic hook that reports panics as one JSON line on stdout, in
/// order with the cell's prints (stderr is a separate pipe and may lag).
pub const PRELUDE: &str = r#"use born::prelude::*;
std::panic::set_hook(Box::new(|info| {
    fn esc(s: &str) -> String {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}' => {
                    o.push_str(&format!("\\u{:04x}", c as u32))
                }
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }
    let p = info.payload();
    let msg = p.downcast_ref::<&str>().map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".to_string());
    let at = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
    let thread = std::thread::current().name().unwrap_or("<unnamed>").to_string();
    println!("\u{1e}born-panic {{\"message\":{},\"location\":{},\"thread\":{}}}", esc(&msg), esc(&at), esc(&thread));
}));
"#;

/// A panic reported by the cell's panic hook.
#[derive(Clone, Debug, PartialEq)]
pub struct PanicInfo {
    /// The panic message.
    pub message: String,
    /// `file:line:col`, or empty.
    pub location: String,
    /// The panicking thread's name.
    pub thread: String,
}

impl PanicInfo {
    /// The lines Jupyter shows: rustc's usual "thread '..' panicked at" and the message.
    pub fn traceback(&self) -> Vec<String> {
        // Cell code is `src/lib.rs` of evcxr's generated crate: a location that means nothing.
        let head = if self.location.is_empty() || self.location.starts_with("src/lib.rs") {
            format!("thread '{}' panicked:", self.thread)
        } else {
            format!("thread '{}' panicked at {}:", self.thread, self.location)
        };
        std::iter::once(head)
            .chain(self.message.lines().map(str::to_owned))
            .collect()
    }
}

/// Turns one stdout line into outputs, recording result and panic markers in `log`.
pub(super) fn stdout_line(line: &str, log: &mut CellLog) -> Vec<Output> {
    if let Some(json) = line.strip_prefix(PANIC_PREFIX) {
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(json) {
            let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            log.panic = Some(PanicInfo {
                message: s("message"),
                location: s("location"),
                thread: s("thread"),
            });
            return Vec::new();
        }
    }
    let Some(at) = line.find(DISPLAY_PREFIX) else {
        return vec![Output::Stdout(format!("{line}\n"))];
    };
    let Some(msg) = decode(&line[at..]) else {
        return vec![Output::Stdout(format!("{line}\n"))];
    };
    let mut out = Vec::new();
    if at > 0 {
        // Text printed without a newline just before the display.
        out.push(Output::Stdout(line[..at].to_string()));
    }
    match msg.kind.as_str() {
        "display" | "update" => out.push(Output::Display {
            data: msg.data,
            metadata: msg.metadata,
            display_id: msg.id,
            update: msg.kind == "update",
        }),
        "clear" => out.push(Output::Clear { wait: msg.wait }),
        _ => log.result = Some(msg.data),
    }
    out
}

/// A decoded display line.
#[derive(Debug, PartialEq)]
pub struct Marker {
    /// "display", "update", "result" or "clear".
    pub kind: String,
    /// Display id, for live displays.
    pub id: Option<String>,
    /// Mime bundle.
    pub data: MimeData,
    /// Metadata.
    pub metadata: MimeData,
    /// For "clear": wait for the next output.
    pub wait: bool,
}

/// Parses a display line (the format of `born::display::wire`); `None` if it is not one.
pub fn decode(line: &str) -> Option<Marker> {
    let json = line.trim_end_matches(['\n', '\r']).strip_prefix(DISPLAY_PREFIX)?;
    let Value::Object(mut o) = serde_json::from_str::<Value>(json).ok()? else {
        return None;
    };
    let kind = o.get("kind")?.as_str()?.to_string();
    if !matches!(kind.as_str(), "display" | "update" | "result" | "clear") {
        return None;
    }
    let id = match o.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    let obj = |v: Option<Value>| match v {
        Some(Value::Object(m)) => Some(m),
        None | Some(Value::Null) => Some(Map::new()),
        Some(_) => None,
    };
    let data = obj(o.remove("data"))?;
    let metadata = obj(o.remove("metadata"))?;
    let wait = o.get("wait").and_then(Value::as_bool).unwrap_or(false)
        || metadata.get("wait").and_then(Value::as_bool).unwrap_or(false);
    Some(Marker {
        kind,
        id,
        data,
        metadata,
        wait,
    })
}

/// evcxr's own rendering of the final value (its mime types), if any.
pub fn evcxr_bundle(outputs: &EvalOutputs) -> Option<MimeData> {
    // A cell ending in a block (`for`, `match`, `if`) without `;` has the value `()`:
    // nothing to show, as a statement would be.
    let unit = outputs.content_by_mime_type.len() == 1
        && outputs
            .content_by_mime_type
            .get("text/plain")
            .is_some_and(|t| t.trim() == "()");
    if outputs.content_by_mime_type.is_empty() || unit {
        return None;
    }
    let mut data = MimeData::new();
    for (mime, content) in &outputs.content_by_mime_type {
        data.insert(mime.clone(), Value::String(content.clone()));
    }
    Some(data)
}

/// The `:timing` line: total, and compile vs run when evcxr reports its phases.
pub fn timing_line(total: Duration, outputs: &EvalOutputs) -> String {
    let run: Duration = outputs
        .phases
        .iter()
        .filter(|p| p.name == "Execution")
        .map(|p| p.duration)
        .sum();
    if outputs.phases.is_empty() {
        format!("took {:.3} s\n", total.as_secs_f64())
    } else {
        let compile = total.saturating_sub(run);
        format!(
            "took {:.3} s (compile {:.3} s, run {:.3} s)\n",
            total.as_secs_f64(),
            compile.as_secs_f64(),
            run.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_display_prefix_is_the_engines() {
        assert_eq!(DISPLAY_PREFIX, born::display::wire::PREFIX);
    }

    #[test]
    fn a_cell_ending_in_a_loop_shows_no_unit_result() {
        let mut outputs = EvalOutputs::new();
        outputs.content_by_mime_type.insert("text/plain".into(), "()".into());
        assert_eq!(evcxr_bundle(&outputs), None);
        outputs.content_by_mime_type.insert("text/plain".into(), "3".into());
        assert!(evcxr_bundle(&outputs).is_some());
    }

    #[test]
    fn display_markers_become_outputs() {
        let mut log = CellLog::default();
        let line = format!(
            "{DISPLAY_PREFIX}{}",
            r#"{"kind":"display","id":"d1","data":{"text/plain":"hi"},"metadata":{}}"#
        );
        let out = stdout_line(&line, &mut log);
        let Output::Display {
            data,
            display_id,
            update,
            ..
        } = &out[0]
        else {
            panic!("{out:?}")
        };
        assert_eq!(data["text/plain"], "hi");
        assert_eq!(display_id.as_deref(), Some("d1"));
        assert!(!update);

        let upd = format!("before{DISPLAY_PREFIX}{}", r#"{"kind":"update","id":"d1","data":{}}"#);
        let out = stdout_line(&upd, &mut log);
        assert_eq!(out[0], Output::Stdout("before".into()));
        assert!(matches!(out[1], Output::Display { update: true, .. }));

        let clear = format!("{DISPLAY_PREFIX}{}", r#"{"kind":"clear","data":{},"metadata":{}}"#);
        assert_eq!(stdout_line(&clear, &mut log), vec![Output::Clear { wait: false }]);

        let res = format!(
            "{DISPLAY_PREFIX}{}",
            r#"{"kind":"result","data":{"text/html":"<b>x</b>"}}"#
        );
        assert!(stdout_line(&res, &mut log).is_empty());
        assert_eq!(log.result.as_ref().unwrap()["text/html"], "<b>x</b>");

        assert_eq!(stdout_line("plain", &mut log), vec![Output::Stdout("plain\n".into())]);
        let bad = format!("{DISPLAY_PREFIX}not json");
        assert_eq!(stdout_line(&bad, &mut log), vec![Output::Stdout(format!("{bad}\n"))]);
    }

    #[test]
    fn panic_marker_is_recorded() {
        let mut log = CellLog::default();
        let line = format!(
            "{PANIC_PREFIX}{}",
            r#"{"message":"boom\nsecond","location":"src/lib.rs:3:5","thread":"main"}"#
        );
        assert!(stdout_line(&line, &mut log).is_empty());
        let p = log.panic.unwrap();
        assert_eq!(p.message, "boom\nsecond");
        assert_eq!(p.traceback(), vec!["thread 'main' panicked:", "boom", "second"]);
    }
}
