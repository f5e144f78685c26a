//! A lexer-level scan of Rust source: brackets, strings, chars, raw strings and
//! comments, without parsing. It decides whether a cell is whole (`is_complete`)
//! and lets `build.rs` find `impl` blocks without tripping on braces in strings.
//! This file has no dependencies so `build.rs` can include it with `#[path]`.

/// Where a scan ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// Every bracket closed, no literal or comment open.
    Balanced,
    /// Inside an unterminated literal or block comment.
    InLiteral,
    /// Some brackets are still open (their count).
    Open(usize),
    /// A closing bracket that matches no opener.
    Stray,
}

/// Scans `code`, calling `on_code` with every byte offset that is code (not inside a
/// comment or literal) and the bracket depth before it, and returns where the scan ended.
pub fn scan(code: &str, mut on_code: impl FnMut(usize, u8, usize)) -> ScanEnd {
    let b = code.as_bytes();
    let n = b.len();
    let mut stack: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < n {
        let c = b[i];
        // Magics (":dep ...") are whole lines of their own, not Rust.
        if c == b':' && line_start(b, i) && (i + 1 >= n || b[i + 1] != b':') && stack.is_empty() {
            i = end_of_line(b, i);
            continue;
        }
        match c {
            b'/' if i + 1 < n && b[i + 1] == b'/' => {
                i = end_of_line(b, i);
                continue;
            }
            b'/' if i + 1 < n && b[i + 1] == b'*' => {
                let mut depth = 1;
                i += 2;
                while i < n && depth > 0 {
                    if b[i] == b'/' && i + 1 < n && b[i + 1] == b'*' {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && i + 1 < n && b[i + 1] == b'/' {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                if depth > 0 {
                    return ScanEnd::InLiteral;
                }
                continue;
            }
            b'"' => match skip_string(b, i + 1) {
                Some(end) => {
                    i = end;
                    continue;
                }
                None => return ScanEnd::InLiteral,
            },
            b'r' | b'b' | b'c' if !ident_before(b, i) => {
                // Raw strings (r"", r#""#, br"", cr""), byte strings (b"") and byte chars (b'x').
                let mut j = i + 1;
                if c != b'r' && j < n && b[j] == b'r' {
                    j += 1;
                }
                let raw = b[i] == b'r' || (j > i + 1);
                if raw {
                    let mut hashes = 0;
                    while j < n && b[j] == b'#' {
                        hashes += 1;
                        j += 1;
                    }
                    if j < n && b[j] == b'"' {
                        match skip_raw(b, j + 1, hashes) {
                            Some(end) => {
                                i = end;
                                continue;
                            }
                            None => return ScanEnd::InLiteral,
                        }
                    }
                } else if j < n && b[j] == b'"' {
                    match skip_string(b, j + 1) {
                        Some(end) => {
                            i = end;
                            continue;
                        }
                        None => return ScanEnd::InLiteral,
                    }
                } else if c == b'b' && j < n && b[j] == b'\'' {
                    match skip_char(b, j + 1) {
                        CharLit::End(end) => {
                            i = end;
                            continue;
                        }
                        CharLit::Open => return ScanEnd::InLiteral,
                        CharLit::Lifetime => {}
                    }
                }
                // An identifier starting with r/b/c.
                on_code(i, c, stack.len());
                i = skip_ident(b, i);
                continue;
            }
            b'\'' => match skip_char(b, i + 1) {
                CharLit::End(end) => {
                    i = end;
                    continue;
                }
                CharLit::Open => return ScanEnd::InLiteral,
                CharLit::Lifetime => {
                    i = skip_ident(b, i + 1);
                    continue;
                }
            },
            b'(' | b'[' | b'{' => {
                on_code(i, c, stack.len());
                stack.push(c);
            }
            b')' | b']' | b'}' => {
                let open = match c {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if stack.pop() != Some(open) {
                    return ScanEnd::Stray;
                }
                on_code(i, c, stack.len());
            }
            _ if c.is_ascii_alphanumeric() || c == b'_' => {
                on_code(i, c, stack.len());
                i = skip_ident(b, i);
                continue;
            }
            _ => on_code(i, c, stack.len()),
        }
        i += 1;
    }
    if stack.is_empty() {
        ScanEnd::Balanced
    } else {
        ScanEnd::Open(stack.len())
    }
}

fn line_start(b: &[u8], i: usize) -> bool {
    b[..i]
        .iter()
        .rev()
        .take_while(|&&c| c != b'\n')
        .all(|c| c.is_ascii_whitespace())
}

fn end_of_line(b: &[u8], i: usize) -> usize {
    b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p)
}

fn ident_before(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

fn skip_ident(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
        i += 1;
    }
    i
}

/// From just after an opening quote: the index after the closing quote.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// From just after the opening quote of a raw string with `hashes` hashes.
fn skip_raw(b: &[u8], mut i: usize, hashes: usize) -> Option<usize> {
    while i < b.len() {
        if b[i] == b'"' && b.len() - i > hashes && b[i + 1..=i + hashes].iter().all(|&c| c == b'#') {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    None
}

enum CharLit {
    End(usize),
    Open,
    Lifetime,
}

/// From just after a `'`: a char literal, an unterminated one, or a lifetime/label.
fn skip_char(b: &[u8], i: usize) -> CharLit {
    let n = b.len();
    if i >= n {
        return CharLit::Open;
    }
    if b[i] == b'\\' {
        // Escapes: '\n', '\'', '\\', '\x7f', '\u{1F600}'.
        let mut j = i + 2;
        while j < n && b[j] != b'\'' && b[j] != b'\n' {
            j += 1;
        }
        return if j < n && b[j] == b'\'' {
            CharLit::End(j + 1)
        } else {
            CharLit::Open
        };
    }
    // One (possibly multi-byte) character, then a quote: a char literal.
    let len = utf8_len(b[i]);
    if i + len < n && b[i + len] == b'\'' {
        return CharLit::End(i + len + 1);
    }
    if b[i].is_ascii_alphabetic() || b[i] == b'_' {
        CharLit::Lifetime
    } else if i + len >= n {
        CharLit::Open
    } else {
        // Not valid Rust either way; treat the quote as a lone token.
        CharLit::End(i)
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}
