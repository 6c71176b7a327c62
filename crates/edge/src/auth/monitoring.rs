//! CloudWatch metrics' operations: the operation from `X-Amz-Target`
//! (`GraniteServiceVersion20100801.*`); they name no resource.

use http::request::Parts;
use nubo_identity::IdentityRegistry;
use nubo_wire::protocol::json::TARGET_HEADER;
use nubo_wire::AwsError;

use super::rest::Matched;
use super::{Asked, Authorizer, Parameters};
use crate::monitoring_api::{OPERATIONS, TARGET_PREFIX};

/// CloudWatch's authorizer.
pub(crate) struct MonitoringAuthorizer;

/// Queries are small.
const BODY_LIMIT: usize = 1024 * 1024;

impl Authorizer for MonitoringAuthorizer {
    fn route(&self, parts: &Parts) -> Option<Matched> {
        let target = parts.headers.get(TARGET_HEADER)?.to_str().ok()?;
        let (prefix, operation) = target.rsplit_once('.')?;
        if prefix != TARGET_PREFIX {
            return None;
        }
        let operation = OPERATIONS.iter().find(|op| **op == operation)?;
        Some(Matched {
            operation,
            labels: Vec::new(),
            body_limit: BODY_LIMIT,
        })
    }

    fn parameters(
        &self,
        _asked: &Asked<'_>,
        _identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError> {
        Ok(Vec::new())
    }
}
