//! DynamoDB's expression languages, parsed by hand: conditions (`ConditionExpression`,
//! `FilterExpression`, `KeyConditionExpression`), updates (`UpdateExpression`) and projections
//! (`ProjectionExpression`), with `#name` and `:value` placeholders resolved while parsing and
//! AWS's `ValidationException` texts.
//!
//! One [`Placeholders`] serves every expression of a request, so the names and values no
//! expression used can be reported afterwards ([`Placeholders::check_all_used`]).

mod eval;
mod lex;
mod parse;
mod reserved;
mod update;

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

pub use eval::{project, resolve};
pub use update::apply_update;

use crate::value::Value;
use crate::TablesError;

/// A step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// A map member (or a top-level attribute).
    Member(String),
    /// A list element.
    Index(usize),
}

/// A document path: `a.b[2].c`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<Step>);

impl Path {
    /// The top-level attribute the path starts at.
    pub fn attribute(&self) -> &str {
        match self.0.first() {
            Some(Step::Member(name)) => name,
            _ => "",
        }
    }

    /// The path is one top-level attribute.
    pub fn is_top_level(&self) -> bool {
        self.0.len() == 1
    }

    fn show(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|s| match s {
                Step::Member(m) => m.clone(),
                Step::Index(i) => format!("[{i}]"),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// A value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// An attribute of the item.
    Path(Path),
    /// A `:value`.
    Value(Value),
    /// `size(path)`.
    Size(Path),
}

/// A comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `a <op> b`.
    Compare(Operand, Comparator, Operand),
    /// `a BETWEEN b AND c`.
    Between(Operand, Operand, Operand),
    /// `a IN (b, c, …)`.
    In(Operand, Vec<Operand>),
    /// `attribute_exists(path)`.
    Exists(Path),
    /// `attribute_not_exists(path)`.
    NotExists(Path),
    /// `attribute_type(path, :t)`.
    Type(Path, Operand),
    /// `begins_with(path, :v)`.
    BeginsWith(Operand, Operand),
    /// `contains(path, :v)`.
    Contains(Operand, Operand),
    /// `a AND b`.
    And(Box<Condition>, Box<Condition>),
    /// `a OR b`.
    Or(Box<Condition>, Box<Condition>),
    /// `NOT a`.
    Not(Box<Condition>),
}

/// The right side of a `SET` action.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// A path or a `:value`.
    Path(Path),
    /// A `:value`.
    Value(Value),
    /// `if_not_exists(path, value)`.
    IfNotExists(Path, Box<SetValue>),
    /// `list_append(a, b)`.
    ListAppend(Box<SetValue>, Box<SetValue>),
    /// `a + b`.
    Plus(Box<SetValue>, Box<SetValue>),
    /// `a - b`.
    Minus(Box<SetValue>, Box<SetValue>),
}

/// A parsed `UpdateExpression`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// `SET path = value`.
    pub set: Vec<(Path, SetValue)>,
    /// `REMOVE path`.
    pub remove: Vec<Path>,
    /// `ADD path :value`.
    pub add: Vec<(Path, Value)>,
    /// `DELETE path :value`.
    pub delete: Vec<(Path, Value)>,
}

impl Update {
    /// Every path the update writes.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.set
            .iter()
            .map(|(p, _)| p)
            .chain(self.remove.iter())
            .chain(self.add.iter().map(|(p, _)| p))
            .chain(self.delete.iter().map(|(p, _)| p))
    }
}

/// Which expression a message is about (AWS names it: "Invalid UpdateExpression: …").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpressionKind {
    /// `ConditionExpression`.
    Condition,
    /// `FilterExpression`.
    Filter,
    /// `KeyConditionExpression`.
    KeyCondition,
    /// `UpdateExpression`.
    Update,
    /// `ProjectionExpression`.
    Projection,
}

impl ExpressionKind {
    fn name(self) -> &'static str {
        match self {
            Self::Condition => "ConditionExpression",
            Self::Filter => "FilterExpression",
            Self::KeyCondition => "KeyConditionExpression",
            Self::Update => "UpdateExpression",
            Self::Projection => "ProjectionExpression",
        }
    }

    pub(crate) fn error(self, message: impl std::fmt::Display) -> TablesError {
        TablesError::Validation(format!("Invalid {}: {message}", self.name()))
    }
}

/// A request's `ExpressionAttributeNames` and `ExpressionAttributeValues`, and which of them the
/// request's expressions used.
#[derive(Debug, Default)]
pub struct Placeholders {
    names: HashMap<String, String>,
    values: HashMap<String, Value>,
    used_names: RefCell<BTreeSet<String>>,
    used_values: RefCell<BTreeSet<String>>,
}

impl Placeholders {
    /// The request's maps (either may be empty).
    pub fn new(names: HashMap<String, String>, values: HashMap<String, Value>) -> Self {
        Self {
            names,
            values,
            ..Self::default()
        }
    }

    fn name(&self, token: &str) -> Option<&str> {
        let name = self.names.get(token)?;
        self.used_names.borrow_mut().insert(token.to_owned());
        Some(name)
    }

    fn value(&self, token: &str) -> Option<&Value> {
        let value = self.values.get(token)?;
        self.used_values.borrow_mut().insert(token.to_owned());
        Some(value)
    }

    /// AWS refuses names and values no expression used.
    pub fn check_all_used(&self) -> Result<(), TablesError> {
        let unused = |given: Vec<&String>, used: &BTreeSet<String>| {
            let mut left: Vec<&str> = given
                .into_iter()
                .filter(|k| !used.contains(*k))
                .map(String::as_str)
                .collect();
            left.sort_unstable();
            left.join(", ")
        };
        let names = unused(self.names.keys().collect(), &self.used_names.borrow());
        if !names.is_empty() {
            return Err(TablesError::Validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{names}}}"
            )));
        }
        let values = unused(self.values.keys().collect(), &self.used_values.borrow());
        if !values.is_empty() {
            return Err(TablesError::Validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{values}}}"
            )));
        }
        Ok(())
    }

    /// Parses a condition (`ConditionExpression`, `FilterExpression`, `KeyConditionExpression`).
    pub fn condition(&self, text: &str, kind: ExpressionKind) -> Result<Condition, TablesError> {
        parse::Parser::new(text, self, kind)?.condition_expression()
    }

    /// Parses an `UpdateExpression`.
    pub fn update(&self, text: &str) -> Result<Update, TablesError> {
        parse::Parser::new(text, self, ExpressionKind::Update)?.update_expression()
    }

    /// Parses a `ProjectionExpression`.
    pub fn projection(&self, text: &str) -> Result<Vec<Path>, TablesError> {
        parse::Parser::new(text, self, ExpressionKind::Projection)?.projection_expression()
    }
}

/// Two paths overlap when one is a prefix of the other (AWS refuses such updates and
/// projections).
pub(crate) fn check_overlaps<'a>(
    paths: impl Iterator<Item = &'a Path>,
    kind: ExpressionKind,
) -> Result<(), TablesError> {
    let paths: Vec<&Path> = paths.collect();
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[..i] {
            let n = a.0.len().min(b.0.len());
            if a.0[..n] == b.0[..n] {
                let message = format!(
                    "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                    b.show(),
                    a.show()
                );
                return Err(kind.error(message));
            }
        }
    }
    Ok(())
}

pub use eval::evaluate;
pub(crate) use eval::order as order_of;
