//! The schema model: structs, fields and types, as the codec needs them.
//!
//! A [`Schema`] owns every struct of a schema file, nested ones included, in
//! one arena indexed by [`StructId`], in the order their names appear in the
//! text. Only top-level structs are messages (reachable by name or protocol
//! tag); nested ones are field types of their parent and its descendants.
//!
//! The rules that make a schema valid (ascending tags, unique names, map
//! keys, ...) live in `Builder`, which both the text parser and the export
//! from Rust types go through, so both accept exactly the same schemas.

use std::sync::Arc;

use crate::zproto::Scalar;

/// Field tags above this are rejected: silly's zproto keeps field tags in a
/// signed 16-bit slot, so 32768..=65535 parse there but break its codec.
pub const MAX_FIELD_TAG: u16 = 32767;

/// The longest name or number token the schema language allows.
pub(crate) const MAX_TOKEN_LEN: usize = 63;

/// Struct definitions may be nested this deep, and encoded values too.
pub const MAX_DEPTH: usize = 64;

/// Index of a struct (top-level or nested) in a [`Schema`].
///
/// Only meaningful for the schema that issued it: indexing another schema
/// with it panics or finds an unrelated struct, like a slice index would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StructId(pub(crate) usize);

/// A parsed schema: every struct definition, and which are top-level.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    structs: Vec<StructDef>,
    top: Vec<StructId>,
}

/// One struct definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructDef {
    name: String,
    tag: u32,
    parent: Option<StructId>,
    nested: Vec<StructId>,
    fields: Vec<FieldDef>,
}

/// One field of a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    name: Arc<str>,
    tag: u16,
    ty: FieldType,
    repeat: Repeat,
}

/// What one element of a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A basic type.
    Scalar(Scalar),
    /// A struct of the same schema.
    Struct(StructId),
}

/// How many elements a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// `.f:T n`: one value.
    Single,
    /// `.f:T[] n`: a counted sequence.
    Array,
    /// `.f:S[k] n`: an array of struct `S` whose field number `key` (an index
    /// into `S`'s fields) identifies each element. On the wire it is exactly
    /// an array.
    Map {
        /// Index of the key field among the element struct's fields.
        key: usize,
    },
}

impl Schema {
    /// The top-level structs (the messages), in definition order.
    pub fn messages(&self) -> impl ExactSizeIterator<Item = StructId> + '_ {
        self.top.iter().copied()
    }

    /// A top-level struct by name.
    pub fn find(&self, name: &str) -> Option<StructId> {
        self.messages().find(|&id| self[id].name == name)
    }

    /// A top-level struct by protocol tag; tag 0 means "none" and finds nothing.
    pub fn find_tag(&self, tag: u32) -> Option<StructId> {
        (tag != 0)
            .then(|| self.messages().find(|&id| self[id].tag == tag))
            .flatten()
    }
}

impl std::ops::Index<StructId> for Schema {
    type Output = StructDef;

    fn index(&self, id: StructId) -> &StructDef {
        &self.structs[id.0]
    }
}

impl StructDef {
    /// The struct's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The protocol tag (0: none). Only top-level structs have one. A tag
    /// written above `u32::MAX` in the text keeps its low 32 bits, as in silly.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// The struct this one is nested in.
    pub fn parent(&self) -> Option<StructId> {
        self.parent
    }

    /// Structs defined inside this one, in order.
    pub fn nested(&self) -> &[StructId] {
        &self.nested
    }

    /// Fields in declaration order, which is ascending tag order.
    pub fn fields(&self) -> &[FieldDef] {
        &self.fields
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| *f.name == *name)
    }

    /// The tag of the first declared field (0 without fields): wire deltas
    /// count from one below it.
    pub fn base_tag(&self) -> u16 {
        self.fields.first().map_or(0, |f| f.tag)
    }
}

impl FieldDef {
    /// The field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The field's name, shared (decoded values hold it without copying).
    pub(crate) fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The field tag, 1..=32767.
    pub fn tag(&self) -> u16 {
        self.tag
    }

    /// The element type.
    pub fn ty(&self) -> FieldType {
        self.ty
    }

    /// Single value, array or map.
    pub fn repeat(&self) -> Repeat {
        self.repeat
    }
}

/// Why a schema (text or exported types) is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaErrorKind {
    /// The text does not follow the grammar.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar allows here.
        expected: &'static str,
        /// What the text has.
        found: String,
    },
    /// A name or number longer than 63 characters.
    #[error("{0} is longer than 63 characters")]
    TooLong(&'static str),
    /// Struct definitions nested deeper than the codec can decode.
    #[error("structs are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The schema defines no struct.
    #[error("the schema defines no struct")]
    Empty,
    /// A name that the schema language cannot spell.
    #[error("'{0}' is not a valid name (ASCII letter, then letters, digits or '_', at most 63)")]
    InvalidName(String),
    /// A field tag of 0 (or a number that reads as 0, like `08`).
    #[error("field tag must be greater than 0")]
    TagZero,
    /// A field tag above 32767.
    #[error("field tag {0} is above 32767 (silly's zproto mishandles tags 32768..65535)")]
    TagTooLarge(u64),
    /// A field tag not above the previous one.
    #[error("field tag {tag} must be greater than the previous tag {prev}")]
    TagNotAscending {
        /// The offending tag.
        tag: u16,
        /// The tag declared before it.
        prev: u16,
    },
    /// Two fields of one struct share a name.
    #[error("field '{0}' is already defined")]
    DuplicateField(String),
    /// Two sibling structs share a name.
    #[error("struct '{0}' is already defined")]
    DuplicateStruct(String),
    /// Two top-level structs share a non-zero protocol tag.
    #[error("protocol tag {0} is already used")]
    DuplicateTag(u32),
    /// Nested structs must come before the fields of their parent.
    #[error("struct '{0}' is defined after a field; nested structs come first")]
    StructAfterField(String),
    /// A field type that is neither a basic type nor a visible struct.
    #[error("unknown type '{0}' (structs must be defined before use)")]
    UnknownType(String),
    /// `T[key]` where `T` is not a struct.
    #[error("only an array of structs can have a map key")]
    MapOnScalar,
    /// The map key names no field of the element struct.
    #[error("struct '{element}' has no field '{key}'")]
    MapKeyMissing {
        /// The element struct.
        element: String,
        /// The key field name.
        key: String,
    },
    /// The map key is a struct or an array.
    #[error("map key '{0}' must be a field of basic type, not a struct or array")]
    MapKeyNotScalar(String),
    /// An array of `byte` or `ubyte`, which the language cannot write
    /// (`byte[]` means `string`, `ubyte[]` means `blob`).
    #[error("there are no arrays of 8-bit integers (byte[] is string, ubyte[] is blob)")]
    ByteArray,
    /// Export: two different structs with one name.
    #[error("two different structs are named '{0}'")]
    Conflict(String),
    /// Export: a struct that contains itself, which the language cannot write.
    #[error("struct '{0}' refers to itself")]
    Recursive(String),
    /// Export: a field type named like a basic type would read as that type.
    #[error("struct '{0}' has the name of a basic type and cannot be a field type")]
    ReservedName(String),
}

/// A schema text could not be parsed: what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct SchemaError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in bytes.
    pub column: u32,
    /// What is wrong.
    pub kind: SchemaErrorKind,
}

/// Builds a [`Schema`] one struct and field at a time, enforcing every rule
/// that does not depend on the text's syntax.
#[derive(Debug)]
pub(crate) struct Builder {
    schema: Schema,
    /// The structs opened and not yet closed, outermost first.
    open: Vec<StructId>,
    /// Structs that a field type may name: the top level (index 0), then one
    /// level per open struct. A struct joins its parent's level when it is
    /// closed, so there are no forward, self or parent references.
    scopes: Vec<Vec<StructId>>,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Builder {
            schema: Schema::default(),
            open: Vec::new(),
            scopes: vec![Vec::new()],
        }
    }

    /// Starts a struct inside the innermost open one (or at the top level).
    pub(crate) fn open(&mut self, name: &str, tag: u32) -> Result<StructId, SchemaErrorKind> {
        check_name(name)?;
        if self.open.len() >= MAX_DEPTH {
            return Err(SchemaErrorKind::TooDeep);
        }
        let parent = self.open.last().copied();
        let siblings = match parent {
            Some(p) => &self.schema[p].nested,
            None => &self.schema.top,
        };
        if siblings.iter().any(|&s| self.schema[s].name == name) {
            return Err(SchemaErrorKind::DuplicateStruct(name.to_owned()));
        }
        if parent.is_some_and(|p| !self.schema[p].fields.is_empty()) {
            return Err(SchemaErrorKind::StructAfterField(name.to_owned()));
        }
        if tag != 0 && self.schema.find_tag(tag).is_some() {
            return Err(SchemaErrorKind::DuplicateTag(tag));
        }
        let id = StructId(self.schema.structs.len());
        self.schema.structs.push(StructDef {
            name: name.to_owned(),
            tag,
            parent,
            nested: Vec::new(),
            fields: Vec::new(),
        });
        match parent {
            Some(p) => self.schema.structs[p.0].nested.push(id),
            None => self.schema.top.push(id),
        }
        self.open.push(id);
        self.scopes.push(Vec::new());
        Ok(id)
    }

    /// Ends the innermost open struct and makes it visible to what follows.
    pub(crate) fn close(&mut self) {
        if let Some(id) = self.open.pop() {
            self.scopes.pop();
            if let Some(level) = self.scopes.last_mut() {
                level.push(id);
            }
        }
    }

    /// Adds a field to the innermost open struct.
    pub(crate) fn field(
        &mut self,
        name: &str,
        tag: u64,
        ty: FieldType,
        repeat: Repeat,
    ) -> Result<(), SchemaErrorKind> {
        check_name(name)?;
        let id = *self.open.last().ok_or(SchemaErrorKind::Empty)?;
        let def = &mut self.schema.structs[id.0];
        let tag = match tag {
            0 => return Err(SchemaErrorKind::TagZero),
            t if t > u64::from(MAX_FIELD_TAG) => return Err(SchemaErrorKind::TagTooLarge(t)),
            t => t as u16,
        };
        if let (
            FieldType::Scalar(Scalar::Byte | Scalar::Ubyte),
            Repeat::Array | Repeat::Map { .. },
        ) = (ty, repeat)
        {
            return Err(SchemaErrorKind::ByteArray);
        }
        if let Some(prev) = def.fields.last().map(|f| f.tag).filter(|&p| tag <= p) {
            return Err(SchemaErrorKind::TagNotAscending { tag, prev });
        }
        if def.fields.iter().any(|f| *f.name == *name) {
            return Err(SchemaErrorKind::DuplicateField(name.to_owned()));
        }
        def.fields.push(FieldDef {
            name: name.into(),
            tag,
            ty,
            repeat,
        });
        Ok(())
    }

    /// Resolves a type name as written in a field: basic types first, then
    /// the visible structs, innermost scope first.
    pub(crate) fn resolve(&self, name: &str) -> Result<FieldType, SchemaErrorKind> {
        if let Some(scalar) = Scalar::from_name(name) {
            return Ok(FieldType::Scalar(scalar));
        }
        self.scopes
            .iter()
            .rev()
            .flat_map(|level| level.iter().rev())
            .find(|&&id| self.schema[id].name == name)
            .map(|&id| FieldType::Struct(id))
            .ok_or_else(|| SchemaErrorKind::UnknownType(name.to_owned()))
    }

    /// Checks that `key` can index a map of `element` and returns its index.
    pub(crate) fn map_key(&self, element: FieldType, key: &str) -> Result<usize, SchemaErrorKind> {
        let FieldType::Struct(id) = element else {
            return Err(SchemaErrorKind::MapOnScalar);
        };
        let def = &self.schema[id];
        let index = def
            .fields
            .iter()
            .position(|f| *f.name == *key)
            .ok_or_else(|| SchemaErrorKind::MapKeyMissing {
                element: def.name.clone(),
                key: key.to_owned(),
            })?;
        match def.fields[index] {
            FieldDef {
                ty: FieldType::Scalar(_),
                repeat: Repeat::Single,
                ..
            } => Ok(index),
            _ => Err(SchemaErrorKind::MapKeyNotScalar(key.to_owned())),
        }
    }

    pub(crate) fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The finished schema; fails if it defines no struct.
    pub(crate) fn finish(self) -> Result<Schema, SchemaErrorKind> {
        if self.schema.top.is_empty() {
            return Err(SchemaErrorKind::Empty);
        }
        Ok(self.schema)
    }
}

/// Whether `name` can name a struct or field in schema text: an ASCII
/// letter, then ASCII letters, digits or `_`, at most 63 in all.
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= MAX_TOKEN_LEN
}

/// Names must follow the lexer's NAME rule, so that exported schemas parse.
fn check_name(name: &str) -> Result<(), SchemaErrorKind> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(SchemaErrorKind::InvalidName(name.to_owned()))
    }
}
