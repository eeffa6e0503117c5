//! Exit codes, and the errors that choose them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the call failed or its answer is wrong: timeout, connection refused or closed, a response that does not decode as the response message; `bench` with any failed call; `schema check` of an invalid schema; `nodes` and `watch` with a directory file that cannot be read or is invalid, or an etcd that cannot be reached |
//! | 2 | the command cannot run as given: bad arguments, a schema file that cannot be read or parsed (for `call` and `bench`), an unknown message, JSON that is not valid or does not fit the message, bad hex; `--etcd` in a build without feature `etcd` |

use std::io;

use cluster_codec::{DecodeError, EncodeError};

use crate::hex::HexError;
use crate::json::JsonError;
use crate::schema::LoadError;

/// Exit code of a call that failed or was answered wrongly.
pub const FAILED: u8 = 1;
/// Exit code of a command that cannot run as given (clap uses it too).
pub const USAGE: u8 = 2;

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The schema given to `call` or `bench` cannot be used.
    #[error(transparent)]
    Schema(LoadError),
    /// `schema check` found the schema invalid.
    #[error(transparent)]
    InvalidSchema(LoadError),
    /// A message name the schema does not have.
    #[error("no message '{name}' in the schema (messages: {known})")]
    UnknownMessage {
        /// The name given.
        name: String,
        /// The schema's messages, comma-separated.
        known: String,
    },
    /// A struct without a protocol tag has no command id.
    #[error("message '{0}' has no protocol tag, so it has no command id")]
    Untagged(String),
    /// The request JSON.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// The request does not encode (a map element without its key, ...).
    #[error("request: {0}")]
    Encode(#[from] EncodeError),
    /// `--hex`.
    #[error("--hex: {0}")]
    Hex(#[from] HexError),
    /// The call or send failed.
    #[error("{0}")]
    Call(#[from] cluster_core::Error),
    /// The response body is not a valid response message.
    #[error("response is not a valid '{message}': {source}")]
    Response {
        /// The expected response message.
        message: String,
        /// What is wrong with it.
        source: DecodeError,
    },
    /// `bench` ran, and some calls failed.
    #[error("{failed} of {calls} calls failed")]
    BenchFailed {
        /// Failed calls.
        failed: u64,
        /// All calls.
        calls: u64,
    },
    /// The directory file cannot be read or is not a valid directory.
    #[error("{0}")]
    Directory(#[from] cluster_membership::Error),
    /// etcd cannot be reached, or refused to be read.
    #[error("cannot read the directory from {endpoints}: {source}")]
    Etcd {
        /// The endpoints given, comma-separated.
        endpoints: String,
        /// What went wrong.
        source: cluster_membership::Error,
    },
    /// `--etcd` given to a build without it.
    #[cfg(not(feature = "etcd"))]
    #[error(
        "--etcd needs `cluster` built with feature etcd (cargo install --path cluster-cli --features etcd)"
    )]
    NoEtcd,
    /// The runtime could not start, or output could not be written.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// The process exit code for this error.
    pub fn code(&self) -> u8 {
        match self {
            Error::Schema(_)
            | Error::UnknownMessage { .. }
            | Error::Untagged(_)
            | Error::Json(_)
            | Error::Encode(_)
            | Error::Hex(_) => USAGE,
            #[cfg(not(feature = "etcd"))]
            Error::NoEtcd => USAGE,
            Error::InvalidSchema(_)
            | Error::Call(_)
            | Error::Response { .. }
            | Error::BenchFailed { .. }
            | Error::Directory(_)
            | Error::Etcd { .. }
            | Error::Io(_) => FAILED,
        }
    }
}
