//! S3's operations by addressing, method, subresource and `x-amz-copy-source`
//! (`s3_api::operations`, shared with the handlers), and the parameters of its table: `Bucket`,
//! `Key`, and a copy's `SourceBucket`/`SourceKey`. DeleteObjects names its keys in the body:
//! `s3:DeleteObject` is checked on each after the table's (empty) rule.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::request::Parts;
use nubo_identity::policy::{parse_resource_policy, Policy};
use nubo_identity::IdentityRegistry;
use nubo_objects::ObjectStore;
use nubo_wire::AwsError;
use time::OffsetDateTime;

use super::rest::{Matched, STREAMED};
use super::{condition_keys, Asked, Authorizer, Parameters};
use crate::s3_api::operations::{self, XML_BODY_LIMIT};

/// S3's authorizer: the bucket's policy is the resource policy of every request to it.
pub(crate) struct S3Authorizer {
    objects: Arc<ObjectStore>,
    /// Bucket policies as parsed, by bucket, with the text they were parsed from (a changed
    /// policy is parsed again on its first use; the request path parses nothing otherwise).
    policies: Mutex<HashMap<String, (String, Arc<Policy>)>>,
}

impl S3Authorizer {
    pub(crate) fn new(objects: Arc<ObjectStore>) -> Self {
        Self {
            objects,
            policies: Mutex::new(HashMap::new()),
        }
    }
}

impl Authorizer for S3Authorizer {
    fn route(&self, parts: &Parts) -> Option<Matched> {
        let address = operations::address(parts);
        let operation = operations::operation(parts, &address)?;
        let mut labels = Vec::new();
        if let Some(bucket) = address.bucket {
            labels.push(("Bucket", bucket));
        }
        if let Some(key) = address.key {
            labels.push(("Key", key));
        }
        if let Some((bucket, key)) = operations::copy_source(parts) {
            labels.push(("SourceBucket", bucket));
            labels.push(("SourceKey", key));
        }
        Some(Matched {
            operation,
            labels,
            body_limit: if operations::streams_body(operation) {
                STREAMED
            } else {
                XML_BODY_LIMIT
            },
        })
    }

    fn parameters(
        &self,
        asked: &Asked<'_>,
        _identity: &IdentityRegistry,
    ) -> Result<Parameters, AwsError> {
        Ok(asked
            .labels
            .iter()
            .map(|(name, value)| (*name, value.clone()))
            .collect())
    }

    fn resource_policy(
        &self,
        asked: &Asked<'_>,
        _parameters: &Parameters,
        _identity: &IdentityRegistry,
    ) -> Option<Arc<Policy>> {
        let bucket = self.objects.bucket(asked.label("Bucket")?).ok()?;
        let text = bucket.policy.as_deref()?;
        let mut cache = self.policies.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached, policy)) = cache.get(&bucket.name) {
            if cached == text {
                return Some(policy.clone());
            }
        }
        let policy = Arc::new(parse_resource_policy(text).ok()?);
        cache.insert(bucket.name.clone(), (text.to_owned(), policy.clone()));
        Some(policy)
    }

    fn after_authorization(
        &self,
        asked: &Asked<'_>,
        parameters: &Parameters,
        identity: &IdentityRegistry,
        now: OffsetDateTime,
    ) -> Result<(), AwsError> {
        if asked.operation != "DeleteObjects" {
            return Ok(());
        }
        let bucket = asked.label("Bucket").unwrap_or_default();
        // A body that does not parse is the handler's MalformedXML; nothing to authorize.
        let Ok(document) = nubo_wire::xml::XmlElement::parse(asked.body) else {
            return Ok(());
        };
        let keys = condition_keys(asked.parts, asked.scope);
        let policy = self.resource_policy(asked, parameters, identity);
        for object in document.children_named("Object") {
            let key = object.child_text("Key").unwrap_or_default();
            asked
                .caller
                .authorize(
                    "s3:DeleteObject",
                    &format!("arn:aws:s3:::{bucket}/{key}"),
                    policy.as_deref(),
                    None,
                    &keys,
                    now,
                )
                .map_err(|denied| denied.to_aws_error(nubo_wire::sigv4::AuthFamily::S3))?;
        }
        Ok(())
    }
}
