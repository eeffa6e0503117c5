//! An auth check as a layer: silly frames carry no headers, so a client
//! proves who it is with a first call (`login`), and a layer refuses every
//! other command from a connection that has not logged in yet.
//!
//! The trust belongs to the connection's peer: a new connection logs in
//! again. Refusals reach callers that agreed on the extension as
//! `Error::Remote` (`connect_extended`); a silly caller gets no response.
//!
//! Run with `cargo run --example auth`.

#[path = "support/logging.rs"]
mod logging;

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use cluster::layer::{HandlerExt, Layer};
use cluster::{Error, Handler, Node, Peer, Request, RpcName, Status};

#[cluster::service]
pub trait Auth {
    /// Logs the calling connection in; whether the token was right.
    async fn login(&self, token: String) -> bool;
}

#[cluster::service]
pub trait Calc {
    async fn add(&self, a: i32, b: i32) -> i32;
}

/// The peers that logged in; shared by the login handler and the layer.
#[derive(Clone, Default)]
struct Trusted(Arc<Mutex<HashSet<Peer>>>);

impl Trusted {
    fn contains(&self, peer: &Peer) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(peer)
    }

    fn insert(&self, peer: Peer) {
        let mut peers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Closed peers never come back: forget them as others log in.
        peers.retain(|p| !p.is_closed());
        peers.insert(peer);
    }
}

struct Login {
    token: String,
    trusted: Trusted,
}

impl Auth for Login {
    async fn login(&self, token: String) -> bool {
        let good = token == self.token;
        // The peer whose request this is: the connection to trust.
        match cluster::context::peer() {
            Some(peer) if good => self.trusted.insert(peer),
            _ => tracing::info!("login refused"),
        }
        good
    }
}

struct Calculator;

impl Calc for Calculator {
    async fn add(&self, a: i32, b: i32) -> i32 {
        a + b
    }
}

/// The auth layer: lets `login` through, and anything else only from a
/// peer that logged in.
struct RequireLogin(Trusted);

impl<H: Handler> Layer<H> for RequireLogin {
    type Handler = LoggedIn<H>;

    fn layer(self, inner: H) -> LoggedIn<H> {
        LoggedIn {
            inner,
            trusted: self.0,
        }
    }
}

struct LoggedIn<H> {
    inner: H,
    trusted: Trusted,
}

impl<H: Handler> Handler for LoggedIn<H> {
    fn handle(&self, req: Request) -> impl Future<Output = Option<bytes::Bytes>> + Send + 'static {
        let allowed = req.cmd == AuthClient::LOGIN || self.trusted.contains(&req.peer);
        let inner = match allowed {
            true => Some(self.inner.handle(req)),
            false => {
                tracing::info!(cmd = req.cmd, peer = %req.peer.addr(), "not logged in: refused");
                req.refuse(Status::Application, "log in first");
                None
            }
        };
        async move { inner?.await }
    }

    fn is_oneway(&self, cmd: u32) -> bool {
        self.inner.is_oneway(cmd)
    }

    fn method_name(&self, cmd: u32) -> Option<RpcName> {
        self.inner.method_name(cmd)
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init();
    let trusted = Trusted::default();
    let login = Login {
        token: "s3cret".into(),
        trusted: trusted.clone(),
    };
    let handler = cluster::router![AuthServer::new(login), CalcServer::new(Calculator)]
        .layer(RequireLogin(trusted));
    let server = Node::builder().handler(handler).build();
    let addr = server.listen("127.0.0.1:0")?.local_addr().to_string();

    let client = Node::builder().build();
    let peer = client.connect_extended(&addr).await;
    let (auth, calc) = (AuthClient::new(peer.clone()), CalcClient::new(peer));
    match calc.add(1, 2).await {
        Err(Error::Remote { status, message }) => {
            println!("before login: refused ({status:?}: {message})");
        }
        other => panic!("a call before login must be refused: {other:?}"),
    }
    assert!(!auth.login("guess".into()).await?);
    println!("login with a wrong token: refused");
    assert!(auth.login("s3cret".into()).await?);
    println!("logged in; 1 + 2 = {}", calc.add(1, 2).await?);

    // Another connection is another peer: not logged in.
    let other = CalcClient::new(Node::builder().build().connect_extended(&addr).await);
    assert!(other.add(1, 2).await.is_err());
    println!("another connection: refused until it logs in");
    Ok(())
}
