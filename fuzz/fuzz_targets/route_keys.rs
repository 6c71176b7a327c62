//! Route keys as CreateRoute receives them, and request paths against the tables they build:
//! parsing never panics, a lookup finds an index into the table's own routes, and a matched
//! route's path parameters can be extracted.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nubo_gateway::plane::routing::{path_parameters, RouteKey, RouteTable};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    keys: Vec<&'a str>,
    method: u8,
    path: &'a str,
}

const METHODS: [http::Method; 8] = [
    http::Method::GET,
    http::Method::POST,
    http::Method::PUT,
    http::Method::PATCH,
    http::Method::DELETE,
    http::Method::HEAD,
    http::Method::OPTIONS,
    http::Method::TRACE,
];

fuzz_target!(|input: Input<'_>| {
    let keys: Vec<RouteKey> = input
        .keys
        .iter()
        .filter_map(|key| RouteKey::parse(key).ok())
        .collect();
    let table = RouteTable::build(&keys);
    let method = &METHODS[input.method as usize % METHODS.len()];
    if let Some(index) = table.lookup(method, input.path) {
        let key = &keys[index as usize];
        if let RouteKey::Path { segments, .. } = key {
            let _ = path_parameters(segments, input.path);
        }
    }
});
