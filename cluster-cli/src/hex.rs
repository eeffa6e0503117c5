//! Hex text for byte strings: `--hex` bodies, printed responses and the
//! `{"$bytes": ...}` JSON form.

use std::fmt::Write;

/// A hex string that does not spell bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// An odd number of digits: the last byte is incomplete.
    #[error("odd number of hex digits ({0})")]
    OddLength(usize),
    /// A character that is not a hex digit.
    #[error("'{found}' at offset {offset} is not a hex digit")]
    BadDigit {
        /// The character.
        found: char,
        /// Its byte offset in the text.
        offset: usize,
    },
}

/// Lowercase hex, two digits per byte.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Reads hex digits of either case, two per byte.
pub fn decode(text: &str) -> Result<Vec<u8>, HexError> {
    if let Some((offset, found)) = text.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(HexError::BadDigit { found, offset });
    }
    if text.len() % 2 != 0 {
        return Err(HexError::OddLength(text.len()));
    }
    let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
    Ok(text
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| digit(pair[0]) << 4 | digit(pair[1]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)), Ok(all));
    }

    #[test]
    fn accepts_uppercase_and_empty() {
        assert_eq!(decode("FF0a"), Ok(vec![0xff, 0x0a]));
        assert_eq!(decode(""), Ok(vec![]));
    }

    #[test]
    fn rejects_odd_length_and_non_digits() {
        assert_eq!(decode("abc"), Err(HexError::OddLength(3)));
        assert_eq!(
            decode("0g"),
            Err(HexError::BadDigit {
                found: 'g',
                offset: 1
            })
        );
    }
}
