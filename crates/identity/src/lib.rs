//! Identity: who a caller is and what they may do.
//!
//! This crate owns the IAM policy language and its evaluation ([`policy`]), the authorization
//! tables that say which IAM action and resource ARN each operation is judged on ([`actions`]),
//! AWS managed policies ([`managed`]), and the IAM/STS domain (users, access keys, roles, groups,
//! managed policies, sessions) held in an in-memory [`registry::IdentityRegistry`] with a small
//! persistence seam. It implements [`nubo_wire::sigv4::SigningKeys`], so the edge's SigV4
//! verification finds keys here, and answers "may this caller do this?".
//!
//! It deliberately knows nothing of HTTP servers, stores or functions: the edge calls it with
//! values, and the store is reached only through [`registry::IdentityStore`].

pub mod actions;
pub mod managed;
pub mod policy;
