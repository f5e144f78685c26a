//! The Born engine, re-exported whole. Built as a Rust `dylib` so that every notebook
//! cell links this one shared copy of the engine (see Cargo.toml).
pub use born::*;
