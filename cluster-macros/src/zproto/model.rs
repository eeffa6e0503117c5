//! What the generator needs to know about one message, however it was
//! declared.

use cluster_codec::zproto::Scalar;
use proc_macro2::{Span, TokenStream};
use syn::Ident;

/// One message type to implement `Message` for.
pub(crate) struct Message {
    /// The Rust type.
    pub(crate) ident: Ident,
    /// The struct name in the schema.
    pub(crate) name: String,
    /// The protocol tag (0: none).
    pub(crate) tag: u32,
    /// Fields in ascending tag order.
    pub(crate) fields: Vec<Field>,
    /// Paths of the types of the structs nested in this one's schema.
    pub(crate) nested: Vec<TokenStream>,
}

/// One field.
pub(crate) struct Field {
    /// The Rust field.
    pub(crate) member: Ident,
    /// The field name in the schema.
    pub(crate) name: String,
    /// The field tag, 1..=32767.
    pub(crate) tag: u16,
    /// `Option<T>`: absent when `None`. Otherwise always written, and
    /// `Default::default()` when absent on the wire.
    pub(crate) optional: bool,
    pub(crate) repeat: Repeat,
    pub(crate) elem: Elem,
    /// The Rust type without its `Option` (e.g. `Vec<Point>`).
    pub(crate) ty: TokenStream,
    /// Where errors about this field's type point.
    pub(crate) span: Span,
}

/// How many elements a field holds.
pub(crate) enum Repeat {
    Single,
    Array,
    /// A map keyed by the element field of this name.
    Map(syn::LitStr),
}

/// The element type of a field.
pub(crate) enum Elem {
    /// A basic type, written as the given Rust type.
    Scalar(Scalar, TokenStream),
    /// Another message type.
    Message(TokenStream),
}

impl Elem {
    pub(crate) fn rust_type(&self) -> &TokenStream {
        match self {
            Elem::Scalar(_, ty) | Elem::Message(ty) => ty,
        }
    }
}
