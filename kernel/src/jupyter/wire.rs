//! The Jupyter wire format: multipart ZeroMQ frames and their HMAC-SHA256 signature.
//!
//! A message on the wire is
//! `[identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...]`.
//! The signature is the lowercase hex HMAC-SHA256 (keyed with the connection file's `key`)
//! of the four JSON frames concatenated. An empty key disables signing (the signature frame
//! is then empty), as the messaging spec allows.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use std::fmt;

/// The frame separating routing identities from the message.
pub const DELIMITER: &[u8] = b"<IDS|MSG>";

/// The protocol version the kernel speaks, put in every header.
pub const PROTOCOL_VERSION: &str = "5.3";

type HmacSha256 = Hmac<Sha256>;

/// Signs outgoing messages and checks incoming ones with the connection's key.
#[derive(Clone)]
pub struct Signer {
    mac: Option<HmacSha256>,
}

impl Signer {
    /// A signer for `key` (the connection file's key, as bytes); an empty key signs nothing.
    /// Only the scheme `hmac-sha256` exists in practice; the caller rejects others.
    pub fn new(key: &[u8]) -> Signer {
        let mac = if key.is_empty() {
            None
        } else {
            Some(HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length"))
        };
        Signer { mac }
    }

    /// Whether messages are signed (the key is not empty).
    pub fn enabled(&self) -> bool {
        self.mac.is_some()
    }

    /// The hex signature of the four JSON frames (empty when signing is off).
    pub fn sign(&self, parts: [&[u8]; 4]) -> String {
        match &self.mac {
            None => String::new(),
            Some(mac) => {
                let mut mac = mac.clone();
                for p in parts {
                    mac.update(p);
                }
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }

    /// Checks `signature` (hex, as received) against the four frames, in constant time.
    /// With signing off, only an empty signature is accepted.
    pub fn verify(&self, signature: &[u8], parts: [&[u8]; 4]) -> bool {
        match &self.mac {
            None => signature.is_empty(),
            Some(mac) => {
                let Ok(expected) = hex::decode(signature) else {
                    return false;
                };
                let mut mac = mac.clone();
                for p in parts {
                    mac.update(p);
                }
                // `verify_slice` compares in constant time (and rejects a wrong length).
                mac.verify_slice(&expected).is_ok()
            }
        }
    }
}

/// A decoded message (or one to encode).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Routing identities (ROUTER sockets), or the topic (IOPub), before the delimiter.
    pub identities: Vec<Bytes>,
    /// `msg_id`, `session`, `username`, `date`, `msg_type`, `version`.
    pub header: Map<String, Value>,
    /// The header of the request this message answers (`{}` for none).
    pub parent_header: Map<String, Value>,
    /// Message metadata (`{}` usually).
    pub metadata: Map<String, Value>,
    /// The message type's content.
    pub content: Value,
    /// Extra binary buffers after the content frame.
    pub buffers: Vec<Bytes>,
}

impl Message {
    /// The header's `msg_type` (empty if missing).
    pub fn msg_type(&self) -> &str {
        self.header.get("msg_type").and_then(Value::as_str).unwrap_or("")
    }

    /// The header's `msg_id` (empty if missing).
    pub fn msg_id(&self) -> &str {
        self.header.get("msg_id").and_then(Value::as_str).unwrap_or("")
    }

    /// A string field of the content, if present.
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.content.get(key).and_then(Value::as_str)
    }

    /// A boolean field of the content, or `default`.
    pub fn bool_field(&self, key: &str, default: bool) -> bool {
        self.content.get(key).and_then(Value::as_bool).unwrap_or(default)
    }

    /// Encodes into frames: identities, delimiter, signature, the four JSON frames, buffers.
    pub fn encode(&self, signer: &Signer) -> Vec<Bytes> {
        let header = to_json(&self.header);
        let parent = to_json(&self.parent_header);
        let metadata = to_json(&self.metadata);
        let content = serde_json::to_vec(&self.content).unwrap_or_else(|_| b"{}".to_vec());
        let signature = signer.sign([&header, &parent, &metadata, &content]);
        let mut frames = Vec::with_capacity(self.identities.len() + 6 + self.buffers.len());
        frames.extend(self.identities.iter().cloned());
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(signature.into_bytes()));
        frames.push(Bytes::from(header));
        frames.push(Bytes::from(parent));
        frames.push(Bytes::from(metadata));
        frames.push(Bytes::from(content));
        frames.extend(self.buffers.iter().cloned());
        frames
    }
}

fn to_json(map: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(map).unwrap_or_else(|_| b"{}".to_vec())
}

/// Why incoming frames were not accepted as a message.
#[derive(Debug)]
pub enum DecodeError {
    /// No `<IDS|MSG>` frame, or fewer than the five frames after it.
    Framing(String),
    /// The signature does not match: the message is dropped unread.
    Signature,
    /// Signed correctly, but a frame is not the JSON object it should be. `header` is set when
    /// the header itself parsed (so an error reply can still be addressed).
    Json {
        /// Routing identities, for a reply.
        identities: Vec<Bytes>,
        /// The header, when it parsed.
        header: Option<Map<String, Value>>,
        /// What was wrong.
        reason: String,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Framing(s) => write!(f, "bad framing: {s}"),
            DecodeError::Signature => write!(f, "invalid or missing HMAC signature"),
            DecodeError::Json { reason, .. } => write!(f, "malformed message: {reason}"),
        }
    }
}

/// Decodes frames received on a socket, verifying the signature before parsing any JSON.
pub fn decode(frames: Vec<Bytes>, signer: &Signer) -> Result<Message, DecodeError> {
    let Some(delim) = frames.iter().position(|f| f.as_ref() == DELIMITER) else {
        return Err(DecodeError::Framing(format!(
            "no <IDS|MSG> delimiter in {} frames",
            frames.len()
        )));
    };
    if frames.len() < delim + 6 {
        return Err(DecodeError::Framing(format!(
            "{} frames after the delimiter, need 5",
            frames.len() - delim - 1
        )));
    }
    let mut rest = frames.into_iter();
    let identities: Vec<Bytes> = rest.by_ref().take(delim).collect();
    rest.next(); // delimiter
    let signature = rest.next().unwrap_or_default();
    let header = rest.next().unwrap_or_default();
    let parent = rest.next().unwrap_or_default();
    let metadata = rest.next().unwrap_or_default();
    let content = rest.next().unwrap_or_default();
    let buffers: Vec<Bytes> = rest.collect();
    if !signer.verify(&signature, [&header, &parent, &metadata, &content]) {
        return Err(DecodeError::Signature);
    }
    let header = match parse_object(&header, "header") {
        Ok(h) => h,
        Err(reason) => {
            return Err(DecodeError::Json {
                identities,
                header: None,
                reason,
            })
        }
    };
    let parsed = parse_object(&parent, "parent_header").and_then(|p| {
        let m = parse_object(&metadata, "metadata")?;
        let c = parse_object(&content, "content")?;
        Ok((p, m, c))
    });
    match parsed {
        Ok((parent_header, metadata, content)) => Ok(Message {
            identities,
            header,
            parent_header,
            metadata,
            content: Value::Object(content),
            buffers,
        }),
        Err(reason) => Err(DecodeError::Json {
            identities,
            header: Some(header),
            reason,
        }),
    }
}

fn parse_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("{what} is not a JSON object")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts() -> [&'static [u8]; 4] {
        [b"{\"a\":1}", b"{}", b"{}", b"{\"code\":\"1\"}"]
    }

    #[test]
    fn rfc4231_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let s = Signer::new(b"Jefe");
        let sig = s.sign([b"what do ya ", b"want ", b"for nothing?", b""]);
        assert_eq!(sig, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(s.verify(sig.as_bytes(), [b"what do ya want for nothing?", b"", b"", b""]));
    }

    #[test]
    fn python_vector() {
        let s = Signer::new(b"secret-key");
        let sig = s.sign(parts());
        assert_eq!(sig, GOLDEN_PY);
        assert!(s.verify(GOLDEN_PY.as_bytes(), parts()));
        assert!(!Signer::new(b"secret-kez").verify(GOLDEN_PY.as_bytes(), parts()));
    }

    // Golden vector computed with Python:
    // hmac.new(b"secret-key", b'{"a":1}{}{}{"code":"1"}', hashlib.sha256).hexdigest()
    const GOLDEN_PY: &str = "cf91902d477e8b9a31e8154a9f781c352fd929b750ed1763608ba4c2d4a5c996";

    #[test]
    fn forged_and_unsigned_are_rejected() {
        let s = Signer::new(b"k");
        let sig = s.sign(parts());
        assert!(s.verify(sig.as_bytes(), parts()));
        assert!(
            s.verify(sig.to_uppercase().as_bytes(), parts()),
            "hex case does not matter"
        );
        assert!(!s.verify(b"", parts()));
        assert!(!s.verify(b"zz", parts()));
        assert!(!s.verify(&sig.as_bytes()[..62], parts()));
        let mut bad = sig.clone().into_bytes();
        bad[0] = if bad[0] == b'0' { b'1' } else { b'0' };
        assert!(!s.verify(&bad, parts()));
        assert!(!s.verify(sig.as_bytes(), [b"{\"a\":2}", b"{}", b"{}", b"{\"code\":\"1\"}"]));
        let off = Signer::new(b"");
        assert!(!off.enabled());
        assert_eq!(off.sign(parts()), "");
        assert!(off.verify(b"", parts()));
        assert!(!off.verify(sig.as_bytes(), parts()));
    }

    fn sample() -> Message {
        Message {
            identities: vec![Bytes::from_static(b"peer-1"), Bytes::from_static(b"peer-2")],
            header: json!({"msg_id": "m1", "msg_type": "execute_request", "session": "s", "username": "u",
                "date": "2024-01-01T00:00:00Z", "version": "5.3"})
            .as_object()
            .unwrap()
            .clone(),
            parent_header: Map::new(),
            metadata: Map::new(),
            content: json!({"code": "1 + 2", "silent": false}),
            buffers: vec![Bytes::from_static(b"\x00\x01binary")],
        }
    }

    #[test]
    fn round_trip() {
        let s = Signer::new(b"key");
        let m = sample();
        let frames = m.encode(&s);
        assert_eq!(frames[2].as_ref(), DELIMITER);
        assert_eq!(frames.len(), 2 + 6 + 1);
        let back = decode(frames, &s).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.msg_type(), "execute_request");
        assert_eq!(back.msg_id(), "m1");
        assert_eq!(back.str_field("code"), Some("1 + 2"));
        assert!(!back.bool_field("silent", true));
        assert!(back.bool_field("store_history", true));
    }

    #[test]
    fn wrong_key_is_signature_error() {
        let frames = sample().encode(&Signer::new(b"key"));
        assert!(matches!(
            decode(frames.clone(), &Signer::new(b"other")),
            Err(DecodeError::Signature)
        ));
        // Unsigned message to a signing kernel.
        let unsigned = sample().encode(&Signer::new(b""));
        assert!(matches!(
            decode(unsigned, &Signer::new(b"key")),
            Err(DecodeError::Signature)
        ));
        // Tampered content, original signature.
        let mut t = frames;
        t[6] = Bytes::from_static(b"{\"code\":\"evil\"}");
        assert!(matches!(decode(t, &Signer::new(b"key")), Err(DecodeError::Signature)));
    }

    #[test]
    fn framing_and_json_errors() {
        let s = Signer::new(b"key");
        assert!(matches!(
            decode(vec![Bytes::from_static(b"x")], &s),
            Err(DecodeError::Framing(_))
        ));
        let short = vec![Bytes::from_static(DELIMITER), Bytes::new(), Bytes::from_static(b"{}")];
        assert!(matches!(decode(short, &s), Err(DecodeError::Framing(_))));
        // Correctly signed, invalid JSON content (and invalid UTF-8).
        let header = br#"{"msg_id":"x","msg_type":"execute_request"}"#;
        let content: &[u8] = b"{\"code\":\"\xff\xfe\"}";
        let sig = s.sign([header, b"{}", b"{}", content]);
        let frames = vec![
            Bytes::from_static(b"id"),
            Bytes::from_static(DELIMITER),
            Bytes::from(sig),
            Bytes::from_static(header),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::copy_from_slice(content),
        ];
        match decode(frames, &s) {
            Err(DecodeError::Json {
                identities,
                header: Some(h),
                ..
            }) => {
                assert_eq!(identities.len(), 1);
                assert_eq!(h["msg_id"], "x");
            }
            other => panic!("{other:?}"),
        }
        // Header that is not an object.
        let sig = s.sign([b"[]", b"{}", b"{}", b"{}"]);
        let frames = vec![
            Bytes::from_static(DELIMITER),
            Bytes::from(sig),
            Bytes::from_static(b"[]"),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
            Bytes::from_static(b"{}"),
        ];
        assert!(matches!(
            decode(frames, &s),
            Err(DecodeError::Json { header: None, .. })
        ));
    }
}
