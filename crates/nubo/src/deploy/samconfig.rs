//! `samconfig.toml`: the defaults `sam deploy` reads (`[<env>.deploy.parameters]` over
//! `[<env>.global.parameters]`), so a project that deploys with a bare `sam deploy` deploys with a
//! bare `nubo deploy`. Only the flat `key = value` subset SAM writes is read (strings, booleans,
//! numbers, arrays of strings); other keys are ignored.

use std::collections::BTreeMap;
use std::path::Path;

/// The values of one command in one environment.
pub(crate) type Parameters = BTreeMap<String, Value>;

/// A samconfig value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Text(String),
    List(Vec<String>),
}

impl Value {
    /// As a list of words (`parameter_overrides = "A=1 B=2"` or `["A=1", "B=2"]`).
    pub(crate) fn words(&self) -> Vec<String> {
        match self {
            Value::Text(t) => split_words(t),
            Value::List(items) => items.clone(),
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::List(items) => items.join(" "),
        }
    }
}

/// Splits on spaces outside double quotes (`A="x y" B=2`), dropping the quotes.
fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn unquote(raw: &str) -> String {
    let raw = raw.trim();
    if raw.len() >= 2
        && ((raw.starts_with('"') && raw.ends_with('"'))
            || (raw.starts_with('\'') && raw.ends_with('\'')))
    {
        raw[1..raw.len() - 1].replace("\\\"", "\"")
    } else {
        raw.to_owned()
    }
}

fn parse_value(raw: &str) -> Value {
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Value::List(
            inner
                .split(',')
                .map(unquote)
                .filter(|s| !s.is_empty())
                .collect(),
        );
    }
    Value::Text(unquote(raw))
}

/// The `deploy` parameters of `env` in `text` (global ones first, deploy's win).
pub(crate) fn deploy_parameters(text: &str, env: &str) -> Parameters {
    let mut global = Parameters::new();
    let mut deploy = Parameters::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let target = if section == format!("{env}.global.parameters") {
            &mut global
        } else if section == format!("{env}.deploy.parameters") {
            &mut deploy
        } else {
            continue;
        };
        target.insert(key.trim().to_owned(), parse_value(value));
    }
    global.extend(deploy);
    global
}

/// `samconfig.toml` beside the template, if any.
pub(crate) fn load(dir: &Path, env: &str) -> Parameters {
    match std::fs::read_to_string(dir.join("samconfig.toml")) {
        Ok(text) => deploy_parameters(&text, env),
        Err(_) => Parameters::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_sam_writes() {
        let text = r#"
version = 0.1
[default.global.parameters]
stack_name = "orders"
[default.deploy.parameters]
capabilities = "CAPABILITY_IAM"
confirm_changeset = true
parameter_overrides = "Stage=\"dev\" Size=2"
[prod.deploy.parameters]
stack_name = "orders-prod"
parameter_overrides = ["Stage=prod"]
"#;
        let d = deploy_parameters(text, "default");
        assert_eq!(d["stack_name"].text(), "orders");
        assert_eq!(
            d["parameter_overrides"].words(),
            vec!["Stage=dev", "Size=2"]
        );
        let p = deploy_parameters(text, "prod");
        assert_eq!(p["stack_name"].text(), "orders-prod");
        assert_eq!(p["parameter_overrides"].words(), vec!["Stage=prod"]);
    }
}
