//! The Velocity subset's parser: text, references (`$a.b.c(…)[i]`, `${…}`, quiet `$!…`),
//! directives (`#set`, `#if/#elseif/#else/#end`, `#foreach`, also braced as `#{else}`), comments
//! (`##…`, `#*…*#`) and expressions with literals, lists, ranges, maps, comparisons, boolean
//! and arithmetic operators. A directive alone on its line takes its line with it (Velocity 2's
//! "lines" space gobbling), so templates indent freely without blank lines in the output.

use serde_json::Value;

use super::TemplateError;

/// One step along a reference.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// `.name`.
    Prop(String),
    /// `.name(args)`.
    Call(String, Vec<Expr>),
    /// `[expr]`.
    Index(Expr),
}

/// `$root.access…`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// The variable (`input`, `context`, `util`, a `#set` one, …).
    pub root: String,
    /// What follows.
    pub chain: Vec<Access>,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `||`, `or`.
    Or,
    /// `&&`, `and`.
    And,
    /// `==`, `eq`.
    Eq,
    /// `!=`, `ne`.
    Ne,
    /// `<`, `lt`.
    Lt,
    /// `<=`, `le`.
    Le,
    /// `>`, `gt`.
    Gt,
    /// `>=`, `ge`.
    Ge,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
}

/// An expression (in a directive's parentheses or a method's arguments).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal.
    Lit(Value),
    /// A reference.
    Ref(Reference),
    /// `"…$x…"`: an interpolated string.
    Interpolated(Vec<Node>),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// `[a..b]`.
    Range(Box<Expr>, Box<Expr>),
    /// `{k: v}`.
    Map(Vec<(Expr, Expr)>),
    /// `!x`, `not x`.
    Not(Box<Expr>),
    /// `-x`.
    Neg(Box<Expr>),
    /// `a op b`.
    Binary(Op, Box<Expr>, Box<Expr>),
}

/// A node of a parsed template.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Text as written.
    Text(String),
    /// A reference to render; `source` is rendered as written when it is undefined (not quiet).
    Ref {
        /// The reference.
        reference: Reference,
        /// `$!…`: undefined renders as nothing.
        quiet: bool,
        /// As written.
        source: String,
        /// Line, for errors.
        line: usize,
    },
    /// `#set($name = expr)` or `#set($name.key = expr)`.
    Set {
        /// The variable.
        name: String,
        /// Keys into it.
        path: Vec<String>,
        /// The value.
        value: Expr,
        /// Line, for errors.
        line: usize,
    },
    /// `#if … #elseif … #else … #end`.
    If {
        /// Conditions and their bodies.
        branches: Vec<(Expr, Vec<Node>)>,
        /// `#else`.
        otherwise: Vec<Node>,
        /// Line, for errors.
        line: usize,
    },
    /// `#foreach($var in expr) … #end`.
    Foreach {
        /// The loop variable.
        var: String,
        /// What is iterated.
        items: Expr,
        /// The body.
        body: Vec<Node>,
        /// Line, for errors.
        line: usize,
    },
}

/// How a block ended.
enum Stop {
    Eof,
    End,
    Else,
    ElseIf(Expr),
}

pub(super) struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

fn ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn line_at(&self, pos: usize) -> usize {
        self.src[..pos.min(self.src.len())].matches('\n').count() + 1
    }

    fn error(&self, message: impl Into<String>) -> TemplateError {
        TemplateError {
            line: self.line_at(self.pos),
            message: message.into(),
        }
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> TemplateError {
        TemplateError {
            line: self.line_at(pos),
            message: message.into(),
        }
    }

    fn eat(&mut self, text: &str) -> bool {
        if self.rest().starts_with(text) {
            self.pos += text.len();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn expect(&mut self, text: &str, what: &str) -> Result<(), TemplateError> {
        self.skip_ws();
        if self.eat(text) {
            Ok(())
        } else {
            Err(self.error(format!("expected {what}")))
        }
    }

    fn ident(&mut self) -> Option<String> {
        let rest = self.rest();
        if !rest.chars().next().is_some_and(ident_start) {
            return None;
        }
        let len = rest.find(|c: char| !ident_char(c)).unwrap_or(rest.len());
        // A trailing `-` belongs to the text (`$a-` in `"$a-$b"` is `$a` then `-`).
        let len = rest[..len].trim_end_matches('-').len();
        self.pos += len;
        Some(rest[..len].to_owned())
    }

    /// The whole template.
    pub(super) fn template(&mut self) -> Result<Vec<Node>, TemplateError> {
        let start = self.pos;
        let (nodes, stop) = self.block()?;
        match stop {
            Stop::Eof => Ok(nodes),
            Stop::End => Err(self.error("#end without an open #if or #foreach")),
            Stop::Else | Stop::ElseIf(_) => {
                let _ = start;
                Err(self.error("#else or #elseif without an open #if"))
            }
        }
    }

    /// Nodes up to the end of the source or a directive that closes a block.
    fn block(&mut self) -> Result<(Vec<Node>, Stop), TemplateError> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        macro_rules! flush {
            () => {
                if !text.is_empty() {
                    nodes.push(Node::Text(std::mem::take(&mut text)));
                }
            };
        }
        while let Some(c) = self.peek() {
            let rest = self.rest();
            if rest.starts_with("##") {
                let end = rest.find('\n').map_or(rest.len(), |n| n + 1);
                self.pos += end;
                continue;
            }
            if rest.starts_with("#*") {
                let Some(end) = rest.find("*#") else {
                    return Err(self.error("#* comment without *#"));
                };
                self.pos += end + 2;
                continue;
            }
            if c == '#' {
                let start = self.pos;
                if let Some(directive) = self.directive_name() {
                    match self.directive(&directive, start, &mut text)? {
                        Directive::Node(node) => {
                            flush!();
                            nodes.push(node);
                        }
                        Directive::Stop(stop) => {
                            flush!();
                            return Ok((nodes, stop));
                        }
                    }
                    continue;
                }
                self.pos = start + 1;
                text.push('#');
                continue;
            }
            if c == '$' {
                let start = self.pos;
                if let Some(node) = self.reference_node()? {
                    flush!();
                    nodes.push(node);
                } else {
                    self.pos = start + 1;
                    text.push('$');
                }
                continue;
            }
            let len = rest.find(['#', '$']).unwrap_or(rest.len());
            text.push_str(&rest[..len]);
            self.pos += len;
        }
        flush!();
        Ok((nodes, Stop::Eof))
    }

    /// After `#`: a known directive's name (`set`, `{else}`, …), else nothing consumed.
    fn directive_name(&mut self) -> Option<String> {
        let start = self.pos;
        self.pos += 1;
        let braced = self.eat("{");
        let name = self.ident();
        let known = name
            .as_deref()
            .is_some_and(|n| matches!(n, "set" | "if" | "elseif" | "else" | "end" | "foreach"));
        if known && (!braced || self.eat("}")) {
            return name;
        }
        self.pos = start;
        None
    }

    /// After a directive's header (`#if(…)`, `#end`, …): when the directive is alone on its
    /// line, its line goes — the indentation before it (trimmed from `text`) and the newline.
    fn end_of_header(&mut self, start: usize, text: &mut String) {
        let alone_before = self.src[..start]
            .rsplit('\n')
            .next()
            .is_some_and(|line| line.trim().is_empty());
        let after = self.rest();
        let line_end = after.find('\n');
        let alone_after = after[..line_end.unwrap_or(after.len())].trim().is_empty();
        if alone_before && alone_after {
            let kept = text.trim_end_matches([' ', '\t']).len();
            text.truncate(kept);
            self.pos += line_end.map_or(after.len(), |n| n + 1);
        }
    }

    fn directive(
        &mut self,
        name: &str,
        start: usize,
        text: &mut String,
    ) -> Result<Directive, TemplateError> {
        match name {
            "end" => {
                self.end_of_header(start, text);
                Ok(Directive::Stop(Stop::End))
            }
            "else" => {
                self.end_of_header(start, text);
                Ok(Directive::Stop(Stop::Else))
            }
            "elseif" => {
                let condition = self.parenthesized()?;
                self.end_of_header(start, text);
                Ok(Directive::Stop(Stop::ElseIf(condition)))
            }
            "set" => {
                let line = self.line_at(start);
                self.expect("(", "( after #set")?;
                self.skip_ws();
                if !self.eat("$") {
                    return Err(self.error("#set needs a $variable"));
                }
                self.eat("{");
                let name = self
                    .ident()
                    .ok_or_else(|| self.error("#set needs a $variable"))?;
                let mut path = Vec::new();
                while self.eat(".") {
                    path.push(
                        self.ident()
                            .ok_or_else(|| self.error("expected a name after ."))?,
                    );
                }
                self.eat("}");
                self.expect("=", "= in #set")?;
                let value = self.expr()?;
                self.expect(")", ") closing #set")?;
                self.end_of_header(start, text);
                Ok(Directive::Node(Node::Set {
                    name,
                    path,
                    value,
                    line,
                }))
            }
            "if" => {
                let mut condition = self.parenthesized()?;
                self.end_of_header(start, text);
                let mut branches = Vec::new();
                loop {
                    let (body, stop) = self.block()?;
                    branches.push((condition, body));
                    match stop {
                        Stop::End => {
                            return Ok(Directive::Node(Node::If {
                                branches,
                                otherwise: Vec::new(),
                                line: self.line_at(start),
                            }))
                        }
                        Stop::ElseIf(next) => condition = next,
                        Stop::Else => {
                            let (otherwise, stop) = self.block()?;
                            return match stop {
                                Stop::End => Ok(Directive::Node(Node::If {
                                    branches,
                                    otherwise,
                                    line: self.line_at(start),
                                })),
                                Stop::Eof => Err(self.error_at(start, "#if without #end")),
                                _ => Err(self.error("#else or #elseif after #else")),
                            };
                        }
                        Stop::Eof => return Err(self.error_at(start, "#if without #end")),
                    }
                }
            }
            "foreach" => {
                self.expect("(", "( after #foreach")?;
                self.skip_ws();
                if !self.eat("$") {
                    return Err(self.error("#foreach needs a $variable"));
                }
                self.eat("{");
                let var = self
                    .ident()
                    .ok_or_else(|| self.error("#foreach needs a $variable"))?;
                self.eat("}");
                self.skip_ws();
                if !self.eat("in") {
                    return Err(self.error("expected in after the #foreach variable"));
                }
                let items = self.expr()?;
                self.expect(")", ") closing #foreach")?;
                self.end_of_header(start, text);
                let (body, stop) = self.block()?;
                match stop {
                    Stop::End => Ok(Directive::Node(Node::Foreach {
                        var,
                        items,
                        body,
                        line: self.line_at(start),
                    })),
                    Stop::Eof => Err(self.error_at(start, "#foreach without #end")),
                    _ => Err(self.error("#else or #elseif inside #foreach")),
                }
            }
            _ => Err(self.error(format!("unknown directive #{name}"))),
        }
    }

    fn parenthesized(&mut self) -> Result<Expr, TemplateError> {
        self.expect("(", "(")?;
        let expr = self.expr()?;
        self.expect(")", ")")?;
        Ok(expr)
    }

    /// At `$`: a reference node, or `None` (nothing consumed) when none starts here.
    fn reference_node(&mut self) -> Result<Option<Node>, TemplateError> {
        let start = self.pos;
        self.pos += 1;
        let quiet = self.eat("!");
        let braced = self.eat("{");
        let Some(reference) = self.reference_body()? else {
            self.pos = start;
            return Ok(None);
        };
        if braced && !self.eat("}") {
            return Err(self.error("${ without }"));
        }
        Ok(Some(Node::Ref {
            reference,
            quiet,
            source: self.src[start..self.pos].to_owned(),
            line: self.line_at(start),
        }))
    }

    /// The name and accesses of a reference (after `$`, `!`, `{`).
    fn reference_body(&mut self) -> Result<Option<Reference>, TemplateError> {
        let Some(root) = self.ident() else {
            return Ok(None);
        };
        let mut chain = Vec::new();
        loop {
            let rest = self.rest();
            if rest.starts_with('.') && rest[1..].chars().next().is_some_and(ident_start) {
                self.pos += 1;
                let name = self.ident().unwrap_or_default();
                if self.rest().starts_with('(') {
                    self.pos += 1;
                    let args = self.arguments(")")?;
                    chain.push(Access::Call(name, args));
                } else {
                    chain.push(Access::Prop(name));
                }
            } else if rest.starts_with('[') {
                self.pos += 1;
                let index = self.expr()?;
                self.expect("]", "] closing an index")?;
                chain.push(Access::Index(index));
            } else {
                break;
            }
        }
        Ok(Some(Reference { root, chain }))
    }

    /// Comma-separated expressions up to `close`.
    fn arguments(&mut self, close: &str) -> Result<Vec<Expr>, TemplateError> {
        let mut args = Vec::new();
        self.skip_ws();
        if self.eat(close) {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            self.skip_ws();
            if self.eat(close) {
                return Ok(args);
            }
            if !self.eat(",") {
                return Err(self.error(format!("expected , or {close}")));
            }
        }
    }

    pub(super) fn expr(&mut self) -> Result<Expr, TemplateError> {
        self.binary(0)
    }

    /// The operator at the cursor for precedence `level`, consumed.
    fn operator(&mut self, level: usize) -> Option<Op> {
        self.skip_ws();
        let table: &[(&str, Op)] = match level {
            0 => &[("||", Op::Or), ("or", Op::Or)],
            1 => &[("&&", Op::And), ("and", Op::And)],
            2 => &[
                ("==", Op::Eq),
                ("!=", Op::Ne),
                ("eq", Op::Eq),
                ("ne", Op::Ne),
            ],
            3 => &[
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("<", Op::Lt),
                (">", Op::Gt),
                ("le", Op::Le),
                ("ge", Op::Ge),
                ("lt", Op::Lt),
                ("gt", Op::Gt),
            ],
            4 => &[("+", Op::Add), ("-", Op::Sub)],
            _ => &[("*", Op::Mul), ("/", Op::Div), ("%", Op::Rem)],
        };
        let rest = self.rest();
        for (text, op) in table {
            if let Some(after) = rest.strip_prefix(text) {
                let word = text.chars().all(|c| c.is_ascii_alphabetic());
                if word && after.chars().next().is_some_and(ident_char) {
                    continue;
                }
                self.pos += text.len();
                return Some(*op);
            }
        }
        None
    }

    fn binary(&mut self, level: usize) -> Result<Expr, TemplateError> {
        if level > 5 {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        while let Some(op) = self.operator(level) {
            let right = self.binary(level + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, TemplateError> {
        self.skip_ws();
        let rest = self.rest();
        if rest.starts_with('!') && !rest.starts_with("!=") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if rest.starts_with("not") && !rest[3..].chars().next().is_some_and(ident_char) {
            self.pos += 3;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if rest.starts_with('-') && !rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, TemplateError> {
        self.skip_ws();
        let Some(c) = self.peek() else {
            return Err(self.error("expected an expression"));
        };
        match c {
            '(' => {
                self.pos += 1;
                let inner = self.expr()?;
                self.expect(")", ")")?;
                Ok(inner)
            }
            '$' => {
                self.pos += 1;
                self.eat("!");
                let braced = self.eat("{");
                let reference = self
                    .reference_body()?
                    .ok_or_else(|| self.error("expected a name after $"))?;
                if braced && !self.eat("}") {
                    return Err(self.error("${ without }"));
                }
                Ok(Expr::Ref(reference))
            }
            '\'' | '"' => {
                let start = self.pos;
                self.pos += 1;
                let Some(end) = self.rest().find(c) else {
                    return Err(self.error_at(start, "unterminated string"));
                };
                let content = &self.rest()[..end];
                self.pos += end + 1;
                if c == '"' && content.contains('$') {
                    let mut inner = Parser::new(content);
                    let nodes = inner.template().map_err(|mut e| {
                        e.line += self.line_at(start) - 1;
                        e
                    })?;
                    return Ok(Expr::Interpolated(nodes));
                }
                Ok(Expr::Lit(Value::String(content.to_owned())))
            }
            '[' => {
                self.pos += 1;
                self.skip_ws();
                if self.eat("]") {
                    return Ok(Expr::List(Vec::new()));
                }
                let first = self.expr()?;
                self.skip_ws();
                if self.eat("..") {
                    let last = self.expr()?;
                    self.expect("]", "] closing a range")?;
                    return Ok(Expr::Range(Box::new(first), Box::new(last)));
                }
                let mut items = vec![first];
                loop {
                    self.skip_ws();
                    if self.eat("]") {
                        return Ok(Expr::List(items));
                    }
                    if !self.eat(",") {
                        return Err(self.error("expected , or ] in a list"));
                    }
                    items.push(self.expr()?);
                }
            }
            '{' => {
                self.pos += 1;
                let mut entries = Vec::new();
                self.skip_ws();
                if self.eat("}") {
                    return Ok(Expr::Map(entries));
                }
                loop {
                    let key = self.expr()?;
                    self.expect(":", ": in a map")?;
                    let value = self.expr()?;
                    entries.push((key, value));
                    self.skip_ws();
                    if self.eat("}") {
                        return Ok(Expr::Map(entries));
                    }
                    if !self.eat(",") {
                        return Err(self.error("expected , or } in a map"));
                    }
                }
            }
            c if c.is_ascii_digit() || c == '-' => {
                let rest = self.rest();
                let mut len = usize::from(c == '-');
                len += rest[len..]
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len() - len);
                // A fraction, but not a range's `..`.
                if rest[len..].starts_with('.')
                    && rest[len + 1..].starts_with(|c: char| c.is_ascii_digit())
                {
                    len += 1;
                    len += rest[len..]
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(rest.len() - len);
                }
                let text = &rest[..len];
                self.pos += len;
                let value = match text.parse::<i64>() {
                    Ok(i) => Value::from(i),
                    Err(_) => text
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                        .ok_or_else(|| self.error(format!("invalid number {text}")))?,
                };
                Ok(Expr::Lit(value))
            }
            _ => {
                let start = self.pos;
                match self.ident().as_deref() {
                    Some("true") => Ok(Expr::Lit(Value::Bool(true))),
                    Some("false") => Ok(Expr::Lit(Value::Bool(false))),
                    Some("null") => Ok(Expr::Lit(Value::Null)),
                    _ => Err(self.error_at(start, "expected an expression")),
                }
            }
        }
    }
}

enum Directive {
    Node(Node),
    Stop(Stop),
}
