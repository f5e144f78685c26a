//! The line editor: `rustyline` with a helper that asks the session for completions,
//! continues input while the cell is incomplete (the kernel's `is_complete`), hints from
//! history and highlights the bracket matching the one at the cursor.

use super::Starting;
use crate::eval::{Completeness, Evaluator};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter, MatchingBracketHighlighter};
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};
use std::borrow::Cow;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// The editor `born-repl` reads with.
pub type ReplEditor = Editor<ReplHelper, DefaultHistory>;

/// Completion, validation, hints and bracket matching for Rust cells.
pub struct ReplHelper {
    session: Rc<RefCell<Starting>>,
    hinter: HistoryHinter,
    brackets: MatchingBracketHighlighter,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        // Only a session that is already up: typing must never wait for it to start.
        let Ok(mut starting) = self.session.try_borrow_mut() else {
            return Ok((pos, Vec::new()));
        };
        let Some(session) = starting.ready() else {
            return Ok((pos, Vec::new()));
        };
        let c = session.complete(line, pos);
        let pairs = c
            .matches
            .into_iter()
            .map(|m| Pair {
                display: m.clone(),
                replacement: m,
            })
            .collect();
        Ok((c.start, pairs))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.hinter.hint(line, pos, ctx)
    }
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        self.brackets.highlight(line, pos)
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }

    fn highlight_char(&self, line: &str, pos: usize, kind: CmdKind) -> bool {
        self.brackets.highlight_char(line, pos, kind)
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') {
            return Ok(ValidationResult::Valid(None));
        }
        Ok(match crate::session::is_complete(input) {
            Completeness::Incomplete { .. } => ValidationResult::Incomplete,
            // Invalid input goes to the compiler, which says what is wrong.
            Completeness::Complete | Completeness::Invalid => ValidationResult::Valid(None),
        })
    }
}

impl Helper for ReplHelper {}

/// An editor with the helper and the history at `history` (if it can be read).
pub fn new(session: Rc<RefCell<Starting>>, history: Option<&Path>) -> rustyline::Result<ReplEditor> {
    let config = rustyline::Config::builder()
        .auto_add_history(false)
        .completion_type(rustyline::CompletionType::List)
        .max_history_size(10_000)?
        .build();
    let mut rl = ReplEditor::with_config(config)?;
    rl.set_helper(Some(ReplHelper {
        session,
        hinter: HistoryHinter::new(),
        brackets: MatchingBracketHighlighter::new(),
    }));
    if let Some(path) = history {
        // A first run has no history yet.
        let _ = rl.load_history(path);
    }
    Ok(rl)
}

/// Writes the history (after every entry, so a killed REPL keeps it).
pub fn save_history(rl: &mut ReplEditor, path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = rl.save_history(path) {
        eprintln!("born-repl: cannot save the history to {}: {e}", path.display());
    }
}
