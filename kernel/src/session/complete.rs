//! `is_complete` for Rust cells, and the session's own completion candidates
//! (prelude items, `Tensor` methods, variables, magics) merged with evcxr's.

use super::rustlex::{scan, ScanEnd};
use crate::eval::{Completeness, Completions};

// PRELUDE_ITEMS and TENSOR_METHODS, read from the engine's source by build.rs.
include!(concat!(env!("OUT_DIR"), "/engine_names.rs"));

/// Whether `code` is a whole cell: brackets balanced and no literal or block comment
/// left open. An open bracket suggests 4 spaces of indent per level; a closing
/// bracket without its opener can never become valid.
pub fn is_complete(code: &str) -> Completeness {
    match scan(code, |_, _, _| {}) {
        ScanEnd::Balanced => Completeness::Complete,
        ScanEnd::Stray => Completeness::Invalid,
        ScanEnd::InLiteral => Completeness::Incomplete { indent: String::new() },
        ScanEnd::Open(depth) => Completeness::Incomplete {
            indent: " ".repeat(4 * depth),
        },
    }
}

/// The identifier (word) ending at `cursor`: its start offset.
pub fn word_start(code: &str, cursor: usize) -> usize {
    let b = code.as_bytes();
    let mut i = cursor.min(b.len());
    while i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        i -= 1;
    }
    i
}

/// The identifier (word) containing `cursor`: its end offset.
pub fn word_end(code: &str, cursor: usize) -> usize {
    let b = code.as_bytes();
    let mut i = cursor.min(b.len());
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    i
}

/// If the word before `cursor` follows `name.`, returns `name` (the receiver).
pub fn receiver(code: &str, cursor: usize) -> Option<&str> {
    let start = word_start(code, cursor);
    let b = code.as_bytes();
    if start == 0 || b[start - 1] != b'.' {
        return None;
    }
    let end = start - 1;
    let rstart = word_start(code, end);
    (rstart < end).then(|| &code[rstart..end])
}

/// If the cursor is on a magic line (`:name ...` at the start of a line), the offset of its `:`.
pub fn magic_at(code: &str, cursor: usize) -> Option<usize> {
    let cursor = cursor.min(code.len());
    let line_start = code[..cursor].rfind('\n').map_or(0, |p| p + 1);
    let line = &code[line_start..cursor];
    let trimmed = line.trim_start();
    if trimmed.starts_with(':') && !trimmed.starts_with("::") && !trimmed.contains(' ') {
        Some(line_start + (line.len() - trimmed.len()))
    } else {
        None
    }
}

/// Adds `extra` candidates starting with `prefix` after `base`'s, without duplicates.
pub fn merge(mut base: Completions, prefix: &str, extra: impl IntoIterator<Item = String>) -> Completions {
    let mut seen: std::collections::HashSet<String> = base.matches.iter().cloned().collect();
    for e in extra {
        if e.starts_with(prefix) && seen.insert(e.clone()) {
            base.matches.push(e);
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(code: &str) -> String {
        match is_complete(code) {
            Completeness::Incomplete { indent } => indent,
            other => panic!("{code:?}: expected incomplete, got {other:?}"),
        }
    }

    #[test]
    fn complete_cells() {
        for code in [
            "",
            "let x = 1;",
            "x + 1",
            "fn f() {\n    1\n}",
            "let v = vec![1, 2, (3)];",
            "let s = \"{ not a brace\";",
            "let s = \"escaped \\\" quote {\";",
            "let c = '{';",
            "let c = '\\'';",
            "let c = '\\u{1F600}';",
            "let c = 'é';",
            "fn f<'a>(x: &'a str) -> &'a str { x }",
            "'outer: loop { break 'outer; }",
            "let r = r#\"raw \" { string\"#;",
            "let r = r\"raw {\";",
            "let b = b\"bytes {\";",
            "let b = b'{';",
            "let b = br#\"{\"#;",
            "// a comment with {\nlet x = 1;",
            "/* block { */ let x = 1;",
            "/* nested /* { */ } */ 1",
            ":dep regex = \"1\"",
            ":vars",
            "::std::mem::drop(1)",
            "let brace = 1; let r#type = 2;",
            "let x = a.r; let y = b.c;",
        ] {
            assert_eq!(is_complete(code), Completeness::Complete, "{code:?}");
        }
    }

    #[test]
    fn incomplete_cells() {
        assert_eq!(inc("fn f() {"), "    ");
        assert_eq!(inc("fn f() {\n    if x {"), "        ");
        assert_eq!(inc("let v = vec![1,"), "    ");
        assert_eq!(inc("foo(1,\n"), "    ");
        assert_eq!(inc("let s = \"open"), "");
        assert_eq!(inc("let s = \"open\\\""), "");
        assert_eq!(inc("let r = r#\"raw \" still"), "");
        assert_eq!(inc("let r = r##\"raw \"# still"), "");
        assert_eq!(inc("let b = b\"open"), "");
        assert_eq!(inc("/* open comment"), "");
        assert_eq!(inc("/* nested /* */ still open"), "");
        assert_eq!(inc("let c = '\\"), "");
        assert_eq!(inc("let c = '"), "");
        assert_eq!(inc("struct S {\n    a: i32,"), "    ");
        assert_eq!(inc(":dep foo\nfn f() {"), "    ");
    }

    #[test]
    fn invalid_cells() {
        for code in ["}", "let x = 1; }", "fn f() { ) }", "(]", "vec![1, 2)", "let x = (1));"] {
            assert_eq!(is_complete(code), Completeness::Invalid, "{code:?}");
        }
    }

    #[test]
    fn words_and_receivers() {
        let code = "let y = x.ex";
        assert_eq!(word_start(code, code.len()), code.len() - 2);
        assert_eq!(receiver(code, code.len()), Some("x"));
        assert_eq!(receiver("x.", 2), Some("x"));
        assert_eq!(receiver("foo", 3), None);
        assert_eq!(word_end("abc def", 1), 3);
        assert_eq!(magic_at(":ti", 3), Some(0));
        assert_eq!(magic_at("let x = 1;\n  :v", 15), Some(13));
        assert_eq!(magic_at("::std", 5), None);
        assert_eq!(magic_at(":dep foo", 8), None);
    }

    #[test]
    fn engine_names_were_found() {
        assert!(PRELUDE_ITEMS.contains(&"Tensor"), "{PRELUDE_ITEMS:?}");
        for m in ["exp", "sum", "realize", "matmul", "reshape"] {
            assert!(TENSOR_METHODS.contains(&m), "{m} missing from {TENSOR_METHODS:?}");
        }
    }
}
