//! Users, their access keys, and their inline and attached policies.

use std::sync::Arc;

use super::{
    attached, date, encoded, members, output, policy_names, truncation, user, validation, with,
    Call, Out, Page,
};
use crate::registry::QueryOperations;
use nubo_identity::model::KeyStatus;
use nubo_identity::IdentityRegistry;

pub(super) fn register(ops: QueryOperations, id: &Arc<IdentityRegistry>) -> QueryOperations {
    let ops = with(ops, id, "CreateUser", create_user);
    let ops = with(ops, id, "GetUser", get_user);
    let ops = with(ops, id, "ListUsers", list_users);
    let ops = with(ops, id, "DeleteUser", delete_user);
    let ops = with(ops, id, "CreateAccessKey", create_access_key);
    let ops = with(ops, id, "ListAccessKeys", list_access_keys);
    let ops = with(ops, id, "UpdateAccessKey", update_access_key);
    let ops = with(ops, id, "DeleteAccessKey", delete_access_key);
    let ops = with(ops, id, "PutUserPolicy", put_user_policy);
    let ops = with(ops, id, "GetUserPolicy", get_user_policy);
    let ops = with(ops, id, "DeleteUserPolicy", delete_user_policy);
    let ops = with(ops, id, "ListUserPolicies", list_user_policies);
    let ops = with(ops, id, "AttachUserPolicy", attach_user_policy);
    let ops = with(ops, id, "DetachUserPolicy", detach_user_policy);
    with(
        ops,
        id,
        "ListAttachedUserPolicies",
        list_attached_user_policies,
    )
}

fn create_user(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let created = id.create_user(call.required("UserName")?, call.optional("Path"))?;
    output(move |w| {
        w.element("User", |w| user(w, &created));
    })
}

fn get_user(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let found = id.get_user(&call.user_or_caller()?)?;
    output(move |w| {
        w.element("User", |w| user(w, &found));
    })
}

fn list_users(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let (users, next) = page.take(id.list_users(call.optional("PathPrefix")));
    output(move |w| {
        members(w, "Users", &users, user);
        truncation(w, &next);
    })
}

fn delete_user(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.delete_user(call.required("UserName")?)?;
    output(|_| {})
}

fn create_access_key(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let key = id.create_access_key(&call.user_or_caller()?)?;
    output(move |w| {
        w.element("AccessKey", |w| {
            w.text_element("UserName", &key.user_name)
                .text_element("AccessKeyId", &key.access_key_id)
                .text_element("Status", status(key.status))
                .text_element("SecretAccessKey", &key.secret_access_key)
                .text_element("CreateDate", &date(key.create_date));
        });
    })
}

fn status(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Active => "Active",
        KeyStatus::Inactive => "Inactive",
    }
}

fn list_access_keys(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let (keys, next) = page.take(id.list_access_keys(&call.user_or_caller()?)?);
    output(move |w| {
        // The secret never leaves in a listing.
        members(w, "AccessKeyMetadata", &keys, |w, key| {
            w.text_element("UserName", &key.user_name)
                .text_element("AccessKeyId", &key.access_key_id)
                .text_element("Status", status(key.status))
                .text_element("CreateDate", &date(key.create_date));
        });
        truncation(w, &next);
    })
}

fn update_access_key(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let status = match call.required("Status")? {
        "Active" => KeyStatus::Active,
        "Inactive" => KeyStatus::Inactive,
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
            )))
        }
    };
    id.update_access_key(
        &call.user_or_caller()?,
        call.required("AccessKeyId")?,
        status,
    )?;
    output(|_| {})
}

fn delete_access_key(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.delete_access_key(&call.user_or_caller()?, call.required("AccessKeyId")?)?;
    output(|_| {})
}

fn put_user_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.put_user_policy(
        call.required("UserName")?,
        call.required("PolicyName")?,
        call.required("PolicyDocument")?,
    )?;
    output(|_| {})
}

fn get_user_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let user_name = call.required("UserName")?.to_owned();
    let policy_name = call.required("PolicyName")?.to_owned();
    let document = id.get_user_policy(&user_name, &policy_name)?;
    output(move |w| {
        w.text_element("UserName", &user_name)
            .text_element("PolicyName", &policy_name)
            .text_element("PolicyDocument", &encoded(&document));
    })
}

fn delete_user_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.delete_user_policy(call.required("UserName")?, call.required("PolicyName")?)?;
    output(|_| {})
}

fn list_user_policies(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let found = id.get_user(call.required("UserName")?)?;
    let names: Vec<String> = found.permissions.inline_policies.into_keys().collect();
    let (names, next) = page.take(names);
    output(move |w| {
        policy_names(w, &names);
        truncation(w, &next);
    })
}

fn attach_user_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.attach_user_policy(call.required("UserName")?, call.required("PolicyArn")?)?;
    output(|_| {})
}

fn detach_user_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.detach_user_policy(call.required("UserName")?, call.required("PolicyArn")?)?;
    output(|_| {})
}

fn list_attached_user_policies(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let found = id.get_user(call.required("UserName")?)?;
    let (arns, next) = page.take(found.permissions.attached_policies);
    output(move |w| {
        attached(w, &arns);
        truncation(w, &next);
    })
}
