//! Lambda (signing name `lambda`): every operation Nubo's Lambda API serves, plus the resource
//! policy operations issue 10 adds. Functions are named by ARN, qualified when the request carries
//! a qualifier (Invoke on an alias is `lambda:InvokeFunction` on `…:function:f:alias`, which a
//! policy on `…:function:f` alone does not match — as on AWS).

use super::{check, check_when, Rule};

macro_rules! function_arn {
    () => {
        "arn:aws:lambda:{region}:{account}:function:{FunctionName}"
    };
    (qualified) => {
        concat!(function_arn!(), "{:Qualifier}")
    };
}

const FUNCTION: &str = function_arn!();
const QUALIFIED: &str = function_arn!(qualified);

macro_rules! on_function {
    ($operation:literal, $action:literal) => {
        Rule {
            operation: $operation,
            checks: &[check(concat!("lambda:", $action), FUNCTION)],
        }
    };
    ($operation:literal, $action:literal, qualified) => {
        Rule {
            operation: $operation,
            checks: &[check(concat!("lambda:", $action), QUALIFIED)],
        }
    };
}

/// An event-source mapping (`{UUID}` is the path label).
const MAPPING: &str = "arn:aws:lambda:{region}:{account}:event-source-mapping:{UUID}";

/// The Lambda table.
pub(super) const RULES: &[Rule] = &[
    Rule {
        operation: "CreateFunction",
        checks: &[
            check("lambda:CreateFunction", FUNCTION),
            // Passing the execution role to Lambda (AWS checks it with iam:PassedToService =
            // lambda.amazonaws.com).
            check("iam:PassRole", "{Role}"),
        ],
    },
    Rule {
        operation: "ListFunctions",
        checks: &[check("lambda:ListFunctions", "*")],
    },
    on_function!("GetFunction", "GetFunction", qualified),
    on_function!("DeleteFunction", "DeleteFunction", qualified),
    on_function!(
        "GetFunctionConfiguration",
        "GetFunctionConfiguration",
        qualified
    ),
    Rule {
        operation: "UpdateFunctionConfiguration",
        checks: &[
            check("lambda:UpdateFunctionConfiguration", FUNCTION),
            check_when("iam:PassRole", "{Role}", "Role"),
        ],
    },
    on_function!("UpdateFunctionCode", "UpdateFunctionCode"),
    on_function!("Invoke", "InvokeFunction", qualified),
    // The deprecated InvokeAsync is authorized as InvokeFunction, as on AWS.
    on_function!("InvokeAsync", "InvokeFunction"),
    on_function!("InvokeFunctionUrl", "InvokeFunctionUrl", qualified),
    on_function!("PublishVersion", "PublishVersion"),
    on_function!("ListVersionsByFunction", "ListVersionsByFunction"),
    on_function!("CreateAlias", "CreateAlias"),
    on_function!("GetAlias", "GetAlias"),
    on_function!("UpdateAlias", "UpdateAlias"),
    on_function!("DeleteAlias", "DeleteAlias"),
    on_function!("ListAliases", "ListAliases"),
    on_function!("PutFunctionConcurrency", "PutFunctionConcurrency"),
    on_function!("DeleteFunctionConcurrency", "DeleteFunctionConcurrency"),
    on_function!("GetFunctionConcurrency", "GetFunctionConcurrency"),
    on_function!(
        "GetProvisionedConcurrencyConfig",
        "GetProvisionedConcurrencyConfig",
        qualified
    ),
    on_function!(
        "PutProvisionedConcurrencyConfig",
        "PutProvisionedConcurrencyConfig",
        qualified
    ),
    on_function!(
        "DeleteProvisionedConcurrencyConfig",
        "DeleteProvisionedConcurrencyConfig",
        qualified
    ),
    on_function!(
        "ListProvisionedConcurrencyConfigs",
        "ListProvisionedConcurrencyConfigs"
    ),
    on_function!(
        "GetFunctionEventInvokeConfig",
        "GetFunctionEventInvokeConfig",
        qualified
    ),
    on_function!(
        "PutFunctionEventInvokeConfig",
        "PutFunctionEventInvokeConfig",
        qualified
    ),
    on_function!(
        "UpdateFunctionEventInvokeConfig",
        "UpdateFunctionEventInvokeConfig",
        qualified
    ),
    on_function!(
        "DeleteFunctionEventInvokeConfig",
        "DeleteFunctionEventInvokeConfig",
        qualified
    ),
    on_function!(
        "ListFunctionEventInvokeConfigs",
        "ListFunctionEventInvokeConfigs"
    ),
    on_function!(
        "CreateFunctionUrlConfig",
        "CreateFunctionUrlConfig",
        qualified
    ),
    on_function!("GetFunctionUrlConfig", "GetFunctionUrlConfig", qualified),
    on_function!(
        "UpdateFunctionUrlConfig",
        "UpdateFunctionUrlConfig",
        qualified
    ),
    on_function!(
        "DeleteFunctionUrlConfig",
        "DeleteFunctionUrlConfig",
        qualified
    ),
    on_function!("ListFunctionUrlConfigs", "ListFunctionUrlConfigs"),
    on_function!("AddPermission", "AddPermission", qualified),
    on_function!("RemovePermission", "RemovePermission", qualified),
    on_function!("GetPolicy", "GetPolicy", qualified),
    Rule {
        operation: "CreateEventSourceMapping",
        checks: &[check("lambda:CreateEventSourceMapping", "*")],
    },
    Rule {
        operation: "ListEventSourceMappings",
        checks: &[check("lambda:ListEventSourceMappings", "*")],
    },
    Rule {
        operation: "GetEventSourceMapping",
        checks: &[check("lambda:GetEventSourceMapping", MAPPING)],
    },
    Rule {
        operation: "UpdateEventSourceMapping",
        checks: &[check("lambda:UpdateEventSourceMapping", MAPPING)],
    },
    Rule {
        operation: "DeleteEventSourceMapping",
        checks: &[check("lambda:DeleteEventSourceMapping", MAPPING)],
    },
    Rule {
        operation: "GetAccountSettings",
        checks: &[check("lambda:GetAccountSettings", "*")],
    },
    Rule {
        operation: "PublishLayerVersion",
        checks: &[check("lambda:PublishLayerVersion", "{LayerArn}")],
    },
    Rule {
        operation: "ListLayers",
        checks: &[check("lambda:ListLayers", "*")],
    },
    Rule {
        operation: "ListLayerVersions",
        checks: &[check("lambda:ListLayerVersions", "*")],
    },
    Rule {
        operation: "GetLayerVersion",
        checks: &[check("lambda:GetLayerVersion", "{LayerVersionArn}")],
    },
    Rule {
        operation: "GetLayerVersionByArn",
        checks: &[check("lambda:GetLayerVersion", "{LayerVersionArn}")],
    },
    Rule {
        operation: "DeleteLayerVersion",
        checks: &[check("lambda:DeleteLayerVersion", "{LayerVersionArn}")],
    },
    Rule {
        operation: "AddLayerVersionPermission",
        checks: &[check(
            "lambda:AddLayerVersionPermission",
            "{LayerVersionArn}",
        )],
    },
    Rule {
        operation: "GetLayerVersionPolicy",
        checks: &[check("lambda:GetLayerVersionPolicy", "{LayerVersionArn}")],
    },
    Rule {
        operation: "RemoveLayerVersionPermission",
        checks: &[check(
            "lambda:RemoveLayerVersionPermission",
            "{LayerVersionArn}",
        )],
    },
    // Tag operations name their resource by ARN in the path (`/2017-03-31/tags/{Resource}`).
    Rule {
        operation: "ListTags",
        checks: &[check("lambda:ListTags", "{Resource}")],
    },
    Rule {
        operation: "TagResource",
        checks: &[check("lambda:TagResource", "{Resource}")],
    },
    Rule {
        operation: "UntagResource",
        checks: &[check("lambda:UntagResource", "{Resource}")],
    },
];
