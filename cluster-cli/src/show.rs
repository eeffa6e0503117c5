//! How a node of the directory prints: one line of text, or a JSON object
//! in the static directory file's form (its name, then its record).

use std::fmt::Write as _;

use cluster_membership::{Directory, NodeRecord};
use serde::Serialize;

/// A node as JSON: `{"name":..., "addr":..., ...}`, an entry of a static
/// directory file, so `cluster nodes --json` output is such a file.
#[derive(Serialize)]
pub struct Entry<'a> {
    name: &'a str,
    #[serde(flatten)]
    record: &'a NodeRecord,
}

impl<'a> From<&'a NodeRecord> for Entry<'a> {
    fn from(record: &'a NodeRecord) -> Self {
        Entry {
            name: &record.name,
            record,
        }
    }
}

/// Every node of `dir` as entries, in name order.
pub fn entries(dir: &Directory) -> Vec<Entry<'_>> {
    dir.iter().map(|r| Entry::from(&**r)).collect()
}

/// `value` as one line of JSON, fields in declaration order.
pub fn to_json(value: &impl Serialize) -> String {
    // Strings, numbers and lists always serialise.
    serde_json::to_string(value).unwrap_or_default()
}

/// One line: name, address, wire, role, services with their command ids,
/// epoch, and capabilities if it has any.
///
/// `calc-1 127.0.0.1:9001 v1 role=math services=Calc(add=3,log=2147483650) epoch=7`
pub fn line(record: &NodeRecord) -> String {
    let mut line = format!(
        "{} {} {} role={} services={} epoch={}",
        record.name,
        record.addr,
        record.wire,
        record.role.as_deref().unwrap_or("-"),
        services(record),
        record.epoch
    );
    if !record.caps.is_empty() {
        let _ = write!(line, " caps={}", record.caps.join(","));
    }
    line
}

/// `Calc(add=3,log=4);Echo(who=1)`, or `-` for none.
fn services(record: &NodeRecord) -> String {
    if record.services.is_empty() {
        return "-".to_owned();
    }
    let each = record.services.iter().map(|service| {
        let commands: Vec<String> = service
            .commands
            .iter()
            .map(|(method, id)| format!("{method}={id}"))
            .collect();
        format!("{}({})", service.name, commands.join(","))
    });
    each.collect::<Vec<_>>().join(";")
}

#[cfg(test)]
mod tests {
    use cluster_membership::ServiceInfo;

    use super::*;

    #[test]
    fn a_line_has_every_field() {
        let record = NodeRecord::new("calc-1", "127.0.0.1:9001")
            .service(ServiceInfo::new("Calc", [("add", 3), ("log", 2147483650)]))
            .service(ServiceInfo::new("Echo", [("who", 1)]))
            .role("math")
            .cap("trace")
            .epoch(7);
        assert_eq!(
            line(&record),
            "calc-1 127.0.0.1:9001 v1 role=math services=Calc(add=3,log=2147483650);Echo(who=1) epoch=7 caps=trace"
        );
        let bare = NodeRecord::new("lua-1", "127.0.0.1:9002")
            .wire("v2")
            .epoch(0);
        assert_eq!(
            line(&bare),
            "lua-1 127.0.0.1:9002 v2 role=- services=- epoch=0"
        );
    }

    #[test]
    fn an_entry_is_the_name_then_the_record() {
        let record = NodeRecord::new("calc-1", "127.0.0.1:9001").epoch(7);
        assert_eq!(
            serde_json::to_string(&Entry::from(&record)).unwrap(),
            r#"{"name":"calc-1","addr":"127.0.0.1:9001","services":[],"wire":"v1","caps":[],"epoch":7}"#
        );
    }
}
