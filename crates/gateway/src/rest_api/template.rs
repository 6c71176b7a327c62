//! Mapping templates for `AWS` integrations: the reference subset of API Gateway's Velocity —
//! `$input.body`, `$input.json('$…')`, `$input.path('$…')`, `$input.params('name')`,
//! `$context.{requestId,stage,httpMethod,resourcePath,apiId}`, `$stageVariables.name` (also in
//! `${…}` form) — parsed once at deploy into pieces; directives (`#set`, `#if`, `#foreach`) and
//! `$util` are not supported yet and pass through as text.

use serde_json::Value;

/// A reference a template makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `$input.body`.
    Body,
    /// `$input.json('path')`: the JSON at a path.
    Json(Vec<String>),
    /// `$input.path('path')`: the value at a path (strings unquoted).
    Path(Vec<String>),
    /// `$input.params('name')`: path, query string, then header.
    Param(String),
    /// `$context.name`.
    Context(String),
    /// `$stageVariables.name`.
    StageVariable(String),
}

/// One piece of a compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text as written.
    Text(String),
    /// A reference.
    Ref(Reference),
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template(pub Vec<Piece>);

/// What a template can read.
pub struct Inputs<'a> {
    /// The body (request body, or the function's output for a response).
    pub body: &'a [u8],
    /// Path parameters.
    pub path_parameters: &'a [(String, String)],
    /// Raw query string.
    pub query: &'a str,
    /// Headers.
    pub headers: Option<&'a http::HeaderMap>,
    /// Stage variables.
    pub stage_variables: &'a std::collections::BTreeMap<String, String>,
    /// `$context` values.
    pub context: &'a [(&'a str, &'a str)],
}

/// `$`, `$.a.b`, `$['a']` → `["a", "b"]`.
fn json_path(path: &str) -> Vec<String> {
    path.trim_start_matches('$')
        .split(['.', '[', ']'])
        .map(|p| p.trim_matches(['\'', '"']))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn quoted_arg(rest: &str) -> Option<(String, usize)> {
    let inner = rest.strip_prefix('(')?;
    let quote = inner.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let end = inner[1..].find(quote)?;
    let arg = inner[1..1 + end].to_owned();
    let after = &inner[1 + end + 1..];
    let close = after.find(')')?;
    Some((arg, 1 + 1 + end + 1 + close + 1))
}

fn ident_len(text: &str) -> usize {
    text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len())
}

/// Parses one reference at `text` (after `$`, braces removed); returns it and its length.
fn reference(text: &str) -> Option<(Reference, usize)> {
    if let Some(rest) = text.strip_prefix("input.") {
        let base = 6;
        if rest.starts_with("body") {
            return Some((Reference::Body, base + 4));
        }
        for (name, make) in [
            ("json", Reference::Json as fn(Vec<String>) -> Reference),
            ("path", Reference::Path as fn(Vec<String>) -> Reference),
        ] {
            if let Some(after) = rest.strip_prefix(name) {
                let (arg, used) = quoted_arg(after)?;
                return Some((make(json_path(&arg)), base + name.len() + used));
            }
        }
        if let Some(after) = rest.strip_prefix("params") {
            let (arg, used) = quoted_arg(after)?;
            return Some((Reference::Param(arg), base + 6 + used));
        }
        return None;
    }
    for (prefix, make) in [
        ("context.", Reference::Context as fn(String) -> Reference),
        (
            "stageVariables.",
            Reference::StageVariable as fn(String) -> Reference,
        ),
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            let len = ident_len(rest);
            if len == 0 {
                return None;
            }
            return Some((make(rest[..len].to_owned()), prefix.len() + len));
        }
    }
    None
}

impl Template {
    /// Parses a template; anything that is not a known reference stays text.
    pub fn parse(source: &str) -> Self {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(at) = rest.find('$') {
            text.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (braced, body) = match after.strip_prefix('{') {
                Some(inner) => (true, inner),
                None => (false, after),
            };
            match reference(body) {
                Some((r, len)) if !braced || body[len..].starts_with('}') => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Ref(r));
                    rest = &body[len + usize::from(braced)..];
                }
                _ => {
                    text.push('$');
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Self(pieces)
    }

    /// Renders with `inputs`.
    pub fn render(&self, inputs: &Inputs<'_>) -> String {
        let mut out = String::new();
        let mut parsed: Option<Value> = None;
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(r) => match r {
                    Reference::Body => out.push_str(&String::from_utf8_lossy(inputs.body)),
                    Reference::Json(path) | Reference::Path(path) => {
                        let root = parsed.get_or_insert_with(|| {
                            serde_json::from_slice(inputs.body).unwrap_or(Value::Null)
                        });
                        let found = path
                            .iter()
                            .try_fold(&*root, |v, key| match v {
                                Value::Array(items) => {
                                    key.parse::<usize>().ok().and_then(|i| items.get(i))
                                }
                                _ => v.get(key),
                            })
                            .unwrap_or(&Value::Null);
                        match (r, found) {
                            (Reference::Path(_), Value::String(s)) => out.push_str(s),
                            _ => out.push_str(&found.to_string()),
                        }
                    }
                    Reference::Param(name) => {
                        let from_path = inputs
                            .path_parameters
                            .iter()
                            .find(|(k, _)| k == name)
                            .map(|(_, v)| v.clone());
                        let from_query = || {
                            inputs.query.split('&').find_map(|pair| {
                                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                                (k == name).then(|| {
                                    percent_encoding::percent_decode_str(&v.replace('+', " "))
                                        .decode_utf8_lossy()
                                        .into_owned()
                                })
                            })
                        };
                        let from_header = || {
                            inputs
                                .headers
                                .and_then(|h| h.get(name.as_str()))
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        out.push_str(
                            &from_path
                                .or_else(from_query)
                                .or_else(from_header)
                                .unwrap_or_default(),
                        );
                    }
                    Reference::Context(name) => {
                        if let Some((_, v)) = inputs.context.iter().find(|(k, _)| k == name) {
                            out.push_str(v);
                        }
                    }
                    Reference::StageVariable(name) => {
                        if let Some(v) = inputs.stage_variables.get(name) {
                            out.push_str(v);
                        }
                    }
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_render_from_the_request() {
        let template = Template::parse(
            r#"{"name": "$input.path('$.user.name')", "raw": $input.json('$.user'), "id": "$input.params('id')", "q": "$input.params('q')", "stage": "${context.stage}", "color": "$stageVariables.color", "cost": "$5"}"#,
        );
        let vars = [("color".to_owned(), "blue".to_owned())]
            .into_iter()
            .collect();
        let inputs = Inputs {
            body: br#"{"user": {"name": "ann", "age": 3}}"#,
            path_parameters: &[("id".into(), "42".into())],
            query: "q=a%20b",
            headers: None,
            stage_variables: &vars,
            context: &[("stage", "prod")],
        };
        let rendered: Value = serde_json::from_str(&template.render(&inputs)).unwrap();
        assert_eq!(
            rendered,
            serde_json::json!({"name": "ann", "raw": {"name": "ann", "age": 3}, "id": "42",
                "q": "a b", "stage": "prod", "color": "blue", "cost": "$5"})
        );
        assert_eq!(
            Template::parse("$input.body").render(&inputs),
            r#"{"user": {"name": "ann", "age": 3}}"#
        );
    }
}
