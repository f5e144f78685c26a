//! `born-repl`: the evaluation session in a terminal. The same [`Session`] the Jupyter
//! kernel runs, read with `rustyline` (history, multi-line input while a cell is
//! incomplete, completion, hints, bracket matching) and drawn by [`render::Terminal`].
//!
//! The prompt comes at once; the session (evcxr, the engine, the prelude: seconds) starts
//! on a thread behind it and the first cell waits for it.

mod editor;
pub mod render;

use crate::eval::{CellIo, Evaluator, InputDenied, InterruptHandle, Outcome, Output};
use crate::session::{Frontend, Session, SessionOptions};
use render::{ImageProtocol, Terminal};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const USAGE: &str = "usage:
  born-repl                 interactive
  born-repl --eval 'CODE'   run CODE, print its output; exit status 1 if it fails
  born-repl FILE.rs         run a file as one cell; exit status 1 if it fails
  born-repl --version";

const HELP: &str = "born-repl commands (the session's own follow):
  :load FILE.rs      run a file's contents as a cell
  :save NAME.png     save the last figure (.png or .svg)
  :quit              leave (also Ctrl-D); Ctrl-C stops a running cell
";

/// Runs `born-repl` with its arguments (without the program name); returns the exit status.
pub fn main(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("born-repl {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            0
        }
        Some("--eval") => match args.get(1) {
            Some(code) => run_once(code),
            None => {
                eprintln!("born-repl: --eval needs code\n{USAGE}");
                2
            }
        },
        Some(path) if !path.starts_with('-') => match std::fs::read_to_string(path) {
            Ok(code) => run_once(&code),
            Err(e) => {
                eprintln!("born-repl: {path}: {e}");
                2
            }
        },
        Some(other) => {
            eprintln!("born-repl: unknown option {other}\n{USAGE}");
            2
        }
        None => interactive(),
    }
}

/// The session, started on a thread; [`Starting::get`] waits for it.
pub struct Starting {
    thread: Option<std::thread::JoinHandle<Result<Session, String>>>,
    session: Option<Result<Session, String>>,
}

impl Starting {
    fn new() -> Starting {
        let thread = std::thread::Builder::new()
            .name("born-session-start".into())
            .spawn(|| Session::new(SessionOptions::new(Frontend::Repl)))
            .expect("spawning a thread");
        Starting {
            thread: Some(thread),
            session: None,
        }
    }

    /// The session once it has started (waiting for it), or why it could not.
    fn get(&mut self) -> Result<&mut Session, String> {
        if let Some(t) = self.thread.take() {
            self.session = Some(
                t.join()
                    .unwrap_or_else(|_| Err("the session panicked while starting".into())),
            );
        }
        match self.session.as_mut().expect("joined above") {
            Ok(s) => Ok(s),
            Err(e) => Err(e.clone()),
        }
    }

    /// The session if it has already started (never waits).
    fn ready(&mut self) -> Option<&mut Session> {
        if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
            let _ = self.get();
        }
        match self.session.as_mut() {
            Some(Ok(s)) => Some(s),
            _ => None,
        }
    }
}

/// A cell's outputs on the terminal; input read from stdin.
struct TerminalIo<'a> {
    term: &'a mut Terminal,
}

impl CellIo for TerminalIo<'_> {
    fn output(&mut self, out: Output) {
        self.term.output(out)
    }

    fn input(&mut self, prompt: &str, _password: bool) -> Result<String, InputDenied> {
        print!("{prompt}");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => Err(InputDenied::Eof),
            Ok(_) => Ok(line.trim_end_matches(['\n', '\r']).to_string()),
        }
    }
}

fn terminal() -> Terminal {
    let tty = std::io::stdout().is_terminal();
    let protocol = ImageProtocol::detect(|k| std::env::var(k).ok(), tty);
    let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).unwrap_or(80);
    let figures = std::env::temp_dir().join("born-repl");
    Terminal::new(Box::new(std::io::stdout()), protocol, width.min(100), figures)
}

/// Runs one cell and exits: `--eval` and script files.
fn run_once(code: &str) -> i32 {
    let mut starting = Starting::new();
    let mut term = terminal();
    let session = match starting.get() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("born-repl: the session could not start: {e}");
            return 2;
        }
    };
    match run_cell(session, code, &mut term) {
        true => 0,
        false => 1,
    }
}

/// Runs a cell, drawing its outputs; false when it failed.
fn run_cell(session: &mut Session, code: &str, term: &mut Terminal) -> bool {
    let outcome = session.execute(code, &mut TerminalIo { term });
    match outcome {
        Outcome::Ok { result } => {
            if let Some(data) = result {
                term.result(&data);
            }
            true
        }
        Outcome::Error {
            ename,
            evalue,
            traceback,
        } => {
            let red = std::io::stderr().is_terminal();
            let (on, off) = if red { ("\x1b[31m", "\x1b[0m") } else { ("", "") };
            let mut err = std::io::stderr().lock();
            for line in &traceback {
                let _ = writeln!(err, "{on}{line}{off}");
            }
            // The error's class last, as Python ends a traceback.
            let summary = format!("{ename}: {evalue}");
            if traceback.last() != Some(&summary) {
                let _ = writeln!(err, "{on}{summary}{off}");
            }
            false
        }
    }
}

/// Where the history lives: `$BORN_REPL_HISTORY`, else `<data dir>/born/repl-history`.
fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BORN_REPL_HISTORY") {
        return Some(PathBuf::from(p));
    }
    dirs::data_dir().map(|d| d.join("born").join("repl-history"))
}

/// Ctrl-C while a cell runs: the terminal sends SIGINT to the process group; this process
/// turns it into the session's interrupt (the cell process gets its own SIGINT too).
static SIGINT_SEEN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    SIGINT_SEEN.store(true, Ordering::SeqCst);
}

fn watch_sigint(handle: Arc<Mutex<Option<InterruptHandle>>>) {
    // The handler only stores an atomic flag.
    crate::session::host::on_sigint_call(on_sigint);
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if SIGINT_SEEN.swap(false, Ordering::SeqCst) {
            if let Some(h) = handle.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                h();
            }
        }
    });
}

fn interactive() -> i32 {
    let started = std::time::Instant::now();
    let starting = std::rc::Rc::new(std::cell::RefCell::new(Starting::new()));
    let mut term = terminal();
    let interrupt: Arc<Mutex<Option<InterruptHandle>>> = Arc::new(Mutex::new(None));
    watch_sigint(interrupt.clone());
    let history = history_path();
    let mut rl = match editor::new(starting.clone(), history.as_deref()) {
        Ok(rl) => rl,
        Err(e) => {
            eprintln!("born-repl: cannot read the terminal: {e}");
            return 2;
        }
    };
    if std::env::var_os("BORN_TRACE_STARTUP").is_some() {
        eprintln!("born-repl: prompt after {:.3} s", started.elapsed().as_secs_f64());
    }
    println!(
        "Born {} (Rust). :help for commands, Ctrl-D to leave.",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        let line = match rl.readline("born> ") {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("born-repl: {e}");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = rl.add_history_entry(line.as_str());
        if let Some(path) = &history {
            editor::save_history(&mut rl, path);
        }
        let trimmed = line.trim();
        let code = match command(trimmed, &mut term) {
            Command::Quit => break,
            Command::Done => continue,
            Command::Run(code) => code,
        };
        let mut slot = starting.borrow_mut();
        let session = match slot.get() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("born-repl: the session could not start: {e}");
                return 2;
            }
        };
        *interrupt.lock().unwrap_or_else(|e| e.into_inner()) = Some(session.interrupt_handle());
        SIGINT_SEEN.store(false, Ordering::SeqCst);
        run_cell(session, &code, &mut term);
        if trimmed.starts_with(":help") {
            print!("{HELP}");
        }
    }
    0
}

/// What a line asks for.
enum Command {
    Quit,
    /// Handled here (`:save`, errors of `:load`).
    Done,
    /// Code for the session (a cell, `:load`'s file, the session's own magics).
    Run(String),
}

fn command(line: &str, term: &mut Terminal) -> Command {
    let mut words = line.splitn(2, char::is_whitespace);
    let head = words.next().unwrap_or("");
    let arg = words.next().unwrap_or("").trim();
    match head {
        ":quit" | ":q" | ":exit" => Command::Quit,
        ":load" => match std::fs::read_to_string(arg) {
            Ok(code) => Command::Run(code),
            Err(e) => {
                eprintln!(":load {arg}: {e}");
                Command::Done
            }
        },
        ":save" => {
            match term.last_image() {
                None => eprintln!(":save: no figure has been shown yet"),
                Some(bundle) => match render::save_image(bundle, Path::new(arg)) {
                    Ok(()) => println!("saved {arg}"),
                    Err(e) => eprintln!(":save: {e}"),
                },
            }
            Command::Done
        }
        _ => Command::Run(line.to_string()),
    }
}
