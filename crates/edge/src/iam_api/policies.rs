//! Managed policies: customer managed ones with versions, and AWS managed ones (read-only).

use std::sync::Arc;

use nubo_identity::registry::{PolicyInfo, PolicyVersionInfo};
use nubo_identity::IdentityRegistry;
use nubo_wire::xml::XmlWriter;

use super::{date, encoded, members, output, truncation, validation, with, Call, Out, Page};
use crate::registry::QueryOperations;

pub(super) fn register(ops: QueryOperations, id: &Arc<IdentityRegistry>) -> QueryOperations {
    let ops = with(ops, id, "CreatePolicy", create_policy);
    let ops = with(ops, id, "GetPolicy", get_policy);
    let ops = with(ops, id, "ListPolicies", list_policies);
    let ops = with(ops, id, "DeletePolicy", delete_policy);
    let ops = with(ops, id, "GetPolicyVersion", get_policy_version);
    let ops = with(ops, id, "CreatePolicyVersion", create_policy_version);
    let ops = with(ops, id, "ListPolicyVersions", list_policy_versions);
    let ops = with(ops, id, "DeletePolicyVersion", delete_policy_version);
    with(
        ops,
        id,
        "SetDefaultPolicyVersion",
        set_default_policy_version,
    )
}

/// The `Policy` shape (`Description` only where GetPolicy and CreatePolicy give it).
fn policy(w: &mut XmlWriter, policy: &PolicyInfo, with_description: bool) {
    w.text_element("PolicyName", &policy.policy_name)
        .text_element("PolicyId", &policy.policy_id)
        .text_element("Arn", &policy.arn)
        .text_element("Path", &policy.path)
        .text_element("DefaultVersionId", &policy.default_version_id)
        .text_element("AttachmentCount", &policy.attachment_count.to_string())
        .text_element("PermissionsBoundaryUsageCount", "0")
        .text_element("IsAttachable", "true");
    if with_description && !policy.description.is_empty() {
        w.text_element("Description", &policy.description);
    }
    w.text_element("CreateDate", &date(policy.create_date))
        .text_element("UpdateDate", &date(policy.update_date));
}

/// The `PolicyVersion` shape.
fn version(w: &mut XmlWriter, version: &PolicyVersionInfo, with_document: bool) {
    if with_document {
        w.text_element("Document", &encoded(&version.document));
    }
    w.text_element("VersionId", &version.version_id)
        .text_element(
            "IsDefaultVersion",
            if version.is_default { "true" } else { "false" },
        )
        .text_element("CreateDate", &date(version.create_date));
}

fn create_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let created = id.create_policy(
        call.required("PolicyName")?,
        call.optional("Path"),
        call.required("PolicyDocument")?,
        call.optional("Description"),
    )?;
    output(move |w| {
        w.element("Policy", |w| policy(w, &created, true));
    })
}

fn get_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let found = id.get_policy(call.required("PolicyArn")?)?;
    output(move |w| {
        w.element("Policy", |w| policy(w, &found, true));
    })
}

fn list_policies(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let scope = match call.optional("Scope").unwrap_or("All") {
        scope @ ("All" | "AWS" | "Local") => scope,
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
            )))
        }
    };
    let mut found = id.list_policies(scope, call.flag("OnlyAttached")?);
    if let Some(prefix) = call.optional("PathPrefix") {
        found.retain(|p| p.path.starts_with(prefix));
    }
    let page = Page::of(call)?;
    let (found, next) = page.take(found);
    output(move |w| {
        members(w, "Policies", &found, |w, p| policy(w, p, false));
        truncation(w, &next);
    })
}

fn delete_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.delete_policy(call.required("PolicyArn")?)?;
    output(|_| {})
}

fn get_policy_version(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let found = id.get_policy_version(call.required("PolicyArn")?, call.required("VersionId")?)?;
    output(move |w| {
        w.element("PolicyVersion", |w| version(w, &found, true));
    })
}

fn create_policy_version(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let created = id.create_policy_version(
        call.required("PolicyArn")?,
        call.required("PolicyDocument")?,
        call.flag("SetAsDefault")?,
    )?;
    output(move |w| {
        w.element("PolicyVersion", |w| version(w, &created, false));
    })
}

fn list_policy_versions(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let (versions, next) = page.take(id.list_policy_versions(call.required("PolicyArn")?)?);
    output(move |w| {
        members(w, "Versions", &versions, |w, v| version(w, v, false));
        truncation(w, &next);
    })
}

fn delete_policy_version(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.delete_policy_version(call.required("PolicyArn")?, call.required("VersionId")?)?;
    output(|_| {})
}

fn set_default_policy_version(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.set_default_policy_version(call.required("PolicyArn")?, call.required("VersionId")?)?;
    output(|_| {})
}
