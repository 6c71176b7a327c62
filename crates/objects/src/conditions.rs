//! Conditional requests (`If-Match`, `If-None-Match`, `If-Modified-Since`,
//! `If-Unmodified-Since`) and byte ranges, as S3 evaluates them (RFC 9110's precedence: an
//! `If-Match` that holds makes `If-Unmodified-Since` irrelevant, an `If-None-Match` present makes
//! `If-Modified-Since` irrelevant).

use crate::{ObjectError, ObjectRecord};

/// The conditions of a GET or HEAD (or of a copy's source, with `x-amz-copy-source-if-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match`: entity tags (quoted or not), or `*`.
    pub if_match: Option<String>,
    /// `If-None-Match`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`, seconds since the epoch.
    pub if_modified_since: Option<i64>,
    /// `If-Unmodified-Since`, seconds since the epoch.
    pub if_unmodified_since: Option<i64>,
}

fn etag_listed(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        let candidate = candidate.strip_prefix("W/").unwrap_or(candidate);
        candidate == "*" || candidate.trim_matches('"') == etag
    })
}

impl Conditions {
    /// Checks the conditions against an object: `PreconditionFailed` (412) or `NotModified`
    /// (304, for reads; a copy's caller turns it into 412 as S3 does).
    pub fn check(&self, object: &ObjectRecord) -> Result<(), ObjectError> {
        let modified = object.modified_ms.div_euclid(1000);
        match &self.if_match {
            Some(list) if !etag_listed(list, &object.etag) => {
                return Err(ObjectError::PreconditionFailed("If-Match"))
            }
            Some(_) => {}
            None => {
                if self
                    .if_unmodified_since
                    .is_some_and(|since| modified > since)
                {
                    return Err(ObjectError::PreconditionFailed("If-Unmodified-Since"));
                }
            }
        }
        match &self.if_none_match {
            Some(list) if etag_listed(list, &object.etag) => Err(ObjectError::NotModified),
            Some(_) => Ok(()),
            None => match self.if_modified_since {
                Some(since) if modified <= since => Err(ObjectError::NotModified),
                _ => Ok(()),
            },
        }
    }
}

/// A `Range: bytes=…` request (one range; S3 serves no multi-range requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last` (`last` may pass the end).
    FromTo(u64, u64),
    /// `bytes=first-`.
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parses a `Range` header; `None` when it is not one range S3 would honour (S3 then serves
    /// the whole object, as it does for syntax it ignores).
    pub fn parse(header: &str) -> Option<Self> {
        let spec = header.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (first, last) = spec.split_once('-')?;
        let (first, last) = (first.trim(), last.trim());
        match (first.is_empty(), last.is_empty()) {
            (true, false) => Some(Self::Suffix(last.parse().ok()?)),
            (false, true) => Some(Self::From(first.parse().ok()?)),
            (false, false) => {
                let (first, last) = (first.parse().ok()?, last.parse().ok()?);
                (first <= last).then_some(Self::FromTo(first, last))
            }
            (true, true) => None,
        }
    }

    /// The inclusive byte span of an object of `size` bytes, or `InvalidRange`.
    pub fn resolve(self, size: u64) -> Result<(u64, u64), ObjectError> {
        let unsatisfiable = ObjectError::InvalidRange { size };
        match self {
            Self::FromTo(first, last) if first < size => Ok((first, last.min(size - 1))),
            Self::From(first) if first < size => Ok((first, size - 1)),
            Self::Suffix(n) if n > 0 && size > 0 => Ok((size - n.min(size), size - 1)),
            _ => Err(unsatisfiable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::ObjectAttributes;

    fn object(etag: &str, modified_s: i64) -> ObjectRecord {
        ObjectRecord {
            size: 10,
            etag: etag.into(),
            modified_ms: modified_s * 1000 + 500,
            attributes: ObjectAttributes::default(),
            segments: vec![],
            parts_count: None,
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(ByteRange::parse("bytes=0-4"), Some(ByteRange::FromTo(0, 4)));
        assert_eq!(ByteRange::parse("bytes=5-"), Some(ByteRange::From(5)));
        assert_eq!(ByteRange::parse("bytes=-3"), Some(ByteRange::Suffix(3)));
        assert_eq!(ByteRange::parse("bytes=4-2"), None);
        assert_eq!(ByteRange::parse("bytes=0-1,3-4"), None);
        assert_eq!(ByteRange::parse("items=0-1"), None);
        assert_eq!(ByteRange::FromTo(2, 100).resolve(10).unwrap(), (2, 9));
        assert_eq!(ByteRange::Suffix(3).resolve(10).unwrap(), (7, 9));
        assert_eq!(ByteRange::Suffix(30).resolve(10).unwrap(), (0, 9));
        assert!(ByteRange::From(10).resolve(10).is_err());
        assert!(ByteRange::Suffix(0).resolve(10).is_err());
        assert!(ByteRange::FromTo(0, 0).resolve(0).is_err());
    }

    #[test]
    fn precedence() {
        let o = object("abc", 1000);
        let c = |f: fn(&mut Conditions)| {
            let mut c = Conditions::default();
            f(&mut c);
            c.check(&o)
        };
        assert!(c(|c| c.if_match = Some("\"abc\"".into())).is_ok());
        assert!(matches!(
            c(|c| c.if_match = Some("\"xyz\"".into())),
            Err(ObjectError::PreconditionFailed(_))
        ));
        assert!(matches!(
            c(|c| c.if_none_match = Some("\"abc\"".into())),
            Err(ObjectError::NotModified)
        ));
        assert!(c(|c| c.if_none_match = Some("\"x\"".into())).is_ok());
        assert!(matches!(
            c(|c| c.if_modified_since = Some(1000)),
            Err(ObjectError::NotModified)
        ));
        assert!(c(|c| c.if_modified_since = Some(999)).is_ok());
        assert!(matches!(
            c(|c| c.if_unmodified_since = Some(999)),
            Err(ObjectError::PreconditionFailed(_))
        ));
        // If-Match holding overrides a failing If-Unmodified-Since.
        assert!(c(|c| {
            c.if_match = Some("abc".into());
            c.if_unmodified_since = Some(10);
        })
        .is_ok());
        // If-None-Match present: If-Modified-Since is ignored.
        assert!(c(|c| {
            c.if_none_match = Some("\"x\"".into());
            c.if_modified_since = Some(5000);
        })
        .is_ok());
    }
}
