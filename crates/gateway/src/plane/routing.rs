//! Route keys and the compiled route table.
//!
//! Precedence (AWS's, for HTTP APIs): a full match of every segment (per segment literal before
//! `{param}`) before any greedy `{proxy+}` match (the one with the longest literal prefix wins),
//! before `$default`; at a matched path an exact method before `ANY`. The table is a segment trie
//! built once per deployment; a lookup walks the request path in place and allocates nothing.

use std::collections::HashMap;

use crate::GatewayError;

/// Methods a route key may name. `Any` matches methods not routed explicitly on that path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteMethod {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// ANY
    Any,
}

const METHOD_SLOTS: usize = 8;

impl RouteMethod {
    /// Parses an upper-case method name of a route key.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "HEAD" => Self::Head,
            "OPTIONS" => Self::Options,
            "ANY" => Self::Any,
            _ => return None,
        })
    }

    /// The method of a request (`None` for methods no route key can name: only `ANY` matches).
    pub fn of_request(method: &http::Method) -> Option<Self> {
        match *method {
            http::Method::GET => Some(Self::Get),
            http::Method::POST => Some(Self::Post),
            http::Method::PUT => Some(Self::Put),
            http::Method::PATCH => Some(Self::Patch),
            http::Method::DELETE => Some(Self::Delete),
            http::Method::HEAD => Some(Self::Head),
            http::Method::OPTIONS => Some(Self::Options),
            _ => None,
        }
    }

    /// Name as in route keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
            Self::Any => "ANY",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Matches itself.
    Literal(String),
    /// `{name}`: one segment.
    Param(String),
    /// `{name+}`: one or more segments, last only.
    Greedy(String),
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKey {
    /// `$default`: anything no other route matches.
    Default,
    /// `METHOD /path`.
    Path {
        /// The method.
        method: RouteMethod,
        /// The path as written (`/items/{id}`).
        path: String,
        /// Its segments.
        segments: Vec<Segment>,
    },
}

impl RouteKey {
    /// Parses and validates a route key as apigatewayv2 does for HTTP APIs.
    pub fn parse(key: &str) -> Result<Self, GatewayError> {
        if key == "$default" {
            return Ok(Self::Default);
        }
        let invalid = |why: &str| {
            GatewayError::bad_request(format!(
                "Unable to create route {key}: {why}. Route keys must be '$default' or '<METHOD> /<path>'"
            ))
        };
        let (method, path) = key.split_once(' ').ok_or_else(|| invalid("no method"))?;
        let method = RouteMethod::parse(method).ok_or_else(|| invalid("unknown method"))?;
        if !path.starts_with('/') {
            return Err(invalid("the path must start with '/'"));
        }
        let mut segments = Vec::new();
        if path != "/" {
            let parts: Vec<&str> = path[1..].split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                if part.is_empty() {
                    return Err(invalid("empty path segment"));
                }
                if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    if let Some(name) = inner.strip_suffix('+') {
                        if i + 1 != parts.len() {
                            return Err(invalid("a greedy path variable must be last"));
                        }
                        check_name(name).map_err(|_| invalid("bad path variable"))?;
                        segments.push(Segment::Greedy(name.to_owned()));
                    } else {
                        check_name(inner).map_err(|_| invalid("bad path variable"))?;
                        segments.push(Segment::Param(inner.to_owned()));
                    }
                } else if part.contains(['{', '}']) {
                    return Err(invalid("path variables must span a whole segment"));
                } else {
                    segments.push(Segment::Literal((*part).to_owned()));
                }
            }
        }
        Ok(Self::Path {
            method,
            path: path.to_owned(),
            segments,
        })
    }
}

fn check_name(name: &str) -> Result<(), ()> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(())
    }
}

#[derive(Debug, Default)]
struct Node {
    literals: HashMap<Box<str>, Node>,
    param: Option<Box<Node>>,
    /// Routes ending here, by method slot.
    here: [Option<u32>; METHOD_SLOTS],
    /// Greedy routes rooted here (matching one or more further segments), by method slot.
    greedy: [Option<u32>; METHOD_SLOTS],
}

/// A compiled table of route keys → route indices.
#[derive(Debug, Default)]
pub struct RouteTable {
    root: Node,
    default_route: Option<u32>,
    len: usize,
}

fn pick(slots: &[Option<u32>; METHOD_SLOTS], method: Option<RouteMethod>) -> Option<u32> {
    method
        .and_then(|m| slots[m.slot()])
        .or(slots[RouteMethod::Any.slot()])
}

/// Splits off the first segment of `rest` (which has no leading '/').
fn next_segment(rest: &str) -> (&str, Option<&str>) {
    match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    }
}

impl RouteTable {
    /// Builds the table; `keys[i]` becomes route index `i`. Duplicate keys keep the first.
    pub fn build<'a>(keys: impl IntoIterator<Item = &'a RouteKey>) -> Self {
        let mut table = Self::default();
        for (index, key) in keys.into_iter().enumerate() {
            table.len += 1;
            let index = index as u32;
            match key {
                RouteKey::Default => {
                    table.default_route.get_or_insert(index);
                }
                RouteKey::Path {
                    method, segments, ..
                } => {
                    let mut node = &mut table.root;
                    let mut greedy = false;
                    for segment in segments {
                        match segment {
                            Segment::Literal(l) => {
                                node = node.literals.entry(l.as_str().into()).or_default();
                            }
                            Segment::Param(_) => {
                                node = node.param.get_or_insert_with(Default::default);
                            }
                            Segment::Greedy(_) => greedy = true,
                        }
                    }
                    let slots = if greedy {
                        &mut node.greedy
                    } else {
                        &mut node.here
                    };
                    slots[method.slot()].get_or_insert(index);
                }
            }
        }
        table
    }

    /// Number of routes compiled.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no routes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The route for a request, by precedence. `path` starts with '/'.
    pub fn lookup(&self, method: &http::Method, path: &str) -> Option<u32> {
        let method = RouteMethod::of_request(method);
        let rest = path.strip_prefix('/').unwrap_or(path);
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        Self::full(
            &self.root,
            method,
            if rest.is_empty() { None } else { Some(rest) },
        )
        .or_else(|| {
            if rest.is_empty() {
                None
            } else {
                Self::greedy(&self.root, method, rest)
            }
        })
        .or(self.default_route)
    }

    /// A match of every segment; literal before parameter at each level.
    fn full(node: &Node, method: Option<RouteMethod>, rest: Option<&str>) -> Option<u32> {
        let Some(rest) = rest else {
            return pick(&node.here, method);
        };
        let (segment, after) = next_segment(rest);
        if segment.is_empty() {
            return None;
        }
        if let Some(child) = node.literals.get(segment) {
            if let Some(found) = Self::full(child, method, after) {
                return Some(found);
            }
        }
        node.param
            .as_deref()
            .and_then(|child| Self::full(child, method, after))
    }

    /// The deepest greedy match (longest literal/param prefix), literal before parameter.
    fn greedy(node: &Node, method: Option<RouteMethod>, rest: &str) -> Option<u32> {
        let (segment, after) = next_segment(rest);
        if let Some(after) = after.filter(|a| !a.is_empty()) {
            if let Some(child) = node.literals.get(segment) {
                if let Some(found) = Self::greedy(child, method, after) {
                    return Some(found);
                }
            }
            if let Some(child) = node.param.as_deref() {
                if let Some(found) = Self::greedy(child, method, after) {
                    return Some(found);
                }
            }
        }
        pick(&node.greedy, method)
    }
}

/// Path parameters of a request matched by `segments`, percent-decoded; the greedy one keeps its
/// inner slashes and has no leading slash.
pub fn path_parameters(segments: &[Segment], path: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut out = Vec::new();
    let mut rest = path.strip_prefix('/').unwrap_or(path);
    for segment in segments {
        match segment {
            Segment::Literal(_) => rest = next_segment(rest).1.unwrap_or(""),
            Segment::Param(name) => {
                let (value, after) = next_segment(rest);
                out.push((name.clone(), decode(value)));
                rest = after.unwrap_or("");
            }
            Segment::Greedy(name) => {
                out.push((name.clone(), decode(rest.strip_suffix('/').unwrap_or(rest))));
                rest = "";
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn table(keys: &[&str]) -> (RouteTable, Vec<String>) {
        let parsed: Vec<RouteKey> = keys.iter().map(|k| RouteKey::parse(k).unwrap()).collect();
        (
            RouteTable::build(&parsed),
            keys.iter().map(|k| (*k).to_owned()).collect(),
        )
    }

    fn chosen(t: &(RouteTable, Vec<String>), method: Method, path: &str) -> Option<String> {
        t.0.lookup(&method, path).map(|i| t.1[i as usize].clone())
    }

    #[test]
    fn aws_worked_example() {
        let t = table(&[
            "GET /pets/dog/1",
            "GET /pets/dog/{id}",
            "GET /pets/{proxy+}",
            "ANY /{proxy+}",
            "$default",
        ]);
        assert_eq!(
            chosen(&t, Method::GET, "/pets/dog/1").unwrap(),
            "GET /pets/dog/1"
        );
        assert_eq!(
            chosen(&t, Method::GET, "/pets/dog/2").unwrap(),
            "GET /pets/dog/{id}"
        );
        assert_eq!(
            chosen(&t, Method::GET, "/pets/cat/1").unwrap(),
            "GET /pets/{proxy+}"
        );
        assert_eq!(
            chosen(&t, Method::POST, "/test/5").unwrap(),
            "ANY /{proxy+}"
        );
        assert_eq!(chosen(&t, Method::GET, "/").unwrap(), "$default");
    }

    #[test]
    fn exact_method_before_any_and_fallback_to_params() {
        let t = table(&["GET /items/special", "ANY /items/{id}", "POST /items/{id}"]);
        assert_eq!(
            chosen(&t, Method::GET, "/items/special").unwrap(),
            "GET /items/special"
        );
        assert_eq!(
            chosen(&t, Method::DELETE, "/items/special").unwrap(),
            "ANY /items/{id}"
        );
        assert_eq!(
            chosen(&t, Method::POST, "/items/7").unwrap(),
            "POST /items/{id}"
        );
        assert_eq!(chosen(&t, Method::GET, "/items"), None);
        assert_eq!(chosen(&t, Method::GET, "/items/7/x"), None);
    }

    #[test]
    fn full_match_beats_greedy_and_greedy_needs_a_segment() {
        let t = table(&["GET /pets/{proxy+}", "GET /{a}/{b}", "GET /"]);
        assert_eq!(
            chosen(&t, Method::GET, "/pets/cat").unwrap(),
            "GET /{a}/{b}"
        );
        assert_eq!(
            chosen(&t, Method::GET, "/pets/cat/x").unwrap(),
            "GET /pets/{proxy+}"
        );
        assert_eq!(chosen(&t, Method::GET, "/pets").as_deref(), None);
        assert_eq!(chosen(&t, Method::GET, "/").unwrap(), "GET /");
    }

    #[test]
    fn parameters_are_extracted_and_decoded() {
        let key = RouteKey::parse("GET /a/{id}/{rest+}").unwrap();
        let RouteKey::Path { segments, .. } = key else {
            panic!()
        };
        assert_eq!(
            path_parameters(&segments, "/a/x%20y/b/c"),
            vec![("id".into(), "x y".into()), ("rest".into(), "b/c".into())]
        );
    }

    #[test]
    fn bad_keys_are_rejected() {
        for key in [
            "GET",
            "FETCH /a",
            "GET a",
            "GET /a//b",
            "GET /{p+}/x",
            "GET /a{b}",
        ] {
            assert!(RouteKey::parse(key).is_err(), "{key}");
        }
    }
}
