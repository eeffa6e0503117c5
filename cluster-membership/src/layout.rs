//! Where records live in etcd: one key per node under a cluster's prefix,
//! `/cluster/<cluster>/nodes/<name>`, its value the record's JSON
//! ([`crate::NodeRecord`]) and attached to the node's lease.

/// The key prefix of every node of `cluster`: `/cluster/<cluster>/nodes/`.
pub fn nodes_prefix(cluster: &str) -> String {
    format!("/cluster/{cluster}/nodes/")
}

/// The key of node `name` in `cluster`.
pub fn node_key(cluster: &str, name: &str) -> String {
    format!("{}{name}", nodes_prefix(cluster))
}

/// The node name in `key`, if `key` is a node key under `prefix`.
pub fn name_of<'k>(prefix: &str, key: &'k str) -> Option<&'k str> {
    key.strip_prefix(prefix).filter(|name| !name.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_nest_under_the_cluster_prefix() {
        assert_eq!(node_key("prod", "game-3"), "/cluster/prod/nodes/game-3");
        let prefix = nodes_prefix("prod");
        assert_eq!(
            name_of(&prefix, "/cluster/prod/nodes/game-3"),
            Some("game-3")
        );
        assert_eq!(name_of(&prefix, "/cluster/prod/nodes/a/b"), None);
        assert_eq!(name_of(&prefix, "/cluster/test/nodes/game-3"), None);
    }
}
