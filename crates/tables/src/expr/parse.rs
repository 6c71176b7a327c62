//! The recursive-descent parser of every expression language.
//!
//! ```text
//! condition  := or
//! or         := and ("OR" and)*
//! and        := not ("AND" not)*
//! not        := "NOT" not | primary
//! primary    := "(" condition ")" | function | operand comparator operand
//!             | operand "BETWEEN" operand "AND" operand | operand "IN" "(" operand ("," operand)* ")"
//! operand    := path | :value | "size" "(" path ")"
//! path       := name ("." name | "[" index "]")*      name := word | #name
//! update     := (("SET" set ("," set)*) | ("REMOVE" path ("," path)*)
//!               | ("ADD" path :value ("," …)*) | ("DELETE" path :value ("," …)*))+
//! set        := path "=" value (("+" | "-") value)?
//! value      := path | :value | "if_not_exists" "(" path "," value ")" | "list_append" "(" value "," value ")"
//! projection := path ("," path)*
//! ```

use super::lex::{check_not_reserved, tokens, Token};
use super::{
    check_overlaps, Comparator, Condition, ExpressionKind, Operand, Path, Placeholders, SetValue,
    Step, Update,
};
use crate::value::Value;
use crate::TablesError;

/// DynamoDB's limit on an expression's length.
const MAX_EXPRESSION_BYTES: usize = 4096;

pub(crate) struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    placeholders: &'a Placeholders,
    kind: ExpressionKind,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(
        text: &str,
        placeholders: &'a Placeholders,
        kind: ExpressionKind,
    ) -> Result<Self, TablesError> {
        if text.trim().is_empty() {
            return Err(kind.error("The expression can not be empty;"));
        }
        if text.len() > MAX_EXPRESSION_BYTES {
            return Err(kind.error(format!(
                "Expression size has exceeded the maximum allowed size; expression size: {}",
                text.len()
            )));
        }
        let tokens = tokens(text).map_err(|m| kind.error(m))?;
        Ok(Self {
            tokens,
            at: 0,
            placeholders,
            kind,
        })
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.at + ahead).min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.at].clone();
        if self.at + 1 < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn syntax_error(&self) -> TablesError {
        let token = self.peek();
        let before = if self.at > 0 {
            self.tokens[self.at - 1].text()
        } else {
            String::new()
        };
        let after = match self.peek_at(1) {
            Token::End => String::new(),
            t => t.text(),
        };
        let near = match token {
            Token::End => before,
            t => [before, t.text(), after]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        };
        self.kind.error(format!(
            "Syntax error; token: \"{}\", near: \"{}\"",
            token.text(),
            near
        ))
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), TablesError> {
        if matches!(self.peek(), Token::Symbol(s) if *s == symbol) {
            self.next();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn is_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Token::Symbol(s) if *s == symbol)
    }

    fn expect_end(&self) -> Result<(), TablesError> {
        if *self.peek() == Token::End {
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    // ---- conditions ----

    pub(crate) fn condition_expression(mut self) -> Result<Condition, TablesError> {
        let condition = self.or()?;
        self.expect_end()?;
        Ok(condition)
    }

    fn or(&mut self) -> Result<Condition, TablesError> {
        let mut left = self.and()?;
        while self.peek().is_keyword("OR") {
            self.next();
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, TablesError> {
        let mut left = self.not()?;
        while self.peek().is_keyword("AND") {
            self.next();
            let right = self.not()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, TablesError> {
        if self.peek().is_keyword("NOT") {
            self.next();
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, TablesError> {
        if self.is_symbol("(") {
            self.next();
            let inner = self.or()?;
            self.expect_symbol(")")?;
            return Ok(inner);
        }
        if let Token::Word(word) = self.peek().clone() {
            if matches!(self.peek_at(1), Token::Symbol("(")) && !word.eq_ignore_ascii_case("size") {
                return self.function(&word);
            }
        }
        let left = self.operand()?;
        if self.peek().is_keyword("BETWEEN") {
            self.next();
            let low = self.operand()?;
            if !self.peek().is_keyword("AND") {
                return Err(self.syntax_error());
            }
            self.next();
            let high = self.operand()?;
            return Ok(Condition::Between(left, low, high));
        }
        if self.peek().is_keyword("IN") {
            self.next();
            self.expect_symbol("(")?;
            let mut list = vec![self.operand()?];
            while self.is_symbol(",") {
                self.next();
                list.push(self.operand()?);
            }
            self.expect_symbol(")")?;
            if list.len() > 100 {
                return Err(self.kind.error(
                    "The IN operator is provided with too many operands; number of operands: "
                        .to_owned()
                        + &list.len().to_string(),
                ));
            }
            return Ok(Condition::In(left, list));
        }
        let comparator = match self.peek() {
            Token::Symbol("=") => Comparator::Eq,
            Token::Symbol("<>") => Comparator::Ne,
            Token::Symbol("<") => Comparator::Lt,
            Token::Symbol("<=") => Comparator::Le,
            Token::Symbol(">") => Comparator::Gt,
            Token::Symbol(">=") => Comparator::Ge,
            _ => return Err(self.syntax_error()),
        };
        self.next();
        let right = self.operand()?;
        if let (Operand::Value(a), Operand::Value(b)) = (&left, &right) {
            let _ = (a, b);
            return Err(self.kind.error(
                "The expression has redundant parentheses or compares two values;".to_string(),
            ));
        }
        Ok(Condition::Compare(left, comparator, right))
    }

    fn function(&mut self, name: &str) -> Result<Condition, TablesError> {
        let lower = name.to_ascii_lowercase();
        self.next();
        self.expect_symbol("(")?;
        let mut args = vec![self.operand()?];
        while self.is_symbol(",") {
            self.next();
            args.push(self.operand()?);
        }
        self.expect_symbol(")")?;
        let arity = |n: usize| -> Result<(), TablesError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(self.kind.error(format!(
                    "Incorrect number of operands for operator or function; operator or function: {lower}, number of operands: {}",
                    args.len()
                )))
            }
        };
        let path_arg = |op: &Operand| -> Result<Path, TablesError> {
            match op {
                Operand::Path(p) => Ok(p.clone()),
                _ => Err(self.kind.error(format!(
                    "Operator or function requires a document path; operator or function: {lower}"
                ))),
            }
        };
        let condition = match lower.as_str() {
            "attribute_exists" => {
                arity(1)?;
                Condition::Exists(path_arg(&args[0])?)
            }
            "attribute_not_exists" => {
                arity(1)?;
                Condition::NotExists(path_arg(&args[0])?)
            }
            "attribute_type" => {
                arity(2)?;
                let path = path_arg(&args[0])?;
                if let Operand::Value(Value::S(t)) = &args[1] {
                    const TYPES: &[&str] =
                        &["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];
                    if !TYPES.contains(&t.as_str()) {
                        return Err(self.kind.error(format!(
                            "Invalid attribute type name found; type: {t}, valid types: {{ B,NULL,SS,BOOL,L,BS,N,NS,S,M }}"
                        )));
                    }
                }
                Condition::Type(path, args[1].clone())
            }
            "begins_with" => {
                arity(2)?;
                Condition::BeginsWith(args[0].clone(), args[1].clone())
            }
            "contains" => {
                arity(2)?;
                Condition::Contains(args[0].clone(), args[1].clone())
            }
            _ => {
                return Err(self
                    .kind
                    .error(format!("Invalid function name; function: {name}")))
            }
        };
        Ok(condition)
    }

    fn operand(&mut self) -> Result<Operand, TablesError> {
        match self.peek().clone() {
            Token::Value(token) => {
                self.next();
                Ok(Operand::Value(self.value(&token)?))
            }
            Token::Word(word)
                if word.eq_ignore_ascii_case("size")
                    && matches!(self.peek_at(1), Token::Symbol("(")) =>
            {
                self.next();
                self.next();
                let path = self.path()?;
                self.expect_symbol(")")?;
                Ok(Operand::Size(path))
            }
            Token::Word(_) | Token::Name(_) => Ok(Operand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }

    fn value(&self, token: &str) -> Result<Value, TablesError> {
        self.placeholders.value(token).cloned().ok_or_else(|| {
            self.kind.error(format!(
                "An expression attribute value used in expression is not defined; attribute value: {token}"
            ))
        })
    }

    fn name(&mut self) -> Result<String, TablesError> {
        match self.next() {
            Token::Word(word) => {
                check_not_reserved(&word).map_err(|m| self.kind.error(m))?;
                Ok(word)
            }
            Token::Name(token) => self.placeholders.name(&token).map(str::to_owned).ok_or_else(|| {
                self.kind.error(format!(
                    "An expression attribute name used in the document path is not defined; attribute name: {token}"
                ))
            }),
            _ => {
                self.at -= 1;
                Err(self.syntax_error())
            }
        }
    }

    fn path(&mut self) -> Result<Path, TablesError> {
        let mut steps = vec![Step::Member(self.name()?)];
        loop {
            if self.is_symbol(".") {
                self.next();
                steps.push(Step::Member(self.name()?));
            } else if self.is_symbol("[") {
                self.next();
                let index = match self.next() {
                    Token::Index(digits) => {
                        digits.parse::<usize>().map_err(|_| self.syntax_error())?
                    }
                    _ => {
                        self.at -= 1;
                        return Err(self.syntax_error());
                    }
                };
                self.expect_symbol("]")?;
                steps.push(Step::Index(index));
            } else {
                return Ok(Path(steps));
            }
        }
    }

    // ---- updates ----

    pub(crate) fn update_expression(mut self) -> Result<Update, TablesError> {
        let mut update = Update::default();
        let mut seen = Vec::new();
        while *self.peek() != Token::End {
            let clause = match self.peek() {
                Token::Word(w) => w.to_ascii_uppercase(),
                _ => return Err(self.syntax_error()),
            };
            if !["SET", "REMOVE", "ADD", "DELETE"].contains(&clause.as_str()) {
                return Err(self.syntax_error());
            }
            if seen.contains(&clause) {
                return Err(self.kind.error(format!(
                    "The \"{clause}\" section can only be used once in an update expression;"
                )));
            }
            seen.push(clause.clone());
            self.next();
            loop {
                match clause.as_str() {
                    "SET" => {
                        let path = self.path()?;
                        self.expect_symbol("=")?;
                        let value = self.set_value()?;
                        update.set.push((path, value));
                    }
                    "REMOVE" => update.remove.push(self.path()?),
                    "ADD" | "DELETE" => {
                        let path = self.path()?;
                        let value = match self.next() {
                            Token::Value(token) => self.value(&token)?,
                            _ => {
                                self.at -= 1;
                                return Err(self.syntax_error());
                            }
                        };
                        if clause == "ADD" {
                            update.add.push((path, value));
                        } else {
                            update.delete.push((path, value));
                        }
                    }
                    _ => unreachable!("clauses are checked above"),
                }
                if self.is_symbol(",") {
                    self.next();
                } else {
                    break;
                }
            }
        }
        check_overlaps(update.paths(), self.kind)?;
        Ok(update)
    }

    fn set_value(&mut self) -> Result<SetValue, TablesError> {
        let left = self.set_operand()?;
        if self.is_symbol("+") {
            self.next();
            let right = self.set_operand()?;
            return Ok(SetValue::Plus(Box::new(left), Box::new(right)));
        }
        if self.is_symbol("-") {
            self.next();
            let right = self.set_operand()?;
            return Ok(SetValue::Minus(Box::new(left), Box::new(right)));
        }
        Ok(left)
    }

    fn set_operand(&mut self) -> Result<SetValue, TablesError> {
        match self.peek().clone() {
            Token::Value(token) => {
                self.next();
                Ok(SetValue::Value(self.value(&token)?))
            }
            Token::Word(word) if matches!(self.peek_at(1), Token::Symbol("(")) => {
                let lower = word.to_ascii_lowercase();
                self.next();
                self.next();
                let result = match lower.as_str() {
                    "if_not_exists" => {
                        let path = self.path()?;
                        self.expect_symbol(",")?;
                        let fallback = self.set_operand()?;
                        SetValue::IfNotExists(path, Box::new(fallback))
                    }
                    "list_append" => {
                        let a = self.set_operand()?;
                        self.expect_symbol(",")?;
                        let b = self.set_operand()?;
                        SetValue::ListAppend(Box::new(a), Box::new(b))
                    }
                    _ => {
                        return Err(self
                            .kind
                            .error(format!("Invalid function name; function: {word}")))
                    }
                };
                self.expect_symbol(")")?;
                Ok(result)
            }
            Token::Word(_) | Token::Name(_) => Ok(SetValue::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }

    // ---- projections ----

    pub(crate) fn projection_expression(mut self) -> Result<Vec<Path>, TablesError> {
        let mut paths = vec![self.path()?];
        while self.is_symbol(",") {
            self.next();
            paths.push(self.path()?);
        }
        self.expect_end()?;
        check_overlaps(paths.iter(), self.kind)?;
        Ok(paths)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::number::Number;

    fn placeholders() -> Placeholders {
        let names = HashMap::from([("#n".to_owned(), "name".to_owned())]);
        let values = HashMap::from([
            (":v".to_owned(), Value::S("x".into())),
            (":n".to_owned(), Value::N(Number::from_i64(1))),
        ]);
        Placeholders::new(names, values)
    }

    fn err(text: &str, kind: ExpressionKind) -> String {
        let p = placeholders();
        let r = match kind {
            ExpressionKind::Update => p.update(text).map(|_| ()),
            ExpressionKind::Projection => p.projection(text).map(|_| ()),
            _ => p.condition(text, kind).map(|_| ()),
        };
        r.unwrap_err().to_string()
    }

    #[test]
    fn parses_conditions_with_precedence() {
        let p = placeholders();
        let c = p
            .condition(
                "#n = :v OR a.b[1] > :n AND NOT attribute_exists(c)",
                ExpressionKind::Condition,
            )
            .unwrap();
        match c {
            Condition::Or(_, right) => assert!(matches!(*right, Condition::And(_, _))),
            other => panic!("{other:?}"),
        }
        p.check_all_used().unwrap();
        let c = p
            .condition(
                "size(a) BETWEEN :n AND :n AND x IN (:v, :n)",
                ExpressionKind::Filter,
            )
            .unwrap();
        assert!(matches!(c, Condition::And(_, _)));
    }

    #[test]
    fn reports_aws_errors() {
        let c = ExpressionKind::Condition;
        assert_eq!(
            err("a = ", c),
            "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""
        );
        assert!(err("#x = :v", c).contains(
            "An expression attribute name used in the document path is not defined; attribute name: #x"
        ));
        assert!(err("a = :zz", c).contains(
            "An expression attribute value used in expression is not defined; attribute value: :zz"
        ));
        assert!(err("name = :v", c).contains("reserved keyword; reserved keyword: name"));
        assert!(err("bogus(a)", c).contains("Invalid function name; function: bogus"));
        assert!(err("SET a = :v, a = :n", ExpressionKind::Update)
            .contains("Two document paths overlap"));
        assert!(err("SET a = :v SET b = :v", ExpressionKind::Update)
            .contains("The \"SET\" section can only be used once"));
        let p = placeholders();
        p.condition("a = :v", c).unwrap();
        assert_eq!(
            p.check_all_used().unwrap_err().to_string(),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}"
        );
    }

    #[test]
    fn parses_updates() {
        let p = placeholders();
        let u = p
            .update("SET a = a + :n, b = list_append(if_not_exists(b, :v), :v) REMOVE c[0] ADD d :n DELETE e :v")
            .unwrap();
        assert_eq!(u.set.len(), 2);
        assert_eq!(
            u.remove,
            vec![Path(vec![Step::Member("c".into()), Step::Index(0)])]
        );
        assert_eq!(u.add.len(), 1);
        assert_eq!(u.delete.len(), 1);
    }
}
