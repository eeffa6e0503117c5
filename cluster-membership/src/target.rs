//! Calls to one node by name, resolved in the directory at each call.

use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::membership::Membership;
use crate::route::{Absent, Op, route};

/// The node of one name, as a call target: each call looks the name up in
/// the directory, so it follows the node to a new address and fails with
/// [`Error::NoNode`] at once while no node has it (unless [waiting](NodeTarget::wait)).
/// Give it to a generated client (`CalcClient::new(members.named("calc-1"))`)
/// or call with bytes.
#[derive(Clone)]
pub struct NodeTarget {
    membership: Membership,
    name: String,
    absent: Absent,
}

impl NodeTarget {
    pub(crate) fn new(membership: Membership, name: &str) -> Self {
        Self {
            membership,
            name: name.to_owned(),
            absent: Absent::Fail,
        }
    }

    /// The same target, but a call made while no node has the name waits
    /// for one to register, up to the call's timeout (or the membership's
    /// [wait timeout](crate::MembershipBuilder::wait_timeout) for calls
    /// without one), and then has what is left of it.
    pub fn wait(mut self) -> Self {
        self.absent = Absent::Wait;
        self
    }

    /// The node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `cmd` on the node, with `timeout` or the node's default.
    pub async fn call(&self, cmd: u32, body: Bytes, timeout: Option<Duration>) -> Result<Bytes> {
        self.route(Op::Call { cmd, body, timeout }).await
    }

    /// Sends `cmd` to the node, one-way.
    pub async fn send(&self, cmd: u32, body: Bytes) -> Result<()> {
        self.route(Op::Send { cmd, body }).await.map(drop)
    }

    async fn route(&self, op: Op) -> Result<Bytes> {
        let name = &self.name;
        route(
            &self.membership.inner,
            op,
            self.absent,
            |dir| dir.get(name).cloned().into_iter().collect(),
            || Error::NoNode { name: name.clone() },
        )
        .await
    }
}

impl std::fmt::Debug for NodeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeTarget")
            .field("name", &self.name)
            .finish()
    }
}
