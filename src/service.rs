//! Services: what `#[cluster::service]` generates servers for, and the rules
//! for their command ids.
//!
//! # Command ids
//!
//! Every method of a service has a `u32` command id, the `cmd` on the wire:
//!
//! 1. `#[cmd(N)]` on the method sets it to `N`;
//! 2. otherwise, in a service with `codec = zproto`, it is the protocol tag
//!    of the method's request message (as silly's zproto services do);
//! 3. otherwise it is [`command_id`]`("Trait", "method")`: the 32-bit
//!    FNV-1a hash of `Trait.method` with the top bit set. It depends only
//!    on the two names, so reordering or adding methods never changes it,
//!    and it never collides with explicit ids below `0x8000_0000`.
//!
//! Ids must be unique within a service, and among all services mounted on
//! one [`crate::Router`]; both are checked at compile time.

use std::future::Future;

use cluster_core::{Body, Request, RpcName};

/// One command of a service, as listed in its generated command table
/// (`CalcClient::COMMANDS` for a trait `Calc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command {
    /// The method name.
    pub name: &'static str,
    /// The command id on the wire.
    pub id: u32,
    /// Whether the method is one-way (`send`, no response).
    pub oneway: bool,
}

/// The commands of a service or of several services mounted together.
#[derive(Debug, Clone, Copy)]
pub enum CommandTable {
    /// The commands of one service.
    Service(&'static [Command]),
    /// The commands of two tables mounted side by side.
    Union(&'static CommandTable, &'static CommandTable),
}

impl CommandTable {
    /// Number of commands.
    pub const fn len(&self) -> usize {
        match self {
            CommandTable::Service(commands) => commands.len(),
            CommandTable::Union(a, b) => a.len() + b.len(),
        }
    }

    /// Whether there are no commands.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th command, in mount order.
    pub const fn get(&self, i: usize) -> Option<&'static Command> {
        match *self {
            CommandTable::Service(commands) if i < commands.len() => Some(&commands[i]),
            CommandTable::Service(_) => None,
            CommandTable::Union(a, _) if i < a.len() => a.get(i),
            CommandTable::Union(a, b) => b.get(i - a.len()),
        }
    }

    /// Whether command `cmd` is one of the table's one-way commands.
    pub fn is_oneway(&self, cmd: u32) -> bool {
        (0..self.len()).any(|i| self.get(i).is_some_and(|c| c.id == cmd && c.oneway))
    }

    /// Whether two commands share an id. A `const fn`, so that generated
    /// code and [`crate::Router::new`] check it at compile time.
    pub const fn has_duplicate_ids(&self) -> bool {
        let n = self.len();
        let mut i = 0;
        while i < n {
            let mut j = i + 1;
            while j < n {
                if let (Some(a), Some(b)) = (self.get(i), self.get(j)) {
                    if a.id == b.id {
                        return true;
                    }
                }
                j += 1;
            }
            i += 1;
        }
        false
    }

    /// Every command, in mount order.
    pub fn iter(&self) -> impl Iterator<Item = &'static Command> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// A server for the commands of one or more services: the server adapters
/// that `#[cluster::service]` generates (`CalcServer<S>`) and
/// [`crate::Router`]s of them.
pub trait Service: Send + Sync + 'static {
    /// Every command served.
    const COMMANDS: CommandTable;

    /// Serves `req` if its cmd is one of this service's; hands it back
    /// otherwise. The future yields the response body (encoded into the
    /// connection's write buffer when it is sent), or `None` for no
    /// response (one-way methods, undecodable requests).
    fn serve(
        &self,
        req: Request,
    ) -> Result<impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static, Request>;

    /// The service and method names of `cmd`, if it is one of this
    /// service's: what spans and metrics call it.
    fn method_name(cmd: u32) -> Option<RpcName> {
        let _ = cmd;
        None
    }
}

/// The names of `cmd` among `commands` of service `service`: generated
/// services' [`Service::method_name`].
#[doc(hidden)]
pub fn method_name(service: &'static str, commands: &[Command], cmd: u32) -> Option<RpcName> {
    commands.iter().find(|c| c.id == cmd).map(|c| RpcName {
        service,
        method: c.name,
    })
}

/// The default command id of `method` in service trait `service` (rule 3
/// above): FNV-1a-32 of `service.method`, with the top bit set.
///
/// ```
/// assert_eq!(cluster::command_id("Calc", "add"), cluster::command_id("Calc", "add"));
/// assert!(cluster::command_id("Calc", "add") >= 0x8000_0000);
/// ```
pub const fn command_id(service: &str, method: &str) -> u32 {
    const OFFSET: u32 = 0x811c_9dc5;
    const PRIME: u32 = 0x0100_0193;
    let hash = fnv1a(OFFSET, service.as_bytes(), PRIME);
    let hash = (hash ^ b'.' as u32).wrapping_mul(PRIME);
    fnv1a(hash, method.as_bytes(), PRIME) | 0x8000_0000
}

const fn fnv1a(mut hash: u32, bytes: &[u8], prime: u32) -> u32 {
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u32).wrapping_mul(prime);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_id_is_fnv1a_of_the_dotted_name_with_the_top_bit() {
        // FNV-1a-32("Calc.add"), computed independently.
        let mut h: u32 = 0x811c_9dc5;
        for b in b"Calc.add" {
            h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
        }
        assert_eq!(command_id("Calc", "add"), h | 0x8000_0000);
        assert_ne!(command_id("Calc", "add"), command_id("Calc", "sub"));
        assert_ne!(command_id("Calc", "add"), command_id("Math", "add"));
    }

    const A: &[Command] = &[
        Command {
            name: "a",
            id: 1,
            oneway: false,
        },
        Command {
            name: "b",
            id: 2,
            oneway: true,
        },
    ];
    const B: &[Command] = &[Command {
        name: "c",
        id: 3,
        oneway: false,
    }];
    const C: &[Command] = &[Command {
        name: "d",
        id: 2,
        oneway: false,
    }];

    const AB: CommandTable =
        CommandTable::Union(&CommandTable::Service(A), &CommandTable::Service(B));
    const ABC: CommandTable = CommandTable::Union(&AB, &CommandTable::Service(C));

    #[test]
    fn tables_find_duplicates_across_services() {
        assert!(!AB.has_duplicate_ids());
        assert_eq!(
            AB.iter().map(|c| c.name).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert!(ABC.has_duplicate_ids());
        assert_eq!(ABC.len(), 4);
        assert!(ABC.get(4).is_none());
    }
}
