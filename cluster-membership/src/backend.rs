//! The backends a membership runs on, behind one small interface: register
//! this node's record, publish the directory, and shut down in order.

use crate::directory::DirectoryWatch;
use crate::error::Result;
#[cfg(feature = "etcd")]
use crate::etcd::{EtcdBackend, EtcdOptions};
use crate::record::NodeRecord;
use crate::static_dir::StaticDirectory;

/// Which backend a [`crate::Membership`] uses.
#[derive(Clone)]
#[non_exhaustive]
pub enum BackendConfig {
    /// A directory held in this process ([`StaticDirectory`]).
    Static(StaticDirectory),
    /// etcd (feature `etcd`).
    #[cfg(feature = "etcd")]
    Etcd(EtcdOptions),
}

/// A running backend, with this node's name claimed in it if it registered.
pub(crate) enum Backend {
    Static {
        dir: StaticDirectory,
        name: Option<String>,
    },
    #[cfg(feature = "etcd")]
    Etcd(Box<EtcdBackend>),
}

impl Backend {
    /// Starts `config`, claiming `record`'s name if there is one.
    pub(crate) async fn start(config: BackendConfig, record: Option<NodeRecord>) -> Result<Self> {
        match config {
            BackendConfig::Static(dir) => {
                let name = record.as_ref().map(|r| r.name.clone());
                if let Some(record) = record {
                    dir.claim(record)?;
                }
                Ok(Backend::Static { dir, name })
            }
            #[cfg(feature = "etcd")]
            BackendConfig::Etcd(options) => Ok(Backend::Etcd(Box::new(
                EtcdBackend::start(options, record).await?,
            ))),
        }
    }

    pub(crate) fn watch(&self) -> DirectoryWatch {
        match self {
            Backend::Static { dir, .. } => dir.watch(),
            #[cfg(feature = "etcd")]
            Backend::Etcd(etcd) => etcd.watch(),
        }
    }

    /// Deregisters first (gives up the name, revokes the lease), then stops
    /// whatever the backend runs. Watches keep the last directory.
    pub(crate) async fn shutdown(self) {
        match self {
            Backend::Static { dir, name } => {
                if let Some(name) = name {
                    dir.release(&name);
                }
            }
            #[cfg(feature = "etcd")]
            Backend::Etcd(etcd) => (*etcd).shutdown().await,
        }
    }
}
