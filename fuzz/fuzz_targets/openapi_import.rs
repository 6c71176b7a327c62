//! ImportApi's document, as JSON or YAML text: an import either produces a definition or a
//! BadRequest, never a panic (nor a stack overflow on deep nesting).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nubo_gateway::http_api::openapi::definition;
use nubo_wire::Scope;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let scope = Scope::default();
    let _ = definition(&scope, text, false);
    let _ = definition(&scope, text, true);
});
