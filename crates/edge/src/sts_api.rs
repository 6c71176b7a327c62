//! STS (query protocol, botocore's `sts/2011-06-15`): `GetCallerIdentity` (always allowed, as on
//! AWS) and `AssumeRole`, whose session credentials are sealed tokens ([`nubo_identity::session`])
//! that any signed call may then use.

use std::sync::Arc;

use nubo_identity::policy::ConditionKeys;
use nubo_wire::protocol::query::QueryRequest;
use nubo_wire::xml::XmlWriter;
use nubo_wire::AwsError;
use time::OffsetDateTime;

use crate::auth::sts::StsAuthorizer;
use crate::iam_api::{output, validation, Call, Out};
use crate::registry::{OperationContext, QueryOperations, Service};
use crate::EdgeState;

/// STS's reply namespace.
const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The STS service.
pub(crate) fn service(state: &Arc<EdgeState>) -> Service {
    let identity = state.identity.clone();
    let assume = state.identity.clone();
    let operations = QueryOperations::new(NAMESPACE)
        .operation(
            "GetCallerIdentity",
            move |context: OperationContext, _: QueryRequest| {
                let caller = context.caller.clone();
                let identity = identity.clone();
                async move {
                    let caller = caller.ok_or_else(no_caller)?;
                    let who = identity.get_caller_identity(&caller);
                    output(move |w: &mut XmlWriter| {
                        w.text_element("UserId", &who.user_id)
                            .text_element("Account", &who.account)
                            .text_element("Arn", &who.arn);
                    })
                }
            },
        )
        .operation(
            "AssumeRole",
            move |context: OperationContext, request: QueryRequest| {
                std::future::ready(assume_role(&assume, &context, &request))
            },
        );
    Service::new("sts")
        .query(operations)
        .authorized_by(StsAuthorizer)
}

fn no_caller() -> AwsError {
    AwsError::service("The request reached STS without a verified caller")
}

fn assume_role(
    identity: &nubo_identity::IdentityRegistry,
    context: &OperationContext,
    request: &QueryRequest,
) -> Out {
    let caller = context.caller.as_deref().ok_or_else(no_caller)?;
    let call = Call {
        request,
        caller: Some(caller),
    };
    let duration = call.integer("DurationSeconds")?;
    if duration.is_some_and(|d| d < 900) {
        return Err(validation(format!(
            "1 validation error detected: Value '{}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
            duration.unwrap_or_default()
        )));
    }
    let assumed = identity.assume_role(
        caller,
        call.required("RoleArn")?,
        call.required("RoleSessionName")?,
        duration,
        &ConditionKeys::default(),
        OffsetDateTime::now_utc(),
    )?;
    output(move |w| {
        let credentials = &assumed.credentials;
        w.element("Credentials", |w| {
            w.text_element("AccessKeyId", &credentials.access_key_id)
                .text_element("SecretAccessKey", &credentials.secret_access_key)
                .text_element("SessionToken", &credentials.session_token)
                .text_element(
                    "Expiration",
                    &nubo_wire::timefmt::iso_seconds(credentials.expiration),
                );
        });
        w.element("AssumedRoleUser", |w| {
            w.text_element("AssumedRoleId", &assumed.assumed_role_id)
                .text_element("Arn", &assumed.arn);
        });
    })
}
