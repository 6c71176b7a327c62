//! Rendering a parsed template: values are JSON values (what `$input.path`, `$util.parseJson` and
//! literals make), rendered as Velocity renders Java objects (strings bare, maps `{k=v}`, lists
//! `[a, b]`, null as nothing). `$input`, `$util`, `$context` and `$stageVariables` are built in;
//! `#set` and `#foreach` variables live in one flat scope, as in Velocity.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Value};

use super::parse::{Access, Expr, Node, Op, Reference};
use super::{json_path, Inputs, TemplateError};

/// AWS's cap on `#foreach` iterations.
const MAX_ITERATIONS: usize = 1000;

pub(super) struct Env<'a> {
    inputs: &'a Inputs<'a>,
    locals: HashMap<String, Value>,
    body: Option<Value>,
}

/// Velocity's rendering of a value.
pub(super) fn display(value: &Value, out: &mut String) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                display(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                display(v, out);
            }
            out.push('}');
        }
    }
}

fn to_text(value: &Value) -> String {
    let mut out = String::new();
    display(value, &mut out);
    out
}

fn truthy(value: Option<&Value>) -> bool {
    !matches!(value, None | Some(Value::Null) | Some(Value::Bool(false)))
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => match (a, b) {
            (Value::Null, Value::Null) => true,
            (Value::Null, _) | (_, Value::Null) => false,
            _ => a == b || to_text(a) == to_text(b),
        },
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => match (a, b) {
            (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
            _ => None,
        },
    }
}

fn arithmetic(op: Op, a: &Value, b: &Value) -> Value {
    if op == Op::Add && (a.is_string() || b.is_string()) {
        return Value::String(to_text(a) + &to_text(b));
    }
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return match op {
            Op::Add => x.checked_add(y).map_or(Value::Null, Value::from),
            Op::Sub => x.checked_sub(y).map_or(Value::Null, Value::from),
            Op::Mul => x.checked_mul(y).map_or(Value::Null, Value::from),
            Op::Div => x.checked_div(y).map_or(Value::Null, Value::from),
            _ => x.checked_rem(y).map_or(Value::Null, Value::from),
        };
    }
    let (Some(x), Some(y)) = (number(a), number(b)) else {
        return Value::Null;
    };
    let result = match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::Mul => x * y,
        Op::Div => x / y,
        _ => x % y,
    };
    serde_json::Number::from_f64(result).map_or(Value::Null, Value::Number)
}

/// `$util.escapeJavaScript`: Java's `StringEscapeUtils.escapeJavaScript`.
pub(super) fn escape_javascript(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// `$util.urlEncode`: Java's `URLEncoder` (space as `+`).
pub(super) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn url_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn at_path<'v>(root: &'v Value, path: &[String]) -> &'v Value {
    path.iter()
        .try_fold(root, |v, key| match v {
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => v.get(key),
        })
        .unwrap_or(&Value::Null)
}

impl<'a> Env<'a> {
    pub(super) fn new(inputs: &'a Inputs<'a>) -> Self {
        Self {
            inputs,
            locals: HashMap::new(),
            body: None,
        }
    }

    fn body_json(&mut self) -> &Value {
        let inputs = self.inputs;
        self.body
            .get_or_insert_with(|| serde_json::from_slice(inputs.body).unwrap_or(Value::Null))
    }

    pub(super) fn render(&mut self, nodes: &[Node], out: &mut String) -> Result<(), TemplateError> {
        for node in nodes {
            match node {
                Node::Text(text) => out.push_str(text),
                Node::Ref {
                    reference,
                    quiet,
                    source,
                    line,
                } => match self.reference(reference, *line)? {
                    Some(value) => display(&value, out),
                    None if *quiet || self.builtin(&reference.root) => {}
                    None => out.push_str(source),
                },
                Node::Set {
                    name,
                    path,
                    value,
                    line,
                } => {
                    let value = self.expr(value, *line)?.unwrap_or(Value::Null);
                    if path.is_empty() {
                        self.locals.insert(name.clone(), value);
                    } else {
                        let mut target = self.locals.entry(name.clone()).or_insert(Value::Null);
                        for key in path {
                            if !target.is_object() {
                                *target = Value::Object(Map::new());
                            }
                            target = target
                                .as_object_mut()
                                .map(|m| m.entry(key.clone()).or_insert(Value::Null))
                                .ok_or_else(|| TemplateError::at(*line, "cannot set"))?;
                        }
                        *target = value;
                    }
                }
                Node::If {
                    branches,
                    otherwise,
                    line,
                } => {
                    let mut taken = false;
                    for (condition, body) in branches {
                        if truthy(self.expr(condition, *line)?.as_ref()) {
                            self.render(body, out)?;
                            taken = true;
                            break;
                        }
                    }
                    if !taken {
                        self.render(otherwise, out)?;
                    }
                }
                Node::Foreach {
                    var,
                    items,
                    body,
                    line,
                } => {
                    let items = match self.expr(items, *line)? {
                        Some(Value::Array(items)) => items,
                        Some(Value::Object(map)) => map.into_iter().map(|(_, v)| v).collect(),
                        Some(Value::Null) | None => Vec::new(),
                        Some(one) => vec![one],
                    };
                    let saved = (
                        self.locals.remove(var),
                        self.locals.remove("foreach"),
                        self.locals.remove("velocityCount"),
                    );
                    let count = items.len().min(MAX_ITERATIONS);
                    for (index, item) in items.into_iter().take(count).enumerate() {
                        self.locals.insert(var.clone(), item);
                        self.locals.insert(
                            "foreach".into(),
                            serde_json::json!({
                                "index": index, "count": index + 1,
                                "hasNext": index + 1 < count,
                                "first": index == 0, "last": index + 1 == count,
                            }),
                        );
                        self.locals
                            .insert("velocityCount".into(), Value::from(index + 1));
                        self.render(body, out)?;
                    }
                    for (name, value) in [
                        (var.as_str(), saved.0),
                        ("foreach", saved.1),
                        ("velocityCount", saved.2),
                    ] {
                        match value {
                            Some(v) => self.locals.insert(name.to_owned(), v),
                            None => self.locals.remove(name),
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether an undefined reference under this root renders as nothing (API Gateway's own
    /// variables) rather than as written (a `#set` variable never set).
    fn builtin(&self, root: &str) -> bool {
        matches!(root, "input" | "context" | "stageVariables" | "util")
    }

    fn expr(&mut self, expr: &Expr, line: usize) -> Result<Option<Value>, TemplateError> {
        Ok(match expr {
            Expr::Lit(v) => Some(v.clone()),
            Expr::Ref(r) => self.reference(r, line)?,
            Expr::Interpolated(nodes) => {
                let mut out = String::new();
                self.render(nodes, &mut out)?;
                Some(Value::String(out))
            }
            Expr::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.expr(item, line)?.unwrap_or(Value::Null));
                }
                Some(Value::Array(values))
            }
            Expr::Range(from, to) => {
                let from = self.expr(from, line)?.and_then(|v| v.as_i64()).unwrap_or(0);
                let to = self.expr(to, line)?.and_then(|v| v.as_i64()).unwrap_or(0);
                let values: Vec<Value> = if from <= to {
                    (from..=to).take(MAX_ITERATIONS).map(Value::from).collect()
                } else {
                    (to..=from)
                        .rev()
                        .take(MAX_ITERATIONS)
                        .map(Value::from)
                        .collect()
                };
                Some(Value::Array(values))
            }
            Expr::Map(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    let key = to_text(&self.expr(k, line)?.unwrap_or(Value::Null));
                    map.insert(key, self.expr(v, line)?.unwrap_or(Value::Null));
                }
                Some(Value::Object(map))
            }
            Expr::Not(inner) => Some(Value::Bool(!truthy(self.expr(inner, line)?.as_ref()))),
            Expr::Neg(inner) => {
                let v = self.expr(inner, line)?.unwrap_or(Value::Null);
                Some(arithmetic(Op::Sub, &Value::from(0), &v))
            }
            Expr::Binary(Op::And, a, b) => Some(Value::Bool(
                truthy(self.expr(a, line)?.as_ref()) && truthy(self.expr(b, line)?.as_ref()),
            )),
            Expr::Binary(Op::Or, a, b) => Some(Value::Bool(
                truthy(self.expr(a, line)?.as_ref()) || truthy(self.expr(b, line)?.as_ref()),
            )),
            Expr::Binary(op, a, b) => {
                let a = self.expr(a, line)?.unwrap_or(Value::Null);
                let b = self.expr(b, line)?.unwrap_or(Value::Null);
                use std::cmp::Ordering::*;
                Some(match op {
                    Op::Eq => Value::Bool(equal(&a, &b)),
                    Op::Ne => Value::Bool(!equal(&a, &b)),
                    Op::Lt => Value::Bool(compare(&a, &b) == Some(Less)),
                    Op::Le => Value::Bool(matches!(compare(&a, &b), Some(Less | Equal))),
                    Op::Gt => Value::Bool(compare(&a, &b) == Some(Greater)),
                    Op::Ge => Value::Bool(matches!(compare(&a, &b), Some(Greater | Equal))),
                    _ => arithmetic(*op, &a, &b),
                })
            }
        })
    }

    fn args(&mut self, args: &[Expr], line: usize) -> Result<Vec<Value>, TemplateError> {
        args.iter()
            .map(|a| Ok(self.expr(a, line)?.unwrap_or(Value::Null)))
            .collect()
    }

    /// A reference's value (`None`: undefined).
    fn reference(&mut self, r: &Reference, line: usize) -> Result<Option<Value>, TemplateError> {
        let (mut value, rest) = match r.root.as_str() {
            "input" => match r.chain.first() {
                Some(first) => (self.input(first, line)?, &r.chain[1..]),
                None => return Ok(None),
            },
            "util" => match r.chain.first() {
                Some(Access::Call(name, args)) => {
                    let args = self.args(args, line)?;
                    (Some(util(name, &args, line)?), &r.chain[1..])
                }
                _ => return Ok(None),
            },
            "context" => (Some(self.inputs.context.clone()), &r.chain[..]),
            "stageVariables" => (
                Some(serde_json::to_value(self.inputs.stage_variables).unwrap_or(Value::Null)),
                &r.chain[..],
            ),
            name => {
                // `$list.add(x)` / `$map.put(k, v)` change a variable in place.
                if let [Access::Call(method, args)] = r.chain.as_slice() {
                    if matches!(method.as_str(), "add" | "put" | "remove") {
                        let args = self.args(args, line)?;
                        if let Some(target) = self.locals.get_mut(name) {
                            return Ok(Some(mutate(target, method, &args)));
                        }
                    }
                }
                (self.locals.get(name).cloned(), &r.chain[..])
            }
        };
        for access in rest {
            let Some(current) = value else {
                return Ok(None);
            };
            value = match access {
                Access::Prop(name) => match &current {
                    Value::Object(map) => map.get(name).cloned(),
                    _ => method(&current, name, &[]),
                },
                Access::Index(index) => {
                    let index = self.expr(index, line)?.unwrap_or(Value::Null);
                    match (&current, &index) {
                        (Value::Array(items), i) => i
                            .as_i64()
                            .and_then(|i| usize::try_from(i).ok())
                            .and_then(|i| items.get(i).cloned()),
                        (Value::Object(map), k) => map.get(&to_text(k)).cloned(),
                        _ => None,
                    }
                }
                Access::Call(name, args) => {
                    let args = self.args(args, line)?;
                    method(&current, name, &args)
                }
            };
        }
        Ok(value)
    }

    /// `$input.body`, `$input.json('$…')`, `$input.path('$…')`, `$input.params(…)`.
    fn input(&mut self, access: &Access, line: usize) -> Result<Option<Value>, TemplateError> {
        Ok(match access {
            Access::Prop(name) if name == "body" => Some(Value::String(
                String::from_utf8_lossy(self.inputs.body).into_owned(),
            )),
            Access::Call(name, args) if name == "json" || name == "path" => {
                let args = self.args(args, line)?;
                let path = json_path(args.first().and_then(Value::as_str).unwrap_or("$"));
                let found = at_path(self.body_json(), &path).clone();
                if name == "json" {
                    Some(Value::String(found.to_string()))
                } else {
                    Some(found)
                }
            }
            Access::Call(name, args) if name == "params" => {
                let args = self.args(args, line)?;
                match args.first().and_then(Value::as_str) {
                    Some(name) => Some(Value::String(self.inputs.param(name).unwrap_or_default())),
                    None => Some(self.inputs.all_params()),
                }
            }
            Access::Prop(name) if name == "params" => Some(self.inputs.all_params()),
            _ => None,
        })
    }
}

fn mutate(target: &mut Value, method: &str, args: &[Value]) -> Value {
    match (target, method, args) {
        (Value::Array(items), "add", [v]) => {
            items.push(v.clone());
            Value::Bool(true)
        }
        (Value::Object(map), "put", [k, v]) => {
            map.insert(to_text(k), v.clone()).unwrap_or(Value::Null)
        }
        (Value::Object(map), "remove", [k]) => map.remove(&to_text(k)).unwrap_or(Value::Null),
        (Value::Array(items), "remove", [i]) => i
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|i| *i < items.len())
            .map_or(Value::Null, |i| items.remove(i)),
        _ => Value::Null,
    }
}

/// The Java methods templates call on strings, lists and maps.
fn method(value: &Value, name: &str, args: &[Value]) -> Option<Value> {
    let arg_text = |i: usize| args.get(i).map(to_text).unwrap_or_default();
    let arg_int = |i: usize| args.get(i).and_then(Value::as_i64);
    match (value, name) {
        (_, "toString") => Some(Value::String(to_text(value))),
        (_, "equals") => Some(Value::Bool(args.first().is_some_and(|a| equal(value, a)))),
        (Value::String(s), "length") => Some(Value::from(s.chars().count())),
        (Value::String(s), "isEmpty") => Some(Value::Bool(s.is_empty())),
        (Value::String(s), "contains") => Some(Value::Bool(s.contains(&arg_text(0)))),
        (Value::String(s), "startsWith") => Some(Value::Bool(s.starts_with(&arg_text(0)))),
        (Value::String(s), "endsWith") => Some(Value::Bool(s.ends_with(&arg_text(0)))),
        (Value::String(s), "equalsIgnoreCase") => {
            Some(Value::Bool(s.eq_ignore_ascii_case(&arg_text(0))))
        }
        (Value::String(s), "toLowerCase") => Some(Value::String(s.to_lowercase())),
        (Value::String(s), "toUpperCase") => Some(Value::String(s.to_uppercase())),
        (Value::String(s), "trim") => Some(Value::String(s.trim().to_owned())),
        (Value::String(s), "indexOf") => Some(Value::from(
            s.find(&arg_text(0))
                .map_or(-1, |i| s[..i].chars().count() as i64),
        )),
        (Value::String(s), "replace" | "replaceAll") => {
            Some(Value::String(s.replace(&arg_text(0), &arg_text(1))))
        }
        (Value::String(s), "split") => Some(Value::Array(
            s.split(&arg_text(0))
                .map(|p| Value::String(p.to_owned()))
                .collect(),
        )),
        (Value::String(s), "substring") => {
            let chars: Vec<char> = s.chars().collect();
            let from = usize::try_from(arg_int(0)?).ok()?;
            let to = match arg_int(1) {
                Some(to) => usize::try_from(to).ok()?,
                None => chars.len(),
            };
            (from <= to && to <= chars.len())
                .then(|| Value::String(chars[from..to].iter().collect()))
        }
        (Value::String(s), "charAt") => s
            .chars()
            .nth(usize::try_from(arg_int(0)?).ok()?)
            .map(|c| Value::String(c.to_string())),
        (Value::Array(items), "size") => Some(Value::from(items.len())),
        (Value::Array(items), "isEmpty") => Some(Value::Bool(items.is_empty())),
        (Value::Array(items), "get") => items.get(usize::try_from(arg_int(0)?).ok()?).cloned(),
        (Value::Array(items), "contains") => Some(Value::Bool(
            args.first()
                .is_some_and(|a| items.iter().any(|i| equal(i, a))),
        )),
        (Value::Object(map), "size") => Some(Value::from(map.len())),
        (Value::Object(map), "isEmpty") => Some(Value::Bool(map.is_empty())),
        (Value::Object(map), "get") => map.get(&arg_text(0)).cloned(),
        (Value::Object(map), "containsKey") => Some(Value::Bool(map.contains_key(&arg_text(0)))),
        (Value::Object(map), "keySet") => Some(Value::Array(
            map.keys().map(|k| Value::String(k.clone())).collect(),
        )),
        (Value::Object(map), "values") => Some(Value::Array(map.values().cloned().collect())),
        _ => None,
    }
}

/// `$util.…`.
fn util(name: &str, args: &[Value], line: usize) -> Result<Value, TemplateError> {
    let text = args.first().map(to_text).unwrap_or_default();
    Ok(match name {
        "escapeJavaScript" => Value::String(escape_javascript(&text)),
        "parseJson" => serde_json::from_str(&text)
            .map_err(|e| TemplateError::at(line, format!("$util.parseJson: invalid JSON: {e}")))?,
        "urlEncode" => Value::String(url_encode(&text)),
        "urlDecode" => Value::String(url_decode(&text)),
        "base64Encode" => Value::String(base64::engine::general_purpose::STANDARD.encode(&text)),
        "base64Decode" => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| TemplateError::at(line, format!("$util.base64Decode: {e}")))?;
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        }
        "toJson" => Value::String(args.first().unwrap_or(&Value::Null).to_string()),
        other => {
            return Err(TemplateError::at(
                line,
                format!("$util.{other} is not supported"),
            ))
        }
    })
}
