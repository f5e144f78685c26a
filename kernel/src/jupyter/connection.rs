//! The connection file Jupyter writes for a kernel: addresses, ports and the signing key.

use serde::Deserialize;
use std::path::Path;

/// What a connection file holds (extra fields are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct ConnectionInfo {
    /// Address to bind (an IP for tcp; a path prefix for ipc).
    #[serde(default = "default_ip")]
    pub ip: String,
    /// `tcp` (the only transport this kernel binds) or `ipc`.
    #[serde(default = "default_transport")]
    pub transport: String,
    /// Shell ROUTER port.
    pub shell_port: u16,
    /// IOPub PUB port.
    pub iopub_port: u16,
    /// Stdin ROUTER port.
    pub stdin_port: u16,
    /// Control ROUTER port.
    pub control_port: u16,
    /// Heartbeat REP port.
    pub hb_port: u16,
    /// HMAC key; empty disables signing.
    #[serde(default)]
    pub key: String,
    /// `hmac-sha256` (or empty with an empty key).
    #[serde(default = "default_scheme")]
    pub signature_scheme: String,
}

fn default_ip() -> String {
    "127.0.0.1".into()
}
fn default_transport() -> String {
    "tcp".into()
}
fn default_scheme() -> String {
    "hmac-sha256".into()
}

impl ConnectionInfo {
    /// Reads and checks a connection file.
    pub fn read(path: &Path) -> anyhow::Result<ConnectionInfo> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read connection file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| anyhow::anyhow!("connection file {}: {e}", path.display()))
    }

    /// Parses and checks the JSON of a connection file.
    pub fn parse(text: &str) -> anyhow::Result<ConnectionInfo> {
        let info: ConnectionInfo = serde_json::from_str(text)?;
        if info.transport != "tcp" {
            anyhow::bail!("transport {:?} is not supported (only tcp)", info.transport);
        }
        if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
            anyhow::bail!(
                "signature scheme {:?} is not supported (only hmac-sha256)",
                info.signature_scheme
            );
        }
        Ok(info)
    }

    /// The ZeroMQ endpoint for `port` on this connection's address.
    pub fn endpoint(&self, port: u16) -> String {
        if self.ip.contains(':') {
            format!("tcp://[{}]:{port}", self.ip)
        } else {
            format!("tcp://{}:{port}", self.ip)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jupyter_client_file() {
        let text = r#"{"shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003, "control_port": 5004,
            "hb_port": 5005, "ip": "127.0.0.1", "key": "abc", "transport": "tcp",
            "signature_scheme": "hmac-sha256", "kernel_name": "born"}"#;
        let c = ConnectionInfo::parse(text).unwrap();
        assert_eq!(c.endpoint(c.shell_port), "tcp://127.0.0.1:5001");
        assert_eq!(c.key, "abc");
        assert!(ConnectionInfo::parse(&text.replace("\"tcp\"", "\"ipc\"")).is_err());
        assert!(ConnectionInfo::parse(&text.replace("hmac-sha256", "hmac-md5")).is_err());
        assert!(ConnectionInfo::parse("{").is_err());
    }
}
