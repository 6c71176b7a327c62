//! Tokens of DynamoDB's expression languages.

use super::reserved::is_reserved;

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A bare word: an attribute name, a keyword or a function's name.
    Word(String),
    /// `#name`.
    Name(String),
    /// `:value`.
    Value(String),
    /// Digits (list indexes).
    Index(String),
    /// Punctuation and comparators.
    Symbol(&'static str),
    /// The end of the expression.
    End,
}

impl Token {
    /// As AWS prints it in a syntax error.
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Word(w) => w.clone(),
            Self::Name(n) => n.clone(),
            Self::Value(v) => v.clone(),
            Self::Index(i) => i.clone(),
            Self::Symbol(s) => (*s).to_owned(),
            Self::End => "<EOF>".into(),
        }
    }

    /// Whether this is the keyword `kw` (case-insensitive).
    pub(crate) fn is_keyword(&self, kw: &str) -> bool {
        matches!(self, Self::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

const SYMBOLS: &[&str] = &[
    "<>", "<=", ">=", "=", "<", ">", "(", ")", "[", "]", ",", ".", "+", "-",
];

/// Splits `text` into tokens; an unexpected character is a syntax error in AWS's words.
pub(crate) fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' || c == b':' {
            let start = i;
            i += 1;
            while i < bytes.len() && (word_char(bytes[i]) || bytes[i] == b'-') {
                i += 1;
            }
            let token = text[start..i].to_owned();
            if token.len() == 1 {
                return Err(format!(
                    "Syntax error; token: \"{}\", near: \"{}\"",
                    token,
                    near(text, start)
                ));
            }
            out.push(if c == b'#' {
                Token::Name(token)
            } else {
                Token::Value(token)
            });
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i < bytes.len() && word_char(bytes[i]) {
                while i < bytes.len() && word_char(bytes[i]) {
                    i += 1;
                }
                out.push(Token::Word(text[start..i].to_owned()));
            } else {
                out.push(Token::Index(text[start..i].to_owned()));
            }
            continue;
        }
        if word_char(c) {
            let start = i;
            while i < bytes.len() && word_char(bytes[i]) {
                i += 1;
            }
            out.push(Token::Word(text[start..i].to_owned()));
            continue;
        }
        match SYMBOLS.iter().find(|s| text[i..].starts_with(**s)) {
            Some(symbol) => {
                out.push(Token::Symbol(symbol));
                i += symbol.len();
            }
            None => {
                let ch = text[i..].chars().next().unwrap_or(' ');
                return Err(format!(
                    "Syntax error; token: \"{}\", near: \"{}\"",
                    ch,
                    near(text, i)
                ));
            }
        }
    }
    out.push(Token::End);
    Ok(out)
}

fn near(text: &str, at: usize) -> String {
    let start = text[..at].rfind(' ').map(|p| p + 1).unwrap_or(0);
    let end = text[at..].find(' ').map(|p| at + p).unwrap_or(text.len());
    text[start..end].to_owned()
}

/// The error for a bare reserved word used as an attribute name.
pub(crate) fn check_not_reserved(word: &str) -> Result<(), String> {
    if is_reserved(word) {
        Err(format!(
            "Attribute name is a reserved keyword; reserved keyword: {word}"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_expressions() {
        let t = tokens("a.b[2] <> :v AND #n >= :w").unwrap();
        assert_eq!(t[0], Token::Word("a".into()));
        assert_eq!(t[1], Token::Symbol("."));
        assert_eq!(t[3], Token::Symbol("["));
        assert_eq!(t[4], Token::Index("2".into()));
        assert_eq!(t[6], Token::Symbol("<>"));
        assert_eq!(t[7], Token::Value(":v".into()));
        assert!(t[8].is_keyword("and"));
        assert_eq!(t.last(), Some(&Token::End));
        assert!(tokens("a = ;").unwrap_err().contains("token: \";\""));
    }
}
