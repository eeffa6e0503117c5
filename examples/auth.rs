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
use std::sync::{Arc, Mutex, PoisonError};

use cluster::layer::{Admit, HandlerExt, Refusal};
use cluster::{Error, Node, Peer, Request, Status};

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

/// The auth check: lets `login` through, and anything else only from a
/// peer that logged in. An `Admit` is a layer.
struct RequireLogin(Trusted);

impl Admit for RequireLogin {
    type Permit = ();

    fn admit(&self, req: &Request) -> Result<(), Refusal> {
        if req.cmd == AuthClient::LOGIN || self.0.contains(&req.peer) {
            return Ok(());
        }
        tracing::info!(cmd = req.cmd, peer = %req.peer.addr(), "not logged in: refused");
        Err(Refusal {
            status: Status::Application,
            reason: "log in first",
        })
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
