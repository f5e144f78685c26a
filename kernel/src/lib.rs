//! Born kernel crate: the evaluation session, Jupyter kernel and REPL land here in their own issues.
