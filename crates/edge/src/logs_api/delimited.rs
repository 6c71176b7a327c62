//! CloudWatch Logs' space-delimited filter patterns: `[ip, user, ..., status=5*, bytes>1000]`.
//!
//! An event splits into fields at spaces; text in double quotes or square brackets is one field
//! (without its quotes or brackets), as in an Apache access-log line. The pattern names fields in
//! order; `...` stands for any number of fields (none included). Without `...` the event must
//! have exactly as many fields as the pattern names. A field may carry conditions on the named
//! fields: `=`/`!=` (numbers compare as numbers; text with `*` wildcards, optionally quoted),
//! `<`, `<=`, `>`, `>=` (numbers), joined by `&&` and `||` (`&&` binds tighter).

use super::filter::{wildcard, InvalidPattern, Literal, Op};

/// A compiled space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Delimited {
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Ellipsis,
    Field {
        name: String,
        condition: Option<Cond>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    Or(Box<Cond>, Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Test(String, Op, Literal),
}

fn invalid(detail: impl Into<String>) -> InvalidPattern {
    InvalidPattern(format!("Invalid filter pattern: {}", detail.into()))
}

impl Delimited {
    /// Compiles `[…]` (the brackets included).
    pub(crate) fn parse(pattern: &str) -> Result<Self, InvalidPattern> {
        let inner = pattern
            .trim()
            .strip_prefix('[')
            .and_then(|p| p.strip_suffix(']'))
            .ok_or_else(|| invalid("a space-delimited pattern must end with ']'"))?;
        let mut items = Vec::new();
        for text in split_outside_quotes(inner, ',') {
            let text = text.trim();
            if text.is_empty() {
                return Err(invalid("an empty field in a space-delimited pattern"));
            }
            if text == "..." {
                items.push(Item::Ellipsis);
                continue;
            }
            let tokens = tokenize(text)?;
            let Some(Token::Word(name)) = tokens.first().cloned() else {
                return Err(invalid(format!("a field must start with its name: {text}")));
            };
            if !is_name(&name) {
                return Err(invalid(format!("not a field name: {name}")));
            }
            let condition = if tokens.len() == 1 {
                None
            } else {
                let mut parser = Parser { tokens, at: 0 };
                let condition = parser.or()?;
                if parser.at != parser.tokens.len() {
                    return Err(invalid(format!("unexpected text in field: {text}")));
                }
                Some(condition)
            };
            items.push(Item::Field { name, condition });
        }
        if items.is_empty() {
            return Err(invalid("a space-delimited pattern names no fields"));
        }
        Ok(Self { items })
    }

    /// Whether `message` matches.
    pub(crate) fn matches(&self, message: &str) -> bool {
        let fields = split_fields(message);
        let mut bound = Vec::with_capacity(self.items.len());
        self.align(&self.items, &fields, &mut bound)
    }

    /// Binds the pattern's fields to the event's, trying every span an ellipsis may take, and
    /// checks the conditions once all are bound.
    fn align<'a>(
        &'a self,
        items: &'a [Item],
        fields: &[&'a str],
        bound: &mut Vec<(&'a str, &'a str)>,
    ) -> bool {
        match items.split_first() {
            None => fields.is_empty() && self.conditions_hold(bound),
            Some((Item::Ellipsis, rest)) => {
                (0..=fields.len()).any(|skip| self.align(rest, &fields[skip..], bound))
            }
            Some((Item::Field { name, .. }, rest)) => {
                let Some((first, others)) = fields.split_first() else {
                    return false;
                };
                bound.push((name.as_str(), first));
                let matched = self.align(rest, others, bound);
                bound.pop();
                matched
            }
        }
    }

    fn conditions_hold(&self, bound: &[(&str, &str)]) -> bool {
        self.items.iter().all(|item| match item {
            Item::Field {
                condition: Some(condition),
                ..
            } => condition.eval(bound),
            _ => true,
        })
    }
}

impl Cond {
    fn eval(&self, bound: &[(&str, &str)]) -> bool {
        match self {
            Self::Or(a, b) => a.eval(bound) || b.eval(bound),
            Self::And(a, b) => a.eval(bound) && b.eval(bound),
            Self::Test(name, op, literal) => {
                let Some((_, value)) = bound.iter().find(|(n, _)| n == name) else {
                    return false;
                };
                test(value, *op, literal)
            }
        }
    }
}

fn test(value: &str, op: Op, literal: &Literal) -> bool {
    match literal {
        Literal::Number(n) => match value.parse::<f64>() {
            Ok(v) => match op {
                Op::Eq => v == *n,
                Op::Ne => v != *n,
                Op::Lt => v < *n,
                Op::Le => v <= *n,
                Op::Gt => v > *n,
                Op::Ge => v >= *n,
            },
            Err(_) => op == Op::Ne,
        },
        Literal::Text(pattern) => match op {
            Op::Eq => wildcard(pattern, value),
            Op::Ne => !wildcard(pattern, value),
            _ => false,
        },
    }
}

/// An event's fields: space-separated, `"quoted text"` and `[bracketed text]` one field each.
fn split_fields(message: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            open @ (b'"' | b'[') => {
                let close = if open == b'"' { b'"' } else { b']' };
                let start = i + 1;
                let end = bytes[start..]
                    .iter()
                    .position(|&b| b == close)
                    .map_or(bytes.len(), |at| start + at);
                fields.push(&message[start..end]);
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
                fields.push(&message[start..i]);
            }
        }
    }
    fields
}

/// `text` split at `separator`s that are not inside double quotes.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (at, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn is_name(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(Op),
    And,
    Or,
}

fn tokenize(text: &str) -> Result<Vec<Token>, InvalidPattern> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
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
                i += if next == Some('=') { 2 } else { 1 };
            }
            '!' if next == Some('=') => {
                tokens.push(Token::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' => {
                let op = match (c, next == Some('=')) {
                    ('<', true) => Op::Le,
                    ('<', false) => Op::Lt,
                    (_, true) => Op::Ge,
                    (_, false) => Op::Gt,
                };
                tokens.push(Token::Op(op));
                i += if next == Some('=') { 2 } else { 1 };
            }
            '"' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '"')
                    .map(|at| start + at)
                    .ok_or_else(|| invalid("an unclosed quote"))?;
                tokens.push(Token::Quoted(chars[start..end].iter().collect()));
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"=!<>&|\"".contains(chars[i])
                {
                    i += 1;
                }
                if start == i {
                    return Err(invalid(format!("unexpected '{c}'")));
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self) -> Result<Cond, InvalidPattern> {
        let mut left = self.and()?;
        while self.tokens.get(self.at) == Some(&Token::Or) {
            self.at += 1;
            left = Cond::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond, InvalidPattern> {
        let mut left = self.test()?;
        while self.tokens.get(self.at) == Some(&Token::And) {
            self.at += 1;
            left = Cond::And(Box::new(left), Box::new(self.test()?));
        }
        Ok(left)
    }

    fn test(&mut self) -> Result<Cond, InvalidPattern> {
        let Some(Token::Word(name)) = self.next() else {
            return Err(invalid("a condition must start with a field name"));
        };
        let Some(Token::Op(op)) = self.next() else {
            return Err(invalid(format!("a comparison operator after {name}")));
        };
        let literal = match self.next() {
            Some(Token::Quoted(text)) => Literal::Text(text),
            Some(Token::Word(word)) => match word.parse::<f64>() {
                Ok(n) if !word.contains('*') => Literal::Number(n),
                _ => Literal::Text(word),
            },
            _ => return Err(invalid(format!("a value after {name}"))),
        };
        if matches!(literal, Literal::Text(_)) && !matches!(op, Op::Eq | Op::Ne) {
            return Err(invalid(format!(
                "{name}: only numbers compare with < and >"
            )));
        }
        Ok(Cond::Test(name, op, literal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APACHE: &str =
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534"#;

    fn matches(pattern: &str, message: &str) -> bool {
        Delimited::parse(pattern).unwrap().matches(message)
    }

    #[test]
    fn fields_split_at_spaces_with_quotes_and_brackets_kept_whole() {
        assert_eq!(
            split_fields(APACHE),
            [
                "127.0.0.1",
                "-",
                "frank",
                "10/Oct/2000:13:25:15 -0700",
                "GET /apache_pb.gif HTTP/1.0",
                "200",
                "1534"
            ]
        );
    }

    #[test]
    fn every_field_named_or_an_ellipsis() {
        let all = "[ip, identity, user, timestamp, request, status, bytes]";
        assert!(matches(all, APACHE));
        assert!(!matches("[ip, user, status]", APACHE), "too few fields");
        assert!(matches("[ip, ...]", APACHE));
        assert!(matches("[..., status, bytes]", APACHE));
        assert!(matches("[ip, ..., bytes]", APACHE));
        assert!(matches("[ip, user, ..., status, bytes]", APACHE));
        assert!(!matches("[a, b, c, d, e, f, g, h, ...]", APACHE));
    }

    #[test]
    fn conditions_on_numbers_text_and_wildcards() {
        assert!(matches("[ip, ..., status=200, bytes>1000]", APACHE));
        assert!(!matches("[ip, ..., status=200, bytes>2000]", APACHE));
        assert!(matches("[ip, ..., status=2*, bytes]", APACHE));
        assert!(!matches("[ip, ..., status=5*, bytes]", APACHE));
        assert!(matches("[ip, ..., status=5* || status=2*, bytes]", APACHE));
        assert!(matches("[ip, ..., status!=404, bytes<=1534]", APACHE));
        assert!(matches(r#"[ip, id, user="fr*", ...]"#, APACHE));
        assert!(matches("[ip=127.0.0.1, ...]", APACHE));
        assert!(matches(r#"[..., request="GET *", status, bytes]"#, APACHE));
        assert!(!matches("[ip, id, user=bob, ...]", APACHE));
        assert!(matches(
            "[ip, ..., status>=200 && status<300, bytes]",
            APACHE
        ));
        // A text field compared as a number never matches.
        assert!(!matches("[ip, id, user>1, ...]", APACHE));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        for pattern in [
            "[ip, user",
            "[]",
            "[ip, , user]",
            "[ip, status=]",
            "[ip, status>x]",
            "[ip, =1]",
            r#"[ip, user="open]"#,
        ] {
            assert!(Delimited::parse(pattern).is_err(), "{pattern}");
        }
    }
}
