//! A REST API's deployed stages compiled into the shared data-plane form: each method of each
//! resource of the stage's deployment becomes a route `METHOD /path` of a `CompiledStage`, its
//! integration a [`Target`]. A `MOCK` integration's answer depends only on the definition (the
//! request template's `statusCode` picks the integration response), so it is computed here, once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::plane::routing::{RouteKey, RouteTable};
use crate::plane::{lambda_function, CompiledApi, CompiledRoute, CompiledStage, Target};

use super::authorizer::CompiledAuthorizer;
use super::model::{IntegrationRecord, IntegrationResponseRecord, RestApiDocument};
use super::template::Named;
use crate::http_api::jwt::CompiledJwt;

/// Whether a selection pattern matches a status or error string: API Gateway's patterns are Java
/// regexes; the forms used in practice (an exact status, `.*`, `2\d{2}`-style classes) are handled.
pub fn pattern_matches(pattern: &str, subject: &str) -> bool {
    const META: &[char] = &[
        '.', '*', '+', '?', '[', ']', '(', ')', '|', '\\', '^', '$', '{', '}',
    ];
    match pattern {
        ".*" | ".+" | "(.*)" => true,
        _ if pattern == subject => true,
        _ if pattern.starts_with(".*")
            && pattern.ends_with(".*")
            && pattern.len() >= 4
            && !pattern[2..pattern.len() - 2].contains(META) =>
        {
            subject.contains(&pattern[2..pattern.len() - 2])
        }
        _ if pattern.ends_with(".*") && !pattern[..pattern.len() - 2].contains(META) => {
            subject.starts_with(&pattern[..pattern.len() - 2])
        }
        _ => {
            // `5\d{2}` and `2..`: a digit class per position.
            let expanded = pattern.replace("\\d{2}", "\\d\\d").replace("\\d", ".");
            expanded.len() == subject.len()
                && expanded
                    .chars()
                    .zip(subject.chars())
                    .all(|(p, s)| p == '.' || p == s)
        }
    }
}

/// The integration response for `subject`: the first pattern that matches, else the default
/// (no pattern).
pub fn select_response<'a>(
    integration: &'a IntegrationRecord,
    subject: &str,
) -> Option<&'a IntegrationResponseRecord> {
    let responses = integration.integration_responses.values();
    responses
        .clone()
        .find(|r| {
            r.selection_pattern
                .as_deref()
                .is_some_and(|p| !p.is_empty() && pattern_matches(p, subject))
        })
        .or_else(|| {
            responses
                .clone()
                .find(|r| r.selection_pattern.as_deref().is_none_or(str::is_empty))
        })
}

/// `method.response.header.X: 'value'` → `(X, value)`; mappings from the integration's response
/// have nothing to read for a mock.
fn static_headers(response: &IntegrationResponseRecord) -> Vec<(String, String)> {
    response
        .response_parameters
        .iter()
        .filter_map(|(name, value)| {
            let header = name.strip_prefix("method.response.header.")?;
            let value = value.strip_prefix('\'')?.strip_suffix('\'')?;
            Some((header.to_owned(), value.to_owned()))
        })
        .collect()
}

/// A MOCK integration's fixed answer.
fn mock(integration: &IntegrationRecord) -> Target {
    let status = integration
        .request_templates
        .get("application/json")
        .or_else(|| integration.request_templates.values().next())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64))
        .unwrap_or(200);
    match select_response(integration, &status.to_string()) {
        Some(response) => {
            let body = response
                .response_templates
                .get("application/json")
                .or_else(|| response.response_templates.values().next())
                .cloned()
                .unwrap_or_default();
            let content_type = response
                .response_templates
                .keys()
                .next()
                .cloned()
                .unwrap_or_else(|| "application/json".into());
            let mut headers = vec![("content-type".to_owned(), content_type)];
            headers.extend(static_headers(response));
            let template = (body.contains('$') || body.contains('#')).then(|| {
                Box::new(Named::new(
                    format!("response template {}", headers[0].1),
                    &body,
                ))
            });
            Target::Mock {
                status: response.status_code.parse().unwrap_or(200),
                headers,
                body: body.into(),
                template,
            }
        }
        None => Target::Mock {
            status: 500,
            headers: vec![("content-type".into(), "application/json".into())],
            body: r#"{"message": "Internal server error"}"#.into(),
            template: None,
        },
    }
}

/// One integration response of an `AWS` or `HTTP` integration, compiled.
#[derive(Debug)]
pub struct MappedResponse {
    /// Selection pattern (none: the default response).
    pub pattern: Option<String>,
    /// Status answered.
    pub status: u16,
    /// Static headers.
    pub headers: Vec<(String, String)>,
    /// Headers mapped from the backend's answer: (answered, read) — `integration.response.header.Y`
    /// reads `Y`, `integration.response.body` (read empty) the body.
    pub from_backend: Vec<(String, String)>,
    /// Content type and template (none: the function's output as it is).
    pub template: Option<(String, Named)>,
}

/// A REST API's `AWS` integration with a Lambda function.
#[derive(Debug)]
pub struct MappedLambda {
    /// The function.
    pub target: crate::plane::LambdaTarget,
    /// `timeoutInMillis`.
    pub timeout: Duration,
    /// The request template (none: the body passes through).
    pub request: Option<Named>,
    /// Integration responses.
    pub responses: Vec<MappedResponse>,
}

impl MappedLambda {
    /// The response for a function's outcome: an error's `errorMessage` is matched against the
    /// patterns; a success (and an unmatched error) takes the default response.
    pub fn select(&self, error_message: Option<&str>) -> Option<&MappedResponse> {
        error_message
            .and_then(|m| {
                self.responses
                    .iter()
                    .find(|r| r.pattern.as_deref().is_some_and(|p| pattern_matches(p, m)))
            })
            .or_else(|| self.responses.iter().find(|r| r.pattern.is_none()))
    }
}

fn first_template(
    kind: &str,
    templates: &std::collections::BTreeMap<String, String>,
) -> Option<(String, Named)> {
    templates
        .get_key_value("application/json")
        .or_else(|| templates.iter().next())
        .map(|(k, v)| (k.clone(), Named::new(format!("{kind} template {k}"), v)))
}

fn mapped(
    integration: &IntegrationRecord,
    doc: &RestApiDocument,
    timeout: Duration,
) -> Option<Target> {
    let target = lambda_function(integration.uri.as_deref()?, &doc.scope)?;
    let responses = compile_responses(integration);
    Some(Target::Mapped(Box::new(MappedLambda {
        target,
        timeout,
        request: first_template("request", &integration.request_templates).map(|(_, t)| t),
        responses,
    })))
}

/// Where a request parameter mapping writes (`integration.request.{path,querystring,header}.X`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamPlace {
    /// `{X}` in the URI.
    Path,
    /// A query-string parameter.
    Query,
    /// A header.
    Header,
}

/// Where a mapped value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamSource {
    /// `'literal'`.
    Literal(String),
    /// `method.request.path.X`.
    Path(String),
    /// `method.request.querystring.X`.
    Query(String),
    /// `method.request.header.X`.
    Header(String),
    /// `stageVariables.X`.
    StageVariable(String),
    /// `context.X` (a top-level or dotted `$context` member).
    Context(String),
}

impl ParamSource {
    fn parse(value: &str) -> Option<Self> {
        if let Some(literal) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            return Some(Self::Literal(literal.to_owned()));
        }
        if let Some(name) = value.strip_prefix("method.request.path.") {
            return Some(Self::Path(name.to_owned()));
        }
        if let Some(name) = value.strip_prefix("method.request.querystring.") {
            return Some(Self::Query(name.to_owned()));
        }
        if let Some(name) = value.strip_prefix("method.request.header.") {
            return Some(Self::Header(name.to_owned()));
        }
        if let Some(name) = value.strip_prefix("stageVariables.") {
            return Some(Self::StageVariable(name.to_owned()));
        }
        value
            .strip_prefix("context.")
            .map(|name| Self::Context(name.to_owned()))
    }
}

/// A REST API's non-proxy `HTTP` integration: the request built by parameter mappings and the
/// request template, the backend's status picking the integration response.
#[derive(Debug)]
pub struct MappedHttp {
    /// URL template (`{name}` filled from `integration.request.path.name`).
    pub uri: String,
    /// Method towards the backend; `None` (`ANY`) forwards the request's.
    pub method: Option<http::Method>,
    /// `timeoutInMillis`.
    pub timeout: Duration,
    /// Content type and request template (none: the body passes through).
    pub request: Option<(String, Named)>,
    /// `requestParameters`: (place, name) ← source.
    pub parameters: Vec<(ParamPlace, String, ParamSource)>,
    /// Integration responses.
    pub responses: Vec<MappedResponse>,
}

impl MappedHttp {
    /// The response for a backend status: the first pattern that matches it, else the default.
    pub fn select(&self, status: u16) -> Option<&MappedResponse> {
        let status = status.to_string();
        self.responses
            .iter()
            .find(|r| {
                r.pattern
                    .as_deref()
                    .is_some_and(|p| pattern_matches(p, &status))
            })
            .or_else(|| self.responses.iter().find(|r| r.pattern.is_none()))
    }
}

/// `method.response.header.X: integration.response.header.Y` → `(X, Y)`;
/// `…: integration.response.body` → `(X, "")`.
fn backend_headers(response: &IntegrationResponseRecord) -> Vec<(String, String)> {
    response
        .response_parameters
        .iter()
        .filter_map(|(name, value)| {
            let header = name.strip_prefix("method.response.header.")?;
            if value == "integration.response.body" {
                return Some((header.to_owned(), String::new()));
            }
            let from = value.strip_prefix("integration.response.header.")?;
            Some((header.to_owned(), from.to_owned()))
        })
        .collect()
}

fn compile_responses(integration: &IntegrationRecord) -> Vec<MappedResponse> {
    integration
        .integration_responses
        .values()
        .map(|r| MappedResponse {
            pattern: r.selection_pattern.clone().filter(|p| !p.is_empty()),
            status: r.status_code.parse().unwrap_or(200),
            headers: static_headers(r),
            from_backend: backend_headers(r),
            template: first_template("response", &r.response_templates),
        })
        .collect()
}

fn mapped_http(integration: &IntegrationRecord, uri: &str, timeout: Duration) -> Target {
    let parameters = integration
        .request_parameters
        .iter()
        .filter_map(|(to, from)| {
            let (place, name) = if let Some(n) = to.strip_prefix("integration.request.path.") {
                (ParamPlace::Path, n)
            } else if let Some(n) = to.strip_prefix("integration.request.querystring.") {
                (ParamPlace::Query, n)
            } else if let Some(n) = to.strip_prefix("integration.request.header.") {
                (ParamPlace::Header, n)
            } else {
                return None;
            };
            Some((place, name.to_owned(), ParamSource::parse(from)?))
        })
        .collect();
    Target::MappedHttp(Box::new(MappedHttp {
        uri: uri.to_owned(),
        method: integration
            .http_method
            .as_deref()
            .filter(|m| *m != "ANY")
            .and_then(|m| m.parse().ok()),
        timeout,
        request: first_template("request", &integration.request_templates),
        parameters,
        responses: compile_responses(integration),
    }))
}

fn target(integration: &IntegrationRecord, doc: &RestApiDocument) -> Option<Target> {
    let timeout = Duration::from_millis(integration.timeout_in_millis.clamp(50, 29_000) as u64);
    let uri = integration.uri.as_deref().unwrap_or("");
    match integration.integration_type.as_str() {
        "MOCK" => Some(mock(integration)),
        "AWS" if uri.contains(":lambda:path/") => mapped(integration, doc, timeout),
        "AWS_PROXY" => Some(Target::Lambda {
            target: lambda_function(uri, &doc.scope)?,
            v2: false,
            timeout,
        }),
        "HTTP" => Some(mapped_http(integration, uri, timeout)),
        "HTTP_PROXY" => Some(Target::Http {
            uri: uri.to_owned(),
            method: integration
                .http_method
                .as_deref()
                .filter(|m| *m != "ANY")
                .and_then(|m| m.parse().ok()),
            timeout,
        }),
        _ => None,
    }
}

/// Compiles every stage of a REST API.
pub fn compile(doc: &RestApiDocument) -> CompiledApi {
    let mut stages = HashMap::new();
    let authorizers: HashMap<&str, Arc<CompiledAuthorizer>> = doc
        .authorizers
        .values()
        .filter_map(|a| {
            CompiledAuthorizer::compile(a, &doc.scope).map(|c| (a.id.as_str(), Arc::new(c)))
        })
        .collect();
    if !doc.api.disable_execute_api_endpoint {
        for stage in doc.stages.values() {
            let Some(deployment) = doc.deployments.get(&stage.deployment_id) else {
                continue;
            };
            let mut routes = Vec::new();
            for resource in &deployment.resources {
                for method in resource.resource_methods.values() {
                    let route_key = format!("{} {}", method.http_method, resource.path);
                    let Ok(key) = RouteKey::parse(&route_key) else {
                        continue;
                    };
                    routes.push(CompiledRoute {
                        route_id: resource.id.clone(),
                        route_key,
                        key,
                        target: method
                            .method_integration
                            .as_ref()
                            .and_then(|i| target(i, doc))
                            .map(Arc::new),
                        bucket: None,
                        aws_iam: method.authorization_type == "AWS_IAM",
                        api_key_required: method.api_key_required,
                        custom: (method.authorization_type == "CUSTOM")
                            .then_some(method.authorizer_id.as_deref())
                            .flatten()
                            .and_then(|id| authorizers.get(id).cloned()),
                        jwt: (method.authorization_type == "COGNITO_USER_POOLS")
                            .then(|| {
                                let record =
                                    doc.authorizers.get(method.authorizer_id.as_deref()?)?;
                                let jwt = CompiledJwt::compile_cognito(record)?;
                                Some((Arc::new(jwt), method.authorization_scopes.clone()))
                            })
                            .flatten(),
                    });
                }
            }
            let table = RouteTable::build(routes.iter().map(|r| &r.key));
            stages.insert(
                stage.stage_name.clone(),
                Arc::new(CompiledStage {
                    api_id: doc.api.id.clone(),
                    stage_name: stage.stage_name.clone(),
                    table,
                    routes,
                    stage_variables: stage.variables.clone(),
                    cors: None,
                    default_bucket: None,
                    access_log: None,
                    api_key_from_authorizer: doc.api.api_key_source == "AUTHORIZER",
                }),
            );
        }
    }
    CompiledApi {
        scope: doc.scope.clone(),
        name: doc.api.name.clone(),
        stages,
        websocket: false,
        sockets: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_patterns_in_common_forms() {
        assert!(pattern_matches(".*", "500"));
        assert!(pattern_matches("200", "200"));
        assert!(pattern_matches("5\\d{2}", "503"));
        assert!(!pattern_matches("5\\d{2}", "403"));
        assert!(!pattern_matches("400", "200"));
        assert!(pattern_matches(".*Not Found.*", "Item Not Found here"));
        assert!(!pattern_matches(".*Not Found.*", "boom"));
        assert!(pattern_matches("Bad.*", "Bad input"));
    }

    #[test]
    fn http_integration_compiles_mappings_and_selects_by_status() {
        let mut integration = IntegrationRecord {
            integration_type: "HTTP".into(),
            http_method: Some("GET".into()),
            uri: Some("http://127.0.0.1:1/items/{id}".into()),
            ..Default::default()
        };
        for (to, from) in [
            ("integration.request.path.id", "method.request.path.id"),
            ("integration.request.querystring.q", "'x'"),
            ("integration.request.header.H", "method.request.header.H"),
            ("integration.request.bogus.z", "method.request.path.id"),
        ] {
            integration
                .request_parameters
                .insert(to.into(), from.into());
        }
        for (status, pattern) in [("200", None), ("404", Some("4\\d{2}"))] {
            integration.integration_responses.insert(
                status.into(),
                IntegrationResponseRecord {
                    status_code: status.into(),
                    selection_pattern: pattern.map(str::to_owned),
                    ..Default::default()
                },
            );
        }
        let uri = integration.uri.clone().unwrap_or_default();
        let Target::MappedHttp(mapped) = mapped_http(&integration, &uri, Duration::from_secs(1))
        else {
            panic!("not an HTTP integration");
        };
        assert_eq!(mapped.method, Some(http::Method::GET));
        assert_eq!(mapped.parameters.len(), 3);
        assert!(mapped.parameters.contains(&(
            ParamPlace::Path,
            "id".into(),
            ParamSource::Path("id".into())
        )));
        assert_eq!(mapped.select(404).map(|r| r.status), Some(404));
        assert_eq!(mapped.select(201).map(|r| r.status), Some(200));
        assert_eq!(mapped.select(500).map(|r| r.status), Some(200));
    }
}
