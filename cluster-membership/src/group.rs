//! Groups of nodes by service or role, and how a call picks its member:
//! round-robin, least in flight, or consistently by a key.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;

use crate::directory::Directory;
use crate::error::{Error, Result};
use crate::membership::Membership;
use crate::record::NodeRecord;
use crate::route::{Absent, Op, route};

/// Which nodes form a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Selector {
    /// Nodes that serve the service of this name.
    Service(String),
    /// Nodes with this role.
    Role(String),
}

impl Selector {
    /// Nodes serving `name` (a service trait name, e.g. `"Calc"`).
    pub fn service(name: impl Into<String>) -> Self {
        Selector::Service(name.into())
    }

    /// Nodes whose role is `role`.
    pub fn role(role: impl Into<String>) -> Self {
        Selector::Role(role.into())
    }

    /// Whether `record` is in the group.
    pub fn matches(&self, record: &NodeRecord) -> bool {
        match self {
            Selector::Service(name) => record.serves(name),
            Selector::Role(role) => record.role.as_deref() == Some(role),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Service(name) => write!(f, "service={name}"),
            Selector::Role(role) => write!(f, "role={role}"),
        }
    }
}

/// How a group call picks its member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Policy {
    /// Each call the next member, in name order. The default.
    #[default]
    RoundRobin,
    /// The member with the fewest calls waiting for a response on this
    /// node's connection to it (ties in name order).
    LeastInFlight,
}

/// A group of nodes as a call target: each call picks a member among those
/// in the directory now. A call whose member cannot be reached (no
/// connection: nothing was sent) goes to the next candidate; a call with no
/// member fails with [`Error::NoMember`] at once, or waits (see
/// [`Group::wait`]).
#[derive(Clone)]
pub struct Group {
    membership: Membership,
    selector: Selector,
    policy: Policy,
    absent: Absent,
    next: Arc<AtomicUsize>,
}

impl Group {
    pub(crate) fn new(membership: Membership, selector: Selector) -> Self {
        Self {
            membership,
            selector,
            policy: Policy::RoundRobin,
            absent: Absent::Fail,
            next: Arc::default(),
        }
    }

    /// The same group with another [`Policy`].
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The same group, but a call made while it has no member waits for one,
    /// as [`crate::NodeTarget::wait`] does.
    pub fn wait(mut self) -> Self {
        self.absent = Absent::Wait;
        self
    }

    /// A target that sends every call with `key` to the same member while
    /// the group is unchanged, and moves only the keys of a member that
    /// leaves (or a share of keys to one that joins): rendezvous hashing,
    /// with a hash that is the same in every process and version.
    pub fn by_key(&self, key: impl AsRef<[u8]>) -> Keyed {
        Keyed {
            group: self.clone(),
            key: fnv1a64(FNV_OFFSET, key.as_ref()),
        }
    }

    /// The selector.
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// The group's members now, in name order.
    pub fn members(&self) -> Vec<Arc<NodeRecord>> {
        members(&self.membership.inner.snapshot(), &self.selector)
    }

    /// Calls `cmd` on one member, with `timeout` or the node's default.
    pub async fn call(&self, cmd: u32, body: Bytes, timeout: Option<Duration>) -> Result<Bytes> {
        self.route(Op::Call { cmd, body, timeout }, None).await
    }

    /// Sends `cmd` to one member, one-way.
    pub async fn send(&self, cmd: u32, body: Bytes) -> Result<()> {
        self.route(Op::Send { cmd, body }, None).await.map(drop)
    }

    async fn route(&self, op: Op, key: Option<u64>) -> Result<Bytes> {
        let inner = &self.membership.inner;
        route(
            inner,
            op,
            self.absent,
            |dir| {
                let mut members = members(dir, &self.selector);
                match (key, self.policy) {
                    (Some(key), _) => {
                        members.sort_by_key(|r| std::cmp::Reverse(score(key, &r.name)));
                    }
                    (None, Policy::RoundRobin) if !members.is_empty() => {
                        let n = self.next.fetch_add(1, Ordering::Relaxed) % members.len();
                        members.rotate_left(n);
                    }
                    (None, Policy::RoundRobin) => {}
                    (None, Policy::LeastInFlight) => members.sort_by_cached_key(|r| {
                        inner.open_peer(&r.addr).map_or(0, |p| p.pending_calls())
                    }),
                }
                members
            },
            || Error::NoMember {
                group: self.selector.to_string(),
            },
        )
        .await
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("selector", &self.selector)
            .field("policy", &self.policy)
            .finish()
    }
}

/// A group call target bound to one key: see [`Group::by_key`].
#[derive(Clone, Debug)]
pub struct Keyed {
    group: Group,
    key: u64,
}

impl Keyed {
    /// The member the key goes to now.
    pub fn member(&self) -> Option<Arc<NodeRecord>> {
        self.group
            .members()
            .into_iter()
            .max_by_key(|r| score(self.key, &r.name))
    }

    /// Calls `cmd` on the key's member.
    pub async fn call(&self, cmd: u32, body: Bytes, timeout: Option<Duration>) -> Result<Bytes> {
        self.group
            .route(Op::Call { cmd, body, timeout }, Some(self.key))
            .await
    }

    /// Sends `cmd` to the key's member, one-way.
    pub async fn send(&self, cmd: u32, body: Bytes) -> Result<()> {
        self.group
            .route(Op::Send { cmd, body }, Some(self.key))
            .await
            .map(drop)
    }
}

fn members(dir: &Directory, selector: &Selector) -> Vec<Arc<NodeRecord>> {
    dir.iter()
        .filter(|r| selector.matches(r))
        .cloned()
        .collect()
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a 64: stable across processes, unlike std's hasher.
fn fnv1a64(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The rendezvous score of `name` for `key`; FNV's low bits are weak, so
/// the result goes through splitmix64's finaliser.
fn score(key: u64, name: &str) -> u64 {
    let mut z = fnv1a64(key, name.as_bytes());
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_moves_only_when_its_member_leaves() {
        let names: Vec<String> = (0..8).map(|i| format!("n{i}")).collect();
        let owner = |names: &[String], key: u64| {
            names
                .iter()
                .max_by_key(|n| score(key, n))
                .cloned()
                .unwrap_or_default()
        };
        let keys: Vec<u64> = (0..1000u32)
            .map(|k| fnv1a64(FNV_OFFSET, &k.to_le_bytes()))
            .collect();
        let before: Vec<String> = keys.iter().map(|&k| owner(&names, k)).collect();
        let fewer: Vec<String> = names.iter().filter(|n| *n != "n3").cloned().collect();
        let mut moved = 0;
        for (k, was) in keys.iter().zip(&before) {
            let now = owner(&fewer, *k);
            if *was == "n3" {
                moved += 1;
            } else {
                assert_eq!(&now, was, "a key of a member that stayed moved");
            }
        }
        // Each member owns about an eighth of the keys.
        assert!((60..190).contains(&moved), "n3 owned {moved} of 1000 keys");
    }
}
