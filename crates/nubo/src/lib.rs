//! The `nubo` package's library: what the binary's CLI and the benchmark crate (`nubo-bench`)
//! share — the SigV4-signing HTTP client ([`client`]). The server itself is wired in the binary.

pub mod client;
