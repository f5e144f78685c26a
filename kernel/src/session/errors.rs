//! Compile errors as Jupyter shows them: rustc's message, the cell's lines with
//! the spans underlined, help and notes. Plain text (no colour codes), so the REPL
//! and notebooks render it the same.

use crate::eval::Outcome;
use evcxr::CompilationError;

/// The outcome for a cell that did not compile.
pub fn compile_error(code: &str, errors: &[CompilationError]) -> Outcome {
    let first = errors.first();
    let evalue = first
        .map(|e| e.message().lines().next().unwrap_or("").to_string())
        .unwrap_or_else(|| "the cell did not compile".into());
    let mut traceback = Vec::new();
    for e in errors {
        render(code, e, &mut traceback);
    }
    Outcome::Error {
        ename: "CompileError".into(),
        evalue,
        traceback,
    }
}

fn render(code: &str, e: &CompilationError, out: &mut Vec<String>) {
    let level = if e.level().is_empty() { "error" } else { e.level() };
    let head = match e.code() {
        Some(c) => format!("{level}[{c}]: {}", e.message()),
        None => format!("{level}: {}", e.message()),
    };
    out.extend(head.lines().map(str::to_owned));
    let lines: Vec<&str> = code.lines().collect();
    let spanned: Vec<_> = e
        .spanned_messages()
        .iter()
        .chain(e.help_spanned())
        .filter_map(|m| m.span.map(|s| (s, m.label.clone())))
        .collect();
    if !spanned.is_empty() {
        let width = spanned
            .iter()
            .map(|(s, _)| s.end_line)
            .max()
            .unwrap_or(1)
            .to_string()
            .len();
        let pad = " ".repeat(width);
        for (span, label) in spanned {
            out.push(format!("{pad}--> cell:{}:{}", span.start_line, span.start_column));
            out.push(format!("{pad} |"));
            for line_no in span.start_line..=span.end_line {
                let Some(text) = lines.get(line_no.wrapping_sub(1)) else {
                    continue;
                };
                out.push(format!("{line_no:>width$} | {text}"));
                let chars = text.chars().count();
                let from = if line_no == span.start_line {
                    span.start_column.max(1)
                } else {
                    1
                };
                let to = if line_no == span.end_line {
                    span.end_column.max(from + 1)
                } else {
                    chars + 1
                };
                let marks = "^".repeat(to.saturating_sub(from).max(1));
                let label = if line_no == span.end_line && !label.is_empty() {
                    format!(" {label}")
                } else {
                    String::new()
                };
                out.push(format!("{pad} | {}{marks}{label}", " ".repeat(from - 1)));
            }
        }
    }
    for help in e.help() {
        let mut lines = help.lines();
        if let Some(first) = lines.next() {
            out.push(format!("help: {first}"));
        }
        out.extend(lines.map(|l| format!("      {l}")));
    }
    if let Some(hint) = e.evcxr_extra_hint() {
        out.push(format!("note: {hint}"));
    }
    out.push(String::new());
}
