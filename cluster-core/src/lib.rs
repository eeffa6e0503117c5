//! The core of `cluster`: silly's cluster wire protocol, connections,
//! sessions, timeouts, reconnect and trace ids, over tokio.
//!
//! A [`Node`] is one cluster endpoint, both server and client. It
//! [listens](Node::listen) for and [connects](Node::connect) to other nodes;
//! each connection is a [`Peer`] through which either side
//! [calls](Peer::call) (request and response, matched by session) or
//! [sends](Peer::send) (one-way). Incoming requests go to the node's
//! [`Handler`]. Bodies are bytes, or any [`Body`] that writes itself into
//! the connection's write buffer: typed services and codecs are layered on
//! top by the `cluster` crate.
//!
//! ```no_run
//! use cluster_core::{Node, Request};
//!
//! # async fn run() -> cluster_core::Result<()> {
//! let server = Node::builder()
//!     .handler(|req: Request| async move {
//!         (req.cmd == 1).then(|| req.body) // echo command 1, ignore others
//!     })
//!     .build();
//! let listener = server.listen("127.0.0.1:0")?;
//!
//! let peer = Node::builder().build().connect(&listener.local_addr().to_string()).await;
//! assert_eq!(peer.call(1, "hello").await?, "hello");
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod body;
mod budget;
mod builder;
mod config;
mod connection;
pub mod context;
mod error;
mod handler;
mod listener;
mod node;
pub mod observe;
mod peer;
mod reconnect;
mod session;
mod shared;
mod sync;
pub mod trace;
mod transport;
#[doc(hidden)]
pub mod wire;

pub use crate::body::Body;
pub use crate::builder::NodeBuilder;
pub use crate::config::{DEFAULT_TIMEOUT, Limits};
pub use crate::error::{BoxError, Error, ProtocolError, Result, Status};
pub use crate::handler::{Handler, Request};
pub use crate::listener::Listener;
pub use crate::node::{LimitHits, Node, NodeStats, ShutdownReport};
pub use crate::observe::RpcName;
pub use crate::peer::Peer;
pub use crate::trace::deadline;
#[cfg(feature = "tls")]
pub use crate::transport::tls::{TlsClient, TlsServer};
pub use crate::wire::WireFormat;
pub use crate::wire::ext::CAPABILITY as EXTENSION_CAPABILITY;
/// The TLS library of the feature `tls`, for [`TlsServer::from_config`],
/// [`TlsClient::from_config`], [`Peer::tls_identity`]'s certificates and
/// the causes inside [`Error::Tls`].
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;
