/// A value could not be encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// bincode rejected the value.
    #[error("bincode: {0}")]
    Bincode(#[from] ::bincode::error::EncodeError),
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
}
