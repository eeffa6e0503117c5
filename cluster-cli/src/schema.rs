//! Schema files: loading one for `call` and `bench`, and the `schema check`
//! and `schema export` commands.

use std::fmt::Write as _;
use std::path::Path;
use std::{fs, io};

use cluster_codec::zproto::{Schema, StructId};

use crate::exit::Error;
use crate::response::{Pairing, Reply};

/// A parsed schema file with its response pairing.
#[derive(Debug)]
pub struct SchemaFile {
    /// The messages.
    pub schema: Schema,
    /// Its `# Responses:` declarations.
    pub pairing: Pairing,
}

/// A schema file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The text is not a valid schema, or its `# Responses:` names a
    /// message it does not have.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line.
        line: u32,
        /// 1-based column, in bytes.
        column: u32,
        /// What is wrong.
        message: String,
    },
}

impl SchemaFile {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<SchemaFile, LoadError> {
        let shown = path.display().to_string();
        let text = fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: shown.clone(),
            source,
        })?;
        let invalid = |line, column, message| LoadError::Invalid {
            path: shown.clone(),
            line,
            column,
            message,
        };
        let schema =
            Schema::parse(&text).map_err(|e| invalid(e.line, e.column, e.kind.to_string()))?;
        let pairing =
            Pairing::parse(&schema, &text).map_err(|e| invalid(e.line, e.column, e.message))?;
        Ok(SchemaFile { schema, pairing })
    }

    /// A message by name, or an error listing the messages there are.
    pub fn message(&self, name: &str) -> Result<StructId, Error> {
        self.schema.find(name).ok_or_else(|| Error::UnknownMessage {
            name: name.to_owned(),
            known: self
                .schema
                .messages()
                .map(|id| self.schema[id].name())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// What `call` does with each message: the response it waits for.
    fn summary(&self) -> String {
        let schema = &self.schema;
        let rule = match self.pairing.is_declared() {
            true => "as the schema's `# Responses:` declares",
            false => "the message tagged one higher",
        };
        let mut out = format!("{} messages; responses: {rule}\n", schema.messages().len());
        for id in schema.messages() {
            let def = &schema[id];
            let answers = self.pairing.requests_answered_by(id).next();
            let what = match (def.tag(), self.pairing.reply_to(schema, id), answers) {
                (0, _, _) => "no tag: a type, not a command".to_owned(),
                (_, Reply::Message(r), _) => format!("-> {}", schema[r].name()),
                (_, Reply::OneWay, Some(request)) => {
                    format!("response of {}", schema[request].name())
                }
                (_, Reply::OneWay, None) => "one-way".to_owned(),
            };
            let _ = writeln!(out, "  {} {:#04x} {what}", def.name(), def.tag());
        }
        out
    }

    /// The schema as canonical `.zproto` text, with its declarations.
    fn export(&self) -> String {
        let schema = &self.schema;
        let pairs: Vec<String> = schema
            .messages()
            .filter(|_| self.pairing.is_declared())
            .filter_map(|id| match self.pairing.reply_to(schema, id) {
                Reply::Message(r) => Some(format!("{}->{}", schema[id].name(), schema[r].name())),
                Reply::OneWay => None,
            })
            .collect();
        let mut out = String::new();
        if !pairs.is_empty() {
            let _ = writeln!(out, "# Responses: {}", pairs.join(", "));
        }
        out.push_str(&schema.to_string());
        out
    }
}

/// `cluster schema check FILE`: the summary on success.
pub fn check(path: &Path) -> Result<String, Error> {
    match SchemaFile::load(path) {
        Ok(file) => Ok(file.summary()),
        Err(e @ LoadError::Invalid { .. }) => Err(Error::InvalidSchema(e)),
        Err(e) => Err(Error::Schema(e)),
    }
}

/// `cluster schema export FILE`: canonical text that silly's parser reads.
pub fn export(path: &Path) -> Result<String, Error> {
    SchemaFile::load(path)
        .map(|file| file.export())
        .map_err(Error::Schema)
}
