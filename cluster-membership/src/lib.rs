//! Named nodes for `cluster`: a directory of the nodes of a cluster, kept up
//! to date by a backend, and calls by name and by group through it.
//!
//! Each node registers a unique name (claimed atomically), its listen
//! address, its services (their command tables), its wire version and
//! capabilities, and a start epoch that tells a restart from the same
//! process ([`NodeRecord`]). Every node sees the directory as it changes
//! through a `tokio::sync::watch` channel ([`Membership::watch`]).
//!
//! Calls go to a node by name ([`Membership::named`]), resolved at each call
//! so that they follow it to a new address, or to a group by service or
//! role ([`Membership::group`]) with round-robin, least-in-flight or
//! key-consistent selection. A call to a node that is not in the directory
//! fails at once with [`Error::NoNode`], or waits for it up to its timeout
//! when asked to ([`NodeTarget::wait`]).
//!
//! # Backends
//!
//! - [`StaticDirectory`], the default that needs nothing running: a list
//!   given in code, or a JSON file re-read when it changes; the nodes of one
//!   process register in it too.
//! - etcd, with feature `etcd` ([`EtcdOptions`]): the node's key is put
//!   under a lease (TTL 10 s by default) kept alive while the node runs,
//!   the name claimed in a transaction; the directory is read once and
//!   watched from the next revision, and read again after a compaction or
//!   a broken watch; [`Membership::shutdown`] revokes the lease first.
//!   While etcd is away, the last directory stays in force: calls between
//!   nodes already known carry on.
//!
//! # Key layout and values (for Lua silly nodes and other tools)
//!
//! One key per node, `/cluster/<cluster>/nodes/<name>` ([`layout`]), its
//! value a JSON object attached to the node's lease:
//!
//! ```json
//! {"addr":"127.0.0.1:9001",
//!  "services":[{"name":"Calc","commands":[["add",3],["log",2147483650]]}],
//!  "wire":"v1","caps":[],"epoch":1764615600000,"role":"game"}
//! ```
//!
//! `addr` is required; `services` (name and `[method, command id]` pairs),
//! `wire` (`"v1"` default, or `"v2"`), `caps`, `epoch` (Unix ms at start)
//! and `role` are optional. Unknown fields are ignored, so newer nodes may
//! add some. A record over [`MAX_RECORD_BYTES`] or without `addr` is
//! skipped with a warning. A node claims its name by creating the key only
//! if it does not exist (`create_revision == 0`) in one transaction, with
//! its lease attached; `examples/silly_register.lua` does this from silly.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod backend;
mod directory;
mod error;
#[cfg(feature = "etcd")]
mod etcd;
mod group;
pub mod layout;
mod membership;
mod record;
mod route;
mod static_dir;
mod target;

pub use crate::backend::BackendConfig;
pub use crate::directory::{Directory, DirectoryWatch};
pub use crate::error::{Error, Result};
#[cfg(feature = "etcd")]
pub use crate::etcd::{DEFAULT_TTL, EtcdOptions};
pub use crate::group::{Group, Keyed, Policy, Selector};
pub use crate::membership::{Membership, MembershipBuilder};
pub use crate::record::{MAX_RECORD_BYTES, NodeRecord, ServiceInfo};
pub use crate::static_dir::{DEFAULT_POLL, MAX_FILE_BYTES, StaticDirectory};
pub use crate::target::NodeTarget;
