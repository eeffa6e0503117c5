//! The basic (non-struct) field types of the schema language.

/// A basic zproto type: what a field holds when it is not a struct.
///
/// Aliases in schema text (`integer`, `uinteger`, `long`, `ulong`) are exact
/// synonyms and parse to the same variant; [`Scalar::name`] gives the
/// preferred spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `boolean`: one byte, any non-zero byte reads as true.
    Boolean,
    /// `byte`: signed 8-bit integer.
    Byte,
    /// `ubyte`: unsigned 8-bit integer.
    Ubyte,
    /// `short`: signed 16-bit integer.
    Short,
    /// `ushort`: unsigned 16-bit integer.
    Ushort,
    /// `int32` (alias `integer`): signed 32-bit integer.
    Int32,
    /// `uint32` (alias `uinteger`): unsigned 32-bit integer.
    Uint32,
    /// `int64` (alias `long`): signed 64-bit integer.
    Int64,
    /// `uint64` (alias `ulong`): unsigned 64-bit integer.
    Uint64,
    /// `float`: IEEE-754 binary32.
    Float,
    /// `string`: length-prefixed bytes (UTF-8 is not enforced on the wire).
    String,
    /// `blob`: length-prefixed bytes, identical to `string` on the wire.
    Blob,
}

impl Scalar {
    /// Every basic type, in the order of the schema documentation.
    pub const ALL: [Scalar; 12] = [
        Scalar::Boolean,
        Scalar::Byte,
        Scalar::Ubyte,
        Scalar::Short,
        Scalar::Ushort,
        Scalar::Int32,
        Scalar::Uint32,
        Scalar::Int64,
        Scalar::Uint64,
        Scalar::Float,
        Scalar::String,
        Scalar::Blob,
    ];

    /// The preferred schema spelling.
    pub const fn name(self) -> &'static str {
        match self {
            Scalar::Boolean => "boolean",
            Scalar::Byte => "byte",
            Scalar::Ubyte => "ubyte",
            Scalar::Short => "short",
            Scalar::Ushort => "ushort",
            Scalar::Int32 => "int32",
            Scalar::Uint32 => "uint32",
            Scalar::Int64 => "int64",
            Scalar::Uint64 => "uint64",
            Scalar::Float => "float",
            Scalar::String => "string",
            Scalar::Blob => "blob",
        }
    }

    /// Reads a type name as written in a schema, aliases included.
    ///
    /// Type names are checked before struct names when a schema is parsed,
    /// so a struct called `integer` can never be used as a field type.
    pub fn from_name(name: &str) -> Option<Scalar> {
        let scalar = match name {
            "integer" => Scalar::Int32,
            "uinteger" => Scalar::Uint32,
            "long" => Scalar::Int64,
            "ulong" => Scalar::Uint64,
            _ => return Scalar::ALL.into_iter().find(|s| s.name() == name),
        };
        Some(scalar)
    }

    /// The fewest bytes one value of this type takes on the wire.
    pub const fn min_size(self) -> usize {
        match self {
            Scalar::Boolean | Scalar::Byte | Scalar::Ubyte => 1,
            Scalar::Short | Scalar::Ushort => 2,
            Scalar::Int32 | Scalar::Uint32 | Scalar::Float => 4,
            Scalar::String | Scalar::Blob => 4,
            Scalar::Int64 | Scalar::Uint64 => 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preferred_name_reads_back() {
        for scalar in Scalar::ALL {
            assert_eq!(Scalar::from_name(scalar.name()), Some(scalar));
        }
    }

    #[test]
    fn deprecated_aliases_are_synonyms() {
        assert_eq!(Scalar::from_name("integer"), Some(Scalar::Int32));
        assert_eq!(Scalar::from_name("uinteger"), Some(Scalar::Uint32));
        assert_eq!(Scalar::from_name("long"), Some(Scalar::Int64));
        assert_eq!(Scalar::from_name("ulong"), Some(Scalar::Uint64));
    }

    #[test]
    fn type_names_are_case_sensitive() {
        assert_eq!(Scalar::from_name("Int32"), None);
        assert_eq!(Scalar::from_name("double"), None);
    }
}
