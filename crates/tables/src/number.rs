//! DynamoDB's number: a decimal of up to 38 significant digits with an exponent between -130 and
//! +125, compared and added exactly (never through a float).
//!
//! A number is kept as its significant digits (no leading or trailing zeros; none for zero) and
//! an exponent `e` such that the value is `0.d1d2…dn × 10^e`. Its key encoding sorts bytewise in
//! numeric order, so the store can range-scan numeric sort keys.

use std::cmp::Ordering;
use std::fmt;

/// The most significant digits DynamoDB keeps.
pub const MAX_DIGITS: usize = 38;

/// An exact decimal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    digits: Vec<u8>,
    exponent: i32,
}

/// Why a number was refused, in DynamoDB's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number at all.
    NotANumber,
    /// More than 38 significant digits.
    Precision,
    /// Too large or too small in magnitude.
    Overflow,
    /// Too close to zero.
    Underflow,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotANumber => "A value provided cannot be converted into a number",
            Self::Precision => "Attempting to store more than 38 significant digits in a Number",
            Self::Overflow => {
                "Number overflow. Attempting to store a number with magnitude larger than supported range"
            }
            Self::Underflow => {
                "Number underflow. Attempting to store a number with magnitude smaller than supported range"
            }
        })
    }
}

impl Number {
    /// Zero.
    pub fn zero() -> Self {
        Self {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    fn normalized(
        negative: bool,
        mut digits: Vec<u8>,
        mut exponent: i32,
    ) -> Result<Self, NumberError> {
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        exponent -= leading as i32;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            return Ok(Self::zero());
        }
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::Precision);
        }
        // 0.d × 10^e: the largest allowed is 9.99…E+125 (e = 126), the smallest 1E-130 (e = -129).
        if exponent > 126 {
            return Err(NumberError::Overflow);
        }
        if exponent < -129 {
            return Err(NumberError::Underflow);
        }
        Ok(Self {
            negative,
            digits,
            exponent,
        })
    }

    /// Parses DynamoDB's number text: an optional sign, digits with an optional point, an
    /// optional exponent.
    pub fn parse(text: &str) -> Result<Self, NumberError> {
        let text = text.trim();
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(at) => {
                let exp = &rest[at + 1..];
                let exp: i32 = exp
                    .strip_prefix('+')
                    .unwrap_or(exp)
                    .parse()
                    .map_err(|_| NumberError::NotANumber)?;
                if exp.abs() > 10_000 {
                    return Err(if exp > 0 {
                        NumberError::Overflow
                    } else {
                        NumberError::Underflow
                    });
                }
                (&rest[..at], exp)
            }
            None => (rest, 0),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(NumberError::NotANumber);
        }
        let mut digits = Vec::with_capacity(int.len() + frac.len());
        for c in int.bytes().chain(frac.bytes()) {
            if !c.is_ascii_digit() {
                return Err(NumberError::NotANumber);
            }
            digits.push(c - b'0');
        }
        let negative = negative && digits.iter().any(|d| *d != 0);
        Self::normalized(negative, digits, int.len() as i32 + exp)
    }

    /// An integer.
    pub fn from_i64(value: i64) -> Self {
        Self::parse(&value.to_string()).unwrap_or_else(|_| Self::zero())
    }

    /// The value as an integer, if it is one that fits.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_string().parse().ok()
    }

    fn magnitude_cmp(&self, other: &Self) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        self.exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits))
    }

    /// `self + other`, exactly.
    pub fn add(&self, other: &Self) -> Result<Self, NumberError> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        // Align both on a common grid: position 0 is 10^(top-1).
        let top = self.exponent.max(other.exponent) + 1;
        let bottom = (self.exponent - self.digits.len() as i32)
            .min(other.exponent - other.digits.len() as i32);
        let width = (top - bottom) as usize;
        let spread = |n: &Self| {
            let mut v = vec![0i16; width];
            let start = (top - n.exponent) as usize;
            for (i, d) in n.digits.iter().enumerate() {
                v[start + i] = *d as i16;
            }
            v
        };
        let (a, b) = (spread(self), spread(other));
        let (negative, result) = if self.negative == other.negative {
            (self.negative, digit_op(&a, &b, 1))
        } else if self.magnitude_cmp(other) != Ordering::Less {
            (self.negative, digit_op(&a, &b, -1))
        } else {
            (other.negative, digit_op(&b, &a, -1))
        };
        Self::normalized(negative, result, top)
    }

    /// `self - other`, exactly.
    pub fn sub(&self, other: &Self) -> Result<Self, NumberError> {
        self.add(&other.negated())
    }

    /// `-self`.
    pub fn negated(&self) -> Self {
        let mut n = self.clone();
        n.negative = !n.is_zero() && !n.negative;
        n
    }

    /// The bytes that sort like the numbers (sign, exponent, digits).
    pub fn key_bytes(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(0x02);
            return;
        }
        let exponent = (self.exponent + 1000) as u16;
        if self.negative {
            out.push(0x01);
            out.extend_from_slice(&(!exponent).to_be_bytes());
            out.extend(self.digits.iter().map(|d| 9 - d));
            // A shorter negative mantissa is the larger number: end above every digit.
            out.push(0xff);
        } else {
            out.push(0x03);
            out.extend_from_slice(&exponent.to_be_bytes());
            out.extend_from_slice(&self.digits);
        }
    }

    /// Significant digits (for item sizes).
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }
}

/// `a ± b` on aligned digit vectors (most significant first) with `a >= b` when subtracting.
fn digit_op(a: &[i16], b: &[i16], sign: i16) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = a[i] + sign * b[i] + carry;
        carry = 0;
        if d >= 10 {
            d -= 10;
            carry = 1;
        } else if d < 0 {
            d += 10;
            carry = -1;
        }
        out[i] = d as u8;
    }
    // The grid has one spare leading position, so an addition's carry always lands in it.
    out
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Self| {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal if sign(self) < 0 => other.magnitude_cmp(self),
            Ordering::Equal => self.magnitude_cmp(other),
            unequal => unequal,
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    /// Plain decimal notation, as DynamoDB returns numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 8);
        if self.negative {
            s.push('-');
        }
        let n = self.digits.len() as i32;
        let digit = |d: &u8| (b'0' + d) as char;
        if self.exponent >= n {
            s.extend(self.digits.iter().map(digit));
            s.extend(std::iter::repeat_n('0', (self.exponent - n) as usize));
        } else if self.exponent > 0 {
            let (int, frac) = self.digits.split_at(self.exponent as usize);
            s.extend(int.iter().map(digit));
            s.push('.');
            s.extend(frac.iter().map(digit));
        } else {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', (-self.exponent) as usize));
            s.extend(self.digits.iter().map(digit));
        }
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_canonically() {
        assert_eq!(n("1.50").to_string(), "1.5");
        assert_eq!(n("1E3").to_string(), "1000");
        assert_eq!(n("-0.0012").to_string(), "-0.0012");
        assert_eq!(n("-0").to_string(), "0");
        assert_eq!(n("007.25e-1").to_string(), "0.725");
        assert_eq!(n(".5").to_string(), "0.5");
        assert_eq!(Number::parse("abc"), Err(NumberError::NotANumber));
        assert_eq!(Number::parse(""), Err(NumberError::NotANumber));
        assert_eq!(Number::parse("1e126"), Err(NumberError::Overflow));
        assert_eq!(Number::parse("1e-131"), Err(NumberError::Underflow));
        assert_eq!(
            Number::parse("123456789012345678901234567890123456789"),
            Err(NumberError::Precision)
        );
        assert_eq!(
            n("12345678901234567890123456789012345678").to_string(),
            "12345678901234567890123456789012345678"
        );
    }

    #[test]
    fn adds_exactly() {
        assert_eq!(n("0.1").add(&n("0.2")).unwrap().to_string(), "0.3");
        assert_eq!(n("999").add(&n("1")).unwrap().to_string(), "1000");
        assert_eq!(n("5").add(&n("-7")).unwrap().to_string(), "-2");
        assert_eq!(n("-5").sub(&n("-5")).unwrap().to_string(), "0");
        assert_eq!(n("1000").sub(&n("0.001")).unwrap().to_string(), "999.999");
        assert_eq!(
            n("99999999999999999999999999999999999999")
                .add(&n("1"))
                .unwrap()
                .to_string(),
            "100000000000000000000000000000000000000"
        );
        assert_eq!(
            n("12345678901234567890123456789012345678").add(&n("0.1")),
            Err(NumberError::Precision)
        );
    }

    #[test]
    fn key_bytes_sort_numerically() {
        let values = [
            "-1000", "-10", "-9.5", "-9", "-0.123", "-0.12", "0", "0.001", "0.12", "0.123", "1",
            "9", "9.5", "10", "1e20",
        ];
        let keys: Vec<Vec<u8>> = values
            .iter()
            .map(|v| {
                let mut k = Vec::new();
                n(v).key_bytes(&mut k);
                k
            })
            .collect();
        for pair in keys.windows(2) {
            assert!(pair[0] < pair[1], "{pair:?}");
        }
        let mut sorted: Vec<Number> = values.iter().map(|v| n(v)).collect();
        sorted.reverse();
        sorted.sort();
        assert_eq!(sorted[0], n("-1000"));
        assert_eq!(sorted.last().unwrap(), &n("1e20"));
    }
}
