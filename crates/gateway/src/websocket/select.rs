//! Route selection for WebSocket APIs: the API's `routeSelectionExpression` evaluated against
//! each message. `$request.body.action` (or `${request.body.action}`, or several variables and
//! literals: `${request.body.service}/${request.body.action}`) reads the message as JSON and
//! stringifies what the path names (a missing path is `""`); a message that is not JSON selects
//! nothing, so it goes to `$default`. Parsed once, when the API is defined and deployed.

use serde_json::Value;

use crate::GatewayError;

/// One piece of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Text copied as it is.
    Literal(String),
    /// `request.body.<path>`: the keys (and array indices) to walk.
    Body(Vec<Step>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A parsed route selection expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSelection {
    parts: Vec<Part>,
}

fn invalid(expression: &str) -> GatewayError {
    GatewayError::bad_request(format!(
        "Invalid route selection expression {expression}: expected $request.body.<path>, \
         ${{request.body.<path>}} and literals"
    ))
}

/// `a.b[0].c` → steps.
fn steps(path: &str, expression: &str) -> Result<Vec<Step>, GatewayError> {
    let mut out = Vec::new();
    for segment in path.split('.') {
        let (key, mut rest) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if key.is_empty() && out.is_empty() {
            return Err(invalid(expression));
        }
        if !key.is_empty() {
            out.push(Step::Key(key.to_owned()));
        }
        while let Some(open) = rest.strip_prefix('[') {
            let (index, after) = open.split_once(']').ok_or_else(|| invalid(expression))?;
            out.push(Step::Index(index.parse().map_err(|_| invalid(expression))?));
            rest = after;
        }
        if !rest.is_empty() {
            return Err(invalid(expression));
        }
    }
    Ok(out)
}

fn variable(name: &str, expression: &str) -> Result<Part, GatewayError> {
    let path = name
        .strip_prefix("request.body.")
        .ok_or_else(|| invalid(expression))?;
    Ok(Part::Body(steps(path, expression)?))
}

impl RouteSelection {
    /// Parses an expression (`BadRequestException` for what Nubo cannot evaluate).
    pub fn parse(expression: &str) -> Result<Self, GatewayError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = expression;
        while !rest.is_empty() {
            if let Some(escaped) = rest.strip_prefix("\\$") {
                literal.push('$');
                rest = escaped;
            } else if let Some(braced) = rest.strip_prefix("${") {
                let (name, after) = braced.split_once('}').ok_or_else(|| invalid(expression))?;
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(variable(name, expression)?);
                rest = after;
            } else if let Some(bare) = rest.strip_prefix('$') {
                if bare == "default" {
                    literal.push_str("$default");
                    break;
                }
                let end = bare
                    .find(|c: char| !(c.is_ascii_alphanumeric() || "_-.[]".contains(c)))
                    .unwrap_or(bare.len());
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(variable(&bare[..end], expression)?);
                rest = &bare[end..];
            } else {
                let next = rest.find(['$', '\\']).unwrap_or(rest.len()).max(1);
                literal.push_str(&rest[..next]);
                rest = &rest[next..];
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if parts.is_empty() {
            return Err(invalid(expression));
        }
        Ok(Self { parts })
    }

    /// The route key a message selects; `None` when the message is not JSON (or not an object
    /// the expression can read), which goes to `$default`.
    pub fn select(&self, message: &[u8]) -> Option<String> {
        let needs_body = self.parts.iter().any(|p| matches!(p, Part::Body(_)));
        let body: Value = if needs_body {
            serde_json::from_slice(message).ok()?
        } else {
            Value::Null
        };
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Body(steps) => {
                    let mut at = Some(&body);
                    for step in steps {
                        at = match step {
                            Step::Key(key) => at.and_then(|v| v.get(key.as_str())),
                            Step::Index(i) => at.and_then(|v| v.get(*i)),
                        };
                    }
                    match at {
                        None | Some(Value::Null) => {}
                        Some(Value::String(s)) => out.push_str(s),
                        Some(other) => out.push_str(&other.to_string()),
                    }
                }
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(expression: &str, message: &str) -> Option<String> {
        RouteSelection::parse(expression)
            .unwrap()
            .select(message.as_bytes())
    }

    #[test]
    fn selects_by_json_paths() {
        let m = r#"{"action":"join","room":{"name":"a","n":[1,2]},"flag":true}"#;
        assert_eq!(select("$request.body.action", m).as_deref(), Some("join"));
        assert_eq!(select("${request.body.action}", m).as_deref(), Some("join"));
        assert_eq!(select("$request.body.room.name", m).as_deref(), Some("a"));
        assert_eq!(select("$request.body.room.n[1]", m).as_deref(), Some("2"));
        assert_eq!(select("$request.body.flag", m).as_deref(), Some("true"));
        assert_eq!(select("$request.body.missing", m).as_deref(), Some(""));
        assert_eq!(
            select("${request.body.room.name}/${request.body.action}", m).as_deref(),
            Some("a/join")
        );
        assert_eq!(select("$request.body.action", "not json"), None);
    }

    #[test]
    fn refuses_what_it_cannot_evaluate() {
        for bad in [
            "",
            "$request.header.x",
            "${request.body.a",
            "$request.body.",
            "$request.body.a[x]",
        ] {
            assert!(RouteSelection::parse(bad).is_err(), "{bad}");
        }
        assert!(RouteSelection::parse("\\$default").is_ok());
    }
}
