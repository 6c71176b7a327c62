//! Identity: who a caller is and what they may do.
//!
//! This crate owns the IAM policy language and its evaluation ([`policy`]), the authorization
//! tables that say which IAM action and resource ARN each operation is judged on ([`actions`]),
//! AWS managed policies ([`managed`]), and the IAM/STS domain (users, access keys, roles, groups,
//! customer managed policies, sessions) held in an in-memory [`IdentityRegistry`] with a small
//! persistence seam ([`IdentityStore`]). The registry implements
//! [`nubo_wire::sigv4::SigningKeys`], so SigV4 verification finds keys here; [`Caller`] answers
//! "may this caller do this?".
//!
//! The request flow it supports (see ARCHITECTURE.md, "Who may do what"):
//! `sigv4::verify(request, &registry)` → `registry.authenticate(&verified)` → [`Caller`] →
//! `actions::authorization_requests(service, operation, scope, params)` →
//! `caller.authorize(action, resource, resource_policy, …)`.
//!
//! It deliberately knows nothing of HTTP servers, stores or functions: the edge calls it with
//! values, and the store is reached only through [`IdentityStore`].

pub mod actions;
mod authn;
pub mod error;
pub mod keys;
pub mod managed;
pub mod model;
pub mod policy;
pub mod registry;
pub mod session;

pub use authn::{Caller, DEV_ACCESS_KEY};
pub use error::IamError;
pub use registry::{
    kinds, AssumedRole, CallerIdentity, IdentityRegistry, IdentityStore, MemoryStore,
    RegistryConfig,
};
pub use session::{SessionClaims, SessionKey, TemporaryCredentials};
