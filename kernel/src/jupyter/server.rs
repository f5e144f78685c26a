//! The sockets and the request loops: shell and control (ROUTER), stdin (ROUTER), iopub
//! (XPUB, so a new subscriber gets an `iopub_welcome`), heartbeat (REP echo).
//!
//! One task owns the sending side of every socket and sends what the other parts queue
//! (see [`Context`]), so the evaluation thread never touches a socket. Shell requests that
//! need the evaluator go to the evaluation thread in arrival order; `kernel_info`,
//! `comm_info` and `history` are answered at once, even while the session is still starting or a cell
//! runs. Control requests (interrupt, shutdown) are handled on their own task, so they work
//! during a long cell.

use super::connection::ConnectionInfo;
use super::context::{error_content, reply_type, Channel, Context, Outgoing};
use super::wire::{decode, DecodeError, Message, Signer, PROTOCOL_VERSION};
use super::worker::{self, Factory, Job, Shared};
use crate::eval::Completeness;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{mpsc as std_mpsc, Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use zeromq::{RepSocket, RouterSocket, Socket, SocketRecv, SocketSend, XPubSocket, ZmqMessage};

/// Runs the kernel for the connection file at `path` until a `shutdown_request` (or the
/// parent process named by `JPY_PARENT_PID` goes away). `factory` builds the evaluator on the
/// evaluation thread, after the sockets are up.
pub fn run(path: &Path, factory: Factory) -> anyhow::Result<()> {
    let info = ConnectionInfo::read(path)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(info, factory))?;
    // Background tasks (socket readers) end with the runtime; do not wait for them.
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

/// What the control task tells `serve` when a shutdown was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Running,
    Shutdown,
}

async fn serve(info: ConnectionInfo, factory: Factory) -> anyhow::Result<()> {
    // `rustc --version` for kernel_info, read off the async threads.
    tokio::task::spawn_blocking(rustc_version);
    let signer = Signer::new(info.key.as_bytes());
    if !signer.enabled() {
        eprintln!("born-kernel: warning: the connection file has no key; messages are not signed");
    }
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let ctx = Context::new(signer, out_tx);

    let mut shell = RouterSocket::new();
    shell.bind(&info.endpoint(info.shell_port)).await?;
    let mut control = RouterSocket::new();
    control.bind(&info.endpoint(info.control_port)).await?;
    let mut stdin = RouterSocket::new();
    stdin.bind(&info.endpoint(info.stdin_port)).await?;
    let mut iopub = XPubSocket::new();
    iopub.bind(&info.endpoint(info.iopub_port)).await?;
    let mut hb = RepSocket::new();
    hb.bind(&info.endpoint(info.hb_port)).await?;

    let (shell_tx, shell_rx) = shell.split();
    let (control_tx, control_rx) = control.split();
    let (stdin_tx, stdin_rx) = stdin.split();
    tokio::spawn(send_loop(ctx.clone(), out_rx, [shell_tx, control_tx, stdin_tx], iopub));
    tokio::spawn(heartbeat(hb));
    let (replies_tx, replies_rx) = std_mpsc::channel();
    tokio::spawn(stdin_loop(ctx.clone(), stdin_rx, replies_tx));

    let shared = Arc::new(Shared::default());
    let (jobs_tx, jobs_rx) = std_mpsc::channel();
    let worker = worker::spawn(ctx.clone(), factory, jobs_rx, replies_rx, shared.clone());
    ctx.status(None, "starting");

    let (stop_tx, mut stop_rx) = watch::channel(Stop::Running);
    tokio::spawn(shell_loop(ctx.clone(), shell_rx, jobs_tx.clone(), shared.clone()));
    tokio::spawn(control_loop(ctx.clone(), control_rx, shared.clone(), stop_tx));
    tokio::spawn(watch_parent());

    while *stop_rx.borrow() == Stop::Running {
        if stop_rx.changed().await.is_err() {
            break;
        }
    }
    // Shutdown: stop a running cell, let the worker drop the evaluator (ending its child),
    // and make sure the reply left before the process ends. A session still starting is not
    // waited for: its child is idle and ends when its stdin closes with this process.
    shared.interrupt();
    let _ = jobs_tx.send(Job::Quit);
    let wait = if shared.started.load(Ordering::SeqCst) {
        5.0
    } else {
        0.2
    };
    let joined = tokio::task::spawn_blocking(move || worker.join());
    let _ = tokio::time::timeout(Duration::from_secs_f64(wait), joined).await;
    ctx.flush().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// Sends what the rest of the kernel queues; answers iopub subscriptions with `iopub_welcome`.
async fn send_loop(
    ctx: Context,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    [mut shell, mut control, mut stdin]: [zeromq::RouterSendHalf; 3],
    mut iopub: XPubSocket,
) {
    loop {
        tokio::select! {
            item = rx.recv() => {
                let Some(item) = item else { return };
                match item {
                    Outgoing::Flush(done) => {
                        let _ = done.send(());
                    }
                    Outgoing::Frames(channel, frames) => {
                        let Ok(msg) = ZmqMessage::try_from(frames) else { continue };
                        let r = match channel {
                            Channel::Shell => shell.send(msg).await,
                            Channel::Control => control.send(msg).await,
                            Channel::IoPub => iopub.send(msg).await,
                            Channel::Stdin => stdin.send(msg).await,
                        };
                        if let Err(e) = r {
                            eprintln!("born-kernel: sending on {channel:?} failed: {e}");
                        }
                    }
                }
            }
            sub = iopub.recv() => {
                // XPUB hands us subscription messages: 0x01 + topic.
                if let Ok(m) = sub {
                    if let Some(frame) = m.get(0) {
                        if frame.first() == Some(&1) {
                            let topic = String::from_utf8_lossy(&frame[1..]).into_owned();
                            ctx.publish(None, "iopub_welcome", json!({ "subscription": topic }));
                        }
                    }
                }
            }
        }
    }
}

/// Passes `input_reply` messages from the stdin socket to the evaluation thread, which
/// waits for them while a cell asks for input; anything else there is logged and dropped.
async fn stdin_loop(ctx: Context, mut rx: zeromq::RouterRecvHalf, replies: std_mpsc::Sender<Message>) {
    loop {
        let frames = match rx.recv().await {
            Ok(m) => m.into_vec(),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(msg) = accept(&ctx, Channel::Stdin, frames) else {
            continue;
        };
        if msg.msg_type() != "input_reply" {
            eprintln!("born-kernel: unexpected {} on stdin, dropped", msg.msg_type());
        } else if replies.send(msg).is_err() {
            return;
        }
    }
}

async fn heartbeat(mut hb: RepSocket) {
    loop {
        match hb.recv().await {
            Ok(m) => {
                if let Err(e) = hb.send(m).await {
                    eprintln!("born-kernel: heartbeat reply failed: {e}");
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Exits when the parent that started the kernel (jupyter_client sets `JPY_PARENT_PID`) is gone,
/// so a crashed front-end leaves no kernel behind.
async fn watch_parent() {
    let Some(parent) = std::env::var("JPY_PARENT_PID").ok().and_then(|p| p.parse::<i32>().ok()) else {
        return;
    };
    if parent <= 1 {
        return;
    }
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != parent {
            eprintln!("born-kernel: parent process {parent} is gone; exiting");
            std::process::exit(0);
        }
    }
}

/// Decodes frames from a ROUTER socket; logs and drops what must not be handled. For a
/// signed message whose JSON is broken, answers with an error (when it can be addressed).
fn accept(ctx: &Context, channel: Channel, frames: Vec<Bytes>) -> Option<Message> {
    match decode(frames, ctx.signer()) {
        Ok(m) => Some(m),
        Err(DecodeError::Json {
            identities,
            header: Some(header),
            reason,
        }) => {
            eprintln!("born-kernel: malformed message on {channel:?}: {reason}");
            let msg = Message {
                identities,
                header,
                parent_header: Map::new(),
                metadata: Map::new(),
                content: json!({}),
                buffers: vec![],
            };
            ctx.status(Some(&msg), "busy");
            if let Some(t) = reply_type(msg.msg_type()) {
                ctx.reply(channel, &msg, &t, error_content("MalformedMessage", &reason));
            }
            ctx.status(Some(&msg), "idle");
            None
        }
        Err(e) => {
            eprintln!("born-kernel: dropped a message on {channel:?}: {e}");
            None
        }
    }
}

async fn shell_loop(ctx: Context, mut rx: zeromq::RouterRecvHalf, jobs: std_mpsc::Sender<Job>, shared: Arc<Shared>) {
    loop {
        let frames = match rx.recv().await {
            Ok(m) => m.into_vec(),
            Err(e) => {
                eprintln!("born-kernel: shell receive error: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(msg) = accept(&ctx, Channel::Shell, frames) else {
            continue;
        };
        match msg.msg_type() {
            "execute_request" | "complete_request" | "inspect_request" => {
                if jobs.send(Job::Request(msg, std::time::Instant::now())).is_err() {
                    return;
                }
            }
            "is_complete_request" => {
                // Stateless (a lexer check), so answered at once, also while the
                // session starts: jupyter console waits only a second for it.
                ctx.status(Some(&msg), "busy");
                let code = msg.str_field("code").unwrap_or("");
                let content = match crate::session::is_complete(code) {
                    Completeness::Complete => json!({"status": "complete"}),
                    Completeness::Incomplete { indent } => json!({"status": "incomplete", "indent": indent}),
                    Completeness::Invalid => json!({"status": "invalid"}),
                };
                ctx.reply(Channel::Shell, &msg, "is_complete_reply", content);
                ctx.status(Some(&msg), "idle");
            }
            "history_request" => {
                // Answered at once (jupyter console asks while the session still starts).
                ctx.status(Some(&msg), "busy");
                let history = shared.history().query(&msg.content);
                ctx.reply(
                    Channel::Shell,
                    &msg,
                    "history_reply",
                    json!({"status": "ok", "history": history}),
                );
                ctx.status(Some(&msg), "idle");
            }
            _ => answer_inline(&ctx, Channel::Shell, &msg),
        }
    }
}

async fn control_loop(ctx: Context, mut rx: zeromq::RouterRecvHalf, shared: Arc<Shared>, stop: watch::Sender<Stop>) {
    loop {
        let frames = match rx.recv().await {
            Ok(m) => m.into_vec(),
            Err(e) => {
                eprintln!("born-kernel: control receive error: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Some(msg) = accept(&ctx, Channel::Control, frames) else {
            continue;
        };
        match msg.msg_type() {
            "interrupt_request" => {
                ctx.status(Some(&msg), "busy");
                shared.interrupt();
                ctx.reply(Channel::Control, &msg, "interrupt_reply", json!({"status": "ok"}));
                ctx.status(Some(&msg), "idle");
            }
            "shutdown_request" => {
                // Both a final shutdown and one before a restart end this process:
                // jupyter_client starts a fresh one after a restart (and kills one that stays).
                let restart = msg.bool_field("restart", false);
                ctx.status(Some(&msg), "busy");
                let content = json!({"status": "ok", "restart": restart});
                ctx.reply(Channel::Control, &msg, "shutdown_reply", content.clone());
                ctx.publish(Some(&msg), "shutdown_reply", content);
                ctx.status(Some(&msg), "idle");
                let _ = stop.send(Stop::Shutdown);
                return;
            }
            _ => answer_inline(&ctx, Channel::Control, &msg),
        }
    }
}

/// Requests answered without the evaluator, and unknown ones.
fn answer_inline(ctx: &Context, channel: Channel, msg: &Message) {
    let t = msg.msg_type();
    match t {
        "kernel_info_request" => {
            ctx.status(Some(msg), "busy");
            ctx.reply(channel, msg, "kernel_info_reply", kernel_info());
            ctx.status(Some(msg), "idle");
        }
        "comm_info_request" => {
            ctx.status(Some(msg), "busy");
            ctx.reply(channel, msg, "comm_info_reply", json!({"status": "ok", "comms": {}}));
            ctx.status(Some(msg), "idle");
        }
        "comm_open" => {
            // No comm targets exist: close it at once, as ipykernel does for unknown targets.
            ctx.status(Some(msg), "busy");
            let comm_id = msg.content.get("comm_id").cloned().unwrap_or(Value::Null);
            ctx.publish(Some(msg), "comm_close", json!({"comm_id": comm_id, "data": {}}));
            ctx.status(Some(msg), "idle");
        }
        "comm_msg" | "comm_close" => {}
        _ => {
            eprintln!("born-kernel: unsupported message type {t:?} on {channel:?}");
            ctx.status(Some(msg), "busy");
            if let Some(reply) = reply_type(t) {
                ctx.reply(
                    channel,
                    msg,
                    &reply,
                    error_content("UnsupportedMessage", &format!("{t} is not supported")),
                );
            }
            ctx.status(Some(msg), "idle");
        }
    }
}

/// The `kernel_info_reply` content.
pub fn kernel_info() -> Value {
    json!({
        "status": "ok",
        "protocol_version": PROTOCOL_VERSION,
        "implementation": "born",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "rust",
            "version": rustc_version(),
            "mimetype": "text/rust",
            "file_extension": ".rs",
            "pygments_lexer": "rust",
            "codemirror_mode": "rust",
        },
        "banner": format!(
            "Born {} - Rust cells on the Born tensor engine (evcxr). `:help` lists the commands.",
            env!("CARGO_PKG_VERSION")
        ),
        "help_links": [
            {"text": "Rust standard library", "url": "https://doc.rust-lang.org/std/"},
            {"text": "The Rust book", "url": "https://doc.rust-lang.org/book/"},
            {"text": "evcxr", "url": "https://github.com/evcxr/evcxr"},
        ],
        "debugger": false,
    })
}

/// The version of the `rustc` cells compile with (`rustc --version`, read once).
pub fn rustc_version() -> String {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            std::process::Command::new("rustc")
                .arg("--version")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.split_whitespace().nth(1).map(str::to_string))
                .unwrap_or_else(|| "unknown".into())
        })
        .clone()
}
