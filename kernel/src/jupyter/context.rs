//! What every part of the kernel needs to send a message: the signer, the kernel's own
//! session id and username, and the queue to the task that owns the sockets.

use super::wire::{Message, Signer, PROTOCOL_VERSION};
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The socket a message leaves on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// Replies to shell requests.
    Shell,
    /// Replies to control requests.
    Control,
    /// Broadcasts (status, streams, displays, results, errors).
    IoPub,
    /// Requests for input (`input_request`), to the client that sent the running cell.
    Stdin,
}

/// An item for the socket-owning task.
pub enum Outgoing {
    /// Encoded frames to send on a channel.
    Frames(Channel, Vec<Bytes>),
    /// Answered once every item queued before it has been handed to its socket.
    Flush(oneshot::Sender<()>),
}

/// Builds, signs and queues outgoing messages. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Context {
    signer: Arc<Signer>,
    session: Arc<str>,
    username: Arc<str>,
    out: mpsc::UnboundedSender<Outgoing>,
}

impl Context {
    /// A context signing with `signer` and queueing to `out`; a fresh session id.
    pub fn new(signer: Signer, out: mpsc::UnboundedSender<Outgoing>) -> Context {
        let username = std::env::var("USER").unwrap_or_else(|_| "born".into());
        Context {
            signer: Arc::new(signer),
            session: uuid::Uuid::new_v4().to_string().into(),
            username: username.into(),
            out,
        }
    }

    /// The signer (for decoding incoming messages).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The kernel's session id (the `session` of every header it sends).
    pub fn session(&self) -> &str {
        &self.session
    }

    /// A fresh header for a message of `msg_type`.
    pub fn header(&self, msg_type: &str) -> Map<String, Value> {
        let date = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        match json!({
            "msg_id": uuid::Uuid::new_v4().to_string(),
            "session": &*self.session,
            "username": &*self.username,
            "date": date,
            "msg_type": msg_type,
            "version": PROTOCOL_VERSION,
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// Sends `msg_type` with `content` on `channel` as the answer to `parent` (routed back to
    /// its sender on shell/control; tagged with its header on iopub).
    pub fn send(&self, channel: Channel, parent: Option<&Message>, msg_type: &str, content: Value) {
        let identities = match (channel, parent) {
            (Channel::IoPub, _) => vec![Bytes::from(format!("kernel.{}.{msg_type}", self.session))],
            (_, Some(p)) => p.identities.clone(),
            (_, None) => return,
        };
        let msg = Message {
            identities,
            header: self.header(msg_type),
            parent_header: parent.map(|p| p.header.clone()).unwrap_or_default(),
            metadata: Map::new(),
            content,
            buffers: vec![],
        };
        // The receiver is gone only while the process exits.
        let _ = self.out.send(Outgoing::Frames(channel, msg.encode(&self.signer)));
    }

    /// Replies to `parent` on `channel`.
    pub fn reply(&self, channel: Channel, parent: &Message, msg_type: &str, content: Value) {
        self.send(channel, Some(parent), msg_type, content);
    }

    /// Publishes on iopub with `parent` as the parent header.
    pub fn publish(&self, parent: Option<&Message>, msg_type: &str, content: Value) {
        self.send(Channel::IoPub, parent, msg_type, content);
    }

    /// Publishes `status` (`busy`, `idle`, `starting`).
    pub fn status(&self, parent: Option<&Message>, state: &str) {
        self.publish(parent, "status", json!({ "execution_state": state }));
    }

    /// Waits until everything queued so far has been handed to the sockets.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.out.send(Outgoing::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// The reply type for a request type (`execute_request` -> `execute_reply`), if it is one.
pub fn reply_type(msg_type: &str) -> Option<String> {
    msg_type.strip_suffix("_request").map(|base| format!("{base}_reply"))
}

/// An error reply's content.
pub fn error_content(ename: &str, evalue: &str) -> Value {
    json!({ "status": "error", "ename": ename, "evalue": evalue, "traceback": [format!("{ename}: {evalue}")] })
}
