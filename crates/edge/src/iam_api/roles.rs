//! Roles: trust policies, inline and attached policies.

use std::sync::Arc;

use nubo_identity::registry::NewRole;
use nubo_identity::IdentityRegistry;

use super::{
    attached, encoded, members, output, policy_names, role, truncation, with, Call, Out, Page,
};
use crate::registry::QueryOperations;

pub(super) fn register(ops: QueryOperations, id: &Arc<IdentityRegistry>) -> QueryOperations {
    let ops = with(ops, id, "CreateRole", create_role);
    let ops = with(ops, id, "GetRole", get_role);
    let ops = with(ops, id, "ListRoles", list_roles);
    let ops = with(ops, id, "DeleteRole", delete_role);
    let ops = with(ops, id, "UpdateAssumeRolePolicy", update_assume_role_policy);
    let ops = with(ops, id, "PutRolePolicy", put_role_policy);
    let ops = with(ops, id, "GetRolePolicy", get_role_policy);
    let ops = with(ops, id, "DeleteRolePolicy", delete_role_policy);
    let ops = with(ops, id, "ListRolePolicies", list_role_policies);
    let ops = with(ops, id, "AttachRolePolicy", attach_role_policy);
    let ops = with(ops, id, "DetachRolePolicy", detach_role_policy);
    with(
        ops,
        id,
        "ListAttachedRolePolicies",
        list_attached_role_policies,
    )
}

fn create_role(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let created = id.create_role(
        call.required("RoleName")?,
        NewRole {
            path: call.optional("Path"),
            trust_policy: call.required("AssumeRolePolicyDocument")?,
            description: call.optional("Description"),
            max_session_duration: call.integer("MaxSessionDuration")?,
        },
    )?;
    output(move |w| {
        w.element("Role", |w| role(w, &created));
    })
}

fn get_role(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let found = id.get_role(call.required("RoleName")?)?;
    output(move |w| {
        w.element("Role", |w| role(w, &found));
    })
}

fn list_roles(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let (roles, next) = page.take(id.list_roles(call.optional("PathPrefix")));
    output(move |w| {
        members(w, "Roles", &roles, role);
        truncation(w, &next);
    })
}

fn delete_role(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.delete_role(call.required("RoleName")?)?;
    output(|_| {})
}

fn update_assume_role_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.update_assume_role_policy(call.required("RoleName")?, call.required("PolicyDocument")?)?;
    output(|_| {})
}

fn put_role_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.put_role_policy(
        call.required("RoleName")?,
        call.required("PolicyName")?,
        call.required("PolicyDocument")?,
    )?;
    output(|_| {})
}

fn get_role_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let role_name = call.required("RoleName")?.to_owned();
    let policy_name = call.required("PolicyName")?.to_owned();
    let document = id.get_role_policy(&role_name, &policy_name)?;
    output(move |w| {
        w.text_element("RoleName", &role_name)
            .text_element("PolicyName", &policy_name)
            .text_element("PolicyDocument", &encoded(&document));
    })
}

fn delete_role_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.delete_role_policy(call.required("RoleName")?, call.required("PolicyName")?)?;
    output(|_| {})
}

fn list_role_policies(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let found = id.get_role(call.required("RoleName")?)?;
    let names: Vec<String> = found.permissions.inline_policies.into_keys().collect();
    let (names, next) = page.take(names);
    output(move |w| {
        policy_names(w, &names);
        truncation(w, &next);
    })
}

fn attach_role_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.attach_role_policy(call.required("RoleName")?, call.required("PolicyArn")?)?;
    output(|_| {})
}

fn detach_role_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.detach_role_policy(call.required("RoleName")?, call.required("PolicyArn")?)?;
    output(|_| {})
}

fn list_attached_role_policies(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let found = id.get_role(call.required("RoleName")?)?;
    let (arns, next) = page.take(found.permissions.attached_policies);
    output(move |w| {
        attached(w, &arns);
        truncation(w, &next);
    })
}
