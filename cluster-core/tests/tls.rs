//! TLS (`tls:host:port`, feature `tls`): calls over it in both wire
//! versions, verification of the server, mutual TLS with the client's
//! identity seen by handlers, and every way a handshake goes wrong ending
//! in a clear error or a log line within bounded time, never a hang.
//! Certificates are made per test by rcgen, for 127.0.0.1.

#![cfg(feature = "tls")]

mod support;

use std::time::Duration;

use bytes::Bytes;
use cluster_core::rustls::{self, CertificateError};
use cluster_core::{Error, Listener, Node, Request, TlsClient, TlsServer, WireFormat};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use support::{PATIENCE, echo, events, logs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate authority of one test.
struct Ca(CertifiedIssuer<'static, KeyPair>);

/// A certificate and its key, as PEM.
struct Leaf {
    cert: String,
    key: String,
    der: Vec<u8>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("key");
        Self(CertifiedIssuer::self_signed(params, key).expect("CA"))
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    /// A certificate for `name` (an IP address or a DNS name).
    fn leaf(&self, name: &str, usage: ExtendedKeyUsagePurpose) -> Leaf {
        self.leaf_with(name, usage, |_| {})
    }

    fn leaf_with(
        &self,
        name: &str,
        usage: ExtendedKeyUsagePurpose,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let mut params = CertificateParams::new(vec![name.to_owned()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        adjust(&mut params);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.0).expect("sign");
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    fn server(&self) -> TlsServer {
        let leaf = self.leaf("127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth);
        TlsServer::from_pem(leaf.cert.as_bytes(), leaf.key.as_bytes()).expect("server")
    }

    fn client(&self) -> TlsClient {
        TlsClient::from_pem(self.pem().as_bytes()).expect("client")
    }
}

/// A node that echoes, listening with `server` on 127.0.0.1.
fn tls_echo(server: TlsServer, wire: WireFormat) -> (Node, Listener) {
    let node = Node::builder()
        .handler(echo)
        .wire(wire)
        .tls_server(server)
        .build();
    let listener = node.listen("tls:127.0.0.1:0").expect("listen");
    (node, listener)
}

/// The rustls failure inside an [`Error::Tls`]; panics on any other error.
fn rustls_cause(error: &Error) -> &rustls::Error {
    match error {
        Error::Tls(source) => source
            .downcast_ref::<rustls::Error>()
            .unwrap_or_else(|| panic!("not a rustls error: {source}")),
        other => panic!("not a TLS error: {other:?}"),
    }
}

/// A call through a client with `client` to `addr`, which must fail.
async fn failing_call(client: TlsClient, addr: &str) -> Error {
    let node = Node::builder().tls_client(client).build();
    let peer = node.connect(addr).await;
    let result = tokio::time::timeout(PATIENCE, peer.call(1, "x"))
        .await
        .expect("the call ends");
    result.expect_err("the call fails")
}

#[tokio::test]
async fn calls_go_over_tls_in_both_wire_versions() {
    let ca = Ca::new("test CA");
    for wire in [WireFormat::V1, WireFormat::V2] {
        let (_server, listener) = tls_echo(ca.server(), wire);
        assert_eq!(
            listener.addr(),
            format!("tls:{}", listener.local_addr()),
            "{wire:?}"
        );
        let client = Node::builder().wire(wire).tls_client(ca.client()).build();
        let peer = client.connect(listener.addr()).await;
        for body in [Bytes::from_static(b"hello"), Bytes::from(vec![7; 200_000])] {
            let body = if wire == WireFormat::V1 && body.len() > 60_000 {
                body.slice(..60_000)
            } else {
                body
            };
            assert_eq!(
                peer.call(1, body.clone()).await.expect("call"),
                body,
                "{wire:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_fails_with_a_tls_error() {
    let (_server, listener) = tls_echo(Ca::new("server CA").server(), WireFormat::V1);
    let error = failing_call(Ca::new("other CA").client(), listener.addr()).await;
    assert!(
        matches!(
            rustls_cause(&error),
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        ),
        "{error}"
    );
}

/// The certificate error of a call, trusting `ca`, to a server presenting
/// `leaf`.
async fn certificate_error(ca: &Ca, leaf: &Leaf) -> CertificateError {
    let server = TlsServer::from_pem(leaf.cert.as_bytes(), leaf.key.as_bytes()).expect("server");
    let (_server, listener) = tls_echo(server, WireFormat::V1);
    let error = failing_call(ca.client(), listener.addr()).await;
    match rustls_cause(&error) {
        rustls::Error::InvalidCertificate(cause) => cause.clone(),
        other => panic!("not a certificate error: {other}"),
    }
}

#[tokio::test]
async fn a_server_certificate_for_another_name_fails_with_a_tls_error() {
    let ca = Ca::new("test CA");
    let leaf = ca.leaf("node.example", ExtendedKeyUsagePurpose::ServerAuth);
    let cause = certificate_error(&ca, &leaf).await;
    assert!(
        matches!(
            cause,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ),
        "{cause}"
    );
}

#[tokio::test]
async fn an_expired_server_certificate_fails_with_a_tls_error() {
    let ca = Ca::new("test CA");
    let leaf = ca.leaf_with("127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth, |p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    let cause = certificate_error(&ca, &leaf).await;
    assert!(
        matches!(
            cause,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ),
        "{cause}"
    );
}

/// A server that requires client certificates of `ca` and answers every
/// request with the DER of the certificate its peer presented.
fn identity_server(ca: &Ca) -> (Node, Listener) {
    let leaf = ca.leaf("127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth);
    let server = TlsServer::with_client_ca_pem(
        leaf.cert.as_bytes(),
        leaf.key.as_bytes(),
        ca.pem().as_bytes(),
    )
    .expect("server");
    let node = Node::builder()
        .handler(|req: Request| async move {
            let chain = req.peer.tls_identity()?;
            Some(Bytes::copy_from_slice(chain.first()?))
        })
        .tls_server(server)
        .build();
    let listener = node.listen("tls:127.0.0.1:0").expect("listen");
    (node, listener)
}

#[tokio::test]
async fn mutual_tls_shows_the_client_certificate_to_handlers() {
    let ca = Ca::new("test CA");
    let (_server, listener) = identity_server(&ca);
    let leaf = ca.leaf("client-7", ExtendedKeyUsagePurpose::ClientAuth);
    let identity = TlsClient::with_identity_pem(
        ca.pem().as_bytes(),
        leaf.cert.as_bytes(),
        leaf.key.as_bytes(),
    )
    .expect("client");
    let client = Node::builder().tls_client(identity).build();
    let peer = client.connect(listener.addr()).await;
    let seen = peer.call(1, "who am I").await.expect("call");
    assert_eq!(seen, leaf.der);
    assert!(peer.tls_identity().is_none(), "outbound peers carry none");
}

/// Connects a client with `client` to a server that requires certificates
/// of another CA or none: the server refuses it, logging why, and the
/// client hears it as a TLS failure of its connection.
async fn refused_client(client: TlsClient, ca: &Ca) {
    let logs = logs::capture();
    let (_server, listener) = identity_server(ca);
    let (closes, mut closed) = events::<Error>();
    let node = Node::builder()
        .tls_client(client)
        .on_close(move |_, error| {
            let _ = closes.send(error.clone());
        })
        .build();
    let peer = node.connect(listener.addr()).await;
    let result = tokio::time::timeout(PATIENCE, peer.call(1, "x"))
        .await
        .expect("the call ends");
    assert!(
        matches!(result, Err(Error::Closed | Error::Tls(_))),
        "{result:?}"
    );
    // TLS 1.3 finishes the client's handshake before the server has
    // looked at its certificate: the refusal comes as an alert after it.
    let reason = closed.next().await;
    assert!(
        matches!(rustls_cause(&reason), rustls::Error::AlertReceived(_)),
        "{reason}"
    );
    logs.line_with(&["WARN", "TLS handshake failed", "127.0.0.1"])
        .await;
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_where_one_is_required() {
    let ca = Ca::new("test CA");
    refused_client(ca.client(), &ca).await;
}

#[tokio::test]
async fn a_client_certificate_of_another_ca_is_refused() {
    let ca = Ca::new("test CA");
    let other = Ca::new("other CA");
    let leaf = other.leaf("client-7", ExtendedKeyUsagePurpose::ClientAuth);
    let client = TlsClient::with_identity_pem(
        ca.pem().as_bytes(),
        leaf.cert.as_bytes(),
        leaf.key.as_bytes(),
    )
    .expect("client");
    refused_client(client, &ca).await;
}

/// Reads `stream` until the server closes it; panics if it does not
/// within [`PATIENCE`] or sends anything that is not TLS.
async fn closed_by_server(stream: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut buf))
        .await
        .expect("the server closes the connection");
    // A reset is a close too; anything the server sent is a TLS alert.
    if read.is_ok() {
        assert!(buf.is_empty() || buf[0] == 0x15, "{buf:?}");
    }
}

#[tokio::test]
async fn a_plaintext_client_on_a_tls_port_is_closed_with_a_log_line() {
    let logs = logs::capture();
    let (_server, listener) = tls_echo(Ca::new("test CA").server(), WireFormat::V1);
    let mut stream = tokio::net::TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    let me = stream.local_addr().expect("local addr").to_string();
    // A wire v1 request: 2-byte length, then the payload.
    let mut frame = vec![0, 20];
    frame.extend_from_slice(&[1; 20]);
    stream.write_all(&frame).await.expect("write");
    closed_by_server(&mut stream).await;
    logs.line_with(&["WARN", "TLS handshake failed", &me]).await;
}

#[tokio::test]
async fn a_silent_client_on_a_tls_port_is_closed_after_the_connect_timeout() {
    let logs = logs::capture();
    let node = Node::builder()
        .tls_server(Ca::new("test CA").server())
        .connect_timeout(Duration::from_millis(200))
        .build();
    let listener = node.listen("tls:127.0.0.1:0").expect("listen");
    let mut stream = tokio::net::TcpStream::connect(listener.local_addr())
        .await
        .expect("connect");
    let me = stream.local_addr().expect("local addr").to_string();
    closed_by_server(&mut stream).await;
    logs.line_with(&["WARN", "no TLS handshake in time", &me])
        .await;
}

#[tokio::test]
async fn a_tls_client_on_a_plaintext_port_fails_within_the_connect_timeout() {
    for wire in [WireFormat::V1, WireFormat::V2] {
        let server = Node::builder().handler(echo).wire(wire).build();
        let listener = server.listen("127.0.0.1:0").expect("listen");
        let client = Node::builder()
            .wire(wire)
            .tls_client(Ca::new("test CA").client())
            .connect_timeout(Duration::from_millis(300))
            .build();
        let peer = client.connect(&format!("tls:{}", listener.addr())).await;
        let error = tokio::time::timeout(PATIENCE, peer.call(1, "x"))
            .await
            .expect("the call ends")
            .expect_err("the call fails");
        assert!(matches!(error, Error::Tls(_)), "{wire:?}: {error:?}");
    }
}

#[tokio::test]
async fn tls_addresses_without_tls_settings_are_tls_errors() {
    let node = Node::builder().build();
    let listened = node.listen("tls:127.0.0.1:0");
    assert!(
        matches!(&listened, Err(Error::Tls(e)) if e.to_string().contains("tls_server")),
        "{listened:?}"
    );
    let (_server, listener) = tls_echo(Ca::new("test CA").server(), WireFormat::V1);
    let called = node.connect(listener.addr()).await.call(1, "x").await;
    assert!(
        matches!(&called, Err(Error::Tls(e)) if e.to_string().contains("tls_client")),
        "{called:?}"
    );
}
