//! The kernel's input history, in memory, answering `history_request`.
//!
//! Entries are `(session, line, input)` or, with `output`, `(session, line, [input, output])`,
//! as IPython returns them. This kernel process is one session, numbered [`SESSION`];
//! `session` 0 (or a negative one, "this many sessions ago") in a `range` request means it too.

use serde_json::{json, Value};

/// The session number of this kernel process in history replies.
pub const SESSION: i64 = 1;

/// One executed cell.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    line: i64,
    input: String,
    output: Option<String>,
}

/// The executed cells of this kernel process (those run with `store_history`).
#[derive(Default, Debug)]
pub struct History {
    entries: Vec<Entry>,
}

impl History {
    /// Records cell number `line`, with its `text/plain` result if it had one.
    pub fn push(&mut self, line: i64, input: &str, output: Option<String>) {
        self.entries.push(Entry {
            line,
            input: input.to_string(),
            output,
        });
    }

    /// The `history` list of a reply to `request` (the request's content).
    pub fn query(&self, request: &Value) -> Vec<Value> {
        let output = request.get("output").and_then(Value::as_bool).unwrap_or(false);
        let int = |k: &str| request.get(k).and_then(Value::as_i64);
        let n = int("n").filter(|n| *n >= 0).map(|n| n as usize);
        let selected: Vec<&Entry> = match request.get("hist_access_type").and_then(Value::as_str) {
            Some("tail") => last(self.entries.iter().collect(), n.unwrap_or(10)),
            Some("range") => {
                let session = int("session").unwrap_or(0);
                if session != SESSION && session > 0 {
                    vec![]
                } else {
                    let start = int("start").unwrap_or(0);
                    let stop = int("stop").unwrap_or(i64::MAX);
                    // IPython: stop 0 (or missing) means "to the end".
                    let stop = if stop <= 0 { i64::MAX } else { stop };
                    self.entries
                        .iter()
                        .filter(|e| e.line >= start && e.line < stop)
                        .collect()
                }
            }
            Some("search") => {
                let pattern = request.get("pattern").and_then(Value::as_str).unwrap_or("*");
                let unique = request.get("unique").and_then(Value::as_bool).unwrap_or(false);
                let mut hits: Vec<&Entry> = self.entries.iter().filter(|e| glob(pattern, &e.input)).collect();
                if unique {
                    // Keep the latest occurrence of each input, in order.
                    let mut seen = std::collections::HashSet::new();
                    let mut kept: Vec<&Entry> = hits.into_iter().rev().filter(|e| seen.insert(&e.input)).collect();
                    kept.reverse();
                    hits = kept;
                }
                match n {
                    Some(n) => last(hits, n),
                    None => hits,
                }
            }
            _ => vec![],
        };
        selected
            .into_iter()
            .map(|e| {
                if output {
                    json!([SESSION, e.line, [e.input, e.output]])
                } else {
                    json!([SESSION, e.line, e.input])
                }
            })
            .collect()
    }
}

fn last<T>(mut v: Vec<T>, n: usize) -> Vec<T> {
    let skip = v.len().saturating_sub(n);
    v.drain(..skip);
    v
}

/// Glob match as IPython's history search does it (SQLite `GLOB`): `*` any run, `?` one
/// character, `[abc]`/`[a-z]`/`[^a]` a class; case-sensitive, the whole text.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    // Iterative with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, len)) = class(&p[pi..], t[ti]) {
                        if matched {
                            pi += len;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class at the start of `p` (`[...]`): (matched, pattern length),
/// or None when the class is not closed.
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = p.get(i) == Some(&'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob("*", ""));
        assert!(glob("1 + 2*", "1 + 2 + 3"));
        assert!(glob("1?2", "1+2"));
        assert!(!glob("1?2", "1+3"));
        assert!(glob("*sum()", "let y = x; y.sum()"));
        assert!(!glob("sum", "y.sum()"));
        assert!(glob("[a-c]x", "bx"));
        assert!(!glob("[^a-c]x", "bx"));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
    }

    fn hist() -> History {
        let mut h = History::default();
        h.push(1, "1 + 2", Some("3".into()));
        h.push(2, "let x = 5;", None);
        h.push(3, "1 + 2", Some("3".into()));
        h.push(4, "x * 2", Some("10".into()));
        h
    }

    #[test]
    fn tail_range_search() {
        let h = hist();
        let r = h.query(&json!({"hist_access_type": "tail", "n": 2, "output": false}));
        assert_eq!(r, vec![json!([1, 3, "1 + 2"]), json!([1, 4, "x * 2"])]);
        let r = h.query(&json!({"hist_access_type": "tail", "n": 1, "output": true}));
        assert_eq!(r, vec![json!([1, 4, ["x * 2", "10"]])]);
        let r = h.query(&json!({"hist_access_type": "range", "session": 1, "start": 2, "stop": 3}));
        assert_eq!(r, vec![json!([1, 2, "let x = 5;"])]);
        let r = h.query(&json!({"hist_access_type": "range", "session": 0, "start": 3}));
        assert_eq!(r.len(), 2);
        assert!(h.query(&json!({"hist_access_type": "range", "session": 7})).is_empty());
        let r = h.query(&json!({"hist_access_type": "search", "pattern": "1*"}));
        assert_eq!(r.len(), 2);
        let r = h.query(&json!({"hist_access_type": "search", "pattern": "1*", "unique": true}));
        assert_eq!(r, vec![json!([1, 3, "1 + 2"])]);
        let r = h.query(&json!({"hist_access_type": "search", "pattern": "*", "n": 3}));
        assert_eq!(r.len(), 3);
        assert!(h.query(&json!({"hist_access_type": "bogus"})).is_empty());
    }
}
