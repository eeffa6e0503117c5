//! Typed messages: the trait that generated and derived code implements, and
//! the static description of a message that schema export reads.

use crate::zproto::{Reader, Scalar, Writer};
use crate::{DecodeError, EncodeError};

/// A Rust type that is a zproto struct.
///
/// Implemented by `cluster::zproto!` (from a `.zproto` file) and by
/// `#[derive(cluster::zproto::Message)]`; both emit direct code, with no
/// lookup by field name at run time. Writing it by hand is possible but
/// rarely useful.
pub trait Message: Sized {
    /// Static description: name, protocol tag, fields.
    const INFO: &'static MessageInfo;

    /// The protocol tag (0: none). silly uses it as the cluster command id,
    /// which is why it is a constant.
    const TAG: u32 = Self::INFO.tag;

    /// The struct name in the schema.
    const NAME: &'static str = Self::INFO.name;

    /// Writes the complete struct encoding (`size`, field entries, bodies).
    fn write_struct(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;

    /// Reads one struct encoding; unknown field tags end field reading.
    fn read_struct(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// What a [`Message`] looks like in a schema.
#[derive(Debug)]
pub struct MessageInfo {
    /// Struct name.
    pub name: &'static str,
    /// Protocol tag (0: none).
    pub tag: u32,
    /// Fields in ascending tag order.
    pub fields: &'static [FieldInfo],
    /// Structs defined inside this one in its schema (`zproto!` only); a
    /// derived message has none and names other messages directly.
    pub nested: &'static [InfoFn],
}

/// A lazily evaluated description: lets message types refer to each other
/// without evaluating each other's constants.
pub type InfoFn = fn() -> &'static MessageInfo;

/// One field of a [`MessageInfo`].
#[derive(Debug)]
pub struct FieldInfo {
    /// Field name.
    pub name: &'static str,
    /// Field tag.
    pub tag: u16,
    /// Element type.
    pub ty: TypeInfo,
    /// Single, array or map.
    pub repeat: RepeatInfo,
}

/// The element type of a [`FieldInfo`].
#[derive(Debug, Clone, Copy)]
pub enum TypeInfo {
    /// A basic type.
    Scalar(Scalar),
    /// Another message.
    Struct(InfoFn),
}

/// How many elements a [`FieldInfo`] holds.
#[derive(Debug, Clone, Copy)]
pub enum RepeatInfo {
    /// One value.
    Single,
    /// An array.
    Array,
    /// A map keyed by the element field of this name.
    Map(&'static str),
}

/// The description of `M`, as an [`InfoFn`].
pub fn info_of<M: Message>() -> &'static MessageInfo {
    M::INFO
}

/// The tag of field `key` in `element`, checked at compile time by generated
/// code: a map key must be a single field of basic type.
#[doc(hidden)]
pub const fn map_key_tag(element: &MessageInfo, key: &str) -> u16 {
    let mut i = 0;
    while i < element.fields.len() {
        let field = &element.fields[i];
        if str_eq(field.name, key) {
            return match (field.ty, field.repeat) {
                (TypeInfo::Scalar(_), RepeatInfo::Single) => field.tag,
                _ => panic!("a zproto map key must be a single field of basic type"),
            };
        }
        i += 1;
    }
    panic!("the zproto map key names no field of the element message")
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
