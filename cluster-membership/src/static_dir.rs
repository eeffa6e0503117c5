//! The static backend, the embedded default that needs nothing running: a
//! list of nodes given in code or read from a JSON file (re-read when it
//! changes), plus the nodes of this process that registered in it.
//!
//! The file holds the same records as etcd, each with its name:
//!
//! ```json
//! {"nodes": [
//!   {"name": "calc-1", "addr": "127.0.0.1:9001", "services": [{"name": "Calc", "commands": [["add", 3]]}]},
//!   {"name": "lua-1", "addr": "127.0.0.1:9002", "role": "game"}
//! ]}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use crate::directory::{Directory, DirectoryWatch, publish};
use crate::error::{Error, Result};
use crate::record::NodeRecord;

/// A file larger than this is refused: a directory file lists nodes, not data.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// How often a directory file is checked for changes unless told otherwise.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// A directory held in this process. Cheap to clone; clones share it, so
/// several nodes of one process can register in one directory (and a name
/// is claimed once among them).
#[derive(Clone)]
pub struct StaticDirectory {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    tx: watch::Sender<Arc<Directory>>,
}

#[derive(Default)]
struct State {
    /// From the builder's list or the file.
    listed: BTreeMap<String, NodeRecord>,
    /// Claimed by nodes of this process; they win over listed entries.
    registered: BTreeMap<String, NodeRecord>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    nodes: Vec<FileEntry>,
}

#[derive(Deserialize)]
struct FileEntry {
    name: String,
    #[serde(flatten)]
    record: NodeRecord,
}

impl StaticDirectory {
    /// A directory of `records`, which must each be valid.
    pub fn new(records: impl IntoIterator<Item = NodeRecord>) -> Result<Self> {
        let mut listed = BTreeMap::new();
        for record in records {
            record.validate()?;
            listed.insert(record.name.clone(), record);
        }
        Ok(Self::from_listed(listed))
    }

    /// The directory in the JSON file at `path`, checked for changes every
    /// `poll` ([`DEFAULT_POLL`] is a good choice) until every clone is
    /// dropped. Fails if the file cannot be read or parsed now; a later bad
    /// edit is logged and the last good contents stay in force. Must be
    /// called within a tokio runtime.
    pub async fn from_file(path: impl AsRef<Path>, poll: Duration) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let bytes = read(&path).await?;
        let dir = Self::from_listed(parse(&path, &bytes)?);
        tokio::spawn(watch_file(Arc::downgrade(&dir.shared), path, bytes, poll));
        Ok(dir)
    }

    fn from_listed(listed: BTreeMap<String, NodeRecord>) -> Self {
        let state = State {
            listed,
            registered: BTreeMap::new(),
        };
        let (tx, _) = watch::channel(Arc::new(state.directory()));
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                tx,
            }),
        }
    }

    /// The current snapshot.
    pub fn directory(&self) -> Arc<Directory> {
        self.shared.tx.borrow().clone()
    }

    /// A watch of the directory's changes.
    pub fn watch(&self) -> DirectoryWatch {
        self.shared.tx.subscribe()
    }

    /// Claims `record.name` for `record`. Refused if another node of this
    /// process holds it, or if the list names it at another address (a
    /// listed entry at the same address is this node, described ahead).
    pub(crate) fn claim(&self, record: NodeRecord) -> Result<()> {
        self.shared.update(|state| {
            let holder = state.registered.get(&record.name).or_else(|| {
                state
                    .listed
                    .get(&record.name)
                    .filter(|l| l.addr != record.addr)
            });
            if let Some(holder) = holder {
                return Err(Error::NameTaken {
                    name: record.name.clone(),
                    holder: holder.addr.clone(),
                });
            }
            state.registered.insert(record.name.clone(), record);
            Ok(())
        })
    }

    /// Gives up the name claimed by [`StaticDirectory::claim`].
    pub(crate) fn release(&self, name: &str) {
        self.shared.update(|state| {
            state.registered.remove(name);
        });
    }
}

impl Default for StaticDirectory {
    /// An empty directory.
    fn default() -> Self {
        Self::from_listed(BTreeMap::new())
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is replaced whole by each update: a panic cannot leave
        // it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state and publishes the directory it leaves.
    fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.lock();
        let out = f(&mut state);
        publish(&self.tx, state.directory());
        out
    }
}

impl State {
    fn directory(&self) -> Directory {
        let listed = self
            .listed
            .iter()
            .filter(|(name, _)| !self.registered.contains_key(*name));
        Directory::from_records(
            listed
                .chain(&self.registered)
                .map(|(_, record)| record.clone()),
        )
    }
}

/// Re-reads the file every `poll` while the directory lives; publishes
/// each new good version.
async fn watch_file(shared: Weak<Shared>, path: PathBuf, mut last: Vec<u8>, poll: Duration) {
    let mut failing = false;
    loop {
        tokio::time::sleep(poll).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let listed = match read(&path).await {
            Ok(bytes) if bytes == last => continue,
            Ok(bytes) => {
                let parsed = parse(&path, &bytes);
                last = bytes;
                parsed
            }
            Err(e) => Err(e),
        };
        match listed {
            Ok(listed) => {
                failing = false;
                tracing::info!(path = %path.display(), nodes = listed.len(), "directory file reloaded");
                shared.update(|state| state.listed = listed);
            }
            // Said once per failure, not once per poll.
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "directory file not reloaded; keeping the last good one");
            }
            Err(_) => {}
        }
    }
}

async fn read(path: &Path) -> Result<Vec<u8>> {
    let refuse = |reason: String| Error::File {
        path: path.to_path_buf(),
        reason,
    };
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| refuse(e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(refuse(format!(
            "{} bytes, more than the limit of {MAX_FILE_BYTES}",
            meta.len()
        )));
    }
    tokio::fs::read(path)
        .await
        .map_err(|e| refuse(e.to_string()))
}

fn parse(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, NodeRecord>> {
    let file: File = serde_json::from_slice(bytes).map_err(|e| Error::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut listed = BTreeMap::new();
    for FileEntry { name, mut record } in file.nodes {
        record.name = name;
        record.validate()?;
        if let Some(dup) = listed.insert(record.name.clone(), record) {
            return Err(Error::File {
                path: path.to_path_buf(),
                reason: format!("node {:?} is listed twice", dup.name),
            });
        }
    }
    Ok(listed)
}
