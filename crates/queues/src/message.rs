//! Messages: their attributes (checked with SQS's rules), the digests SQS returns
//! (`MD5OfMessageBody`, `MD5OfMessageAttributes`) and the bytes a message is stored as — a JSON
//! header line (attributes, group, deduplication id, sequence number, sender) and the body.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::md5::{to_hex, Md5};
use crate::QueueError;

/// One message attribute as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, optionally with a `.custom` suffix.
    #[serde(rename = "t")]
    pub data_type: String,
    /// For `String` and `Number` types.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// For `Binary` types (base64 in the stored header).
    #[serde(
        rename = "b",
        default,
        skip_serializing_if = "Option::is_none",
        with = "base64_bytes"
    )]
    pub binary_value: Option<Vec<u8>>,
}

/// Attributes by name (sorted, as the digest wants them).
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => {
                serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        text.map(|t| {
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

impl MessageAttribute {
    /// The value's bytes and the digest's transport byte (1 string/number, 2 binary).
    fn value_bytes(&self) -> (u8, &[u8]) {
        if self.data_type.starts_with("Binary") {
            (2, self.binary_value.as_deref().unwrap_or_default())
        } else {
            (
                1,
                self.string_value.as_deref().unwrap_or_default().as_bytes(),
            )
        }
    }

    /// What the attribute adds to a message's size: name, type and value.
    fn size(&self, name: &str) -> usize {
        name.len() + self.data_type.len() + self.value_bytes().1.len()
    }
}

/// `MD5OfMessageAttributes`: for each attribute in name order, the name, the data type (each as
/// a 4-byte big-endian length and UTF-8 bytes), the transport byte and the value (length and
/// bytes), all digested together. `None` without attributes.
pub fn attributes_md5(attributes: &MessageAttributes) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    fn field(md5: &mut Md5, bytes: &[u8]) {
        md5.update(&(bytes.len() as u32).to_be_bytes());
        md5.update(bytes);
    }
    let mut md5 = Md5::new();
    for (name, attribute) in attributes {
        field(&mut md5, name.as_bytes());
        field(&mut md5, attribute.data_type.as_bytes());
        let (transport, value) = attribute.value_bytes();
        md5.update(&[transport]);
        field(&mut md5, value);
    }
    Some(to_hex(&md5.finish()))
}

/// `MD5OfMessageBody`.
pub fn body_md5(body: &str) -> String {
    crate::md5::hex(body.as_bytes())
}

/// Checks a message's attributes (SQS's rules and texts).
pub fn check_attributes(attributes: &MessageAttributes) -> Result<(), QueueError> {
    if attributes.len() > 10 {
        return Err(QueueError::InvalidParameterValue(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attributes.len()
        )));
    }
    for (name, attribute) in attributes {
        check_attribute_name(name)?;
        let base = attribute.data_type.split('.').next().unwrap_or("");
        let custom_ok = attribute
            .data_type
            .get(base.len()..)
            .is_some_and(|rest| rest.is_empty() || (rest.len() > 1 && rest.len() <= 257));
        if !matches!(base, "String" | "Number" | "Binary") || !custom_ok {
            return Err(QueueError::InvalidParameterValue(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        let empty = || {
            QueueError::InvalidParameterValue(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
            ))
        };
        match base {
            "Binary" => {
                if attribute.binary_value.as_ref().is_none_or(Vec::is_empty) {
                    return Err(empty());
                }
            }
            _ => {
                let value = attribute
                    .string_value
                    .as_deref()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(empty)?;
                if base == "Number" && !is_number(value) {
                    return Err(QueueError::InvalidParameterValue(format!(
                        "Can't cast the value of message (user) attribute '{name}' to a number."
                    )));
                }
                check_characters(value)?;
            }
        }
    }
    Ok(())
}

fn is_number(value: &str) -> bool {
    value.trim().parse::<f64>().is_ok_and(f64::is_finite)
}

fn check_attribute_name(name: &str) -> Result<(), QueueError> {
    let lower = name.to_ascii_lowercase();
    let reserved = lower.starts_with("aws.") || lower.starts_with("amazon.");
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if name.is_empty()
        || name.len() > 256
        || !chars_ok
        || reserved
        || name.starts_with('.')
        || name.ends_with('.')
        || name.contains("..")
    {
        return Err(QueueError::InvalidParameterValue(format!(
            "Message (user) attribute name '{name}' is invalid. Names can only include alphanumeric characters, hyphens, underscores, or dots, must not start or end with a dot or contain two dots in a row, must not start with 'AWS.' or 'Amazon.' and must be 1 to 256 characters long."
        )));
    }
    Ok(())
}

/// SQS accepts #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
pub fn check_characters(text: &str) -> Result<(), QueueError> {
    let allowed = |c: char| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}');
    if text.chars().all(allowed) {
        Ok(())
    } else {
        Err(QueueError::InvalidMessageContents(
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
                .into(),
        ))
    }
}

/// A message's size as SQS counts it against `MaximumMessageSize`: body and attributes.
pub fn message_size(body: &str, attributes: &MessageAttributes) -> usize {
    body.len()
        + attributes
            .iter()
            .map(|(name, a)| a.size(name))
            .sum::<usize>()
}

/// A message as held in memory and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContent {
    /// The body.
    pub body: String,
    /// User attributes.
    pub attributes: MessageAttributes,
    /// FIFO (or fair-queue) message group.
    pub group: Option<String>,
    /// FIFO deduplication id (explicit or the body's SHA-256).
    pub deduplication_id: Option<String>,
    /// FIFO sequence number.
    pub sequence: Option<u64>,
    /// Who sent it (`SenderId`).
    pub sender: String,
    /// `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
    /// `MD5OfMessageBody`.
    pub body_md5: String,
    /// `MD5OfMessageAttributes`.
    pub attributes_md5: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    a: MessageAttributes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    g: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<u64>,
    #[serde(default)]
    s: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
}

impl MessageContent {
    /// A message with its digests computed.
    pub fn new(body: String, attributes: MessageAttributes, sender: String) -> Self {
        Self {
            body_md5: body_md5(&body),
            attributes_md5: attributes_md5(&attributes),
            body,
            attributes,
            group: None,
            deduplication_id: None,
            sequence: None,
            sender,
            trace_header: None,
        }
    }

    /// The stored bytes: a header line, then the body.
    pub fn encode(&self) -> Vec<u8> {
        let header = Header {
            a: self.attributes.clone(),
            g: self.group.clone(),
            d: self.deduplication_id.clone(),
            q: self.sequence,
            s: self.sender.clone(),
            t: self.trace_header.clone(),
        };
        let mut out = serde_json::to_vec(&header).unwrap_or_else(|_| b"{}".to_vec());
        out.push(b'\n');
        out.extend_from_slice(self.body.as_bytes());
        out
    }

    /// Reads stored bytes back (`None` if they are not a message this module wrote).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let split = bytes.iter().position(|b| *b == b'\n')?;
        let header: Header = serde_json::from_slice(&bytes[..split]).ok()?;
        let body = String::from_utf8(bytes[split + 1..].to_vec()).ok()?;
        let mut content = Self::new(body, header.a, header.s);
        content.group = header.g;
        content.deduplication_id = header.d;
        content.sequence = header.q;
        content.trace_header = header.t;
        Some(content)
    }
}

/// A shared, immutable message content.
pub type SharedContent = Arc<MessageContent>;

/// The content-based deduplication id: the body's SHA-256, hex (SQS ignores attributes).
pub fn content_deduplication_id(body: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(body.as_bytes()))
}

/// Base64 for binary attribute values on the wire.
pub fn encode_binary(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(value: &str) -> MessageAttribute {
        MessageAttribute {
            data_type: "String".into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    #[test]
    fn attributes_digest_matches_aws() {
        let mut attributes = MessageAttributes::new();
        attributes.insert("Priority".into(), string("high"));
        // The algorithm of SQS's developer guide, computed independently (Python's hashlib).
        let digest = attributes_md5(&attributes).unwrap();
        assert_eq!(digest, "ba45f2e3cd1c9375b4385e020277bffc");
        assert_eq!(attributes_md5(&MessageAttributes::new()), None);
        // Order-independent input (a BTreeMap), order-dependent digest: adding changes it.
        attributes.insert("A".into(), string("x"));
        assert_ne!(attributes_md5(&attributes).unwrap(), digest);
    }

    #[test]
    fn encode_decode_round_trip() {
        let mut attributes = MessageAttributes::new();
        attributes.insert(
            "bin".into(),
            MessageAttribute {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(vec![0, 1, 2, 255]),
            },
        );
        let mut content = MessageContent::new("hé\nllo".into(), attributes, "AIDA".into());
        content.group = Some("g".into());
        content.sequence = Some(7);
        let back = MessageContent::decode(&content.encode()).unwrap();
        assert_eq!(back, content);
    }

    #[test]
    fn attribute_rules() {
        let mut attributes = MessageAttributes::new();
        attributes.insert(
            "n".into(),
            MessageAttribute {
                data_type: "Number".into(),
                string_value: Some("abc".into()),
                binary_value: None,
            },
        );
        assert!(check_attributes(&attributes).is_err());
        attributes.insert(
            "n".into(),
            MessageAttribute {
                data_type: "Number.int".into(),
                string_value: Some("12".into()),
                binary_value: None,
            },
        );
        assert!(check_attributes(&attributes).is_ok());
        attributes.insert("AWS.x".into(), string("v"));
        assert!(check_attributes(&attributes).is_err());
        assert!(check_characters("ok\t").is_ok());
        assert!(check_characters("bad\u{1}").is_err());
    }
}
