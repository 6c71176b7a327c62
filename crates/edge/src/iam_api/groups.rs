//! Groups: membership, and policies every member gets.

use std::sync::Arc;

use nubo_identity::IdentityRegistry;

use super::{
    attached, encoded, group, members, output, policy_names, truncation, user, with, Call, Out,
    Page,
};
use crate::registry::QueryOperations;

pub(super) fn register(ops: QueryOperations, id: &Arc<IdentityRegistry>) -> QueryOperations {
    let ops = with(ops, id, "CreateGroup", create_group);
    let ops = with(ops, id, "GetGroup", get_group);
    let ops = with(ops, id, "ListGroups", list_groups);
    let ops = with(ops, id, "DeleteGroup", delete_group);
    let ops = with(ops, id, "AddUserToGroup", add_user_to_group);
    let ops = with(ops, id, "RemoveUserFromGroup", remove_user_from_group);
    let ops = with(ops, id, "ListGroupsForUser", list_groups_for_user);
    let ops = with(ops, id, "PutGroupPolicy", put_group_policy);
    let ops = with(ops, id, "GetGroupPolicy", get_group_policy);
    let ops = with(ops, id, "DeleteGroupPolicy", delete_group_policy);
    let ops = with(ops, id, "ListGroupPolicies", list_group_policies);
    let ops = with(ops, id, "AttachGroupPolicy", attach_group_policy);
    let ops = with(ops, id, "DetachGroupPolicy", detach_group_policy);
    with(
        ops,
        id,
        "ListAttachedGroupPolicies",
        list_attached_group_policies,
    )
}

fn create_group(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let created = id.create_group(call.required("GroupName")?, call.optional("Path"))?;
    output(move |w| {
        w.element("Group", |w| group(w, &created));
    })
}

fn get_group(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let (found, users) = id.get_group(call.required("GroupName")?)?;
    let (users, next) = page.take(users);
    output(move |w| {
        w.element("Group", |w| group(w, &found));
        members(w, "Users", &users, user);
        truncation(w, &next);
    })
}

fn list_groups(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let (groups, next) = page.take(id.list_groups(call.optional("PathPrefix")));
    output(move |w| {
        members(w, "Groups", &groups, group);
        truncation(w, &next);
    })
}

fn delete_group(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.delete_group(call.required("GroupName")?)?;
    output(|_| {})
}

fn add_user_to_group(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.add_user_to_group(call.required("GroupName")?, call.required("UserName")?)?;
    output(|_| {})
}

fn remove_user_from_group(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.remove_user_from_group(call.required("GroupName")?, call.required("UserName")?)?;
    output(|_| {})
}

fn list_groups_for_user(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let member = id.get_user(call.required("UserName")?)?;
    let groups: Vec<_> = member
        .groups
        .iter()
        .filter_map(|name| id.get_group(name).ok().map(|(g, _)| g))
        .collect();
    let (groups, next) = page.take(groups);
    output(move |w| {
        members(w, "Groups", &groups, group);
        truncation(w, &next);
    })
}

fn put_group_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.put_group_policy(
        call.required("GroupName")?,
        call.required("PolicyName")?,
        call.required("PolicyDocument")?,
    )?;
    output(|_| {})
}

fn get_group_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let group_name = call.required("GroupName")?.to_owned();
    let policy_name = call.required("PolicyName")?.to_owned();
    let document = id.get_group_policy(&group_name, &policy_name)?;
    output(move |w| {
        w.text_element("GroupName", &group_name)
            .text_element("PolicyName", &policy_name)
            .text_element("PolicyDocument", &encoded(&document));
    })
}

fn delete_group_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.delete_group_policy(call.required("GroupName")?, call.required("PolicyName")?)?;
    output(|_| {})
}

fn list_group_policies(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let (found, _) = id.get_group(call.required("GroupName")?)?;
    let names: Vec<String> = found.permissions.inline_policies.into_keys().collect();
    let (names, next) = page.take(names);
    output(move |w| {
        policy_names(w, &names);
        truncation(w, &next);
    })
}

fn attach_group_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.attach_group_policy(call.required("GroupName")?, call.required("PolicyArn")?)?;
    output(|_| {})
}

fn detach_group_policy(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    id.detach_group_policy(call.required("GroupName")?, call.required("PolicyArn")?)?;
    output(|_| {})
}

fn list_attached_group_policies(id: &IdentityRegistry, call: &Call<'_>) -> Out {
    let page = Page::of(call)?;
    let (found, _) = id.get_group(call.required("GroupName")?)?;
    let (arns, next) = page.take(found.permissions.attached_policies);
    output(move |w| {
        attached(w, &arns);
        truncation(w, &next);
    })
}
