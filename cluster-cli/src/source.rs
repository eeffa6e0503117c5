//! Opening the membership directory that `nodes` and `watch` read: a static
//! JSON file or etcd, observed without registering anything in it.

use cluster_core::Node;
use cluster_membership::{BackendConfig, DEFAULT_POLL, Membership, StaticDirectory};

use crate::SourceArgs;
use crate::exit::Error;

/// A membership that only looks: built without `register`, so it claims no
/// name and puts no key. Its node listens nowhere and calls no one.
pub async fn open(source: &SourceArgs) -> Result<Membership, Error> {
    let backend = backend(source).await?;
    Membership::builder(Node::builder().build())
        .backend(backend)
        .build()
        .await
        .map_err(|e| match source.static_file {
            Some(_) => Error::Directory(e),
            None => Error::Etcd {
                endpoints: source.etcd.join(","),
                source: e,
            },
        })
}

/// Where the directory lives, for messages: the file or the etcd prefix.
pub fn describe(source: &SourceArgs) -> String {
    match &source.static_file {
        Some(path) => path.display().to_string(),
        None => format!(
            "etcd {} under {}",
            source.etcd.join(","),
            cluster_membership::layout::nodes_prefix(&source.cluster)
        ),
    }
}

async fn backend(source: &SourceArgs) -> Result<BackendConfig, Error> {
    match &source.static_file {
        Some(path) => Ok(StaticDirectory::from_file(path, DEFAULT_POLL).await?.into()),
        None => etcd(source),
    }
}

#[cfg(feature = "etcd")]
fn etcd(source: &SourceArgs) -> Result<BackendConfig, Error> {
    let options =
        cluster_membership::EtcdOptions::new(source.etcd.iter().cloned(), &source.cluster);
    Ok(options.into())
}

#[cfg(not(feature = "etcd"))]
fn etcd(_: &SourceArgs) -> Result<BackendConfig, Error> {
    Err(Error::NoEtcd)
}
