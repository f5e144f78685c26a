//! Where displays go: the wire protocol on stdout under a front-end, plain text otherwise.

use super::bundle::{MimeBundle, Render};
use super::wire::{self, Kind};
use std::io::{self, Write};

/// The environment variable the front-end session sets in the cell process.
pub const FRONTEND_VAR: &str = "BORN_FRONTEND";

/// Who reads this process's stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frontend {
    /// A plain program, test or terminal: displays print their `text/plain` form.
    Plain,
    /// The Jupyter kernel's session (`BORN_FRONTEND=jupyter`): displays go on the wire.
    Jupyter,
    /// The terminal REPL's session (`BORN_FRONTEND=repl`): displays go on the wire.
    Repl,
}

impl Frontend {
    /// Read from [`FRONTEND_VAR`]: `jupyter`, `repl`, anything else is [`Frontend::Plain`].
    pub fn from_env() -> Frontend {
        match std::env::var(FRONTEND_VAR).as_deref() {
            Ok("jupyter") => Frontend::Jupyter,
            Ok("repl") => Frontend::Repl,
            _ => Frontend::Plain,
        }
    }

    /// True when a session decodes wire messages.
    pub fn is_rich(self) -> bool {
        self != Frontend::Plain
    }
}

/// A destination for displays: a writer and the front-end reading it.
///
/// Each message is written with one `write_all` and a flush, so it is one line that
/// other output of this process cannot split (stdout's lock is held for the call).
pub struct Output {
    frontend: Frontend,
    writer: Box<dyn Write + Send>,
}

impl Output {
    /// This process's stdout, for the front-end named by [`FRONTEND_VAR`].
    pub fn stdout() -> Output {
        Output::new(Frontend::from_env(), io::stdout())
    }

    /// Any writer (a buffer in tests), for a given front-end.
    pub fn new(frontend: Frontend, writer: impl Write + Send + 'static) -> Output {
        Output {
            frontend,
            writer: Box::new(writer),
        }
    }

    /// The front-end this output writes for.
    pub fn frontend(&self) -> Frontend {
        self.frontend
    }

    /// Sends a rendered value: the wire line under a front-end; otherwise the
    /// `text/plain` form on its own line (nothing for [`Kind::Clear`]).
    pub fn send(&mut self, kind: Kind, id: Option<&str>, value: &(impl Render + ?Sized)) -> io::Result<()> {
        let text = if self.frontend.is_rich() {
            wire::encode(kind, id, &value.mime_bundle())
        } else if kind == Kind::Clear {
            return Ok(());
        } else {
            // Only the text is printed, so skip rendering HTML or images.
            let mut text = value.plain_text();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        };
        self.writer.write_all(text.as_bytes())?;
        self.writer.flush()
    }

    /// Shows a value as a new output ([`Kind::Display`]).
    pub fn show(&mut self, value: &(impl Render + ?Sized)) -> io::Result<()> {
        self.send(Kind::Display, None, value)
    }
}

/// Shows a value on stdout: a `display` message under a front-end (`BORN_FRONTEND`
/// is `jupyter` or `repl`), else its `text/plain` form. Write errors (a closed
/// stdout) are ignored: showing a value must not fail the computation around it.
pub fn show(value: &(impl Render + ?Sized)) {
    let _ = Output::stdout().show(value);
}

/// Shows a value as the cell's result (a `result` message; plain text without a
/// front-end). The `evcxr_display` methods call this.
pub fn show_result(value: &(impl Render + ?Sized)) {
    let _ = Output::stdout().send(Kind::Result, None, value);
}

/// Clears the cell's output under a front-end (nothing in a plain program).
pub fn clear_output() {
    let _ = Output::stdout().send(Kind::Clear, None, &MimeBundle::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer whose bytes the test can read after the output is dropped or moved.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn rich_writes_wire_plain_writes_text() {
        let buf = Shared::default();
        let bundle = MimeBundle::text("hello").with("text/html", "<b>hello</b>");
        Output::new(Frontend::Repl, buf.clone()).show(&bundle).unwrap();
        Output::new(Frontend::Plain, buf.clone()).show(&bundle).unwrap();
        Output::new(Frontend::Plain, buf.clone())
            .send(Kind::Clear, None, &bundle)
            .unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(wire::decode(lines[0]).unwrap().bundle, bundle);
        assert_eq!(lines[1], "hello");
    }
}
