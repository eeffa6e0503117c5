//! What to send and how to read the answer, from the arguments of `call`
//! and `bench`: a zproto message from JSON, or raw bytes from hex.

use std::io;

use bytes::{Bytes, BytesMut};
use cluster_codec::zproto::{StructId, StructValue};

use crate::RequestArgs;
use crate::exit::Error;
use crate::response::Reply;
use crate::schema::SchemaFile;
use crate::{hex, json};

/// A request ready to go out, and what its answer should be.
#[derive(Debug)]
pub struct Prepared {
    /// The command id: the request message's tag, or `--cmd`.
    pub cmd: u32,
    /// The body: `pack(encode(msg))`, as silly sends it, or `--hex`.
    pub body: Bytes,
    expect: Expect,
}

#[derive(Debug)]
enum Expect {
    /// `--oneway`, or a message without a response.
    Nothing,
    /// A zproto response message.
    Message(SchemaFile, StructId),
    /// Raw bytes (`--cmd`).
    Bytes,
}

/// A decoded answer.
#[derive(Debug)]
pub enum Answer {
    /// A response message.
    Message(StructValue),
    /// A raw body.
    Bytes(Bytes),
}

impl Prepared {
    /// Builds the request the arguments describe.
    pub fn new(args: &RequestArgs) -> Result<Prepared, Error> {
        let (Some(name), Some(path)) = (&args.message, &args.schema) else {
            // clap demands --cmd when there is no MESSAGE.
            let body = hex::decode(args.hex.as_deref().unwrap_or_default())?;
            return Ok(Prepared {
                cmd: args.cmd.unwrap_or_default(),
                body: body.into(),
                expect: if args.oneway {
                    Expect::Nothing
                } else {
                    Expect::Bytes
                },
            });
        };
        let file = SchemaFile::load(path).map_err(Error::Schema)?;
        let id = file.message(name)?;
        let cmd = file.schema[id].tag();
        if cmd == 0 {
            return Err(Error::Untagged(name.clone()));
        }
        let text = match args.json.as_deref() {
            None => "{}".to_owned(),
            Some("-") => io::read_to_string(io::stdin())?,
            Some(text) => text.to_owned(),
        };
        let value = json::parse(&file.schema, id, &text)?;
        let mut body = BytesMut::new();
        file.schema.encode_body(id, &value, &mut body)?;
        let reply = match (&args.response, args.oneway) {
            (_, true) => Reply::OneWay,
            (Some(response), false) => Reply::Message(file.message(response)?),
            (None, false) => file.pairing.reply_to(&file.schema, id),
        };
        Ok(Prepared {
            cmd,
            body: body.freeze(),
            expect: match reply {
                Reply::OneWay => Expect::Nothing,
                Reply::Message(response) => Expect::Message(file, response),
            },
        })
    }

    /// Whether the request is sent without waiting for an answer.
    pub fn is_oneway(&self) -> bool {
        matches!(self.expect, Expect::Nothing)
    }

    /// Reads a response body as the answer the request expects.
    pub fn decode(&self, body: Bytes) -> Result<Answer, Error> {
        match &self.expect {
            Expect::Message(file, id) => file
                .schema
                .decode_body(*id, &body)
                .map(Answer::Message)
                .map_err(|source| Error::Response {
                    message: file.schema[*id].name().to_owned(),
                    source,
                }),
            Expect::Bytes | Expect::Nothing => Ok(Answer::Bytes(body)),
        }
    }
}

impl Answer {
    /// One line: JSON for a message, hex for raw bytes.
    pub fn to_line(&self) -> String {
        match self {
            Answer::Message(value) => json::render(value),
            Answer::Bytes(body) => hex::encode(body),
        }
    }
}
