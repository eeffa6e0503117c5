//! Named nodes (feature `membership`, on by default): the directory, its
//! backends, calls by name and groups. Everything of `cluster-membership`,
//! plus the glue that makes its targets [`CallTarget`]s of typed clients
//! and turns a generated command table into an advertised service.
//!
//! ```
//! use cluster::membership::{Membership, NodeRecord, StaticDirectory, service_info};
//!
//! #[cluster::service]
//! pub trait Calc {
//!     async fn add(&self, a: i32, b: i32) -> i32;
//! }
//!
//! struct Calculator;
//!
//! impl Calc for Calculator {
//!     async fn add(&self, a: i32, b: i32) -> i32 {
//!         a + b
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cluster::membership::Error> {
//! let dir = StaticDirectory::default();
//! let server = cluster::Node::builder().handler(CalcServer::new(Calculator)).build();
//! let listener = server.listen("127.0.0.1:0")?;
//! let record = NodeRecord::new("calc-1", listener.local_addr().to_string())
//!     .service(service_info(CalcClient::SERVICE, CalcClient::COMMANDS));
//! let served = Membership::builder(server).backend(dir.clone()).register(record).build().await?;
//!
//! let members = Membership::builder(cluster::Node::builder().build()).backend(dir).build().await?;
//! let calc = CalcClient::new(members.named("calc-1"));
//! assert_eq!(calc.add(1, 2).await?, 3);
//! served.shutdown().await;
//! assert!(matches!(calc.add(1, 2).await, Err(cluster::membership::Error::NoNode { .. })));
//! # Ok(()) }
//! ```

use std::time::Duration;

use bytes::Bytes;
use cluster_core::Body;
use cluster_core::body::to_bytes;
pub use cluster_membership::*;

use crate::service::Command;
use crate::target::CallTarget;

/// The advertised form of a service: its name and the `(method, id)` pairs
/// of its generated table (`service_info(CalcClient::SERVICE, CalcClient::COMMANDS)`).
pub fn service_info(service: &str, commands: &[Command]) -> ServiceInfo {
    ServiceInfo::new(service, commands.iter().map(|c| (c.name, c.id)))
}

/// Implements [`CallTarget`] for a membership target with inherent
/// `call` and `send` of the same shape.
macro_rules! call_target {
    ($($target:ty),*) => {$(
        impl CallTarget for $target {
            type Error = Error;

            // The bytes are kept: a call may be retried on another member.
            async fn call<B: Body + Send>(
                &self,
                cmd: u32,
                body: B,
                timeout: Option<Duration>,
            ) -> Result<Bytes> {
                <$target>::call(self, cmd, to_bytes(&body)?, timeout).await
            }

            async fn send<B: Body + Send>(&self, cmd: u32, body: B) -> Result<()> {
                <$target>::send(self, cmd, to_bytes(&body)?).await
            }
        }
    )*};
}

call_target!(NodeTarget, Group, Keyed);
