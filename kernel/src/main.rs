//! `born-kernel`: the Born Jupyter kernel.
//!
//! - `born-kernel kernel --connection-file PATH`: run the kernel (what `kernel.json` starts).
//! - `born-kernel install [--user | --sys-prefix | --prefix P]`: write the kernelspec.
//! - `born-kernel uninstall [--user | --sys-prefix | --prefix P]`: remove it.

use born_kernel::eval::Evaluator;
use born_kernel::jupyter::{self, install};
use born_kernel::session::{Frontend, Session, SessionOptions};
use std::path::PathBuf;

const USAGE: &str = "usage:
  born-kernel kernel --connection-file PATH
  born-kernel install [--user | --sys-prefix | --prefix PREFIX]
  born-kernel uninstall [--user | --sys-prefix | --prefix PREFIX]
  born-kernel --version";

fn main() {
    // The evcxr child process runs this same executable: these two turn it into the cell
    // runner (and never return there). They must come before anything else.
    born_kernel::session::child_hook();
    evcxr::runtime_hook();
    born_kernel::session::ensure_runtime_dir();

    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("born-kernel: {e}");
        std::process::exit(2);
    }
    // Do not wait for background threads (the evaluation thread may be stuck in a cell).
    std::process::exit(0);
}

fn run(args: &[String]) -> Result<(), String> {
    let Some(cmd) = args.first() else {
        return Err(USAGE.into());
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "kernel" => {
            let path = connection_file(rest)?;
            let factory: jupyter::Factory = Box::new(|| {
                let options = SessionOptions {
                    frontend: Frontend::Jupyter,
                    engine_path: None,
                    cache_dir: None,
                };
                Session::new(options).map(|s| Box::new(s) as Box<dyn Evaluator>)
            });
            jupyter::run(&path, factory).map_err(|e| format!("{e:#}"))
        }
        "install" => {
            let target = install::Target::from_args(rest)?;
            let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
            let dir = install::install(&target, &exe)?;
            println!("installed kernelspec {:?} in {}", install::KERNEL_NAME, dir.display());
            Ok(())
        }
        "uninstall" => {
            let target = install::Target::from_args(rest)?;
            match install::uninstall(&target)? {
                Some(dir) => println!("removed {}", dir.display()),
                None => println!("no kernelspec at {}", target.kernel_dir()?.display()),
            }
            Ok(())
        }
        "--version" | "-V" => {
            println!("born-kernel {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "--help" | "-h" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    }
}

/// `--connection-file PATH`, `--connection-file=PATH`, `-f PATH`, or a bare path.
fn connection_file(args: &[String]) -> Result<PathBuf, String> {
    let mut it = args.iter();
    let mut path = None;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--connection-file" | "-f" => path = it.next().map(PathBuf::from),
            s if s.starts_with("--connection-file=") => path = Some(PathBuf::from(&s["--connection-file=".len()..])),
            s if !s.starts_with('-') => path = Some(PathBuf::from(s)),
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    path.ok_or_else(|| format!("missing --connection-file\n{USAGE}"))
}
