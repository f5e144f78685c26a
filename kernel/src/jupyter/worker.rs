//! The evaluation thread: owns the [`Evaluator`], runs shell requests that need it in the
//! order they arrived, and publishes what cells produce.
//!
//! The evaluator is built on this thread while the sockets already answer `kernel_info`;
//! requests queue until it is ready. Stream text is coalesced (a cell printing 20,000 lines
//! sends a few hundred messages, not 20,000) and flushed every [`FLUSH_INTERVAL`] while the
//! cell runs, and always before any other output, so order is kept.

use super::context::{error_content, Channel, Context};
use super::history::History;
use super::wire::Message;
use crate::eval::{CellIo, Completeness, Evaluator, InputDenied, InterruptHandle, Outcome, Output};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Builds the evaluator (on the worker thread).
pub type Factory = Box<dyn FnOnce() -> Result<Box<dyn Evaluator>, String> + Send>;

/// How often pending stream text is sent while a cell runs.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(25);
/// Stream text above this is sent at once.
const FLUSH_BYTES: usize = 64 * 1024;
/// Stream text one cell may send; the rest is dropped with a note (a frontend would choke).
const CELL_STREAM_LIMIT: usize = 16 * 1024 * 1024;

/// Work for the evaluation thread.
pub enum Job {
    /// A shell request that needs the evaluator (execute, complete, inspect, is_complete),
    /// and when it arrived.
    Request(Message, Instant),
    /// Drop the evaluator and end the thread.
    Quit,
}

/// State the control channel shares with the worker.
#[derive(Default)]
pub struct Shared {
    /// The evaluator's interrupt handle, once it exists.
    pub interrupt: Mutex<Option<InterruptHandle>>,
    /// True while a cell runs.
    pub running: AtomicBool,
    /// Set by an interrupt; a cell waiting for input stops waiting.
    pub input_interrupted: AtomicBool,
    /// True once the evaluator was built (or failed to build).
    pub started: AtomicBool,
    /// Cells run with `store_history` (answered on the shell task, without the evaluator).
    pub history: Mutex<History>,
}

impl Shared {
    /// The history, locked.
    pub fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Interrupts the running cell, if any. Returns whether a handle was called.
    pub fn interrupt(&self) -> bool {
        let handle = self.interrupt.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match handle {
            Some(h) if self.running.load(Ordering::SeqCst) => {
                h();
                self.input_interrupted.store(true, Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }
}

/// Starts the evaluation thread; it builds the evaluator with `factory`, then serves `jobs`.
pub fn spawn(
    ctx: Context,
    factory: Factory,
    jobs: mpsc::Receiver<Job>,
    input_replies: mpsc::Receiver<Message>,
    shared: Arc<Shared>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("born-eval".into())
        .spawn(move || {
            let streams = Streams::start(ctx.clone());
            let eval = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(factory)) {
                Ok(r) => r,
                Err(_) => Err("the session panicked while starting".to_string()),
            };
            shared.started.store(true, Ordering::SeqCst);
            match &eval {
                Ok(e) => *shared.interrupt.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.interrupt_handle()),
                Err(e) => eprintln!("born-kernel: the evaluation session failed to start: {e}"),
            }
            let mut w = Worker {
                ctx,
                eval,
                count: 0,
                streams,
                shared,
                abort: None,
                input_replies,
            };
            'serve: while let Ok(job) = jobs.recv() {
                match job {
                    Job::Request(msg, _) => w.handle(&msg),
                    Job::Quit => break,
                }
                // A failed cell with `stop_on_error`: cells that were already queued when it
                // failed (a notebook's "run all") are answered `aborted` instead of run, as
                // ipykernel does; a cell sent after the error reply runs.
                while let Some(failed_at) = w.abort.take() {
                    while let Ok(job) = jobs.try_recv() {
                        match job {
                            Job::Request(msg, arrived)
                                if arrived < failed_at && msg.msg_type() == "execute_request" =>
                            {
                                w.aborted(&msg)
                            }
                            Job::Request(msg, _) => w.handle(&msg),
                            Job::Quit => break 'serve,
                        }
                    }
                }
            }
            // Dropping the evaluator ends its child process.
            drop(w);
        })
        .expect("spawning the evaluation thread")
}

struct Worker {
    ctx: Context,
    eval: Result<Box<dyn Evaluator>, String>,
    count: i64,
    streams: Arc<Streams>,
    shared: Arc<Shared>,
    /// When a cell failed with `stop_on_error` (before its reply went out): cells queued
    /// before then are aborted.
    abort: Option<Instant>,
    /// `input_reply` messages from the stdin socket.
    input_replies: mpsc::Receiver<Message>,
}

impl Worker {
    fn aborted(&mut self, msg: &Message) {
        self.ctx.status(Some(msg), "busy");
        let content =
            json!({"status": "aborted", "execution_count": self.count, "user_expressions": {}, "payload": []});
        self.ctx.reply(Channel::Shell, msg, "execute_reply", content);
        self.ctx.status(Some(msg), "idle");
    }

    fn handle(&mut self, msg: &Message) {
        self.ctx.status(Some(msg), "busy");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.dispatch(msg)));
        if r.is_err() {
            // A bug in a handler must not kill the kernel: answer with an error.
            eprintln!("born-kernel: handler for {} panicked", msg.msg_type());
            self.shared.running.store(false, Ordering::SeqCst);
            if let Some(t) = super::context::reply_type(msg.msg_type()) {
                self.ctx.reply(
                    Channel::Shell,
                    msg,
                    &t,
                    error_content("InternalError", "the kernel's handler panicked"),
                );
            }
        }
        self.ctx.status(Some(msg), "idle");
    }

    fn dispatch(&mut self, msg: &Message) {
        match msg.msg_type() {
            "execute_request" => self.execute(msg),
            "complete_request" => self.complete(msg),
            "inspect_request" => self.inspect(msg),
            "is_complete_request" => self.is_complete(msg),
            other => eprintln!("born-kernel: worker got unexpected {other}"),
        }
    }

    fn execute(&mut self, msg: &Message) {
        let code = msg.str_field("code").unwrap_or("").to_string();
        let silent = msg.bool_field("silent", false);
        let store_history = msg.bool_field("store_history", true) && !silent;
        if store_history {
            self.count += 1;
        }
        let count = self.count;
        if !silent {
            self.ctx.publish(
                Some(msg),
                "execute_input",
                json!({"code": code, "execution_count": count}),
            );
        }
        let outcome = match &mut self.eval {
            Err(e) => Outcome::Error {
                ename: "SessionError".into(),
                evalue: "the evaluation session could not start".into(),
                traceback: vec![format!("the evaluation session could not start: {e}")],
            },
            Ok(eval) => {
                let parent = Arc::new(msg.clone());
                self.streams.begin(parent.clone(), silent);
                self.shared.input_interrupted.store(false, Ordering::SeqCst);
                self.shared.running.store(true, Ordering::SeqCst);
                let mut io = CellChannel {
                    ctx: &self.ctx,
                    parent: &parent,
                    streams: &self.streams,
                    silent,
                    allow_stdin: msg.bool_field("allow_stdin", false),
                    replies: &self.input_replies,
                    shared: &self.shared,
                };
                let outcome = eval.execute(&code, &mut io);
                self.shared.running.store(false, Ordering::SeqCst);
                self.streams.end();
                outcome
            }
        };
        let mut output_text = None;
        match outcome {
            Outcome::Ok { result } => {
                if let Some(data) = result {
                    output_text = data.get("text/plain").and_then(Value::as_str).map(str::to_string);
                    if !silent {
                        self.ctx.publish(
                            Some(msg),
                            "execute_result",
                            json!({"execution_count": count, "data": data, "metadata": {}}),
                        );
                    }
                }
                self.ctx.reply(
                    Channel::Shell,
                    msg,
                    "execute_reply",
                    json!({"status": "ok", "execution_count": count, "user_expressions": {}, "payload": []}),
                );
            }
            Outcome::Error {
                ename,
                evalue,
                traceback,
            } => {
                if msg.bool_field("stop_on_error", true) {
                    self.abort = Some(Instant::now());
                }
                if !silent {
                    self.ctx.publish(
                        Some(msg),
                        "error",
                        json!({"ename": ename, "evalue": evalue, "traceback": traceback}),
                    );
                }
                self.ctx.reply(
                    Channel::Shell,
                    msg,
                    "execute_reply",
                    json!({"status": "error", "execution_count": count, "ename": ename, "evalue": evalue,
                        "traceback": traceback, "user_expressions": {}, "payload": []}),
                );
            }
        }
        if store_history {
            self.shared.history().push(count, &code, output_text);
        }
    }

    fn complete(&mut self, msg: &Message) {
        let code = msg.str_field("code").unwrap_or("");
        let cursor = cursor_byte(code, msg.content.get("cursor_pos"));
        let c = match &mut self.eval {
            Ok(e) => e.complete(code, cursor),
            Err(_) => Default::default(),
        };
        let start = char_pos(code, c.start.min(code.len()));
        let end = char_pos(code, c.end.clamp(c.start.min(code.len()), code.len()));
        let (start, end) = if c.matches.is_empty() {
            (char_pos(code, cursor), char_pos(code, cursor))
        } else {
            (start, end)
        };
        self.ctx.reply(
            Channel::Shell,
            msg,
            "complete_reply",
            json!({"status": "ok", "matches": c.matches, "cursor_start": start, "cursor_end": end, "metadata": {}}),
        );
    }

    fn inspect(&mut self, msg: &Message) {
        let code = msg.str_field("code").unwrap_or("");
        let cursor = cursor_byte(code, msg.content.get("cursor_pos"));
        let data = match &mut self.eval {
            Ok(e) => e.inspect(code, cursor),
            Err(_) => None,
        };
        let found = data.as_ref().is_some_and(|d| !d.is_empty());
        self.ctx.reply(
            Channel::Shell,
            msg,
            "inspect_reply",
            json!({"status": "ok", "found": found, "data": data.unwrap_or_default(), "metadata": {}}),
        );
    }

    fn is_complete(&mut self, msg: &Message) {
        let code = msg.str_field("code").unwrap_or("");
        let content = match &self.eval {
            Err(_) => json!({"status": "unknown"}),
            Ok(e) => match e.is_complete(code) {
                Completeness::Complete => json!({"status": "complete"}),
                Completeness::Incomplete { indent } => json!({"status": "incomplete", "indent": indent}),
                Completeness::Invalid => json!({"status": "invalid"}),
            },
        };
        self.ctx.reply(Channel::Shell, msg, "is_complete_reply", content);
    }
}

/// Publishes a non-stream output.
/// One execute request's side of a running cell: its outputs go to iopub, its input
/// requests to the client on the stdin socket.
struct CellChannel<'a> {
    ctx: &'a Context,
    parent: &'a Arc<Message>,
    streams: &'a Streams,
    silent: bool,
    allow_stdin: bool,
    replies: &'a mpsc::Receiver<Message>,
    shared: &'a Shared,
}

impl CellIo for CellChannel<'_> {
    fn output(&mut self, out: Output) {
        if self.silent {
            return;
        }
        match out {
            Output::Stdout(t) => self.streams.push("stdout", &t),
            Output::Stderr(t) => self.streams.push("stderr", &t),
            other => {
                self.streams.flush();
                publish_output(self.ctx, self.parent, other);
            }
        }
    }

    fn input(&mut self, prompt: &str, password: bool) -> Result<String, InputDenied> {
        if !self.allow_stdin {
            return Err(InputDenied::NotAllowed);
        }
        while self.replies.try_recv().is_ok() {} // answers to requests no longer waiting
        self.streams.flush();
        self.ctx.send(
            Channel::Stdin,
            Some(self.parent),
            "input_request",
            json!({"prompt": prompt, "password": password}),
        );
        loop {
            if self.shared.input_interrupted.swap(false, Ordering::SeqCst) {
                return Err(InputDenied::Interrupted);
            }
            match self.replies.recv_timeout(Duration::from_millis(50)) {
                Ok(reply) => {
                    return reply
                        .content
                        .get("value")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or(InputDenied::Eof)
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(InputDenied::Eof),
            }
        }
    }
}

fn publish_output(ctx: &Context, parent: &Message, out: Output) {
    match out {
        Output::Stdout(t) | Output::Stderr(t) if t.is_empty() => {}
        Output::Stdout(t) => ctx.publish(Some(parent), "stream", json!({"name": "stdout", "text": t})),
        Output::Stderr(t) => ctx.publish(Some(parent), "stream", json!({"name": "stderr", "text": t})),
        Output::Display {
            data,
            metadata,
            display_id,
            update,
        } => {
            let mut transient = Map::new();
            if let Some(id) = &display_id {
                transient.insert("display_id".into(), Value::from(id.as_str()));
            }
            let kind = if update && display_id.is_some() {
                "update_display_data"
            } else {
                "display_data"
            };
            ctx.publish(
                Some(parent),
                kind,
                json!({"data": data, "metadata": metadata, "transient": transient}),
            );
        }
        Output::Clear { wait } => ctx.publish(Some(parent), "clear_output", json!({"wait": wait})),
    }
}

/// Jupyter cursor positions count Unicode code points; the evaluator wants byte offsets.
fn cursor_byte(code: &str, pos: Option<&Value>) -> usize {
    let chars = pos.and_then(Value::as_u64).map(|p| p as usize).unwrap_or(usize::MAX);
    code.char_indices().nth(chars).map(|(b, _)| b).unwrap_or(code.len())
}

/// The code-point index of byte offset `byte` (rounded down to a char boundary).
fn char_pos(code: &str, byte: usize) -> usize {
    let mut b = byte.min(code.len());
    while !code.is_char_boundary(b) {
        b -= 1;
    }
    code[..b].chars().count()
}

/// Pending stream text of the running cell, flushed by a timer thread and before other output.
struct Streams {
    ctx: Context,
    state: Mutex<StreamState>,
}

#[derive(Default)]
struct StreamState {
    parent: Option<Arc<Message>>,
    silent: bool,
    name: &'static str,
    text: String,
    sent: usize,
    dropped: usize,
}

impl Streams {
    fn start(ctx: Context) -> Arc<Streams> {
        let s = Arc::new(Streams {
            ctx,
            state: Mutex::new(StreamState::default()),
        });
        let weak = Arc::downgrade(&s);
        std::thread::Builder::new()
            .name("born-streams".into())
            .spawn(move || loop {
                std::thread::sleep(FLUSH_INTERVAL);
                match weak.upgrade() {
                    Some(s) => s.flush(),
                    None => return,
                }
            })
            .expect("spawning the stream flusher");
        s
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self, parent: Arc<Message>, silent: bool) {
        let mut s = self.lock();
        *s = StreamState {
            parent: Some(parent),
            silent,
            ..Default::default()
        };
    }

    fn push(&self, name: &'static str, text: &str) {
        let mut s = self.lock();
        if s.silent || s.parent.is_none() {
            return;
        }
        if s.sent + s.text.len() + text.len() > CELL_STREAM_LIMIT {
            s.dropped += text.len();
            return;
        }
        if s.name != name && !s.text.is_empty() {
            self.send(&mut s);
        }
        s.name = name;
        s.text.push_str(text);
        if s.text.len() >= FLUSH_BYTES {
            self.send(&mut s);
        }
    }

    fn flush(&self) {
        let mut s = self.lock();
        self.send(&mut s);
    }

    fn end(&self) {
        let mut s = self.lock();
        self.send(&mut s);
        if s.dropped > 0 {
            let note = format!(
                "\n[born-kernel: {} bytes of output not shown (over the per-cell limit)]\n",
                s.dropped
            );
            s.name = "stderr";
            s.text = note;
            self.send(&mut s);
        }
        *s = StreamState::default();
    }

    fn send(&self, s: &mut StreamState) {
        if s.text.is_empty() {
            return;
        }
        let text = std::mem::take(&mut s.text);
        s.sent += text.len();
        if let Some(parent) = &s.parent {
            self.ctx
                .publish(Some(parent), "stream", json!({"name": s.name, "text": text}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_conversion() {
        let code = "let é = 1; é.";
        // 13 code points; byte length 15.
        assert_eq!(code.chars().count(), 13);
        assert_eq!(cursor_byte(code, Some(&json!(13))), code.len());
        assert_eq!(cursor_byte(code, Some(&json!(4))), 4);
        assert_eq!(cursor_byte(code, Some(&json!(5))), 6);
        assert_eq!(cursor_byte(code, None), code.len());
        assert_eq!(cursor_byte(code, Some(&json!(999))), code.len());
        assert_eq!(char_pos(code, 6), 6 - 1);
        assert_eq!(char_pos(code, 5), 4, "inside a char rounds down");
        assert_eq!(char_pos(code, code.len()), 13);
    }
}
