//! The schema text parser (grammar in the `zproto` module docs).

use crate::zproto::Scalar;
use crate::zproto::lexer::{Lexer, Pos, Token};
use crate::zproto::schema::{Builder, FieldType, Repeat, Schema, SchemaError, SchemaErrorKind};

impl Schema {
    /// Parses schema text in silly's zproto language.
    ///
    /// Differences from silly's parser, all on inputs it mishandles: field
    /// tags above 32767 are rejected (silly's codec breaks on them), and so
    /// are struct definitions nested deeper than 64 levels.
    pub fn parse(text: &str) -> Result<Schema, SchemaError> {
        Parser {
            lexer: Lexer::new(text),
            peeked: None,
            builder: Builder::new(),
        }
        .schema()
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<(Token<'a>, Pos)>,
    builder: Builder,
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Result<(Token<'a>, Pos), SchemaError> {
        match self.peeked {
            Some(t) => Ok(t),
            None => {
                let t = self.lexer.next()?;
                self.peeked = Some(t);
                Ok(t)
            }
        }
    }

    fn bump(&mut self) -> Result<(Token<'a>, Pos), SchemaError> {
        let t = self.peek()?;
        self.peeked = None;
        Ok(t)
    }

    fn unexpected(expected: &'static str, (token, pos): (Token<'_>, Pos)) -> SchemaError {
        pos.error(SchemaErrorKind::Unexpected {
            expected,
            found: token.describe(),
        })
    }

    fn punct(&mut self, p: u8, expected: &'static str) -> Result<Pos, SchemaError> {
        match self.bump()? {
            (Token::Punct(q), pos) if q == p => Ok(pos),
            other => Err(Self::unexpected(expected, other)),
        }
    }

    fn name(&mut self, expected: &'static str) -> Result<(&'a str, Pos), SchemaError> {
        match self.bump()? {
            (Token::Name(name), pos) => Ok((name, pos)),
            other => Err(Self::unexpected(expected, other)),
        }
    }

    fn number(&mut self, expected: &'static str) -> Result<(u64, Pos), SchemaError> {
        match self.bump()? {
            (Token::Number(n), pos) => Ok((n, pos)),
            other => Err(Self::unexpected(expected, other)),
        }
    }

    /// `schema := struct { struct }`
    fn schema(mut self) -> Result<Schema, SchemaError> {
        loop {
            match self.peek()? {
                (Token::End, pos) => return self.builder.finish().map_err(|k| pos.error(k)),
                (Token::Name(_), _) => self.struct_def(true)?,
                other => return Err(Self::unexpected("a struct name", other)),
            }
        }
    }

    /// `struct := NAME [ NUMBER ] '{' { struct } { field } '}'`, where only a
    /// top-level struct may have the NUMBER (its protocol tag).
    fn struct_def(&mut self, top_level: bool) -> Result<(), SchemaError> {
        let (name, pos) = self.name("a struct name")?;
        let mut tag = 0;
        if top_level {
            if let (Token::Number(n), _) = self.peek()? {
                self.bump()?;
                // silly stores the protocol tag in a C int: keep the low 32 bits.
                tag = n as u32;
            }
        }
        self.punct(b'{', "'{'")?;
        self.builder
            .open(name, tag)
            .map_err(|kind| pos.error(kind))?;
        loop {
            match self.peek()? {
                (Token::Punct(b'}'), _) => break,
                (Token::Punct(b'.'), _) => self.field()?,
                (Token::Name(_), _) => self.struct_def(false)?,
                other => return Err(Self::unexpected("'.', '}' or a nested struct", other)),
            }
        }
        self.bump()?;
        self.builder.close();
        Ok(())
    }

    /// `field := '.' NAME ':' NAME [ '[' [ NAME ] ']' ] NUMBER`
    fn field(&mut self) -> Result<(), SchemaError> {
        self.punct(b'.', "'.'")?;
        let (name, name_pos) = self.name("a field name")?;
        self.punct(b':', "':'")?;
        let (type_name, type_pos) = self.name("a type name")?;
        let mut ty = self
            .builder
            .resolve(type_name)
            .map_err(|k| type_pos.error(k))?;
        let mut repeat = Repeat::Single;
        if let (Token::Punct(b'['), _) = self.peek()? {
            self.bump()?;
            repeat = Repeat::Array;
            if let (Token::Name(key), key_pos) = self.peek()? {
                self.bump()?;
                let key = self
                    .builder
                    .map_key(ty, key)
                    .map_err(|k| key_pos.error(k))?;
                repeat = Repeat::Map { key };
            }
            self.punct(b']', "']' or a map key")?;
            // `byte[]` and `ubyte[]` are not arrays but strings and blobs,
            // which is why zproto has no arrays of 8-bit integers.
            ty = match (ty, repeat) {
                (FieldType::Scalar(Scalar::Byte), Repeat::Array) => {
                    repeat = Repeat::Single;
                    FieldType::Scalar(Scalar::String)
                }
                (FieldType::Scalar(Scalar::Ubyte), Repeat::Array) => {
                    repeat = Repeat::Single;
                    FieldType::Scalar(Scalar::Blob)
                }
                _ => ty,
            };
        }
        let (tag, tag_pos) = self.number("a field tag")?;
        self.builder
            .field(name, tag, ty, repeat)
            .map_err(|kind| match kind {
                SchemaErrorKind::DuplicateField(_) | SchemaErrorKind::InvalidName(_) => {
                    name_pos.error(kind)
                }
                _ => tag_pos.error(kind),
            })
    }
}
