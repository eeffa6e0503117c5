/// A value could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// bincode rejected the value.
    #[error("bincode: {0}")]
    Bincode(#[from] ::bincode::error::EncodeError),
    /// zproto: structs nested deeper than silly decodes (64 levels).
    #[error("zproto: value nested deeper than 64 structs")]
    TooDeep,
    /// zproto: a length, count or struct size of 2^31 or more, which silly's
    /// C `int` arithmetic cannot represent.
    #[error("zproto: {0} too large (2^31 or more)")]
    TooLarge(&'static str),
    /// zproto: a map element without its key field, which no peer can decode.
    #[error("zproto: map element lacks its key field (tag {0})")]
    MissingMapKey(u16),
    /// zproto: fields were written out of tag order or in another number than
    /// announced; a bug in the caller of the low-level writer.
    #[error("zproto: struct fields written out of order or count")]
    FieldOrder,
    /// zproto dynamic API: a value does not fit its field's type.
    #[error("zproto: field '{field}' expects {expected}")]
    TypeMismatch {
        /// The field name.
        field: String,
        /// The schema type.
        expected: String,
    },
    /// zproto dynamic API: a struct value names a field its schema lacks.
    #[error("zproto: struct '{message}' has no field '{field}'")]
    UnknownField {
        /// The struct name.
        message: String,
        /// The field name.
        field: String,
    },
    /// A codec defined outside this crate rejected the value; made with
    /// [`EncodeError::other`].
    #[error(transparent)]
    Other(BoxError),
}

impl EncodeError {
    /// Wraps the error of a codec defined outside this crate.
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(error))
    }
}

/// Bytes could not be decoded into the expected type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// bincode rejected the bytes.
    #[error("bincode: {0}")]
    Bincode(#[from] ::bincode::error::DecodeError),
    /// The value ended before the input did.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// zproto: a value runs past the end of its input or enclosing struct.
    #[error("zproto: input ends inside a value")]
    Truncated,
    /// zproto: a struct's size field is below the 2 bytes of its field count.
    #[error("zproto: struct size {0} is below the minimum of 2")]
    StructSize(u32),
    /// zproto: a struct announces more field entries than its size holds.
    #[error("zproto: struct announces {0} fields that do not fit its size")]
    FieldCount(u16),
    /// zproto: an array count that the remaining input cannot hold.
    #[error("zproto: array of {0} elements does not fit the input")]
    ArrayLength(u32),
    /// zproto: structs nested deeper than 64 levels.
    #[error("zproto: value nested deeper than 64 structs")]
    TooDeep,
    /// zproto: a map element without its key field.
    #[error("zproto: map element lacks its key field (tag {0})")]
    MissingMapKey(u16),
    /// zproto: packed (zero-compressed) bytes are malformed.
    #[error("zproto: malformed packed data: {0}")]
    Unpack(&'static str),
    /// zproto: a `string` read into a Rust `String` is not UTF-8, outside
    /// any message (messages report [`InvalidUtf8`](Self::InvalidUtf8)).
    #[error("zproto: string is not valid UTF-8 ({0})")]
    Utf8(std::str::Utf8Error),
    /// zproto: a message field declared `String` holds bytes that are not
    /// UTF-8. silly does not check UTF-8; declare the field `ByteStr` to
    /// accept any bytes.
    #[error(
        "zproto: field '{field}' of '{message}' is not valid UTF-8 ({source}); a `ByteStr` field keeps any bytes"
    )]
    InvalidUtf8 {
        /// The struct name in the schema.
        message: &'static str,
        /// The field name in the schema.
        field: &'static str,
        /// Where the bytes stop being UTF-8.
        source: std::str::Utf8Error,
    },
    /// A codec defined outside this crate rejected the bytes; made with
    /// [`DecodeError::other`].
    #[error(transparent)]
    Other(BoxError),
}

/// The error of a codec defined outside this crate.
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl DecodeError {
    /// Wraps the error of a codec defined outside this crate.
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(error))
    }

    /// Names the message and field a context-free error happened in; used
    /// by generated code on every field it reads.
    #[doc(hidden)]
    #[cold]
    pub fn in_field(self, message: &'static str, field: &'static str) -> Self {
        match self {
            DecodeError::Utf8(source) => DecodeError::InvalidUtf8 {
                message,
                field,
                source,
            },
            other => other,
        }
    }
}
