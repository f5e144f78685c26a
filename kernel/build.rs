//! Build script of born-kernel:
//! - links the binaries and test programs with `-rdynamic`, so the engine copies in
//!   notebook cells find the host's interrupt flag (`born_interrupt_v1`) with `dlsym`;
//! - reads the engine's source for completion lists: the prelude's items and the
//!   public methods of `Tensor` (written to `$OUT_DIR/engine_names.rs`).

use std::path::{Path, PathBuf};

#[path = "src/session/rustlex.rs"]
#[allow(dead_code)]
mod rustlex;

fn main() {
    println!("cargo:rustc-link-arg-bins=-rdynamic");
    println!("cargo:rustc-link-arg-tests=-rdynamic");
    let engine = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../engine/src");
    println!("cargo:rerun-if-changed={}", engine.display());
    let mut files = Vec::new();
    collect(&engine, &mut files);
    files.sort();
    println!("cargo:rerun-if-changed={}", engine.join("lib.rs").display());

    let mut methods = Vec::new();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let src = std::fs::read_to_string(f).unwrap_or_default();
        tensor_methods(&src, &mut methods);
    }
    methods.retain(|m| m.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && m != "evcxr_display");
    methods.sort();
    methods.dedup();
    let lib = std::fs::read_to_string(engine.join("lib.rs")).unwrap_or_default();
    let prelude = prelude_items(&lib);

    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("engine_names.rs");
    let list = |v: &[String]| v.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let text = format!(
        "/// Items `use born::prelude::*;` brings into scope (read from the engine's lib.rs).\n\
         pub const PRELUDE_ITEMS: &[&str] = &[{}];\n\
         /// Public inherent methods of `born::Tensor` (read from the engine's source).\n\
         pub const TENSOR_METHODS: &[&str] = &[{}];\n",
        list(&prelude),
        list(&methods)
    );
    std::fs::write(out, text).unwrap();
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Code with comments and literals blanked, so braces and keywords can be found by text.
fn code_only(src: &str) -> Vec<u8> {
    let mut code = vec![b' '; src.len()];
    rustlex::scan(src, |i, c, _| code[i] = c);
    // `scan` reports the first byte of each identifier; copy identifiers whole.
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if code[i] != b' ' && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                code[i] = b[i];
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    code
}

/// `pub fn NAME` at the top level of every `impl Tensor {` block, and every
/// `NAME => try_NAME(...)` entry of a `panicking! { ... }` block (the engine's macro
/// that generates the panicking form of `try_` methods).
fn tensor_methods(src: &str, out: &mut Vec<String>) {
    let code = code_only(src);
    let text = String::from_utf8_lossy(&code).into_owned();
    let words: Vec<(usize, &str)> = tokens(&text);
    let mut k = 0;
    while k + 2 < words.len() {
        if words[k].1 == "panicking" && words[k + 1].1 == "!" && words[k + 2].1 == "{" {
            let mut depth = 0;
            let mut j = k + 2;
            while j < words.len() {
                match words[j].1 {
                    "{" | "(" => depth += 1,
                    "}" | ")" => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    "=" if depth == 1 && j + 1 < words.len() && words[j + 1].1 == ">" && j > 0 => {
                        out.push(words[j - 1].1.to_string());
                    }
                    _ => {}
                }
                j += 1;
            }
            k = j + 1;
            continue;
        }
        if words[k].1 == "impl" && words[k + 1].1 == "Tensor" && words[k + 2].1 == "{" {
            let mut depth = 0;
            let mut j = k + 2;
            while j < words.len() {
                match words[j].1 {
                    "{" => depth += 1,
                    "}" => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    "pub"
                        if depth == 1
                            && j + 2 < words.len()
                            && words[j + 1].1 == "fn"
                            && takes_self(&words[j + 3..]) =>
                    {
                        out.push(words[j + 2].1.to_string());
                    }
                    _ => {}
                }
                j += 1;
            }
            k = j;
        }
        k += 1;
    }
}

/// Whether a signature (tokens after the fn name) starts its parameters with `self`:
/// a method, not a constructor.
fn takes_self(sig: &[(usize, &str)]) -> bool {
    let Some(open) = sig.iter().position(|w| w.1 == "(") else {
        return false;
    };
    sig[open + 1..]
        .iter()
        .take_while(|w| w.1 != "," && w.1 != ")")
        .any(|w| w.1 == "self")
}

/// Identifiers and single punctuation characters, with their offsets.
fn tokens(text: &str) -> Vec<(usize, &str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphanumeric() || b[i] == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((s, &text[s..i]));
        } else {
            if !b[i].is_ascii_whitespace() && b[i].is_ascii() {
                out.push((i, &text[i..i + 1]));
            }
            i += 1;
        }
    }
    out
}

/// The names re-exported by `pub mod prelude { pub use ...; }`.
fn prelude_items(lib: &str) -> Vec<String> {
    let code = code_only(lib);
    let text = String::from_utf8_lossy(&code).into_owned();
    let Some(start) = text.find("pub mod prelude") else {
        return Vec::new();
    };
    let Some(open) = text[start..].find('{').map(|p| start + p) else {
        return Vec::new();
    };
    let mut depth = 0;
    let mut end = text.len();
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    let body = &text[open + 1..end];
    let mut items = Vec::new();
    for stmt in body.split(';') {
        let Some(path) = stmt.trim().strip_prefix("pub use") else {
            continue;
        };
        // Leaves: the last segment of each path, inside or outside braces; `as` renames.
        let flat = path.replace(['{', '}'], ",");
        for part in flat.split(',') {
            let part = part.trim();
            let name = match part.split_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => part.rsplit("::").next().unwrap_or("").trim(),
            };
            if !name.is_empty()
                && name != "*"
                && name != "self"
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
            {
                items.push(name.to_string());
            }
        }
    }
    items.sort();
    items.dedup();
    items
}
