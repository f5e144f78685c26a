//! `born::input` in a cell: the request line the cell prints, and the pipe the answer
//! goes back on (the format is `born::input`'s). The cell process's own stdin is evcxr's
//! command pipe, so answers need a channel of their own: a pipe whose read end every
//! cell process inherits (its number in `born::input::FD_ENV`).

use crate::eval::InputDenied;
use serde_json::{json, Value};
use std::io::Write;

// The engine's side of the format (`born::input`), which the kernel does not link; a test
// keeps the two the same.
/// Starts a request line (`born::input::PREFIX`).
const PREFIX: &str = "\u{1e}born-input ";
/// The variable naming the answer pipe's fd (`born::input::FD_ENV`).
const FD_ENV: &str = "BORN_INPUT_FD";
/// The answer when the front-end takes no input (`born::input::NOT_ALLOWED`).
const NOT_ALLOWED: &str = "not-allowed";
/// The answer when the cell was interrupted while waiting (`born::input::INTERRUPTED`).
const INTERRUPTED: &str = "interrupted";

/// A cell's request for a line of input.
#[derive(Debug, PartialEq)]
pub struct Request {
    /// Matches the answer to the request.
    pub id: String,
    /// The prompt to show.
    pub prompt: String,
    /// Hide what is typed.
    pub password: bool,
    /// Text the cell printed on the same line before the request (a `print!` without newline).
    pub before: String,
}

/// Parses a stdout line holding a request; `None` for any other line.
pub fn request(line: &str) -> Option<Request> {
    let at = line.find(PREFIX)?;
    let json = line[at..].strip_prefix(PREFIX)?.trim_end();
    let Value::Object(o) = serde_json::from_str::<Value>(json).ok()? else {
        return None;
    };
    Some(Request {
        id: o.get("id")?.as_str()?.to_string(),
        prompt: o.get("prompt").and_then(Value::as_str).unwrap_or("").to_string(),
        password: o.get("password").and_then(Value::as_bool).unwrap_or(false),
        before: line[..at].to_string(),
    })
}

/// The answer pipe: the read end stays open (without close-on-exec) for every cell
/// process this session starts; the write end is the session's.
pub struct AnswerPipe {
    read_fd: i32,
    write: std::fs::File,
}

impl AnswerPipe {
    /// Creates the pipe.
    pub fn new() -> std::io::Result<AnswerPipe> {
        use std::os::fd::FromRawFd;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe(2) fills two fds; the write end is then marked close-on-exec so
        // cell processes (and compilers) do not hold it open.
        unsafe {
            if libc::pipe(fds.as_mut_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::fcntl(fds[1], libc::F_SETFD, libc::FD_CLOEXEC);
            Ok(AnswerPipe {
                read_fd: fds[0],
                write: std::fs::File::from_raw_fd(fds[1]),
            })
        }
    }

    /// The environment variable a cell process needs to read answers.
    pub fn env(&self) -> (&'static str, String) {
        (FD_ENV, self.read_fd.to_string())
    }

    /// Sends the answer to request `id`.
    pub fn answer(&self, id: &str, answer: Result<String, InputDenied>) {
        let line = match answer {
            Ok(value) => json!({"id": id, "value": value}),
            Err(why) => json!({"id": id, "error": match why {
                InputDenied::NotAllowed => NOT_ALLOWED,
                InputDenied::Interrupted => INTERRUPTED,
                InputDenied::Eof => "eof",
            }}),
        };
        // One write of a short line; if the cell process is gone nobody reads it, and
        // a later request skips it by its id.
        let _ = writeln!(&self.write, "{line}");
    }
}

impl Drop for AnswerPipe {
    fn drop(&mut self) {
        // SAFETY: the read end is this struct's and closed once.
        unsafe {
            libc::close(self.read_fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_format_is_the_engines() {
        assert_eq!(
            (PREFIX, FD_ENV, NOT_ALLOWED, INTERRUPTED),
            (
                born::input::PREFIX,
                born::input::FD_ENV,
                born::input::NOT_ALLOWED,
                born::input::INTERRUPTED
            )
        );
    }

    #[test]
    fn a_request_line_parses_with_the_text_before_it() {
        let line = format!(r#"Name: {}{{"id":"3","prompt":"? ","password":true}}"#, PREFIX);
        let r = request(&line).unwrap();
        assert_eq!(
            (r.id.as_str(), r.prompt.as_str(), r.password, r.before.as_str()),
            ("3", "? ", true, "Name: ")
        );
        assert_eq!(request("an ordinary line"), None);
    }
}
