//! Identifiers and secrets in AWS's formats: access key ids `AKIA…` (long-term) and `ASIA…`
//! (temporary), 20 characters of the base32 alphabet; 40-character secrets; unique ids `AIDA…`
//! (users), `AROA…` (roles), `ANPA…` (policies), `AGPA…` (groups), 21 characters.

use base64::Engine;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Fills `N` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
}

fn id(prefix: &str, length: usize) -> String {
    let random: [u8; 32] = random_bytes();
    let mut out = String::with_capacity(length);
    out.push_str(prefix);
    for byte in random.iter().take(length - prefix.len()) {
        out.push(BASE32[usize::from(byte & 31)] as char);
    }
    out
}

/// A long-term access key id: `AKIA` + 16.
pub fn long_term_key_id() -> String {
    id("AKIA", 20)
}

/// A temporary access key id: `ASIA` + 16.
pub fn temporary_key_id() -> String {
    id("ASIA", 20)
}

/// A 40-character secret access key (30 random bytes, base64).
pub fn secret_access_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(random_bytes::<30>())
}

/// The unique id of a user (`AIDA…`), role (`AROA…`), policy (`ANPA…`) or group (`AGPA…`).
pub fn unique_id(prefix: &str) -> String {
    id(prefix, 21)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_aws() {
        let akid = long_term_key_id();
        assert_eq!(akid.len(), 20);
        assert!(akid.starts_with("AKIA"));
        assert!(akid.bytes().all(|b| BASE32.contains(&b)));
        assert!(temporary_key_id().starts_with("ASIA"));
        assert_eq!(secret_access_key().len(), 40);
        assert_eq!(unique_id("AIDA").len(), 21);
        assert_ne!(long_term_key_id(), long_term_key_id());
    }
}
