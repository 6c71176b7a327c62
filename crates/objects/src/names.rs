//! Bucket names and object keys, checked once where they enter.

use crate::ObjectError;

/// A bucket name that follows S3's rules for general purpose buckets: 3–63 characters of
/// lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit, no
/// two adjacent dots, not shaped like an IP address, without the reserved prefixes and suffixes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketName(String);

impl BucketName {
    /// Checks `name`.
    pub fn parse(name: &str) -> Result<Self, ObjectError> {
        let bytes = name.as_bytes();
        let edge_ok =
            |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let valid = (3..=63).contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
            && edge_ok(bytes.first())
            && edge_ok(bytes.last())
            && !name.contains("..")
            && !name.contains(".-")
            && !name.contains("-.")
            && name.parse::<std::net::Ipv4Addr>().is_err()
            && !name.starts_with("xn--")
            && !name.starts_with("sthree-")
            && !name.ends_with("-s3alias")
            && !name.ends_with("--ol-s3");
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(ObjectError::InvalidBucketName(name.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BucketName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An object key: 1–1024 bytes of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// The longest key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

impl ObjectKey {
    /// Checks `key`.
    pub fn parse(key: &str) -> Result<Self, ObjectError> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(ObjectError::KeyTooLong(key.to_owned()));
        }
        Ok(Self(key.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for good in ["abc", "my-bucket.example", "a1b2c3", &"a".repeat(63)] {
            assert!(BucketName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "a_b",
            "abc-s3alias",
        ] {
            assert!(BucketName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_one_to_1024_bytes() {
        assert!(ObjectKey::parse("a/b c+d").is_ok());
        assert!(ObjectKey::parse("").is_err());
        assert!(ObjectKey::parse(&"é".repeat(513)).is_err());
        assert!(ObjectKey::parse(&"x".repeat(1024)).is_ok());
    }
}
