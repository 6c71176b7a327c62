//! IAM roles: the role, then its managed and inline policies brought from the recorded set to
//! the template's.

use serde_json::{json, Value};

use nubo_stacks::{Deployed, Physical};

use super::storage::list;
use super::{attributes, only, text, xml_tag, ApiProvisioner, Failure, Result};

const IAM: &str = "2010-05-08";

impl ApiProvisioner<'_> {
    pub(super) async fn role_create(&self, logical: &str, p: &Value) -> Result<Physical> {
        only(
            "AWS::IAM::Role",
            p,
            &[
                "RoleName",
                "AssumeRolePolicyDocument",
                "ManagedPolicyArns",
                "Policies",
                "Path",
                "Description",
                "Tags",
                "MaxSessionDuration",
            ],
        )?;
        let name = p
            .get("RoleName")
            .and_then(text)
            .unwrap_or_else(|| self.generated_name(logical, 64, false));
        let trust = p
            .get("AssumeRolePolicyDocument")
            .map(Value::to_string)
            .ok_or_else(|| Failure::local("AssumeRolePolicyDocument is required"))?;
        let mut params: Vec<(&str, String)> = vec![
            ("RoleName", name.clone()),
            ("AssumeRolePolicyDocument", trust),
        ];
        if let Some(path) = p.get("Path").and_then(text) {
            params.push(("Path", path));
        }
        if let Some(d) = p.get("Description").and_then(text) {
            params.push(("Description", d));
        }
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let xml = self.query("iam", "CreateRole", IAM, &refs).await?;
        let arn = xml_tag(&xml, "Arn").unwrap_or_default();
        self.role_policies(&name, p, &json!({})).await?;
        Ok(Physical {
            id: name,
            attributes: attributes(&[
                ("Arn", Value::String(arn)),
                (
                    "RoleId",
                    Value::String(xml_tag(&xml, "RoleId").unwrap_or_default()),
                ),
            ]),
        })
    }

    /// Brings the role's managed and inline policies from `old` to `p`.
    async fn role_policies(&self, name: &str, p: &Value, old: &Value) -> Result<()> {
        let new_managed = list(p.get("ManagedPolicyArns"));
        let old_managed = list(old.get("ManagedPolicyArns"));
        for arn in old_managed.iter().filter(|a| !new_managed.contains(a)) {
            let arn = text(arn).unwrap_or_default();
            self.query(
                "iam",
                "DetachRolePolicy",
                IAM,
                &[("RoleName", name), ("PolicyArn", &arn)],
            )
            .await?;
        }
        for arn in new_managed.iter().filter(|a| !old_managed.contains(a)) {
            let arn = text(arn).unwrap_or_default();
            self.query(
                "iam",
                "AttachRolePolicy",
                IAM,
                &[("RoleName", name), ("PolicyArn", &arn)],
            )
            .await?;
        }
        let names = |v: &Value| -> Vec<String> {
            list(v.get("Policies"))
                .iter()
                .filter_map(|p| p.get("PolicyName").and_then(text))
                .collect()
        };
        let new_names = names(p);
        for gone in names(old).into_iter().filter(|n| !new_names.contains(n)) {
            self.query(
                "iam",
                "DeleteRolePolicy",
                IAM,
                &[("RoleName", name), ("PolicyName", &gone)],
            )
            .await?;
        }
        for policy in list(p.get("Policies")) {
            let policy_name = policy
                .get("PolicyName")
                .and_then(text)
                .ok_or_else(|| Failure::local("Policies: PolicyName is required"))?;
            let document = policy
                .get("PolicyDocument")
                .map(Value::to_string)
                .ok_or_else(|| Failure::local("Policies: PolicyDocument is required"))?;
            self.query(
                "iam",
                "PutRolePolicy",
                IAM,
                &[
                    ("RoleName", name),
                    ("PolicyName", &policy_name),
                    ("PolicyDocument", &document),
                ],
            )
            .await?;
        }
        Ok(())
    }

    pub(super) async fn role_update(&self, p: &Value, old: &Deployed) -> Result<Physical> {
        self.role_policies(&old.physical_id, p, &old.properties)
            .await?;
        Ok(Physical {
            id: old.physical_id.clone(),
            attributes: old.attributes.clone(),
        })
    }

    pub(super) async fn role_delete(&self, old: &Deployed) -> Result<()> {
        let name = old.physical_id.as_str();
        self.role_policies(name, &json!({}), &old.properties)
            .await
            .or_else(|e| if e.not_found() { Ok(()) } else { Err(e) })?;
        self.query("iam", "DeleteRole", IAM, &[("RoleName", name)])
            .await
            .map(drop)
    }
}
