//! The `nubo` package's library: what the binary's CLI and the benchmark crate (`nubo-bench`)
//! share — the SigV4-signing HTTP client ([`client`]) and the administrator's credentials file
//! ([`credentials`]). The server itself is wired in the binary.

pub mod client;
pub mod credentials;
