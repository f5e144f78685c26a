//! The evaluation session under both front-ends: evcxr as a library, the Born
//! engine prebuilt (optimized, cached per user) and linked into every cell, live
//! output forwarding, errors, interrupts, magics and completions.
//!
//! Threads: `execute` runs evcxr on a scoped worker thread while the calling
//! thread selects over evcxr's stdout and stderr channels and the worker's
//! result, so the sink is called on the caller's thread, live, in the order
//! each stream was written. Display, result and panic markers travel on stdout
//! (in order with the cell's prints, before evcxr's end-of-cell line).

mod complete;
mod errors;
pub mod host;
mod input;
mod magic;
mod output;
mod rustlex;
mod workdir;

pub use complete::is_complete;
pub use host::child_hook;
pub use workdir::ensure_runtime_dir;

use crate::eval::{CellIo, Completeness, Completions, Evaluator, InterruptHandle, MimeData, Outcome, Output};
use crossbeam_channel::{select, Receiver};
use evcxr::{CommandContext, EvalContext, EvalContextOutputs, EvalOutputs};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which front-end drives the session (the cell process sees it as `BORN_FRONTEND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frontend {
    /// The Jupyter kernel.
    Jupyter,
    /// `born-repl` in a terminal.
    Repl,
}

impl Frontend {
    /// The value of `BORN_FRONTEND` in the cell process.
    pub fn as_str(self) -> &'static str {
        match self {
            Frontend::Jupyter => "jupyter",
            Frontend::Repl => "repl",
        }
    }
}

/// How to start a [`Session`].
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// The front-end (sets `BORN_FRONTEND` for cells).
    pub frontend: Frontend,
    /// The engine crate's directory; default `BORN_ENGINE_PATH`, else the workspace's `engine/`.
    pub engine_path: Option<PathBuf>,
    /// Where evcxr builds (the engine compiles once per directory); default `BORN_CACHE_DIR`,
    /// else `$XDG_CACHE_HOME/born/evcxr`, else `~/.cache/born/evcxr`.
    pub cache_dir: Option<PathBuf>,
}

impl SessionOptions {
    /// Options for `frontend` with every path at its default.
    pub fn new(frontend: Frontend) -> SessionOptions {
        SessionOptions {
            frontend,
            engine_path: None,
            cache_dir: None,
        }
    }
}

/// How long a cell may run after an interrupt before its process is killed.
const KILL_AFTER: Duration = Duration::from_secs(3);
/// How long to wait for late stderr lines once a cell has ended.
const STDERR_GRACE: Duration = Duration::from_millis(5);

/// State the interrupt handle shares with the session.
struct Shared {
    /// A cell is running.
    running: AtomicBool,
    /// When the running cell was interrupted (the kill deadline counts from here).
    interrupted_at: Mutex<Option<Instant>>,
    /// evcxr's handle on the cell process (stays valid across its restarts).
    process: Mutex<Option<Arc<Mutex<Child>>>>,
}

impl Shared {
    fn pid(&self) -> Option<u32> {
        let process = self.process.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
        let child = process.lock().unwrap_or_else(|e| e.into_inner());
        Some(child.id())
    }

    fn interrupt(&self) {
        if !self.running.load(Ordering::SeqCst) {
            return;
        }
        self.interrupted_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(Instant::now);
        if let Some(pid) = self.pid() {
            // SAFETY: kill(2) on the cell process's pid; the child installed a SIGINT handler.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGINT);
            }
        }
    }

    fn kill(&self) {
        let process = self.process.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(process) = process {
            let _ = process.lock().unwrap_or_else(|e| e.into_inner()).kill();
        }
    }
}

/// What the forwarder learned from a cell's stdout.
#[derive(Default)]
struct CellLog {
    /// The final value's bundle from a "result" marker.
    result: Option<MimeData>,
    /// The panic reported by the cell's panic hook: (message, location, thread).
    panic: Option<output::PanicInfo>,
}

/// One evaluation session: evcxr's context with the Born prelude loaded.
pub struct Session {
    frontend: Frontend,
    engine: PathBuf,
    work: workdir::WorkDir,
    ctx: Option<CommandContext>,
    outputs: EvalContextOutputs,
    shared: Arc<Shared>,
    timing: bool,
    device: String,
    answers: input::AnswerPipe,
}

impl Session {
    /// Starts evcxr and loads the engine and `use born::prelude::*;`. The first start
    /// in a cache directory compiles the engine (minutes); later starts reuse it.
    pub fn new(opts: SessionOptions) -> Result<Session, String> {
        let t0 = std::time::Instant::now();
        let engine = workdir::engine_path(opts.engine_path.as_deref())?;
        let work = workdir::WorkDir::acquire(opts.cache_dir.as_deref(), &engine)?;
        let answers = input::AnswerPipe::new().map_err(|e| format!("cannot create the input pipe: {e}"))?;
        let (ctx, outputs) = start_context(&work, opts.frontend, &answers)?;
        trace("evcxr context", t0);
        let shared = Arc::new(Shared {
            running: AtomicBool::new(false),
            interrupted_at: Mutex::new(None),
            process: Mutex::new(Some(ctx.process_handle())),
        });
        let mut session = Session {
            frontend: opts.frontend,
            engine,
            work,
            ctx: Some(ctx),
            outputs,
            shared,
            timing: false,
            device: "cpu".into(),
            answers,
        };
        session.load_prelude(true)?;
        trace("session ready", t0);
        Ok(session)
    }

    /// The evcxr work directory this session builds in.
    pub fn work_dir(&self) -> &std::path::Path {
        self.work.dir()
    }

    /// Type-checks `code` against the session's state without running it, returning
    /// each error as (rustc error code, message).
    pub fn check(&mut self, code: &str) -> Result<Vec<(Option<String>, String)>, String> {
        let errors = self.ctx_mut().check(code).map_err(|e| e.to_string())?;
        Ok(errors
            .iter()
            .map(|e| (e.code().map(str::to_owned), e.message()))
            .collect())
    }

    fn ctx_mut(&mut self) -> &mut CommandContext {
        self.ctx.as_mut().expect("the evcxr context is running")
    }

    /// `:dep born`, the prelude, and the panic hook (again after the cell process restarts).
    fn load_prelude(&mut self, with_dep: bool) -> Result<(), String> {
        let mut code = String::new();
        if with_dep {
            self.work.seed_lockfile();
            // The engine as one shared dylib (kernel/cells), named `born` in cells.
            let cells = workdir::cells_path(&self.engine)?;
            code.push_str(&format!(
                ":dep born = {{ package = \"born-cells\", path = {:?} }}\n",
                cells.to_string_lossy()
            ));
        }
        code.push_str(output::PRELUDE);
        let t0 = std::time::Instant::now();
        self.execute_hidden(":preserve_vars_on_panic 1")
            .map_err(|e| format!("evcxr: {e}"))?;
        trace(":preserve_vars_on_panic", t0);
        let r = self.execute_hidden(&code);
        trace("dep + prelude", t0);
        r.map(|_| ()).map_err(|e| {
            let mut text = format!("loading the Born engine failed: {e}");
            if let evcxr::Error::CompilationErrors(errs) = &e {
                for err in errs {
                    text.push('\n');
                    text.push_str(&err.rendered());
                }
            }
            text
        })
    }

    /// Runs code the user did not write (prelude, cleanup); its output is dropped.
    fn execute_hidden(&mut self, code: &str) -> Result<EvalOutputs, evcxr::Error> {
        self.run_forwarded(code, &mut |_: Output| {}).0
    }

    /// Runs evcxr on `code`, forwarding outputs live; returns evcxr's result, what the
    /// markers said, and whether the cell process was killed after an interrupt.
    fn run_forwarded(&mut self, code: &str, io: &mut dyn CellIo) -> (Result<EvalOutputs, evcxr::Error>, CellLog, bool) {
        let mut log = CellLog::default();
        let mut killed = false;
        let shared = self.shared.clone();
        let child_pid = shared.pid().unwrap_or(0);
        *shared.interrupted_at.lock().unwrap_or_else(|e| e.into_inner()) = None;
        shared.running.store(true, Ordering::SeqCst);
        let ctx = self.ctx.as_mut().expect("the evcxr context is running");
        let stdout = &self.outputs.stdout;
        let stderr = &self.outputs.stderr;
        let answers = &self.answers;
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        let result = std::thread::scope(|s| {
            s.spawn(move || {
                let r = ctx.execute(code);
                let _ = done_tx.send(r);
            });
            let result = loop {
                select! {
                    recv(stdout) -> line => if let Ok(line) = line {
                        if let Some(request) = input::request(&line) {
                            if !request.before.is_empty() {
                                io.output(Output::Stdout(request.before));
                            }
                            answers.answer(&request.id, io.input(&request.prompt, request.password));
                            continue;
                        }
                        for o in output::stdout_line(&line, &mut log) { io.output(o); }
                    },
                    recv(stderr) -> line => if let Ok(line) = line {
                        io.output(Output::Stderr(line + "\n"));
                    },
                    recv(done_rx) -> r => break r,
                    default(Duration::from_millis(50)) => {
                        let since = *shared.interrupted_at.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(t0) = since {
                            if workdir::compiling(child_pid) {
                                // The cell has not started: the deadline counts from its start.
                                *shared.interrupted_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                            } else if !killed && t0.elapsed() > KILL_AFTER {
                                killed = true;
                                shared.kill();
                            }
                        }
                    },
                }
            };
            while let Ok(line) = stdout.try_recv() {
                for o in output::stdout_line(&line, &mut log) {
                    io.output(o);
                }
            }
            while let Ok(line) = stderr.recv_timeout(STDERR_GRACE) {
                io.output(Output::Stderr(line + "\n"));
            }
            result
        });
        shared.running.store(false, Ordering::SeqCst);
        let result = result.unwrap_or_else(|_| Err(evcxr::Error::Message("the evaluation thread stopped".into())));
        (result, log, killed)
    }

    fn interrupted_during_cell(&self) -> bool {
        self.shared
            .interrupted_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Runs Rust code (and evcxr commands such as `:dep`) through evcxr.
    fn execute_rust(&mut self, code: &str, io: &mut dyn CellIo) -> Outcome {
        let start = Instant::now();
        let (result, log, killed) = self.run_forwarded(code, io);
        let interrupted = self.interrupted_during_cell();
        let outcome = match result {
            Ok(outputs) => {
                if let Some(p) = log.panic {
                    let stopped = interrupted || p.message.starts_with("interrupted:");
                    Outcome::Error {
                        ename: if stopped { "Interrupted" } else { "Panic" }.into(),
                        evalue: if stopped {
                            "the cell was interrupted; the session and its variables are kept".into()
                        } else {
                            p.message.lines().next().unwrap_or("").to_string()
                        },
                        traceback: p.traceback(),
                    }
                } else {
                    if self.timing {
                        io.output(Output::Stdout(output::timing_line(start.elapsed(), &outputs)));
                    }
                    if interrupted {
                        // The cell ended before it saw the flag: clear it for the next cell.
                        let _ = self.execute_hidden("born::runtime().take_interrupt();");
                    }
                    Outcome::Ok {
                        result: log.result.or_else(|| output::evcxr_bundle(&outputs)),
                    }
                }
            }
            Err(evcxr::Error::CompilationErrors(errs)) => errors::compile_error(code, &errs),
            Err(evcxr::Error::SubprocessTerminated(msg)) => {
                // evcxr restarted the process; put the panic hook back.
                let reload = self.load_prelude(false);
                let lost = "the session was restarted and its variables were lost";
                let mut traceback: Vec<String> = msg.lines().map(str::to_owned).collect();
                if let Err(e) = reload {
                    traceback.push(e);
                }
                if killed || interrupted {
                    Outcome::Error {
                        ename: "Interrupted".into(),
                        evalue: format!(
                            "the cell did not stop within {} s of the interrupt, so it was killed; {lost}",
                            KILL_AFTER.as_secs()
                        ),
                        traceback,
                    }
                } else {
                    Outcome::Error {
                        ename: "ProcessExited".into(),
                        evalue: format!("the cell process ended; {lost}"),
                        traceback,
                    }
                }
            }
            Err(e) => {
                let text = e.to_string();
                Outcome::Error {
                    ename: "Error".into(),
                    evalue: text.lines().next().unwrap_or("").to_string(),
                    traceback: text.lines().map(str::to_owned).collect(),
                }
            }
        };
        outcome
    }

    fn vars(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .ctx
            .as_ref()
            .map(|c| {
                c.variables_and_types()
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Starts a fresh evcxr context (a new cell process) with the prelude.
    fn restart_context(&mut self) -> Result<(), String> {
        if let Some(ctx) = self.ctx.take() {
            // A cell process stuck in a loop would make the context's drop wait forever.
            let _ = ctx.process_handle().lock().map(|mut c| c.kill());
            drop(ctx);
        }
        let (ctx, outputs) = start_context(&self.work, self.frontend, &self.answers)?;
        *self.shared.process.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx.process_handle());
        self.ctx = Some(ctx);
        self.outputs = outputs;
        self.load_prelude(true)
    }
}

/// Creates evcxr's context in the session's work directory, running this executable
/// as the cell process with `BORN_FRONTEND` set.
/// With `BORN_TRACE_STARTUP` set, prints how long a start-up stage took (to stderr).
fn trace(stage: &str, since: std::time::Instant) {
    if std::env::var_os("BORN_TRACE_STARTUP").is_some() {
        eprintln!("born-kernel: {stage}: {:.2} s", since.elapsed().as_secs_f64());
    }
}

fn start_context(
    work: &workdir::WorkDir,
    frontend: Frontend,
    answers: &input::AnswerPipe,
) -> Result<(CommandContext, EvalContextOutputs), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the kernel executable: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    // Its own process group: Ctrl-C in a terminal (born-repl) must reach the cell process
    // once, through the session's interrupt, not also straight from the terminal, where a
    // second SIGINT arriving after the cell stopped would interrupt the next cell.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.env("BORN_FRONTEND", frontend.as_str());
    let (key, fd) = answers.env();
    cmd.env(key, fd);
    let (eval, outputs) = work
        .with_evcxr_env(|| EvalContext::with_subprocess_command_deferred(cmd))
        .map_err(|e| format!("evcxr could not start: {e}"))?;
    Ok((CommandContext::with_eval_context(eval), outputs))
}

impl Evaluator for Session {
    fn execute(&mut self, code: &str, io: &mut dyn CellIo) -> Outcome {
        let cell = match magic::split(code) {
            Ok(cell) => cell,
            Err(outcome) => return outcome,
        };
        let mut texts: Vec<MimeData> = Vec::new();
        for m in &cell.session_magics {
            match magic::run(self, m) {
                Ok(Some(bundle)) => texts.push(bundle),
                Ok(None) => {}
                Err(outcome) => return outcome,
            }
        }
        if cell.rust.trim().is_empty() {
            return Outcome::Ok {
                result: match texts.len() {
                    0 => None,
                    1 => texts.pop(),
                    _ => Some(magic::join(texts)),
                },
            };
        }
        for t in texts {
            if let Some(Value::String(s)) = t.get("text/plain") {
                let mut s = s.clone();
                if !s.ends_with('\n') {
                    s.push('\n');
                }
                io.output(Output::Stdout(s));
            }
        }
        self.execute_rust(&cell.rust, io)
    }

    fn complete(&mut self, code: &str, cursor: usize) -> Completions {
        let cursor = cursor.min(code.len());
        if let Some(colon) = complete::magic_at(code, cursor) {
            let prefix = &code[colon..cursor];
            let matches = magic::names()
                .filter(|m| m.starts_with(prefix))
                .map(str::to_owned)
                .collect();
            return Completions {
                matches,
                start: colon,
                end: cursor,
            };
        }
        let start = complete::word_start(code, cursor);
        let prefix = code[start..cursor].to_string();
        let mut base = Completions {
            matches: Vec::new(),
            start,
            end: cursor,
        };
        // Jupyter inserts a match as it is: offer bare names, not `zeros(shape, dtype)` snippets.
        let bare = |code: String| -> String {
            let end = code
                .find(|ch: char| ch == '(' || ch == '<' || ch.is_whitespace())
                .unwrap_or(code.len());
            code[..end].to_string()
        };
        if let Ok(c) = self.ctx_mut().completions(code, cursor) {
            let mut names: Vec<String> = Vec::new();
            for n in c.completions.into_iter().map(|c| bare(c.code)) {
                if !n.is_empty() && !names.contains(&n) {
                    names.push(n);
                }
            }
            if c.start_offset == start || names.is_empty() {
                base.matches = names;
            } else {
                base.start = c.start_offset;
                base.end = c.end_offset;
                base.matches = names;
                return base;
            }
        }
        let vars = self.vars();
        if let Some(recv) = complete::receiver(code, cursor) {
            let is_tensor = vars
                .iter()
                .any(|(n, t)| n == recv && t.trim_start_matches('&').ends_with("Tensor"));
            if is_tensor {
                return complete::merge(base, &prefix, complete::TENSOR_METHODS.iter().map(|s| s.to_string()));
            }
            return base;
        }
        let items: Vec<String> = self
            .ctx
            .as_ref()
            .map(|c| c.defined_item_names().map(str::to_owned).collect())
            .unwrap_or_default();
        let extra = vars
            .into_iter()
            .map(|(n, _)| n)
            .chain(items)
            .chain(complete::PRELUDE_ITEMS.iter().map(|s| s.to_string()));
        complete::merge(base, &prefix, extra)
    }

    fn inspect(&mut self, code: &str, cursor: usize) -> Option<MimeData> {
        let end = complete::word_end(code, cursor.min(code.len()));
        if end == 0 || complete::word_start(code, end) == end {
            return None;
        }
        let (plain, html) = self.ctx_mut().hover_at(code, end).ok()?;
        if plain.trim().is_empty() || plain == "No documentation found" {
            return None;
        }
        let mut data = MimeData::new();
        data.insert("text/plain".into(), Value::String(plain));
        data.insert("text/html".into(), Value::String(html));
        Some(data)
    }

    fn is_complete(&self, code: &str) -> Completeness {
        complete::is_complete(code)
    }

    fn interrupt_handle(&self) -> InterruptHandle {
        let shared = self.shared.clone();
        Arc::new(move || shared.interrupt())
    }

    fn restart(&mut self) -> Result<(), String> {
        self.restart_context()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.take() {
            let _ = ctx.process_handle().lock().map(|mut c| c.kill());
        }
    }
}

#[allow(dead_code)]
fn assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Session>();
    is_send::<Receiver<String>>();
}

/// Public inherent methods of `born::Tensor` that completion offers after `x.`
/// (read from the engine's source at build time).
pub fn tensor_methods() -> &'static [&'static str] {
    complete::TENSOR_METHODS
}

/// Items that `use born::prelude::*;` brings into scope (read at build time).
pub fn prelude_items() -> &'static [&'static str] {
    complete::PRELUDE_ITEMS
}
