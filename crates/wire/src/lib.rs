//! AWS wire details shared by every Nubo service.
//!
//! This crate owns what a request and a response look like on the wire, independent of any service:
//! the error envelope ([`AwsError`]) and per-service error tables ([`error_table!`]), the four
//! protocols AWS services speak ([`protocol`]: rest-json, json, query, rest-xml — decoding requests,
//! encoding replies and errors), XML ([`xml`]), ARNs and function references ([`arn`]), Lambda's typed names ([`names`]), AWS's
//! model-constraint errors built in one place ([`validation`]), request ids, timestamps in AWS's
//! formats, and Signature Version 4 (parsing the credential scope for dispatch, and signing for
//! Nubo's own CLI). It deliberately knows nothing about functions, stores or HTTP servers: replies
//! are plain `http::Response<Bytes>` values the edge hands to its server.

pub mod arn;
pub mod error;
pub mod names;
pub mod protocol;
pub mod sigv2;
pub mod sigv4;
pub mod timefmt;
pub mod validation;
pub mod xml;

pub use error::{AwsError, ErrorBody};
pub use names::{AliasName, FunctionName, Qualifier, QualifierKind, LATEST};
pub use protocol::Protocol;
pub use validation::{Violation, Violations};

// For `error_table!` expansions in crates that do not depend on `http` themselves.
#[doc(hidden)]
pub use http as __http;

/// Mints a request id as AWS does: a random UUID, minted at ingress.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The account and region a resource lives in, and a request acts in: AWS scopes every Lambda
/// function, API and queue by both. The server's configured default (`--region`, the default account)
/// is one `Scope`; a signed request's own scope comes from its credential (region) and, once access
/// keys map to accounts, its key (account).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Region in ARNs and environment variables, e.g. `us-east-1`.
    pub region: String,
    /// Twelve-digit account id in ARNs.
    pub account_id: String,
}

impl Default for Scope {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        }
    }
}
