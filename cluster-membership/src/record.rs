//! A node's entry in the directory and its JSON form, the one format shared
//! by etcd values, static directory files and Lua silly nodes.
//!
//! ```json
//! {"addr":"127.0.0.1:9001",
//!  "services":[{"name":"Calc","commands":[["add",3],["log",2147483650]]}],
//!  "wire":"v1","caps":[],"epoch":1764615600000,"role":"game"}
//! ```
//!
//! The name is not in the value: it is the last segment of the etcd key
//! (see [`crate::layout`]) or the `name` field of a static file entry.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The largest record accepted, in bytes of JSON: a record describes one
/// node, and a directory of a few thousand must stay small in memory.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// One named node as the directory holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NodeRecord {
    /// The unique name (not part of the etcd value; it is the key).
    #[serde(skip)]
    pub name: String,
    /// The listen address other nodes connect to (`host:port`).
    pub addr: String,
    /// The services the node serves.
    #[serde(default)]
    pub services: Vec<ServiceInfo>,
    /// Its wire format: `"v1"` (silly's seed format, the default) or `"v2"`.
    #[serde(default = "default_wire")]
    pub wire: String,
    /// Capabilities, free-form words. A node listing
    /// [`cluster_core::EXTENSION_CAPABILITY`] is dialed with a hello when
    /// called by name, and its calls get status replies and deadlines (see
    /// PROTOCOL.md); list it only for a `cluster` node with the extension on.
    #[serde(default)]
    pub caps: Vec<String>,
    /// When the node started, in Unix milliseconds: a restart of the same
    /// name has a new epoch.
    #[serde(default)]
    pub epoch: u64,
    /// An optional role, to group nodes by what they do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// One service a node serves: its name and command table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ServiceInfo {
    /// The service (trait) name, e.g. `"Calc"`.
    pub name: String,
    /// `[method, command id]` pairs.
    #[serde(default)]
    pub commands: Vec<(String, u32)>,
}

impl ServiceInfo {
    /// A service named `name` with `commands` as `(method, id)` pairs.
    pub fn new<'a>(name: &str, commands: impl IntoIterator<Item = (&'a str, u32)>) -> Self {
        Self {
            name: name.to_owned(),
            commands: commands
                .into_iter()
                .map(|(method, id)| (method.to_owned(), id))
                .collect(),
        }
    }
}

fn default_wire() -> String {
    "v1".to_owned()
}

impl NodeRecord {
    /// A record for `name` listening on `addr`, wire v1, started now.
    pub fn new(name: impl Into<String>, addr: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            addr: addr.into(),
            services: Vec::new(),
            wire: default_wire(),
            caps: Vec::new(),
            epoch: now_ms(),
            role: None,
        }
    }

    /// Adds a service it serves.
    pub fn service(mut self, service: ServiceInfo) -> Self {
        self.services.push(service);
        self
    }

    /// Sets its role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    /// Adds a capability.
    pub fn cap(mut self, cap: impl Into<String>) -> Self {
        self.caps.push(cap.into());
        self
    }

    /// Sets its wire format name (`"v1"` or `"v2"`).
    pub fn wire(mut self, wire: impl Into<String>) -> Self {
        self.wire = wire.into();
        self
    }

    /// Sets its start epoch (Unix milliseconds).
    pub fn epoch(mut self, epoch: u64) -> Self {
        self.epoch = epoch;
        self
    }

    /// Whether it serves the service `name`.
    pub fn serves(&self, name: &str) -> bool {
        self.services.iter().any(|s| s.name == name)
    }

    /// The JSON value stored for it (without the name).
    pub fn to_json(&self) -> String {
        // A struct of strings, numbers and lists always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the JSON value of the node `name`, refusing oversize or
    /// malformed records with an error that names the node.
    pub fn from_json(name: &str, json: &[u8]) -> Result<Self> {
        let bad = |reason: String| Error::Record {
            key: name.to_owned(),
            reason,
        };
        if json.len() > MAX_RECORD_BYTES {
            return Err(bad(format!(
                "{} bytes, more than the limit of {MAX_RECORD_BYTES}",
                json.len()
            )));
        }
        let mut record: Self = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        record.name = name.to_owned();
        record.validate()?;
        Ok(record)
    }

    /// Checks what every record needs: a usable name and an address.
    pub fn validate(&self) -> Result<()> {
        let reason = if !valid_name(&self.name) {
            Some("a name is 1 to 128 characters, none of them '/' or control characters")
        } else if self.addr.is_empty() {
            Some("no addr")
        } else if !matches!(self.wire.as_str(), "v1" | "v2") {
            Some("wire is neither \"v1\" nor \"v2\"")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::Record {
                key: self.name.clone(),
                reason: reason.to_owned(),
            }),
            None => Ok(()),
        }
    }
}

/// Names are etcd key segments and file entries: no '/', nothing invisible.
fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && !name.chars().any(|c| c == '/' || c.is_control())
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_without_the_name() {
        let record = NodeRecord::new("calc-1", "127.0.0.1:9001")
            .service(ServiceInfo::new("Calc", [("add", 3)]))
            .role("math")
            .epoch(7);
        let json = record.to_json();
        assert_eq!(
            json,
            r#"{"addr":"127.0.0.1:9001","services":[{"name":"Calc","commands":[["add",3]]}],"wire":"v1","caps":[],"epoch":7,"role":"math"}"#
        );
        assert_eq!(
            NodeRecord::from_json("calc-1", json.as_bytes()).unwrap(),
            record
        );
    }

    #[test]
    fn a_minimal_lua_record_parses_with_defaults() {
        let record = NodeRecord::from_json("lua-1", br#"{"addr":"10.0.0.1:8001"}"#).unwrap();
        assert_eq!(record.wire, "v1");
        assert!(record.services.is_empty() && record.role.is_none());
    }

    #[test]
    fn malformed_records_are_refused_with_the_reason() {
        for (name, json, says) in [
            ("a", &b"{"[..], "EOF"),
            ("a", br#"{"addr":""}"#, "no addr"),
            ("a", br#"{"addr":"x:1","wire":"v9"}"#, "wire"),
            ("a/b", br#"{"addr":"x:1"}"#, "name"),
            ("a", br#"{"addr":7}"#, "invalid type"),
        ] {
            let err = NodeRecord::from_json(name, json).unwrap_err().to_string();
            assert!(err.contains(says), "{err:?} should say {says:?}");
        }
        let huge = vec![b' '; MAX_RECORD_BYTES + 1];
        assert!(NodeRecord::from_json("a", &huge).is_err());
    }
}
