//! born-kernel: the Jupyter kernel and `born-repl`, two front-ends over one
//! evaluation session. See `ARCHITECTURE.md` ("Kernel") for the map.

pub mod eval;
pub mod jupyter;
pub mod repl;
pub mod session;
