//! `query`: the request is form fields (`POST` body `application/x-www-form-urlencoded`, or the URL
//! query of a `GET`): `Action=Operation&Version=YYYY-MM-DD` and the input's members flattened into
//! dotted names, as botocore's QuerySerializer writes them:
//!
//! | shape | fields |
//! |---|---|
//! | structure member | `Parent.Member=v` |
//! | list | `Name.member.N=v` (N from 1), or `Name.N=v` when flattened; `Name=` when empty |
//! | map | `Name.entry.N.key=k` + `Name.entry.N.value=v`, or custom part names (SNS: `.Name`/`.Value`); `Name.N.key…` when flattened |
//!
//! [`decode`] turns the fields into one structured value ([`QueryRequest::params`]) — lists become
//! JSON arrays, `entry` maps with `key`/`value` parts objects, leaves strings — so a handler reads
//! `params["Tags"][0]["Key"]` and knows nothing of `.member.1`. What only the service's model can
//! tell stays as sent, for the handler to interpret: leaves stay strings (is `MaxItems=10` a
//! number?), `entry` maps whose parts are named otherwise become a list of their entries
//! (`[{"Name": k, "Value": v}]`), and so do flattened maps, which look exactly like flattened lists.
//!
//! The reply is `<OpResponse xmlns=…><OpResult>…</OpResult><ResponseMetadata><RequestId>…
//! </RequestId></ResponseMetadata></OpResponse>` (no `OpResult` when the output has no members);
//! an error is `<ErrorResponse xmlns=…><Error><Type>Sender|Receiver</Type><Code/><Message/></Error>
//! <RequestId/></ErrorResponse>`, which botocore's QueryParser reads.

use std::collections::BTreeMap;

use http::StatusCode;
use percent_encoding::percent_decode;
use serde_json::{Map, Value};

use super::{reply, write_extra, WireResponse};
use crate::xml::{XmlOutput, XmlWriter};
use crate::AwsError;

/// The content type of query replies.
pub const CONTENT_TYPE: &str = "text/xml";

crate::error_table! {
    /// The errors every query-protocol service shares (AWS's "Common Errors").
    pub struct QueryErrors {
        missing_action => ("MissingAction", BAD_REQUEST),
        invalid_action => ("InvalidAction", BAD_REQUEST),
        malformed_query_string => ("MalformedQueryString", NOT_FOUND),
    }
}

/// A decoded query request.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    /// `Action`: the operation.
    pub action: String,
    /// `Version`: the API version the client speaks, when sent.
    pub version: Option<String>,
    /// Every other field, structured.
    pub params: Map<String, Value>,
}

impl QueryRequest {
    /// A top-level string member.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }
}

/// Decodes the fields of a query request: those of the URL query, then those of the body.
pub fn decode(url_query: Option<&str>, body: &[u8]) -> Result<QueryRequest, AwsError> {
    let mut root = Node::Empty;
    for raw in [url_query.unwrap_or("").as_bytes(), body] {
        for field in raw.split(|b| *b == b'&').filter(|f| !f.is_empty()) {
            let (name, value) = match field.iter().position(|b| *b == b'=') {
                Some(at) => (&field[..at], &field[at + 1..]),
                None => (field, &b""[..]),
            };
            let name = form_decode(name)?;
            let value = form_decode(value)?;
            let path: Vec<&str> = name.split('.').collect();
            if path.iter().any(|segment| segment.is_empty()) {
                return Err(malformed(format!("'{name}' is not a parameter name")));
            }
            root.insert(&path, value, &name)?;
        }
    }
    let mut params = match root {
        Node::Empty => Map::new(),
        node => match node.into_value()? {
            Value::Object(params) => params,
            _ => return Err(malformed("the request's parameters are not named")),
        },
    };
    let version = match params.remove("Version") {
        None => None,
        Some(Value::String(version)) => Some(version),
        Some(_) => return Err(malformed("Version must be a single value")),
    };
    let action = match params.remove("Action") {
        Some(Value::String(action)) if !action.is_empty() => action,
        Some(Value::String(_)) | None => {
            return Err(QueryErrors::missing_action(
                "The request must contain the parameter Action.",
            ))
        }
        Some(_) => return Err(malformed("Action must be a single value")),
    };
    Ok(QueryRequest {
        action,
        version,
        params,
    })
}

fn malformed(message: impl Into<String>) -> AwsError {
    QueryErrors::malformed_query_string(message)
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte, and the result must
/// be UTF-8.
fn form_decode(raw: &[u8]) -> Result<String, AwsError> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&plus_as_space)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| malformed("a parameter is not valid UTF-8 once percent-decoded"))
}

/// A list or map index: decimal, from 1, as botocore writes them.
fn index(segment: &str) -> Option<u32> {
    if segment.starts_with('0') || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok()
}

/// The tree the dotted names describe, before it becomes a JSON value.
#[derive(Debug)]
enum Node {
    /// Named by a prefix so far, nothing under it yet.
    Empty,
    Leaf(String),
    Structure(BTreeMap<String, Node>),
    List(BTreeMap<u32, Node>),
    /// `entry.N.…`: each entry's parts (`key`, `value`, or the model's names for them).
    Map(BTreeMap<u32, Node>),
}

impl Node {
    fn insert(&mut self, path: &[&str], value: String, name: &str) -> Result<(), AwsError> {
        let conflict = || malformed(format!("'{name}' conflicts with another parameter"));
        match path {
            [] => match self {
                Node::Empty => {
                    *self = Node::Leaf(value);
                    Ok(())
                }
                _ => Err(conflict()),
            },
            ["member", n, rest @ ..] if index(n).is_some() => self
                .list_item(index(n).unwrap_or(1), conflict)?
                .insert(rest, value, name),
            ["entry", n, rest @ ..] if index(n).is_some() && !rest.is_empty() => self
                .map_entry(index(n).unwrap_or(1), conflict)?
                .insert(rest, value, name),
            [n, rest @ ..] if index(n).is_some() => self
                .list_item(index(n).unwrap_or(1), conflict)?
                .insert(rest, value, name),
            [n, ..] if n.bytes().all(|b| b.is_ascii_digit()) => {
                Err(malformed(format!("'{name}': list positions count from 1")))
            }
            [member, rest @ ..] => {
                if let Node::Empty = self {
                    *self = Node::Structure(BTreeMap::new());
                }
                match self {
                    Node::Structure(members) => members
                        .entry((*member).to_owned())
                        .or_insert(Node::Empty)
                        .insert(rest, value, name),
                    _ => Err(conflict()),
                }
            }
        }
    }

    fn list_item(
        &mut self,
        position: u32,
        conflict: impl Fn() -> AwsError,
    ) -> Result<&mut Node, AwsError> {
        if let Node::Empty = self {
            *self = Node::List(BTreeMap::new());
        }
        match self {
            Node::List(items) => Ok(items.entry(position).or_insert(Node::Empty)),
            _ => Err(conflict()),
        }
    }

    fn map_entry(
        &mut self,
        position: u32,
        conflict: impl Fn() -> AwsError,
    ) -> Result<&mut Node, AwsError> {
        if let Node::Empty = self {
            *self = Node::Map(BTreeMap::new());
        }
        match self {
            Node::Map(entries) => Ok(entries.entry(position).or_insert(Node::Empty)),
            _ => Err(conflict()),
        }
    }

    fn into_value(self) -> Result<Value, AwsError> {
        Ok(match self {
            Node::Empty => Value::String(String::new()),
            Node::Leaf(text) => Value::String(text),
            Node::Structure(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(name, node)| Ok((name, node.into_value()?)))
                    .collect::<Result<_, AwsError>>()?,
            ),
            Node::List(items) => Value::Array(
                items
                    .into_values()
                    .map(Node::into_value)
                    .collect::<Result<_, _>>()?,
            ),
            Node::Map(entries) => {
                let keyed = entries.values().all(|entry| match entry {
                    Node::Structure(parts) => {
                        matches!(parts.get("key"), Some(Node::Leaf(_)))
                            && parts.keys().all(|part| part == "key" || part == "value")
                    }
                    _ => false,
                });
                if keyed {
                    let mut map = Map::new();
                    for entry in entries.into_values() {
                        let Node::Structure(mut parts) = entry else {
                            continue;
                        };
                        let Some(Node::Leaf(key)) = parts.remove("key") else {
                            continue;
                        };
                        let value = parts.remove("value").map(Node::into_value).transpose()?;
                        if map
                            .insert(
                                key.clone(),
                                value.unwrap_or_else(|| Value::String(String::new())),
                            )
                            .is_some()
                        {
                            return Err(malformed(format!("map key '{key}' is sent twice")));
                        }
                    }
                    Value::Object(map)
                } else {
                    Value::Array(
                        entries
                            .into_values()
                            .map(Node::into_value)
                            .collect::<Result<_, _>>()?,
                    )
                }
            }
        })
    }
}

/// A 200 reply: `<{operation}Response>` with the output's members in `<{operation}Result>`.
pub fn response(
    xml_namespace: &str,
    operation: &str,
    request_id: &str,
    output: &dyn XmlOutput,
) -> WireResponse {
    let mut members = XmlWriter::new();
    output.write_xml(&mut members);
    let mut w = XmlWriter::new();
    w.element_ns(&format!("{operation}Response"), xml_namespace, |w| {
        if !members.is_empty() {
            w.element(&format!("{operation}Result"), |w| {
                w.append(members);
            });
        }
        w.element("ResponseMetadata", |w| {
            w.text_element("RequestId", request_id);
        });
    });
    reply(StatusCode::OK, CONTENT_TYPE, w.into_string())
}

/// `<ErrorResponse><Error><Type/><Code/><Message/>…extra</Error><RequestId/></ErrorResponse>`.
pub fn error_body(xml_namespace: &str, err: &AwsError, request_id: &str) -> String {
    let mut w = XmlWriter::new();
    w.element_ns("ErrorResponse", xml_namespace, |w| {
        w.element("Error", |w| {
            w.text_element("Type", err.xml_fault_type())
                .text_element("Code", err.code)
                .text_element("Message", &err.message);
            write_extra(w, err);
        });
        w.text_element("RequestId", request_id);
    });
    w.into_string()
}

/// The error reply.
pub fn error_response(xml_namespace: &str, err: &AwsError, request_id: &str) -> WireResponse {
    reply(
        err.status,
        CONTENT_TYPE,
        error_body(xml_namespace, err, request_id),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(body: &str) -> Value {
        Value::Object(decode(None, body.as_bytes()).unwrap().params)
    }

    #[test]
    fn action_version_and_scalars() {
        let request = decode(
            Some("Action=GetUser"),
            b"Version=2010-05-08&UserName=al+ice%2Fx&Empty=",
        )
        .unwrap();
        assert_eq!(request.action, "GetUser");
        assert_eq!(request.version.as_deref(), Some("2010-05-08"));
        assert_eq!(request.str("UserName"), Some("al ice/x"));
        assert_eq!(request.str("Empty"), Some(""));
    }

    #[test]
    fn lists_maps_and_structures_nest() {
        let body = "Action=CreateStack&StackName=s\
            &Parameters.member.2.ParameterKey=B&Parameters.member.2.ParameterValue=2\
            &Parameters.member.1.ParameterKey=A&Parameters.member.1.ParameterValue=1\
            &Capabilities.member.1=CAPABILITY_IAM\
            &Attributes.entry.1.key=Policy&Attributes.entry.1.value=%7B%7D\
            &Attributes.entry.2.key=Name&Attributes.entry.2.value=n\
            &Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=30\
            &Nested.Inner.Deep=x&Tags=";
        assert_eq!(
            params(body),
            json!({
                "StackName": "s",
                "Parameters": [
                    {"ParameterKey": "A", "ParameterValue": "1"},
                    {"ParameterKey": "B", "ParameterValue": "2"},
                ],
                "Capabilities": ["CAPABILITY_IAM"],
                "Attributes": {"Policy": "{}", "Name": "n"},
                "Attribute": [{"Name": "VisibilityTimeout", "Value": "30"}],
                "Nested": {"Inner": {"Deep": "x"}},
                "Tags": "",
            })
        );
    }

    #[test]
    fn map_values_may_be_structures() {
        assert_eq!(
            params("Action=X&M.entry.1.key=k&M.entry.1.value.DataType=String&M.entry.1.value.StringValue=v"),
            json!({"M": {"k": {"DataType": "String", "StringValue": "v"}}})
        );
    }

    #[test]
    fn maps_with_custom_part_names_stay_a_list_of_entries() {
        assert_eq!(
            params("Action=Publish&MessageAttributes.entry.1.Name=color&MessageAttributes.entry.1.Value.DataType=String"),
            json!({"MessageAttributes": [{"Name": "color", "Value": {"DataType": "String"}}]})
        );
    }

    #[test]
    fn what_botocore_never_sends_is_refused() {
        for (body, code) in [
            ("Version=1", "MissingAction"),
            ("Action=", "MissingAction"),
            ("Action=A&Action=B", "MalformedQueryString"),
            ("Action=A&X=1&X.Y=2", "MalformedQueryString"),
            ("Action=A&X.member.0=1", "MalformedQueryString"),
            ("Action=A&X.0=1", "MalformedQueryString"),
            ("Action=A&X..Y=1", "MalformedQueryString"),
            (
                "Action=A&M.entry.1.key=a&M.entry.1.key=b",
                "MalformedQueryString",
            ),
            (
                "Action=A&M.entry.1.key=a&M.entry.2.key=a",
                "MalformedQueryString",
            ),
            ("Action=A&Bad=%FF", "MalformedQueryString"),
            ("Action.X=A", "MalformedQueryString"),
        ] {
            let err = decode(None, body.as_bytes()).unwrap_err();
            assert_eq!(err.code, code, "{body}");
        }
    }

    #[test]
    fn reply_wraps_the_result_and_omits_an_empty_one() {
        let ns = "https://sts.amazonaws.com/doc/2011-06-15/";
        let output = |w: &mut XmlWriter| {
            w.text_element("Account", "000000000000");
        };
        let response = response(ns, "GetCallerIdentity", "rid", &output);
        assert_eq!(response.headers()["content-type"], "text/xml");
        assert_eq!(
            std::str::from_utf8(response.body()).unwrap(),
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <GetCallerIdentityResult><Account>000000000000</Account></GetCallerIdentityResult>\
             <ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>\
             </GetCallerIdentityResponse>"
        );
        let empty = super::response(ns, "DeleteUser", "rid", &());
        assert!(!std::str::from_utf8(empty.body())
            .unwrap()
            .contains("DeleteUserResult"));
    }

    #[test]
    fn error_reply() {
        let err = AwsError::new(
            "NoSuchEntity",
            StatusCode::NOT_FOUND,
            "The user <x> cannot be found.",
        );
        let response = error_response("https://iam.amazonaws.com/doc/2010-05-08/", &err, "rid");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            std::str::from_utf8(response.body()).unwrap(),
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>\
             <Type>Sender</Type><Code>NoSuchEntity</Code>\
             <Message>The user &lt;x&gt; cannot be found.</Message></Error>\
             <RequestId>rid</RequestId></ErrorResponse>"
        );
    }
}
