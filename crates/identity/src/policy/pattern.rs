//! Wildcard patterns (`*` any run, `?` one character) with policy variables (`${aws:username}`),
//! matched in place.

use super::context::RequestContext;

/// A compiled pattern. Actions are stored lower-cased (IAM matches them case-insensitively, and the
/// request's action is lower-cased once); resources keep their case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// `*` alone: matches everything without looking.
    everything: bool,
    /// Holds `${…}`: substituted from the request before matching (2012-10-17 policies only).
    variables: bool,
    /// Actions compare case-insensitively (the pattern is stored lower-cased).
    ignore_case: bool,
    /// Bytes before the first wildcard: compared in one go, so most mismatches cost a `memcmp`.
    prefix_len: usize,
    /// No wildcard at all: plain equality.
    literal: bool,
}

fn wildcard_free_prefix(text: &str) -> usize {
    text.find(['*', '?']).unwrap_or(text.len())
}

impl Pattern {
    /// An action pattern (lower-cased; variables are not allowed in actions).
    pub fn action(text: &str) -> Self {
        let prefix_len = wildcard_free_prefix(text);
        Self {
            everything: text == "*",
            text: text.to_ascii_lowercase(),
            variables: false,
            ignore_case: true,
            prefix_len,
            literal: prefix_len == text.len(),
        }
    }

    /// A resource (or ARN condition) pattern; `variables` says whether `${…}` is substituted.
    pub fn resource(text: &str, variables: bool) -> Self {
        let prefix_len = wildcard_free_prefix(text);
        Self {
            everything: text == "*",
            variables: variables && text.contains("${"),
            text: text.to_owned(),
            ignore_case: false,
            prefix_len,
            literal: prefix_len == text.len(),
        }
    }

    /// The pattern as written (lower-cased for actions).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `value` matches, substituting variables from `context` first.
    pub fn matches(&self, value: &str, context: &RequestContext<'_>) -> bool {
        if self.everything {
            return true;
        }
        if self.variables {
            match substitute(&self.text, context) {
                Some(text) => wildcard_match(&text, value),
                // A variable with no value in the request never matches (IAM's rule).
                None => false,
            }
        } else {
            let (pattern, value) = (self.text.as_bytes(), value.as_bytes());
            let n = self.prefix_len;
            let prefix_matches = value.len() >= n
                && if self.ignore_case {
                    pattern[..n].eq_ignore_ascii_case(&value[..n])
                } else {
                    pattern[..n] == value[..n]
                };
            if !prefix_matches {
                return false;
            }
            if self.literal {
                return value.len() == n;
            }
            // The prefix is plain ASCII-or-UTF-8 text cut before a wildcard, so both rests start
            // on character boundaries.
            if self.ignore_case {
                matches_bytes(&pattern[n..], &value[n..], |p, v| {
                    p == v.to_ascii_lowercase()
                })
            } else {
                matches_bytes(&pattern[n..], &value[n..], |p, v| p == v)
            }
        }
    }
}

/// Replaces `${key}` with the request's value for `key`; `${*}`, `${?}`, `${$}` stand for the
/// literal characters; `${key, 'default'}` uses the default when the key is absent. `None` when a
/// variable has no value and no default.
pub(crate) fn substitute(text: &str, context: &RequestContext<'_>) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Some(out);
        };
        let inner = after[..end].trim();
        match inner {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((key, default)) => (
                        key.trim(),
                        Some(default.trim().trim_matches('\'').to_owned()),
                    ),
                    None => (inner, None),
                };
                match context.single_value(key).or(default.map(Into::into)) {
                    Some(value) => out.push_str(&value),
                    None => return None,
                }
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Glob matching with `*` (any run, possibly empty) and `?` (exactly one character), on bytes,
/// without allocating; backtracks only to the last `*`.
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    matches_with(pattern, value, |p, v| p == v)
}

/// [`wildcard_match`] ignoring ASCII case (for `StringLike` with `IgnoreCase`-style uses).
pub fn wildcard_match_ignore_case(pattern: &str, value: &str) -> bool {
    matches_with(pattern, value, |p, v| p.eq_ignore_ascii_case(&v))
}

fn matches_with(pattern: &str, value: &str, eq: impl Fn(u8, u8) -> bool) -> bool {
    matches_bytes(pattern.as_bytes(), value.as_bytes(), eq)
}

fn matches_bytes(p: &[u8], v: &[u8], eq: impl Fn(u8, u8) -> bool) -> bool {
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] != b'*' && (p[pi] == b'?' || eq(p[pi], v[vi])) {
            // `?` stands for one character, not one byte: skip a whole UTF-8 sequence.
            let width = if p[pi] == b'?' { utf8_width(v[vi]) } else { 1 };
            pi += 1;
            vi += width;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((star_pi, star_vi)) = star {
            pi = star_pi + 1;
            vi = star_vi + 1;
            star = Some((star_pi, star_vi + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|b| *b == b'*')
}

fn utf8_width(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ConditionKeys, Principal};

    #[test]
    fn compiled_patterns_take_their_fast_paths_correctly() {
        let principal = Principal::anonymous();
        let keys = ConditionKeys::default();
        let ctx = RequestContext {
            principal: &principal,
            action: "",
            resource: "",
            keys: &keys,
            now: time::OffsetDateTime::UNIX_EPOCH,
        };
        assert!(Pattern::action("Lambda:Get*").matches("lambda:GETFUNCTION", &ctx));
        assert!(Pattern::action("lambda:InvokeFunction").matches("LAMBDA:invokefunction", &ctx));
        assert!(!Pattern::action("lambda:InvokeFunction").matches("lambda:InvokeFunctionUrl", &ctx));
        assert!(!Pattern::action("lambda:Get*").matches("lambda:Ge", &ctx));
        assert!(Pattern::resource("arn:aws:s3:::b/*", false).matches("arn:aws:s3:::b/x", &ctx));
        assert!(!Pattern::resource("arn:aws:s3:::b/*", false).matches("arn:aws:s3:::B/x", &ctx));
        assert!(Pattern::resource("arn:x", false).matches("arn:x", &ctx));
        assert!(!Pattern::resource("arn:x", false).matches("arn:xy", &ctx));
        assert!(Pattern::resource("arn:a?c:*:z", false).matches("arn:abc:q:z", &ctx));
    }

    #[test]
    fn globs() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("lambda:get*", "lambda:getfunction"));
        assert!(!wildcard_match("lambda:get*", "lambda:listfunctions"));
        assert!(wildcard_match(
            "arn:aws:s3:::b/*/x?",
            "arn:aws:s3:::b/a/b/xy"
        ));
        assert!(!wildcard_match(
            "arn:aws:s3:::b/*/x?",
            "arn:aws:s3:::b/a/b/x"
        ));
        assert!(wildcard_match("a*b*c", "aXXbYYbc"));
        assert!(!wildcard_match("a*b*c", "aXXbYYbcd"));
        assert!(wildcard_match("f?", "fé"));
        assert!(wildcard_match("**", "anything"));
        assert!(!wildcard_match("abc", "ab"));
        assert!(wildcard_match("a*", "a*"));
        assert!(!wildcard_match("Lambda:Get*", "lambda:getfunction"));
        assert!(wildcard_match_ignore_case(
            "Lambda:Get*",
            "lambda:getfunction"
        ));
    }
}
