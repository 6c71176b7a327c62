//! AWS managed policies, addressable as `arn:aws:iam::aws:policy/[path]NAME` and attachable like
//! any managed policy (AttachRolePolicy, AttachUserPolicy). The documents are AWS's own, as
//! `aws iam get-policy-version` returns them for the version named here (key order normalized).
//!
//! `ReadOnlyAccess` is AWS's version v87 cut down to the statements for the services Nubo serves or
//! plans to (API Gateway, CloudFormation, CloudWatch, DynamoDB, ECR, EventBridge, IAM, Lambda, Logs,
//! S3, Signer, SQS, Step Functions, STS, tagging, X-Ray): the full document lists ~1,500 actions of
//! services Nubo will never have, and a denial for those is the same either way.

/// One AWS managed policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// `PolicyName`.
    pub name: &'static str,
    /// `Path`: `/` or `/service-role/`.
    pub path: &'static str,
    /// The default version's id.
    pub version_id: &'static str,
    /// When AWS created that version.
    pub version_created: &'static str,
    /// The policy document.
    pub document: &'static str,
}

impl ManagedPolicy {
    /// `arn:aws:iam::aws:policy/[path]NAME`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy{}{}", self.path, self.name)
    }
}

macro_rules! managed {
    ($name:literal, $path:literal, $version:literal, $created:literal) => {
        ManagedPolicy {
            name: $name,
            path: $path,
            version_id: $version,
            version_created: $created,
            document: include_str!(concat!("managed/", $name, ".json")),
        }
    };
}

const POLICIES: &[ManagedPolicy] = &[
    managed!("AdministratorAccess", "/", "v1", "2015-02-06T18:39:46Z"),
    managed!(
        "AWSLambdaBasicExecutionRole",
        "/service-role/",
        "v1",
        "2015-04-09T15:03:43Z"
    ),
    managed!(
        "AWSLambdaRole",
        "/service-role/",
        "v1",
        "2015-02-06T18:41:28Z"
    ),
    managed!("AWSLambda_FullAccess", "/", "v5", "2026-02-11T22:18:56Z"),
    managed!(
        "AWSLambda_ReadOnlyAccess",
        "/",
        "v2",
        "2023-07-27T17:32:05Z"
    ),
    managed!("AWSLambdaExecute", "/", "v1", "2015-02-06T18:40:46Z"),
    managed!(
        "AWSLambdaSQSQueueExecutionRole",
        "/service-role/",
        "v1",
        "2018-06-14T21:50:45Z"
    ),
    managed!(
        "AWSLambdaDynamoDBExecutionRole",
        "/service-role/",
        "v1",
        "2015-04-09T15:09:29Z"
    ),
    managed!("AmazonS3ReadOnlyAccess", "/", "v3", "2023-08-10T21:31:39Z"),
    managed!("AmazonS3FullAccess", "/", "v2", "2021-09-27T20:16:37Z"),
    managed!("AmazonSQSFullAccess", "/", "v1", "2015-02-06T18:41:07Z"),
    managed!(
        "AmazonDynamoDBFullAccess",
        "/",
        "v15",
        "2021-01-29T17:38:30Z"
    ),
    managed!("IAMFullAccess", "/", "v2", "2019-06-21T19:40:00Z"),
    managed!("IAMReadOnlyAccess", "/", "v4", "2018-01-25T19:11:27Z"),
    managed!(
        "CloudWatchLogsFullAccess",
        "/",
        "v3",
        "2025-05-20T17:07:06Z"
    ),
    managed!(
        "AmazonAPIGatewayInvokeFullAccess",
        "/",
        "v2",
        "2018-12-18T18:25:10Z"
    ),
    managed!(
        "AmazonAPIGatewayAdministrator",
        "/",
        "v1",
        "2015-07-09T17:34:45Z"
    ),
    managed!("ReadOnlyAccess", "/", "v87", "2022-05-23T20:16:18Z"),
];

/// Every AWS managed policy Nubo knows.
pub fn all() -> &'static [ManagedPolicy] {
    POLICIES
}

/// The managed policy with this ARN.
pub fn by_arn(arn: &str) -> Option<&'static ManagedPolicy> {
    let rest = arn.strip_prefix("arn:aws:iam::aws:policy")?;
    POLICIES
        .iter()
        .find(|p| rest.strip_prefix(p.path) == Some(p.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_carry_aws_paths() {
        assert_eq!(
            by_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
                .unwrap()
                .name,
            "AWSLambdaBasicExecutionRole"
        );
        assert!(by_arn("arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole").is_none());
        assert_eq!(
            by_arn("arn:aws:iam::aws:policy/AdministratorAccess")
                .unwrap()
                .arn(),
            "arn:aws:iam::aws:policy/AdministratorAccess"
        );
        assert_eq!(all().len(), 18);
    }
}
