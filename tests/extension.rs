//! Typed services between two nodes that agreed on the extension: unknown
//! commands and bodies that do not decode answer with a status, and a
//! `#[remote_error]` method's `Err` reaches its caller as one.

use std::time::Duration;

use cluster::{Error, Node, Status};

#[cluster::service]
pub trait Accounts {
    /// The balance of an account, or why there is none.
    #[remote_error]
    async fn balance(&self, id: u32) -> Result<u64, String>;
    /// The same, the error travelling as a value.
    async fn lookup(&self, id: u32) -> Result<u64, String>;
}

struct Bank;

impl Accounts for Bank {
    async fn balance(&self, id: u32) -> Result<u64, String> {
        if id == 1 {
            Ok(100)
        } else {
            Err(format!("no account {id}"))
        }
    }

    async fn lookup(&self, id: u32) -> Result<u64, String> {
        self.balance(id).await
    }
}

/// Long enough that only a missing status waits for it.
const TIMEOUT: Duration = Duration::from_secs(10);

async fn client(extension: bool) -> (AccountsClient, Node) {
    let server = Node::builder().handler(AccountsServer::new(Bank)).build();
    let listener = server.listen("127.0.0.1:0").expect("bind");
    let peer = Node::builder()
        .extension_peers(extension)
        .timeout(TIMEOUT)
        .build()
        .connect(&listener.local_addr().to_string())
        .await;
    (AccountsClient::new(peer), server)
}

fn status_of(error: Error) -> (Status, String) {
    match error {
        Error::Remote { status, message } => (status, message),
        other => panic!("expected a status reply, got {other}"),
    }
}

#[tokio::test]
async fn unknown_commands_and_bad_bodies_answer_with_a_status() {
    let (client, _server) = client(true).await;
    let peer = client.peer().clone();
    let err = peer.call(0xdead, "?").await.unwrap_err();
    assert_eq!(
        status_of(err),
        (Status::UnknownCommand, format!("command {}", 0xdead))
    );
    let err = peer
        .call(AccountsClient::BALANCE, vec![0xff; 3])
        .await
        .unwrap_err();
    assert_eq!(status_of(err).0, Status::BadRequest);
}

#[tokio::test]
async fn results_stay_values_unless_the_method_maps_its_error() {
    let (client, _server) = client(true).await;
    assert_eq!(client.lookup(1).await.expect("call"), Ok(100));
    assert_eq!(
        client.lookup(2).await.expect("call"),
        Err("no account 2".to_owned())
    );
    assert_eq!(client.balance(1).await.expect("call"), Ok(100));
    let err = client.balance(2).await.unwrap_err();
    assert_eq!(
        status_of(err),
        (Status::Application, "no account 2".to_owned())
    );
}

#[tokio::test]
async fn without_the_extension_a_mapped_error_sends_nothing() {
    let (client, _server) = client(false).await;
    let short = client.with_timeout(Duration::from_millis(100));
    assert!(matches!(short.balance(2).await, Err(Error::Timeout)));
    assert_eq!(short.balance(1).await.expect("call"), Ok(100));
}
