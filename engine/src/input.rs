//! Asking the person at the notebook or terminal for a line of text: Python's `input()`.
//!
//! In a plain program [`input`] prints the prompt and reads a line from stdin. In a Born
//! notebook or `born-repl`, stdin belongs to the session, so a cell asks its front-end
//! instead: it prints one request line on stdout ([`PREFIX`], then
//! `{"id": .., "prompt": .., "password": ..}`) and reads the answer, one JSON line
//! `{"id": .., "value": ..}` or `{"id": .., "error": ..}`, from the pipe whose file
//! descriptor the session puts in [`FD_ENV`]. Answers to an older request (one that was
//! interrupted) carry another id and are skipped.

use serde_json::{json, Value};
use std::fmt;
use std::io::{BufRead, Read, Write};

/// Starts the request line a cell prints when it asks its front-end for input.
pub const PREFIX: &str = "\u{1e}born-input ";
/// The environment variable holding the file descriptor the answers arrive on.
pub const FD_ENV: &str = "BORN_INPUT_FD";
/// The `error` a front-end answers when it cannot take input (Jupyter's `allow_stdin` false).
pub const NOT_ALLOWED: &str = "not-allowed";
/// The `error` a front-end answers when the cell was interrupted while it waited.
pub const INTERRUPTED: &str = "interrupted";

/// Why no line was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputError {
    /// The front-end does not take input (a notebook run headless, `allow_stdin` false).
    NotAllowed,
    /// The cell was interrupted while waiting.
    Interrupted,
    /// The input ended (Ctrl-D, a closed stdin).
    Eof,
    /// Reading failed.
    Io(String),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::NotAllowed => write!(
                f,
                "input(): this front-end does not accept input (a notebook run headless, or allow_stdin is false)"
            ),
            // "interrupted:" as the engine's other interrupt panics begin.
            InputError::Interrupted => write!(f, "interrupted: input() stopped waiting for an answer"),
            InputError::Eof => write!(f, "input(): end of input"),
            InputError::Io(e) => write!(f, "input(): {e}"),
        }
    }
}

impl std::error::Error for InputError {}

/// Shows `prompt` and returns the line the person types, without its line ending.
/// Panics with the reason when no line can be read (see [`try_input`]), as Python raises.
pub fn input(prompt: &str) -> String {
    try_input(prompt).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`input`], but the front-end hides what is typed (a password field in Jupyter).
/// A plain program reads the line as [`input`] does (its terminal still echoes it).
pub fn password(prompt: &str) -> String {
    ask(prompt, true).unwrap_or_else(|e| panic!("{e}"))
}

/// Shows `prompt` and returns the line typed, or why none could be read.
pub fn try_input(prompt: &str) -> Result<String, InputError> {
    ask(prompt, false)
}

fn ask(prompt: &str, password: bool) -> Result<String, InputError> {
    match std::env::var(FD_ENV).ok().and_then(|v| v.parse::<i32>().ok()) {
        Some(fd) => {
            let answer = ask_front_end(fd, prompt, password);
            if answer == Err(InputError::Interrupted) {
                // The interrupt that ended the wait is used up: the next loop must not stop.
                crate::runtime().take_interrupt();
            }
            answer
        }
        None => ask_stdin(prompt),
    }
}

fn ask_stdin(prompt: &str) -> Result<String, InputError> {
    let mut out = std::io::stdout().lock();
    out.write_all(prompt.as_bytes())
        .and_then(|_| out.flush())
        .map_err(io_error)?;
    drop(out);
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line).map_err(io_error)? {
        0 => Err(InputError::Eof),
        _ => Ok(strip_line_end(line)),
    }
}

fn ask_front_end(fd: i32, prompt: &str, password: bool) -> Result<String, InputError> {
    let id = request_id();
    exchange(
        &mut std::io::stdout().lock(),
        || read_line_from_fd(fd),
        &id,
        prompt,
        password,
    )
}

/// Writes the request for `id` to `out`, then reads answers until the one for `id`.
fn exchange(
    out: &mut dyn Write,
    mut read_answer: impl FnMut() -> Result<String, InputError>,
    id: &str,
    prompt: &str,
    password: bool,
) -> Result<String, InputError> {
    let request = json!({"id": id, "prompt": prompt, "password": password});
    writeln!(out, "{PREFIX}{request}")
        .and_then(|_| out.flush())
        .map_err(io_error)?;
    loop {
        let line = read_answer()?;
        let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if answer.get("id").and_then(Value::as_str) != Some(id) {
            continue; // an answer to an earlier, interrupted request
        }
        if let Some(value) = answer.get("value").and_then(Value::as_str) {
            return Ok(value.to_string());
        }
        return Err(match answer.get("error").and_then(Value::as_str) {
            Some(NOT_ALLOWED) => InputError::NotAllowed,
            Some(INTERRUPTED) => InputError::Interrupted,
            Some("eof") => InputError::Eof,
            other => InputError::Io(other.unwrap_or("malformed answer").to_string()),
        });
    }
}

/// Reads one `\n`-terminated line a byte at a time, so nothing past it is consumed.
fn read_line_from_fd(fd: i32) -> Result<String, InputError> {
    use std::os::fd::FromRawFd;
    // SAFETY: the session keeps `fd` open for the life of this process; ManuallyDrop
    // stops the File from closing it.
    let file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match (&*file).read(&mut byte) {
            Ok(0) => return Err(InputError::Eof),
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => bytes.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    String::from_utf8(bytes).map_err(|_| InputError::Io("the answer is not UTF-8".into()))
}

fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn strip_line_end(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

fn io_error(e: std::io::Error) -> InputError {
    InputError::Io(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_stripped() {
        assert_eq!(strip_line_end("ada\r\n".into()), "ada");
        assert_eq!(strip_line_end("ada\n".into()), "ada");
        assert_eq!(strip_line_end("ada".into()), "ada");
    }

    #[test]
    fn an_answer_to_an_earlier_request_is_skipped() {
        let mut answers = vec![
            r#"{"id": "7", "value": "ada"}"#.to_string(),
            "not json".to_string(),
            r#"{"id": "6", "value": "stale"}"#.to_string(),
        ];
        let mut out = Vec::new();
        let got = exchange(&mut out, || answers.pop().ok_or(InputError::Eof), "7", "name? ", false);
        assert_eq!(got, Ok("ada".to_string()));
        let line = String::from_utf8(out).unwrap();
        let request: Value = serde_json::from_str(line.strip_prefix(PREFIX).unwrap().trim_end()).unwrap();
        assert_eq!(request, json!({"id": "7", "prompt": "name? ", "password": false}));
    }

    #[test]
    fn a_refusal_becomes_its_error() {
        let mut answers = vec![format!(r#"{{"id": "1", "error": "{NOT_ALLOWED}"}}"#)];
        let got = exchange(&mut Vec::new(), || answers.pop().ok_or(InputError::Eof), "1", "", true);
        assert_eq!(got, Err(InputError::NotAllowed));
    }

    #[test]
    fn errors_name_input_and_the_reason() {
        assert!(InputError::NotAllowed.to_string().contains("does not accept input"));
        assert!(InputError::Interrupted.to_string().starts_with("interrupted:"));
    }
}
