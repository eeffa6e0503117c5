//! TLS over TCP (feature `tls`): what `tls:host:port` addresses run on.
//!
//! A node's [`TlsServer`] is what its `tls:` listeners present, and what
//! they ask of clients (mutual TLS); its [`TlsClient`] is what its `tls:`
//! connections trust, and what they present when asked. The server name a
//! client verifies is the address's host: a DNS name or an IP address,
//! which the certificate must carry as a subject alternative name.
//!
//! Handshakes run beside the accept loop, never in it, each for at most the
//! node's connect timeout and at most a backlog of them at once: a client
//! that says nothing, or plaintext, is closed with a log line instead of
//! holding a slot. Only the `ring` provider is used, so the build needs no
//! C toolchain beyond what `ring` brings.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use crate::error::{Error, Result};

/// The TLS server side of a node: the certificate its `tls:` listeners
/// present, and whether they require clients to present one.
///
/// ```no_run
/// # fn run() -> cluster_core::Result<()> {
/// let server = cluster_core::TlsServer::from_pem(
///     &std::fs::read("node.crt").unwrap(),
///     &std::fs::read("node.key").unwrap(),
/// )?;
/// let node = cluster_core::Node::builder().tls_server(server).build();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsServer {
    config: Arc<ServerConfig>,
}

impl TlsServer {
    /// Presents `cert_chain` (PEM: the node's certificate first, then any
    /// intermediates) with its private `key` (PEM: PKCS#8, PKCS#1 or
    /// SEC1), and asks clients for no certificate.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self> {
        Self::build(cert_chain, key, None)
    }

    /// [`TlsServer::from_pem`], and requires every client to present a
    /// certificate issued by one of `client_ca` (PEM): mutual TLS. A client
    /// without one, or with another, is refused in the handshake; handlers
    /// see an accepted client's certificate in
    /// [`crate::Peer::tls_identity`].
    pub fn with_client_ca_pem(cert_chain: &[u8], key: &[u8], client_ca: &[u8]) -> Result<Self> {
        Self::build(cert_chain, key, Some(client_ca))
    }

    /// A server configured in full by the caller (its own verifier,
    /// protocol versions, session cache, ...).
    pub fn from_config(config: Arc<ServerConfig>) -> Self {
        Self { config }
    }

    fn build(cert_chain: &[u8], key: &[u8], client_ca: Option<&[u8]>) -> Result<Self> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(cause)?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots(ca, "client CA")?),
                    provider,
                )
                .build()
                .map_err(cause)?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(
                certificates(cert_chain, "certificate chain")?,
                private_key(key)?,
            )
            .map_err(cause)?;
        Ok(Self::from_config(Arc::new(config)))
    }
}

/// The TLS client side of a node: the certificate authorities its `tls:`
/// connections trust, and the certificate they present to a server that
/// asks for one (mutual TLS).
///
/// ```no_run
/// # fn run() -> cluster_core::Result<()> {
/// let client = cluster_core::TlsClient::from_pem(&std::fs::read("ca.crt").unwrap())?;
/// let node = cluster_core::Node::builder().tls_client(client).build();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
}

impl TlsClient {
    /// Trusts the certificate authorities of `roots` (PEM) and presents no
    /// certificate of its own.
    pub fn from_pem(roots: &[u8]) -> Result<Self> {
        Self::build(roots, None)
    }

    /// [`TlsClient::from_pem`], presenting `cert_chain` (PEM, its own
    /// certificate first) with its private `key` (PEM) to servers that ask.
    pub fn with_identity_pem(roots: &[u8], cert_chain: &[u8], key: &[u8]) -> Result<Self> {
        Self::build(roots, Some((cert_chain, key)))
    }

    /// A client configured in full by the caller.
    pub fn from_config(config: Arc<ClientConfig>) -> Self {
        Self { config }
    }

    fn build(roots_pem: &[u8], identity: Option<(&[u8], &[u8])>) -> Result<Self> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(cause)?
            .with_root_certificates(roots(roots_pem, "roots")?);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => builder
                .with_client_auth_cert(certificates(chain, "certificate chain")?, private_key(key)?)
                .map_err(cause)?,
        };
        Ok(Self::from_config(Arc::new(config)))
    }
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient").finish_non_exhaustive()
    }
}

/// The certificates a client proved it holds, its own first.
pub(crate) type Certificates = Arc<[CertificateDer<'static>]>;

/// The certificate chain the remote end of `stream` presented, if any.
pub(crate) fn peer_certificates(stream: &TlsStream<TcpStream>) -> Option<Certificates> {
    stream.get_ref().1.peer_certificates().map(Arc::from)
}

/// Runs the client side of a handshake over `tcp` to `target`
/// (`host:port`), until `deadline`; `limit` is the time it was given.
pub(crate) async fn connect(
    tcp: TcpStream,
    target: &str,
    client: &TlsClient,
    deadline: Instant,
    limit: Duration,
) -> Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from(host(target).to_owned()).map_err(cause)?;
    let handshake = TlsConnector::from(client.config.clone()).connect(name, tcp);
    match tokio::time::timeout_at(deadline, handshake).await {
        Ok(Ok(stream)) => Ok(TlsStream::Client(stream)),
        Ok(Err(error)) => Err(handshake_failed(error)),
        Err(_) => Err(Error::Tls(Arc::new(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no TLS handshake from {target} within {limit:?}: is it a TLS port?"),
        )))),
    }
}

/// The server side of a node's `tls:` listeners.
pub(crate) struct Acceptor {
    acceptor: TlsAcceptor,
    /// How long a handshake may take.
    limit: Duration,
    /// Handshakes that may run at once; the accept loop waits for one to
    /// end beyond it, and the kernel's backlog holds the rest.
    handshakes: Arc<Semaphore>,
}

impl Acceptor {
    pub(crate) fn new(server: &TlsServer, limit: Duration, backlog: u32) -> Self {
        let slots = usize::try_from(backlog).unwrap_or(usize::MAX).max(1);
        Self {
            acceptor: TlsAcceptor::from(server.config.clone()),
            limit,
            handshakes: Arc::new(Semaphore::new(slots)),
        }
    }

    /// A slot for one more handshake, once there is one.
    pub(crate) async fn slot(&self) -> io::Result<OwnedSemaphorePermit> {
        self.handshakes
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)
    }

    /// Runs the server side of a handshake with `remote` over `tcp`. A
    /// failed or timed-out one is logged, and the connection dropped.
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
        remote: &str,
        _slot: OwnedSemaphorePermit,
    ) -> Option<TlsStream<TcpStream>> {
        match tokio::time::timeout(self.limit, self.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => Some(TlsStream::Server(stream)),
            Ok(Err(error)) => {
                let error = handshake_failed(error);
                tracing::warn!(%remote, %error, "TLS handshake failed: connection closed");
                None
            }
            Err(_) => {
                tracing::warn!(%remote, limit = ?self.limit, "no TLS handshake in time: connection closed");
                None
            }
        }
    }
}

/// The TLS failure inside an I/O error from rustls, if there is one.
pub(crate) fn rustls_cause(error: &io::Error) -> Option<Error> {
    let tls = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    Some(Error::Tls(Arc::new(tls.clone())))
}

/// Any error of a handshake is a TLS failure: a peer that closes or sends
/// garbage in the middle of one is not speaking TLS.
fn handshake_failed(error: io::Error) -> Error {
    rustls_cause(&error).unwrap_or_else(|| Error::Tls(Arc::new(error)))
}

fn cause(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Tls(Arc::new(error))
}

fn invalid(what: &str, error: impl std::fmt::Display) -> Error {
    Error::Tls(Arc::new(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what}: {error}"),
    )))
}

/// The ring provider, passed explicitly: the process-wide default would
/// panic when another crate of the program also enables aws-lc-rs.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM file; at least one.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(what, e))?;
    if certificates.is_empty() {
        return Err(invalid(what, "no certificate in the PEM"));
    }
    Ok(certificates)
}

fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| invalid("private key", e))
}

fn roots(pem: &[u8], what: &str) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(pem, what)? {
        roots.add(certificate).map_err(|e| invalid(what, e))?;
    }
    Ok(roots)
}

/// The host of `host:port`, without the brackets of an IPv6 address.
fn host(target: &str) -> &str {
    let host = target.rsplit_once(':').map_or(target, |(host, _)| host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_is_the_host_of_the_address() {
        assert_eq!(host("127.0.0.1:4000"), "127.0.0.1");
        assert_eq!(host("[::1]:4000"), "::1");
        assert_eq!(host("node-1.example:4000"), "node-1.example");
    }

    #[test]
    fn pem_without_a_certificate_is_a_tls_error() {
        let error = TlsClient::from_pem(b"not pem").err();
        assert!(
            matches!(&error, Some(Error::Tls(e)) if e.to_string().contains("no certificate")),
            "{error:?}"
        );
    }
}
