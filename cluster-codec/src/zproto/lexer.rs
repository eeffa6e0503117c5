//! Tokens of the schema language, with their line and column.

use crate::zproto::schema::{MAX_TOKEN_LEN, SchemaError, SchemaErrorKind};

/// Where a token starts (both 1-based; columns count bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: u32,
    pub(crate) column: u32,
}

impl Pos {
    pub(crate) fn error(self, kind: SchemaErrorKind) -> SchemaError {
        SchemaError {
            line: self.line,
            column: self.column,
            kind,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    Name(&'a str),
    /// The value as C's `strtoul(text, NULL, 0)` reads it, which is what
    /// silly's parser does: `0x` is hex, a leading `0` octal, and a value
    /// too large for 64 bits saturates.
    Number(u64),
    /// One of `{ } . : [ ]`.
    Punct(u8),
    End,
}

impl Token<'_> {
    /// How an error message shows the token.
    pub(crate) fn describe(&self) -> String {
        match self {
            Token::Name(name) => format!("'{name}'"),
            Token::Number(n) => format!("number {n}"),
            Token::Punct(p) => format!("'{}'", char::from(*p)),
            Token::End => "end of input".to_owned(),
        }
    }
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    at: usize,
    line: u32,
    line_start: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        // Like silly's parser, the text ends at the first NUL byte.
        let src = src.split('\0').next().unwrap_or_default();
        Lexer {
            src,
            at: 0,
            line: 1,
            line_start: 0,
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: (self.at - self.line_start + 1) as u32,
        }
    }

    fn peek_byte(&self) -> Option<u8> {
        self.src.as_bytes().get(self.at).copied()
    }

    /// Skips whitespace and `#` comments (which run to the end of the line).
    fn skip_blank(&mut self) {
        let mut in_comment = false;
        while let Some(b) = self.peek_byte() {
            match b {
                b'\n' => {
                    in_comment = false;
                    self.at += 1;
                    self.line += 1;
                    self.line_start = self.at;
                }
                b'#' => in_comment = true,
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {}
                _ if in_comment => {}
                _ => return,
            }
            if b != b'\n' {
                self.at += 1;
            }
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.at;
        while self.peek_byte().is_some_and(&keep) {
            self.at += 1;
        }
        &self.src[start..self.at]
    }

    pub(crate) fn next(&mut self) -> Result<(Token<'a>, Pos), SchemaError> {
        self.skip_blank();
        let pos = self.pos();
        let Some(b) = self.peek_byte() else {
            return Ok((Token::End, pos));
        };
        let token = match b {
            b'{' | b'}' | b'.' | b':' | b'[' | b']' => {
                self.at += 1;
                Token::Punct(b)
            }
            b if b.is_ascii_alphabetic() => {
                let name = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_');
                if name.len() > MAX_TOKEN_LEN {
                    return Err(pos.error(SchemaErrorKind::TooLong("name")));
                }
                Token::Name(name)
            }
            b if b.is_ascii_digit() => {
                let start = self.at;
                if hex_digits(&self.src[start..]).is_some() {
                    self.at += 2;
                    self.take_while(|b| b.is_ascii_hexdigit());
                } else {
                    self.take_while(|b| b.is_ascii_digit());
                }
                let text = &self.src[start..self.at];
                if text.len() > MAX_TOKEN_LEN {
                    return Err(pos.error(SchemaErrorKind::TooLong("number")));
                }
                Token::Number(strtoul(text))
            }
            _ => {
                let found = self.src[self.at..].chars().next().unwrap_or_default();
                return Err(pos.error(SchemaErrorKind::Unexpected {
                    expected: "a name, number or one of { } . : [ ]",
                    found: format!("{found:?}"),
                }));
            }
        };
        Ok((token, pos))
    }
}

/// What follows a `0x` or `0X` prefix, if `text` has one.
fn hex_digits(text: &str) -> Option<&str> {
    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
}

/// `strtoul(text, NULL, 0)` for a token made of a `0x` prefix and hex digits,
/// or of decimal digits. Octal (leading `0`) stops at the first 8 or 9, so
/// `08` is 0, exactly as in C.
fn strtoul(text: &str) -> u64 {
    let (digits, radix) = if let Some(hex) = hex_digits(text) {
        (hex, 16)
    } else if let Some(octal) = text.strip_prefix('0') {
        (octal, 8)
    } else {
        (text, 10)
    };
    let mut value: u64 = 0;
    for digit in digits.chars().map_while(|c| c.to_digit(radix)) {
        value = match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(digit)))
        {
            Some(v) => v,
            None => return u64::MAX,
        };
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Token<'_>> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let (token, _) = lexer.next().expect("lex");
            out.push(token);
            if token == Token::End {
                return out;
            }
        }
    }

    #[test]
    fn numbers_read_like_c_strtoul_base_zero() {
        assert_eq!(strtoul("10"), 10);
        assert_eq!(strtoul("0x1F"), 31);
        assert_eq!(strtoul("0X1f"), 31);
        assert_eq!(strtoul("010"), 8);
        assert_eq!(strtoul("08"), 0);
        assert_eq!(strtoul("018"), 1);
        assert_eq!(strtoul("0"), 0);
        assert_eq!(strtoul("0x"), 0);
        assert_eq!(strtoul("0xfffffffff"), 0xf_ffff_ffff);
        assert_eq!(strtoul("99999999999999999999999"), u64::MAX);
    }

    #[test]
    fn comments_run_to_the_end_of_the_line() {
        assert_eq!(
            tokens("a#x{\n1#c\n}"),
            [
                Token::Name("a"),
                Token::Number(1),
                Token::Punct(b'}'),
                Token::End
            ]
        );
    }

    #[test]
    fn text_ends_at_the_first_nul_byte() {
        assert_eq!(tokens("a\0{"), [Token::Name("a"), Token::End]);
    }

    #[test]
    fn positions_count_lines_and_columns_from_one() {
        let mut lexer = Lexer::new("a\n  {");
        assert_eq!(lexer.next().expect("a").1, Pos { line: 1, column: 1 });
        assert_eq!(lexer.next().expect("{").1, Pos { line: 2, column: 3 });
    }

    #[test]
    fn number_followed_by_letters_is_two_tokens() {
        assert_eq!(
            tokens("1abc"),
            [Token::Number(1), Token::Name("abc"), Token::End]
        );
    }
}
