//! Receipt handles: which message, and which receive of it. Each receive makes a new handle, so
//! the handle of an earlier receive can no longer change or delete a message another consumer
//! holds now; the nonce is the receive count, so handles survive a restart (SQS: "the request succeeds, but the message might not be deleted").

use base64::Engine as _;

use crate::QueueError;

/// A decoded receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The message id.
    pub message_id: String,
    /// The receive it came from.
    pub nonce: u64,
}

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const TAG: &str = "nubo1";

impl Receipt {
    /// The handle clients see.
    pub fn encode(&self) -> String {
        ENGINE.encode(format!("{TAG}:{}:{:016x}", self.message_id, self.nonce))
    }

    /// Reads a handle back; anything we did not mint is `ReceiptHandleIsInvalid`.
    pub fn decode(handle: &str) -> Result<Self, QueueError> {
        let invalid = || QueueError::ReceiptHandleIsInvalid(handle.to_owned());
        let bytes = ENGINE.decode(handle.trim()).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = text.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(TAG), Some(id), Some(nonce), None) if !id.is_empty() => Ok(Self {
                message_id: id.to_owned(),
                nonce: u64::from_str_radix(nonce, 16).map_err(|_| invalid())?,
            }),
            _ => Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let receipt = Receipt {
            message_id: "5fea7756-0ea4-451a-a703-a558b933e274".into(),
            nonce: 42,
        };
        assert_eq!(Receipt::decode(&receipt.encode()).unwrap(), receipt);
        for bad in ["", "bogus", "AQEB", &ENGINE.encode("x:y:z")] {
            assert_eq!(
                Receipt::decode(bad).unwrap_err(),
                QueueError::ReceiptHandleIsInvalid(bad.to_owned())
            );
        }
    }
}
