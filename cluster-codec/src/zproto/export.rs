//! Schema export: typed messages back to a [`Schema`], and any schema to
//! `.zproto` text that silly's parser accepts.

use std::fmt;

use crate::zproto::message::{InfoFn, MessageInfo, RepeatInfo, TypeInfo};
use crate::zproto::schema::{Builder, FieldType, Repeat, Schema, SchemaErrorKind, StructId};

/// A set of messages cannot be written as one schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot export struct '{message}': {kind}")]
pub struct ExportError {
    /// The struct being exported when the problem was found.
    pub message: String,
    /// The problem.
    pub kind: SchemaErrorKind,
}

/// The `.zproto` text describing `messages` and every struct they use.
///
/// ```
/// # use cluster_codec::zproto::{self, Message};
/// fn schema_of<A: Message, B: Message>() -> Result<String, zproto::ExportError> {
///     zproto::export(&[A::INFO, B::INFO])
/// }
/// ```
pub fn export(messages: &[&'static MessageInfo]) -> Result<String, ExportError> {
    Schema::from_messages(messages).map(|schema| schema.to_string())
}

impl Schema {
    /// The schema of a set of typed messages, in the given order.
    ///
    /// Structs they use that are not in the list are added as top-level
    /// structs before their first user (a schema cannot refer forward).
    /// Fails on what the language cannot express: recursive types, two
    /// different structs of one name, or a struct named like a basic type
    /// used as a field type.
    pub fn from_messages(messages: &[&'static MessageInfo]) -> Result<Schema, ExportError> {
        let mut exporter = Exporter {
            builder: Builder::new(),
            in_progress: Vec::new(),
        };
        for info in messages {
            exporter.top_level(info)?;
        }
        let finish = exporter.builder.finish();
        finish.map_err(|kind| ExportError {
            message: String::new(),
            kind,
        })
    }
}

struct Exporter {
    builder: Builder,
    in_progress: Vec<&'static str>,
}

impl Exporter {
    fn top_level(&mut self, info: &'static MessageInfo) -> Result<StructId, ExportError> {
        let fail = |kind| ExportError {
            message: info.name.to_owned(),
            kind,
        };
        if let Some(id) = self.builder.schema().find(info.name) {
            return match self.same(id, info) {
                true => Ok(id),
                false => Err(fail(SchemaErrorKind::Conflict(info.name.to_owned()))),
            };
        }
        if self.in_progress.contains(&info.name) {
            return Err(fail(SchemaErrorKind::Recursive(info.name.to_owned())));
        }
        self.in_progress.push(info.name);
        let mut deps = Vec::new();
        external_structs(info, &mut Vec::new(), &mut deps);
        for dep in deps {
            self.top_level(dep)?;
        }
        let id = self.define(info)?;
        self.in_progress.pop();
        Ok(id)
    }

    fn define(&mut self, info: &'static MessageInfo) -> Result<StructId, ExportError> {
        let fail = |kind| ExportError {
            message: info.name.to_owned(),
            kind,
        };
        let id = self.builder.open(info.name, info.tag).map_err(fail)?;
        for nested in info.nested {
            self.define(nested())?;
        }
        for field in info.fields {
            let ty = match field.ty {
                TypeInfo::Scalar(scalar) => FieldType::Scalar(scalar),
                TypeInfo::Struct(target) => self.resolve(target()).map_err(fail)?,
            };
            let repeat = match field.repeat {
                RepeatInfo::Single => Repeat::Single,
                RepeatInfo::Array => Repeat::Array,
                RepeatInfo::Map(key) => Repeat::Map {
                    key: self.builder.map_key(ty, key).map_err(fail)?,
                },
            };
            let tag = u64::from(field.tag);
            self.builder
                .field(field.name, tag, ty, repeat)
                .map_err(fail)?;
        }
        self.builder.close();
        Ok(id)
    }

    /// The struct a field of type `target` refers to, by the scoping rules
    /// a parser applies to the exported text.
    fn resolve(&self, target: &'static MessageInfo) -> Result<FieldType, SchemaErrorKind> {
        match self.builder.resolve(target.name)? {
            FieldType::Struct(id) if self.same(id, target) => Ok(FieldType::Struct(id)),
            FieldType::Struct(_) => Err(SchemaErrorKind::Conflict(target.name.to_owned())),
            FieldType::Scalar(_) => Err(SchemaErrorKind::ReservedName(target.name.to_owned())),
        }
    }

    /// Whether struct `id` is the one `info` describes (same fields, and
    /// struct-typed fields naming the same structs).
    fn same(&self, id: StructId, info: &MessageInfo) -> bool {
        let schema = self.builder.schema();
        let def = &schema[id];
        def.name() == info.name
            && def.fields().len() == info.fields.len()
            && def.fields().iter().zip(info.fields).all(|(f, i)| {
                let ty = match (f.ty(), i.ty) {
                    (FieldType::Scalar(a), TypeInfo::Scalar(b)) => a == b,
                    (FieldType::Struct(a), TypeInfo::Struct(b)) => schema[a].name() == b().name,
                    _ => false,
                };
                let repeat = match (f.repeat(), i.repeat) {
                    (Repeat::Single, RepeatInfo::Single) | (Repeat::Array, RepeatInfo::Array) => {
                        true
                    }
                    (Repeat::Map { key }, RepeatInfo::Map(name)) => match f.ty() {
                        FieldType::Struct(e) => schema[e].fields()[key].name() == name,
                        FieldType::Scalar(_) => false,
                    },
                    _ => false,
                };
                f.name() == i.name && f.tag() == i.tag && ty && repeat
            })
    }
}

/// Collects the structs that `info` (or a struct nested in it) uses as field
/// types but does not define itself: those must exist at the top level first.
fn external_structs(
    info: &'static MessageInfo,
    scopes: &mut Vec<Vec<&'static str>>,
    out: &mut Vec<&'static MessageInfo>,
) {
    scopes.push(Vec::new());
    for nested in info.nested.iter().map(|f: &InfoFn| f()) {
        external_structs(nested, scopes, out);
        if let Some(level) = scopes.last_mut() {
            level.push(nested.name);
        }
    }
    for field in info.fields {
        if let TypeInfo::Struct(target) = field.ty {
            let target = target();
            if !scopes.iter().any(|level| level.contains(&target.name)) {
                out.push(target);
            }
        }
    }
    scopes.pop();
}

impl fmt::Display for Schema {
    /// Writes the schema as `.zproto` text: tabs, one field per line, a blank
    /// line between top-level structs, canonical type names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.messages().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            self.print_struct(f, id, 0)?;
        }
        Ok(())
    }
}

impl Schema {
    fn print_struct(&self, f: &mut fmt::Formatter<'_>, id: StructId, depth: usize) -> fmt::Result {
        let def = &self[id];
        let indent = "\t".repeat(depth);
        write!(f, "{indent}{}", def.name())?;
        if def.tag() != 0 {
            write!(f, " {}", def.tag())?;
        }
        f.write_str(" {\n")?;
        for &nested in def.nested() {
            self.print_struct(f, nested, depth + 1)?;
        }
        for field in def.fields() {
            let (ty, element) = match field.ty() {
                FieldType::Scalar(s) => (s.name(), None),
                FieldType::Struct(s) => (self[s].name(), Some(s)),
            };
            let suffix = match (field.repeat(), element) {
                (Repeat::Single, _) => String::new(),
                (Repeat::Map { key }, Some(e)) => format!("[{}]", self[e].fields()[key].name()),
                // The builder only accepts maps of structs.
                (Repeat::Array | Repeat::Map { .. }, _) => "[]".to_owned(),
            };
            writeln!(
                f,
                "{indent}\t.{}:{ty}{suffix} {}",
                field.name(),
                field.tag()
            )?;
        }
        writeln!(f, "{indent}}}")
    }
}
