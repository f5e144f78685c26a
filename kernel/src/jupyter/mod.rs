//! The Jupyter front-end: the messaging protocol (v5.3) over ZeroMQ, driving an
//! [`Evaluator`](crate::eval::Evaluator).
//!
//! - [`wire`]: frames, HMAC-SHA256 signing and verification, JSON decoding.
//! - [`connection`]: the connection file.
//! - [`server`]: sockets, the shell/control loops, `kernel_info`, interrupt and shutdown.
//! - [`worker`]: the evaluation thread (execute, complete, inspect, is_complete).
//! - [`history`]: executed cells, answering `history_request`.
//! - [`install`]: the kernelspec (`born-kernel install`).
//!
//! Threads: a small tokio runtime owns the sockets (heartbeat and control never wait for a
//! cell); one evaluation thread owns the evaluator and runs requests in arrival order.

pub mod connection;
pub mod context;
pub mod history;
pub mod install;
pub mod server;
pub mod wire;
pub mod worker;

pub use server::run;
pub use worker::Factory;
