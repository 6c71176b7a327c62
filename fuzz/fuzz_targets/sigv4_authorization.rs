//! The SigV4 `Authorization` header of every signed request: it parses or is refused with
//! `IncompleteSignatureException`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_wire::sigv4::parse_authorization;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(err) = parse_authorization(header) {
        assert_eq!(err.code, "IncompleteSignatureException");
    }
});
