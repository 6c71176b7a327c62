//! CloudWatch Logs' filter-pattern syntax, compiled once per request and matched per event.
//!
//! Four forms, as CloudWatch defines them:
//! - **terms**: `ERROR`, `"exact phrase"`, `-excluded`, `?either ?or`. Every plain term must
//!   occur, no excluded term may, and when `?` terms are given at least one must occur. Matching
//!   is case-sensitive substring matching.
//! - **JSON**: `{ $.level = "ERROR" && ($.latency > 100 || $.user.id NOT EXISTS) }` — selectors
//!   `$.a.b[0]`, operators `=`, `!=` (strings with `*` wildcards, numbers), `<`, `<=`, `>`, `>=`
//!   (numbers), `IS TRUE`, `IS FALSE`, `IS NULL`, `NOT EXISTS`, joined by `&&` / `||` with
//!   parentheses. An event that is not a JSON object never matches.
//! - **empty** (or only spaces): every event.
//!
//! - **space-delimited**: `[ip, user, ..., status=5*, bytes>1000]` (see [`super::delimited`]).

use serde_json::Value;

/// A compiled filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FilterPattern {
    /// Every event.
    All,
    /// Term matching.
    Terms(Terms),
    /// A JSON condition.
    Json(Condition),
    /// Space-delimited fields and their conditions.
    Delimited(super::delimited::Delimited),
}

/// The terms of a term pattern.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Terms {
    required: Vec<String>,
    excluded: Vec<String>,
    optional: Vec<String>,
}

/// A JSON condition tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Compare(Selector, Op, Literal),
    IsTrue(Selector),
    IsFalse(Selector),
    IsNull(Selector),
    NotExists(Selector),
}

/// A path into the event: object keys and array indexes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selector(Vec<Step>);

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A comparison's right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Number(f64),
    Text(String),
}

/// Why a pattern was refused (the message CloudWatch's `InvalidParameterException` carries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidPattern(pub(crate) String);

fn invalid(detail: impl Into<String>) -> InvalidPattern {
    InvalidPattern(format!("Invalid filter pattern: {}", detail.into()))
}

impl FilterPattern {
    /// Compiles `pattern`.
    pub(crate) fn parse(pattern: &str) -> Result<Self, InvalidPattern> {
        let trimmed = pattern.trim();
        if trimmed.is_empty() {
            return Ok(Self::All);
        }
        if trimmed.starts_with('{') {
            let inner = trimmed
                .strip_prefix('{')
                .and_then(|p| p.strip_suffix('}'))
                .ok_or_else(|| invalid("a JSON pattern must end with '}'"))?;
            let tokens = tokenize(inner)?;
            let mut parser = Parser { tokens, at: 0 };
            let condition = parser.or()?;
            if parser.at != parser.tokens.len() {
                return Err(invalid("unexpected text after the condition"));
            }
            return Ok(Self::Json(condition));
        }
        if trimmed.starts_with('[') {
            return super::delimited::Delimited::parse(trimmed).map(Self::Delimited);
        }
        parse_terms(trimmed).map(Self::Terms)
    }

    /// Whether `message` matches.
    pub(crate) fn matches(&self, message: &str) -> bool {
        match self {
            Self::All => true,
            Self::Terms(terms) => terms.matches(message),
            Self::Delimited(pattern) => pattern.matches(message),
            Self::Json(condition) => match serde_json::from_str::<Value>(message.trim()) {
                Ok(value @ Value::Object(_)) => condition.eval(&value),
                _ => false,
            },
        }
    }
}

fn parse_terms(pattern: &str) -> Result<Terms, InvalidPattern> {
    let mut terms = Terms::default();
    let mut chars = pattern.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let kind = match first {
            '-' | '?' => {
                chars.next();
                first
            }
            _ => ' ',
        };
        let mut term = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(next) = chars.next() {
                            term.push(next);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => term.push(c),
                }
            }
            if !closed {
                return Err(invalid("unterminated quoted term"));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                term.push(c);
                chars.next();
            }
        }
        if term.is_empty() {
            continue;
        }
        match kind {
            '-' => terms.excluded.push(term),
            '?' => terms.optional.push(term),
            _ => terms.required.push(term),
        }
    }
    Ok(terms)
}

impl Terms {
    fn matches(&self, message: &str) -> bool {
        self.required.iter().all(|t| message.contains(t.as_str()))
            && !self.excluded.iter().any(|t| message.contains(t.as_str()))
            && (self.optional.is_empty()
                || self.optional.iter().any(|t| message.contains(t.as_str())))
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Selector(Selector),
    Op(Op),
    And,
    Or,
    Open,
    Close,
    Word(String),
    Quoted(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, InvalidPattern> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '&' if next == Some('&') => {
                tokens.push(Token::And);
                i += 2;
            }
            '|' if next == Some('|') => {
                tokens.push(Token::Or);
                i += 2;
            }
            '=' => {
                tokens.push(Token::Op(Op::Eq));
                i += 1;
            }
            '!' if next == Some('=') => {
                tokens.push(Token::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' => {
                let (op, len) = match (c, next) {
                    ('<', Some('=')) => (Op::Le, 2),
                    ('<', _) => (Op::Lt, 1),
                    (_, Some('=')) => (Op::Ge, 2),
                    _ => (Op::Gt, 1),
                };
                tokens.push(Token::Op(op));
                i += len;
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                let mut closed = false;
                while i < chars.len() {
                    match chars[i] {
                        '\\' if i + 1 < chars.len() => {
                            text.push(chars[i + 1]);
                            i += 2;
                        }
                        '"' => {
                            closed = true;
                            i += 1;
                            break;
                        }
                        other => {
                            text.push(other);
                            i += 1;
                        }
                    }
                }
                if !closed {
                    return Err(invalid("unterminated string"));
                }
                tokens.push(Token::Quoted(text));
            }
            '$' => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"=!<>()&|".contains(chars[i])
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                tokens.push(Token::Selector(parse_selector(&text)?));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"=!<>()&|\"".contains(chars[i])
                {
                    i += 1;
                }
                if i == start {
                    return Err(invalid(format!("unexpected '{c}'")));
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

fn parse_selector(text: &str) -> Result<Selector, InvalidPattern> {
    let rest = text
        .strip_prefix('$')
        .ok_or_else(|| invalid(format!("bad selector {text}")))?;
    let mut steps = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return Err(invalid(format!("bad selector {text}")));
            }
            steps.push(Step::Key(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| invalid(format!("bad selector {text}")))?;
            let index = after[..end]
                .parse()
                .map_err(|_| invalid(format!("bad selector {text}")))?;
            steps.push(Step::Index(index));
            rest = &after[end + 1..];
        } else {
            return Err(invalid(format!("bad selector {text}")));
        }
    }
    if steps.is_empty() {
        return Err(invalid("a selector must name a field"));
    }
    Ok(Selector(steps))
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self) -> Result<Condition, InvalidPattern> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, InvalidPattern> {
        let mut left = self.primary()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Condition::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Condition, InvalidPattern> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(invalid("missing ')'")),
                }
            }
            Some(Token::Selector(selector)) => self.test(selector),
            _ => Err(invalid("expected a selector such as $.field")),
        }
    }

    fn word(&mut self) -> Option<String> {
        match self.next() {
            Some(Token::Word(w)) => Some(w.to_ascii_uppercase()),
            _ => None,
        }
    }

    fn test(&mut self, selector: Selector) -> Result<Condition, InvalidPattern> {
        match self.next() {
            Some(Token::Op(op)) => {
                let literal = match self.next() {
                    Some(Token::Quoted(text)) => Literal::Text(text),
                    Some(Token::Word(word)) => match word.parse::<f64>() {
                        Ok(n) => Literal::Number(n),
                        Err(_) => Literal::Text(word),
                    },
                    _ => return Err(invalid("expected a value after the operator")),
                };
                if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge)
                    && !matches!(literal, Literal::Number(_))
                {
                    return Err(invalid("'<', '<=', '>' and '>=' compare numbers"));
                }
                Ok(Condition::Compare(selector, op, literal))
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("IS") => match self.word().as_deref() {
                Some("TRUE") => Ok(Condition::IsTrue(selector)),
                Some("FALSE") => Ok(Condition::IsFalse(selector)),
                Some("NULL") => Ok(Condition::IsNull(selector)),
                _ => Err(invalid("expected TRUE, FALSE or NULL after IS")),
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("NOT") => match self.word().as_deref() {
                Some("EXISTS") => Ok(Condition::NotExists(selector)),
                _ => Err(invalid("expected EXISTS after NOT")),
            },
            _ => Err(invalid("expected an operator after the selector")),
        }
    }
}

impl Selector {
    fn find<'a>(&self, value: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(value, |v, step| match step {
            Step::Key(key) => v.get(key.as_str()),
            Step::Index(i) => v.get(*i),
        })
    }
}

impl Condition {
    fn eval(&self, event: &Value) -> bool {
        match self {
            Self::And(a, b) => a.eval(event) && b.eval(event),
            Self::Or(a, b) => a.eval(event) || b.eval(event),
            Self::IsTrue(s) => s.find(event) == Some(&Value::Bool(true)),
            Self::IsFalse(s) => s.find(event) == Some(&Value::Bool(false)),
            Self::IsNull(s) => s.find(event) == Some(&Value::Null),
            Self::NotExists(s) => s.find(event).is_none(),
            Self::Compare(s, op, literal) => match s.find(event) {
                Some(found) => compare(found, *op, literal),
                None => false,
            },
        }
    }
}

fn compare(found: &Value, op: Op, literal: &Literal) -> bool {
    match literal {
        Literal::Number(n) => {
            let Some(value) = found.as_f64() else {
                return false;
            };
            match op {
                Op::Eq => value == *n,
                Op::Ne => value != *n,
                Op::Lt => value < *n,
                Op::Le => value <= *n,
                Op::Gt => value > *n,
                Op::Ge => value >= *n,
            }
        }
        Literal::Text(pattern) => {
            let text = match found {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return false,
            };
            let equal = wildcard(pattern, &text);
            match op {
                Op::Eq => equal,
                Op::Ne => !equal,
                _ => false,
            }
        }
    }
}

/// `*` matches any run of characters; everything else literally.
pub(super) fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, message: &str) -> bool {
        FilterPattern::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn empty_pattern_matches_everything() {
        assert!(matches("", "anything"));
        assert!(matches("   ", ""));
    }

    #[test]
    fn terms_must_all_occur_case_sensitively() {
        assert!(matches("ERROR timeout", "ERROR: request timeout"));
        assert!(!matches("ERROR timeout", "ERROR: request failed"));
        assert!(!matches("error", "ERROR: x"));
    }

    #[test]
    fn quoted_phrases_match_exactly() {
        assert!(matches("\"request failed\"", "ERROR: request failed here"));
        assert!(!matches("\"request failed\"", "failed request"));
        assert!(matches("\"a:b\" -\"c d\"", "x a:b y"));
    }

    #[test]
    fn question_marks_are_alternatives_and_minus_excludes() {
        assert!(matches("?ERROR ?WARN", "WARN disk"));
        assert!(matches("?ERROR ?WARN", "ERROR disk"));
        assert!(!matches("?ERROR ?WARN", "INFO disk"));
        assert!(matches("ERROR -retry", "ERROR final"));
        assert!(!matches("ERROR -retry", "ERROR will retry"));
    }

    #[test]
    fn json_equality_with_strings_numbers_and_wildcards() {
        let event =
            r#"{"level":"ERROR","latency":250,"user":{"id":"u-42","admin":true},"tags":["a","b"]}"#;
        assert!(matches(r#"{ $.level = "ERROR" }"#, event));
        assert!(matches("{ $.level = ERROR }", event));
        assert!(!matches(r#"{ $.level = "INFO" }"#, event));
        assert!(matches(r#"{ $.level != "INFO" }"#, event));
        assert!(matches(r#"{ $.user.id = "u-*" }"#, event));
        assert!(matches("{ $.latency = 250 }", event));
        assert!(matches("{ $.latency > 100 && $.latency <= 250 }", event));
        assert!(!matches("{ $.latency < 100 }", event));
        assert!(matches(r#"{ $.tags[1] = "b" }"#, event));
        assert!(matches("{ $.user.admin IS TRUE }", event));
        assert!(matches("{ $.missing NOT EXISTS }", event));
        assert!(matches(
            r#"{ ($.level = "INFO" || $.latency > 200) && $.user.id = "u-42" }"#,
            event
        ));
        assert!(!matches(r#"{ $.level = "ERROR" }"#, "ERROR not json"));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        for pattern in [
            "{ $.a = ",
            "{ $.a = 1",
            "{ a = 1 }",
            "{ $.a > x }",
            "\"open",
            "[ip, user",
            "{ ($.a = 1 }",
        ] {
            assert!(FilterPattern::parse(pattern).is_err(), "{pattern}");
        }
    }

    #[test]
    fn wildcards_anchor_both_ends() {
        assert!(wildcard("a*c", "abc"));
        assert!(wildcard("*c", "abc"));
        assert!(wildcard("a*", "abc"));
        assert!(!wildcard("a*c", "abd"));
        assert!(wildcard("a*b*c", "a1b2c"));
        assert!(!wildcard("ab*ba", "aba"));
    }
}
