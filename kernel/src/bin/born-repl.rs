//! `born-repl`: the Born session in a terminal (see `born_kernel::repl`).
//!
//! - `born-repl`: interactive.
//! - `born-repl --eval 'CODE'` / `born-repl FILE.rs`: run once; exit status 1 if it fails.

fn main() {
    // The evcxr child process runs this same executable: these two turn it into the cell
    // runner (and never return there). They must come before anything else.
    born_kernel::session::child_hook();
    evcxr::runtime_hook();
    born_kernel::session::ensure_runtime_dir();

    let args: Vec<String> = std::env::args().skip(1).collect();
    let status = born_kernel::repl::main(&args);
    // Do not wait for background threads (a cell may still be stuck in its process).
    std::process::exit(status);
}
