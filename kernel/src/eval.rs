//! The contract between the front-ends (Jupyter kernel, REPL) and the
//! evaluation session: what a cell produces and what a front-end may ask.
//! The front-ends know nothing of evcxr or tensors; they see these types.

use serde_json::{Map, Value};
use std::sync::Arc;

/// A mime bundle: mime type -> content (text, or base64 for binary formats, as Jupyter sends them).
pub type MimeData = Map<String, Value>;

/// What a running cell emits, in order, while it runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Text the cell printed to stdout (whole lines, newline included).
    Stdout(String),
    /// Text the cell printed to stderr.
    Stderr(String),
    /// A rich display: `display_data`, or `update_display_data` when `update` is set.
    Display {
        /// Mime bundle.
        data: MimeData,
        /// Jupyter metadata for the bundle.
        metadata: MimeData,
        /// Display id (present for live displays that update in place).
        display_id: Option<String>,
        /// True to replace the existing display with this id.
        update: bool,
    },
    /// Clear the cell's output (`clear_output`), optionally waiting for the next output.
    Clear {
        /// Wait until new output arrives before clearing (avoids flicker).
        wait: bool,
    },
}

/// How a cell ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It ran; `result` is the value of its final expression, if any.
    Ok {
        /// The `execute_result` bundle.
        result: Option<MimeData>,
    },
    /// It did not compile, or it failed: `ename`/`evalue`/`traceback` as Jupyter shows errors.
    Error {
        /// Short error class, e.g. "CompileError", "Panic", "Interrupted".
        ename: String,
        /// One-line summary.
        evalue: String,
        /// Lines to show (the compiler's message with spans, or the panic message).
        traceback: Vec<String>,
    },
}

/// Answer to `is_complete`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completeness {
    /// Ready to run.
    Complete,
    /// Needs more lines; `indent` is the suggested indentation of the next one.
    Incomplete {
        /// Indentation to offer.
        indent: String,
    },
    /// Cannot become valid by adding lines.
    Invalid,
}

/// Completion candidates for the text in `[start, end)` (byte offsets into the cell).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Completions {
    /// Candidate texts, best first.
    pub matches: Vec<String>,
    /// Start of the replaced range.
    pub start: usize,
    /// End of the replaced range.
    pub end: usize,
}

/// Why a front-end could not answer a cell's request for input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputDenied {
    /// This front-end or request takes no input (Jupyter's `allow_stdin` false).
    NotAllowed,
    /// The cell was interrupted while it waited.
    Interrupted,
    /// The input ended (Ctrl-D in a terminal).
    Eof,
}

/// Where a running cell's outputs go, and who answers when it asks for a line of input
/// (`born::input`). A closure over [`Output`] is a `CellIo` that takes no input.
pub trait CellIo {
    /// Receives one output, in order.
    fn output(&mut self, out: Output);
    /// Asks the person for a line (`password`: hide what is typed); blocks until answered.
    fn input(&mut self, prompt: &str, password: bool) -> Result<String, InputDenied>;
}

impl<F: FnMut(Output)> CellIo for F {
    fn output(&mut self, out: Output) {
        self(out)
    }

    fn input(&mut self, _prompt: &str, _password: bool) -> Result<String, InputDenied> {
        Err(InputDenied::NotAllowed)
    }
}

/// Stops the running cell from another thread (Jupyter's `interrupt_request`, Ctrl-C in the REPL).
pub type InterruptHandle = Arc<dyn Fn() + Send + Sync>;

/// One evaluation session. The Jupyter kernel and `born-repl` both drive it;
/// calls come from one thread at a time, except the interrupt handle.
pub trait Evaluator: Send {
    /// Runs a cell, sending outputs to `io` as they happen and asking it for input.
    fn execute(&mut self, code: &str, io: &mut dyn CellIo) -> Outcome;
    /// Completion candidates at byte offset `cursor`.
    fn complete(&mut self, code: &str, cursor: usize) -> Completions;
    /// Documentation for the item at `cursor` (signature and doc), if any.
    fn inspect(&mut self, code: &str, cursor: usize) -> Option<MimeData>;
    /// Whether `code` is a whole cell.
    fn is_complete(&self, code: &str) -> Completeness;
    /// A handle that interrupts the running cell.
    fn interrupt_handle(&self) -> InterruptHandle;
    /// Forgets all variables and starts again (kernel restart).
    fn restart(&mut self) -> Result<(), String>;
}
