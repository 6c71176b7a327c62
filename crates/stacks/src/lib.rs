//! `nubo-stacks`: the deploy engine behind `nubo deploy` — a CloudFormation template (YAML or
//! JSON, with the `AWS::Serverless-2016-10-31` transform) becomes a set of resources, applied in
//! dependency order through a [`Provisioner`] and recorded as a [`StackRecord`].
//!
//! - [`yaml`]: template text → JSON, short tags → long forms, lines of logical ids for errors;
//! - [`template`]: sections, parameters (+ overrides), conditions, pseudo parameters;
//! - [`intrinsics`]: `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join`, `Fn::If`, … over a [`intrinsics::Scope`];
//! - [`sam`]: the SAM transform (functions, their events, implicit and explicit APIs, roles);
//! - [`engine`]: change sets, apply with rollback, delete.
//!
//! The engine knows no wire protocol: the caller's [`Provisioner`] creates, updates and deletes one
//! resource at a time (the CLI's speaks Nubo's AWS APIs as a signed client).

pub mod engine;
pub mod intrinsics;
pub mod sam;
pub mod template;
pub mod yaml;

pub use engine::{Action, Change, Deployed, Physical, Provisioner, StackRecord};
pub use template::{Expanded, Resource, Template};

/// A template that cannot be deployed: where, which resource, why.
#[derive(Debug, Clone, thiserror::Error)]
pub struct TemplateError {
    /// The template's file name as the user gave it.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The logical id concerned, when one is.
    pub resource: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl TemplateError {
    /// An error at `line` (if known) about `resource` (if any).
    pub fn at(
        file: &str,
        line: Option<usize>,
        resource: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_owned(),
            line,
            resource: resource.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        if let Some(resource) = &self.resource {
            write!(f, "resource {resource}: ")?;
        }
        f.write_str(&self.message)
    }
}
