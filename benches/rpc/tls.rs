//! TLS for the `cluster-tls` system (feature `tls`): a certificate for
//! 127.0.0.1 that the server process makes at start, issued by a CA that
//! both processes make alike from one fixed key, so that the client trusts
//! the server without a file passing between them.

use std::io;

use cluster::{NodeBuilder, TlsClient, TlsServer};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::cluster_raw::Transport;

/// The benchmark CA's key: a throwaway, for loopback connections between
/// the benchmark's own processes only.
const CA_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUKI20cv7w1mTr5oQ
5+TGkL4teoxl/y1vvPbZ8iaZGbihRANCAARP6p1irIP8OKXXWs+qzSYcfB3YBNqN
NLcJH4zNheZi1E/ihpkfb5yqGpS3sbCwWny3rfo2VSh5nHwQ7u9nWgdm
-----END PRIVATE KEY-----
";

pub struct Tls;

fn ca() -> io::Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "cluster benchmark CA");
    let key = KeyPair::from_pem(CA_KEY).map_err(io::Error::other)?;
    CertifiedIssuer::self_signed(params, key).map_err(io::Error::other)
}

impl Transport for Tls {
    fn listen_addr() -> String {
        "tls:127.0.0.1:0".into()
    }

    fn server(builder: NodeBuilder) -> io::Result<NodeBuilder> {
        let ca = ca()?;
        let key = KeyPair::generate().map_err(io::Error::other)?;
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .and_then(|params| params.signed_by(&key, &ca))
            .map_err(io::Error::other)?;
        let server = TlsServer::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
            .map_err(io::Error::other)?;
        Ok(builder.tls_server(server))
    }

    fn client(builder: NodeBuilder) -> io::Result<NodeBuilder> {
        let client = TlsClient::from_pem(ca()?.pem().as_bytes()).map_err(io::Error::other)?;
        Ok(builder.tls_client(client))
    }
}
