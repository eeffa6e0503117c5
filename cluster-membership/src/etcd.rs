//! The etcd backend (feature `etcd`): this node's record under a lease kept
//! alive, its name claimed in a transaction; the directory read once, then
//! watched from the next revision, and read again whenever the watch breaks
//! or falls behind a compaction. While etcd is unreachable the last
//! directory stays published, so calls between known nodes carry on.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, KeyValue, PutOptions, Txn,
    TxnOp, TxnOpResponse, WatchOptions,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::directory::{Directory, DirectoryWatch, publish};
use crate::error::{Error, Result};
use crate::layout;
use crate::record::NodeRecord;

/// The lease TTL unless set: a node that dies leaves the directory this
/// long after its last keep-alive.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Each request to etcd that is not a stream gives up after this; the
/// backend retries on its own schedule.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Retry delays after etcd failed, doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_LAST: Duration = Duration::from_secs(2);

/// Where etcd is and how to use it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EtcdOptions {
    /// Endpoints, e.g. `["http://127.0.0.1:2379"]`.
    pub endpoints: Vec<String>,
    /// The cluster name: keys live under `/cluster/<cluster>/nodes/`.
    pub cluster: String,
    /// The lease TTL, whole seconds (at least 1; etcd may raise it to its
    /// minimum). The default is [`DEFAULT_TTL`], 10 s.
    pub ttl: Duration,
}

impl EtcdOptions {
    /// The cluster `cluster` on the etcd at `endpoints`, with a TTL of
    /// [`DEFAULT_TTL`].
    pub fn new<S: Into<String>>(endpoints: impl IntoIterator<Item = S>, cluster: &str) -> Self {
        Self {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            cluster: cluster.to_owned(),
            ttl: DEFAULT_TTL,
        }
    }

    /// Sets the lease TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    fn ttl_secs(&self) -> i64 {
        i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX).max(1)
    }
}

impl From<EtcdOptions> for crate::BackendConfig {
    fn from(options: EtcdOptions) -> Self {
        crate::BackendConfig::Etcd(options)
    }
}

/// A running etcd backend.
pub(crate) struct EtcdBackend {
    client: Client,
    directory: watch::Receiver<Arc<Directory>>,
    watcher: JoinHandle<()>,
    lease: Option<Lease>,
}

/// This node's registration: the lease its key hangs on, renewed by a task.
struct Lease {
    id: Arc<AtomicI64>,
    keeper: JoinHandle<()>,
}

impl EtcdBackend {
    /// Connects, registers `record` if given, reads the directory and starts
    /// watching it. Fails if etcd cannot be reached now or the name is taken.
    pub(crate) async fn start(options: EtcdOptions, record: Option<NodeRecord>) -> Result<Self> {
        let connect = ConnectOptions::new()
            .with_connect_timeout(REQUEST_TIMEOUT)
            // Finds a silently dead etcd (no FIN, no RST) under a watch.
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
            .with_keep_alive_while_idle(true);
        let client = timed(Client::connect(&options.endpoints, Some(connect))).await?;
        let prefix = layout::nodes_prefix(&options.cluster);
        let lease = match record {
            Some(record) => {
                let key = layout::node_key(&options.cluster, &record.name);
                let id = claim(&client, &key, &record, options.ttl_secs()).await?;
                let id = Arc::new(AtomicI64::new(id));
                let keeper = tokio::spawn(keep_alive(
                    client.clone(),
                    key,
                    record,
                    options.ttl_secs(),
                    id.clone(),
                ));
                Some(Lease { id, keeper })
            }
            None => None,
        };
        let (dir, revision) = read(&client, &prefix).await?;
        let (tx, directory) = watch::channel(Arc::new(dir));
        let watcher = tokio::spawn(follow(client.clone(), prefix, tx, revision));
        Ok(Self {
            client,
            directory,
            watcher,
            lease,
        })
    }

    pub(crate) fn watch(&self) -> DirectoryWatch {
        self.directory.clone()
    }

    /// Revokes the lease (the key goes with it) before anything else, then
    /// stops the watch.
    pub(crate) async fn shutdown(mut self) {
        if let Some(lease) = self.lease.take() {
            // The keeper would otherwise take the revoked lease for a lost
            // one and register again.
            lease.keeper.abort();
            let id = lease.id.load(Ordering::SeqCst);
            let mut client = self.client.clone();
            if let Err(error) = timed(client.lease_revoke(id)).await {
                tracing::warn!(%error, "lease not revoked; the name is freed when it expires");
            }
        }
        self.watcher.abort();
    }
}

impl Drop for EtcdBackend {
    /// Without a shutdown, the lease expires by itself after its TTL.
    fn drop(&mut self) {
        if let Some(lease) = &self.lease {
            lease.keeper.abort();
        }
        self.watcher.abort();
    }
}

/// Grants a lease and creates `key` on it only if no one holds the name.
/// Returns the lease id; refuses with [`Error::NameTaken`] otherwise.
async fn claim(client: &Client, key: &str, record: &NodeRecord, ttl: i64) -> Result<i64> {
    let mut client = client.clone();
    let id = timed(client.lease_grant(ttl, None)).await?.id();
    let txn = Txn::new()
        .when([Compare::create_revision(key, CompareOp::Equal, 0)])
        .and_then([TxnOp::put(
            key,
            record.to_json(),
            Some(PutOptions::new().with_lease(id)),
        )])
        .or_else([TxnOp::get(key, None)]);
    let reply = match timed(client.txn(txn)).await {
        Ok(reply) => reply,
        Err(e) => {
            let _ = timed(client.lease_revoke(id)).await;
            return Err(e);
        }
    };
    if reply.succeeded() {
        return Ok(id);
    }
    let _ = timed(client.lease_revoke(id)).await;
    let holder = reply
        .op_responses()
        .into_iter()
        .find_map(|op| match op {
            TxnOpResponse::Get(get) => get.kvs().first().map(|kv| holder_addr(&record.name, kv)),
            _ => None,
        })
        .unwrap_or_else(|| "an unknown address".to_owned());
    Err(Error::NameTaken {
        name: record.name.clone(),
        holder,
    })
}

fn holder_addr(name: &str, kv: &KeyValue) -> String {
    NodeRecord::from_json(name, kv.value())
        .map_or_else(|_| "an unreadable record".to_owned(), |r| r.addr)
}

/// Renews the lease every third of its TTL. If etcd says the lease is gone
/// (it expired while this node could not reach etcd), claims the name again
/// on a new one.
async fn keep_alive(client: Client, key: String, record: NodeRecord, ttl: i64, id: Arc<AtomicI64>) {
    let period = Duration::from_secs(u64::try_from(ttl).unwrap_or(1)) / 3;
    let period = period.max(Duration::from_millis(300));
    let mut retry = RETRY_FIRST;
    loop {
        match renew(&client, id.load(Ordering::SeqCst), period).await {
            Renewal::Lost => {
                tracing::warn!(key, "lease lost; registering again");
                match claim(&client, &key, &record, ttl).await {
                    Ok(new) => {
                        id.store(new, Ordering::SeqCst);
                        retry = RETRY_FIRST;
                        continue;
                    }
                    Err(error) => tracing::warn!(key, %error, "cannot register again; retrying"),
                }
            }
            Renewal::Broken(error) => {
                tracing::warn!(key, %error, "lease keep-alive broke; retrying")
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_LAST);
    }
}

enum Renewal {
    /// etcd answered that the lease no longer exists.
    Lost,
    /// etcd could not be reached, or the stream ended.
    Broken(Error),
}

/// Keeps lease `id` alive over one keep-alive stream until it breaks.
async fn renew(client: &Client, id: i64, period: Duration) -> Renewal {
    let mut client = client.clone();
    let (mut keeper, mut replies) = match timed(client.lease_keep_alive(id)).await {
        Ok(stream) => stream,
        Err(e) => return Renewal::Broken(e),
    };
    loop {
        if let Err(e) = keeper.keep_alive().await {
            return Renewal::Broken(e.into());
        }
        match timed(replies.message()).await {
            Ok(Some(reply)) if reply.ttl() > 0 => {}
            Ok(Some(_)) => return Renewal::Lost,
            Ok(None) => {
                return Renewal::Broken(Error::Etcd(Arc::new(
                    etcd_client::Error::LeaseKeepAliveError("keep-alive stream ended".to_owned()),
                )));
            }
            Err(e) => return Renewal::Broken(e),
        }
        tokio::time::sleep(period).await;
    }
}

/// Reads every node under `prefix`; returns them and the revision read at.
async fn read(client: &Client, prefix: &str) -> Result<(Directory, i64)> {
    let mut client = client.clone();
    let reply = timed(client.get(prefix, Some(GetOptions::new().with_prefix()))).await?;
    let revision = reply.header().map_or(0, |h| h.revision());
    let records = reply.kvs().iter().filter_map(|kv| parse(prefix, kv));
    Ok((Directory::from_records(records), revision))
}

/// Keeps `tx` up to date from revision `revision` on, for as long as the
/// backend runs: watch, and on any break read again and watch anew.
async fn follow(
    client: Client,
    prefix: String,
    tx: watch::Sender<Arc<Directory>>,
    mut revision: i64,
) {
    let mut retry = RETRY_FIRST;
    loop {
        match watch_from(&client, &prefix, &tx, revision).await {
            Ok(()) => retry = RETRY_FIRST,
            Err(error) => {
                tracing::warn!(prefix, %error, "directory watch broke; reading it again");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_LAST);
            }
        }
        match read(&client, &prefix).await {
            Ok((dir, at)) => {
                publish(&tx, dir);
                revision = at;
            }
            // The last directory stays in force; retry after a pause.
            Err(error) => {
                tracing::warn!(prefix, %error, "directory not read; keeping the last one")
            }
        }
    }
}

/// Applies the events after `revision` to the published directory until
/// the watch ends. `Ok` means it must be read again (compaction, cancel).
async fn watch_from(
    client: &Client,
    prefix: &str,
    tx: &watch::Sender<Arc<Directory>>,
    revision: i64,
) -> Result<()> {
    let mut client = client.clone();
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(revision + 1);
    let (_watcher, mut stream) = timed(client.watch(prefix, Some(options))).await?;
    while let Some(reply) = stream.message().await? {
        if reply.compact_revision() > 0 {
            tracing::info!(
                prefix,
                compacted = reply.compact_revision(),
                "watch fell behind a compaction"
            );
            return Ok(());
        }
        if reply.canceled() {
            tracing::info!(
                prefix,
                reason = reply.cancel_reason(),
                "watch canceled by etcd"
            );
            return Ok(());
        }
        if reply.events().is_empty() {
            continue;
        }
        let mut dir = Directory::clone(&tx.borrow());
        for event in reply.events() {
            let Some(kv) = event.kv() else { continue };
            match event.event_type() {
                EventType::Put => {
                    if let Some(record) = parse(prefix, kv) {
                        dir.insert(record);
                    }
                }
                EventType::Delete => {
                    if let Some(name) = kv.key_str().ok().and_then(|k| layout::name_of(prefix, k)) {
                        dir.remove(name);
                    }
                }
            }
        }
        publish(tx, dir);
    }
    Err(Error::Etcd(Arc::new(etcd_client::Error::WatchError(
        "watch stream ended".to_owned(),
    ))))
}

/// The record in `kv`, or `None` (logged) for a key or value that is not
/// one: a foreign key under the prefix or a malformed record.
fn parse(prefix: &str, kv: &KeyValue) -> Option<NodeRecord> {
    let name = kv.key_str().ok().and_then(|k| layout::name_of(prefix, k))?;
    NodeRecord::from_json(name, kv.value())
        .inspect_err(|error| tracing::warn!(%error, "skipping a node record"))
        .ok()
}

/// `fut`, or an error after [`REQUEST_TIMEOUT`]: a request to an etcd that
/// went away must not hang the caller.
async fn timed<T>(
    fut: impl std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
) -> Result<T> {
    match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(result) => result.map_err(Error::from),
        Err(_) => Err(Error::Etcd(Arc::new(etcd_client::Error::IoError(
            std::io::Error::new(std::io::ErrorKind::TimedOut, "etcd did not answer in time"),
        )))),
    }
}

// The integration tests' etcd, for the one test that needs the private
// watch loop; they use the rest of it.
#[cfg(test)]
#[allow(dead_code, unreachable_pub)]
#[path = "../tests/support/etcd.rs"]
mod test_etcd;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watch_behind_a_compaction_ends_so_the_directory_is_read_again() {
        let test = "a_watch_behind_a_compaction_ends_so_the_directory_is_read_again";
        let Some(server) = test_etcd::Etcd::start(test).await else {
            return;
        };
        let mut client = server.client().await;
        let prefix = layout::nodes_prefix("compaction");
        let revision = |reply: etcd_client::PutResponse| reply.header().map_or(0, |h| h.revision());
        let put = |name: &str| (format!("{prefix}{name}"), r#"{"addr":"127.0.0.1:1"}"#);
        let (key, value) = put("a");
        let first = revision(client.put(key, value, None).await.unwrap());
        let (key, value) = put("b");
        let last = revision(client.put(key, value, None).await.unwrap());
        client.compact(last, None).await.unwrap();

        // A watch from before the compaction can never catch up: it ends
        // (Ok), and `follow` reads the directory anew.
        let (tx, mut rx) = watch::channel(Arc::new(Directory::default()));
        let ended = tokio::time::timeout(
            REQUEST_TIMEOUT,
            watch_from(&client, &prefix, &tx, first - 1),
        )
        .await;
        assert!(matches!(ended, Ok(Ok(()))), "{ended:?}");
        let follower = tokio::spawn(follow(client.clone(), prefix.clone(), tx, first - 1));
        let both = rx.wait_for(|d| d.len() == 2);
        assert!(
            tokio::time::timeout(REQUEST_TIMEOUT, both).await.is_ok(),
            "never read again"
        );
        follower.abort();
    }
}
