//! Magics: lines starting with `:`. The session handles its own (`:help`, `:vars`,
//! `:timing`, `:clear`, `:device`) and passes a vetted set of evcxr's through.

use super::Session;
use crate::eval::{MimeData, Outcome};
use serde_json::Value;

/// Magics the session runs itself: (name, one-line help).
const OWN: &[(&str, &str)] = &[
    (":help", "this help"),
    (":vars", "the session's variables and their types"),
    (":timing", "toggle printing how long each cell took (compile and run)"),
    (
        ":clear",
        "forget all variables, functions and types (keeps the compiled engine)",
    ),
    (
        ":device",
        "`:device cpu`, `:device gpu` or `gpu:N`: where new tensors live",
    ),
];

/// evcxr commands passed through unchanged: (name, one-line help).
const PASSTHROUGH: &[(&str, &str)] = &[
    (
        ":dep",
        "add a crate: `:dep rand = \"0.8\"` or `:dep mycrate = { path = \"...\" }`",
    ),
    (":show_deps", "the crates added with :dep"),
    (":type", "the type of a variable: `:type x`"),
    (":t", "short for :type"),
    (":doc", "documentation of an item: `:doc Tensor::exp`"),
    (":explain", "explain the last compile error"),
    (":opt", "optimization level of cells (0, 1, 2)"),
    (":fmt", "format of final values (default {:?})"),
    (":efmt", "format of errors returned with ?"),
    (":types", "toggle showing the type of final values"),
    (":env", "set an environment variable: `:env KEY=value`"),
    (
        ":build_env",
        "set an environment variable for builds: `:build_env KEY=value`",
    ),
    (":offline", "build without network (0/1)"),
    (":cache", "evcxr's build cache size in MiB"),
    (":last_compile_dir", "where the last cell was compiled"),
    (":preserve_vars_on_panic", "keep variables when a cell panics (0/1)"),
];

/// Every magic name, own then passed through.
pub fn names() -> impl Iterator<Item = &'static str> {
    OWN.iter().chain(PASSTHROUGH).map(|(n, _)| *n)
}

/// One of the session's own magics, with its argument.
#[derive(Debug, PartialEq)]
pub struct Magic {
    /// Name including the colon.
    pub name: String,
    /// The rest of the line, trimmed.
    pub arg: String,
}

/// A cell split into the session's magics and the code for evcxr (magic lines blanked,
/// so compiler line numbers still match the cell).
#[derive(Debug, PartialEq)]
pub struct Cell {
    /// The session's own magics, in order.
    pub session_magics: Vec<Magic>,
    /// Everything else (Rust and passed-through evcxr commands).
    pub rust: String,
}

/// Splits a cell; an unknown magic is an error listing the known ones.
pub fn split(code: &str) -> Result<Cell, Outcome> {
    let mut session_magics = Vec::new();
    let mut rust = String::with_capacity(code.len());
    for line in code.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with(':') && !t.starts_with("::") {
            let (name, arg) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
            if OWN.iter().any(|(n, _)| *n == name) {
                session_magics.push(Magic {
                    name: name.to_string(),
                    arg: arg.trim().to_string(),
                });
                if line.ends_with('\n') {
                    rust.push('\n');
                }
                continue;
            }
            if !PASSTHROUGH.iter().any(|(n, _)| *n == name) {
                let known: Vec<&str> = names().collect();
                return Err(Outcome::Error {
                    ename: "UnknownMagic".into(),
                    evalue: format!("unknown magic {name}; known magics: {}", known.join(" ")),
                    traceback: vec![format!("unknown magic {name}"), String::new(), help_text()],
                });
            }
        }
        rust.push_str(line);
    }
    Ok(Cell { session_magics, rust })
}

fn text(s: String) -> MimeData {
    let mut m = MimeData::new();
    m.insert("text/plain".into(), Value::String(s));
    m
}

fn error(evalue: String) -> Outcome {
    Outcome::Error {
        ename: "MagicError".into(),
        evalue: evalue.clone(),
        traceback: vec![evalue],
    }
}

/// Several magic outputs as one bundle (their plain texts, one after the other).
pub fn join(bundles: Vec<MimeData>) -> MimeData {
    let all: Vec<String> = bundles
        .iter()
        .filter_map(|b| {
            b.get("text/plain")
                .and_then(Value::as_str)
                .map(|s| s.trim_end().to_string())
        })
        .collect();
    text(all.join("\n"))
}

/// The `:help` text.
pub fn help_text() -> String {
    let mut s = String::from(
        "Born: Rust cells over the Born tensor engine. `use born::prelude::*;` is loaded, so\n\
         Tensor, DType, Device, Shape, realize_all, manual_seed, check_interrupt are in scope.\n\
         \n\
         \x20 let x = Tensor::randn([2, 3], DType::F32);   // lazy: nothing runs yet\n\
         \x20 let y = (&x + 1.0).exp();                    // builds a fused graph\n\
         \x20 y.sum()                                      // the last expression is shown\n\
         \n\
         Variables, functions, structs and `use` persist across cells. A panic or a compile\n\
         error is reported and the session keeps its variables. Interrupt stops a running\n\
         cell at the engine's next kernel; a cell stuck in pure Rust code is killed after\n\
         3 s, and then its variables are lost. In long loops call `check_interrupt()?`.\n\
         \n\
         Magics:\n",
    );
    for (n, h) in OWN.iter().chain(PASSTHROUGH) {
        s.push_str(&format!("  {n:<25} {h}\n"));
    }
    s
}

/// Runs one of the session's magics: `Ok(Some(bundle))` to show, or an error outcome.
pub fn run(session: &mut Session, m: &Magic) -> Result<Option<MimeData>, Outcome> {
    match m.name.as_str() {
        ":help" => Ok(Some(text(help_text()))),
        ":vars" => {
            let vars = session.vars();
            if vars.is_empty() {
                return Ok(Some(text("no variables yet".into())));
            }
            let width = vars.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            let plain: Vec<String> = vars.iter().map(|(n, t)| format!("{n:<width$}  {t}")).collect();
            let mut html = String::from("<table><tr><th>Variable</th><th>Type</th></tr>");
            for (n, t) in &vars {
                html.push_str(&format!("<tr><td>{}</td><td>{}</td></tr>", escape(n), escape(t)));
            }
            html.push_str("</table>");
            let mut b = text(plain.join("\n"));
            b.insert("text/html".into(), Value::String(html));
            Ok(Some(b))
        }
        ":timing" => {
            session.timing = match m.arg.as_str() {
                "on" | "1" | "true" => true,
                "off" | "0" | "false" => false,
                _ => !session.timing,
            };
            Ok(Some(text(format!(
                "timing: {}",
                if session.timing { "on" } else { "off" }
            ))))
        }
        ":clear" => {
            session
                .execute_hidden(":clear")
                .map_err(|e| error(format!(":clear failed: {e}")))?;
            session.load_prelude(true).map_err(error)?;
            Ok(Some(text("cleared: variables, functions and types are gone".into())))
        }
        ":device" => match m.arg.as_str() {
            "" => Ok(Some(text(format!("device: {}", session.device)))),
            arg => {
                let Some(device) = device_name(arg) else {
                    return Err(error(format!(
                        "unknown device {arg:?}: use `:device cpu`, `:device gpu` or `:device gpu:N`"
                    )));
                };
                // The default device lives in the cell process's runtime: set it there.
                let code = format!(
                    "if let Err(e) = born::set_default_device(born::Device::parse({device:?}).unwrap()) {{ panic!(\"{{e}}\") }}"
                );
                session
                    .execute_hidden(&code)
                    .map_err(|e| error(format!("staying on {}: {e}", session.device)))?;
                session.device = device.clone();
                Ok(Some(text(format!(
                    "device: {device} (new tensors are made there; move others with .to_device(..))"
                ))))
            }
        },
        _ => Ok(None),
    }
}

/// The canonical name (`cpu`, `gpu:N`) of a device argument, as `born::Device::parse`
/// reads it (the kernel does not link the engine; a test keeps the two the same).
fn device_name(arg: &str) -> Option<String> {
    match arg.trim() {
        "cpu" => Some("cpu".into()),
        "gpu" | "cuda" | "wgpu" => Some("gpu:0".into()),
        other => other
            .strip_prefix("gpu:")
            .and_then(|n| n.parse::<u16>().ok())
            .map(|n| format!("gpu:{n}")),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_are_the_engines() {
        for arg in [
            "cpu",
            " gpu ",
            "cuda",
            "wgpu",
            "gpu:0",
            "gpu:3",
            "gpu:65535",
            "gpu:65536",
            "gpu:-1",
            "tpu",
            "",
        ] {
            let engine = born::Device::parse(arg).map(|d| d.to_string());
            assert_eq!(device_name(arg), engine, "{arg:?}");
        }
    }

    #[test]
    fn split_separates_own_magics() {
        let cell = split(":timing\n:dep rand = \"0.8\"\nlet x = 1;").unwrap();
        assert_eq!(cell.session_magics.len(), 1);
        assert_eq!(cell.session_magics[0].name, ":timing");
        assert_eq!(cell.rust, "\n:dep rand = \"0.8\"\nlet x = 1;");
        let cell = split(":device gpu").unwrap();
        assert_eq!(cell.session_magics[0].arg, "gpu");
        assert_eq!(split("::std::mem::drop(1)").unwrap().rust, "::std::mem::drop(1)");
    }

    #[test]
    fn unknown_magic_lists_known_ones() {
        let Err(Outcome::Error { ename, evalue, .. }) = split(":frobnicate") else {
            panic!("expected an error")
        };
        assert_eq!(ename, "UnknownMagic");
        assert!(evalue.contains(":help") && evalue.contains(":dep"), "{evalue}");
        assert!(split(":quit").is_err());
    }
}
