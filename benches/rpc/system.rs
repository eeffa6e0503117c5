//! What every benchmarked system provides, and the server behaviour they all
//! implement the same way.
//!
//! A system is a server (echo, count one-way messages, hold calls until
//! released) and a client (call, send). Each lives in its own module and is
//! registered with one line in [`crate::with_system`].

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::Notify;

/// The requests of the benchmark protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// Answers with the request body.
    Echo,
    /// One-way: counted, never answered.
    Note,
    /// Answers with the number of notes and holds received, as a `u64` LE.
    Count,
    /// Answers with the request body once [`Cmd::Release`] came.
    Hold,
    /// Releases every held call and the ones to come; answers empty.
    Release,
}

impl Cmd {
    pub const ALL: [Cmd; 5] = [Cmd::Echo, Cmd::Note, Cmd::Count, Cmd::Hold, Cmd::Release];

    /// The command id on the silly wire.
    pub fn id(self) -> u32 {
        self as u32 + 1
    }

    pub fn from_id(id: u32) -> Option<Cmd> {
        Cmd::ALL.into_iter().find(|cmd| cmd.id() == id)
    }
}

/// What a send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Queued,
    /// The system refused it for now (write queue full): try again later.
    Full,
}

pub type CallResult<T> = Result<T, String>;

/// One benchmarked system.
pub trait System: 'static {
    /// A handle on one connection.
    type Client: Clone + Send + Sync + 'static;

    /// Binds 127.0.0.1 on a free port (or a Unix socket) and serves in the
    /// background, with the behaviour of [`serve`]. Returns the address to
    /// connect to.
    fn serve() -> impl Future<Output = io::Result<String>> + Send;

    /// Opens one connection to what [`System::serve`] returned.
    fn connect(addr: &str) -> impl Future<Output = io::Result<Self::Client>> + Send;

    /// A request and its response. `cmd` is never [`Cmd::Note`].
    fn call(
        client: &Self::Client,
        cmd: Cmd,
        body: Bytes,
    ) -> impl Future<Output = CallResult<Bytes>> + Send;

    /// A [`Cmd::Note`], waiting for no response if the system can.
    fn send(client: &Self::Client, body: Bytes) -> impl Future<Output = CallResult<Sent>> + Send;
}

/// The server behaviour every system wires its handler to.
pub mod serve {
    use super::*;

    /// Notes and holds received by this server process.
    static ARRIVED: AtomicU64 = AtomicU64::new(0);
    static RELEASED: AtomicBool = AtomicBool::new(false);
    static GATE: Notify = Notify::const_new();

    pub fn note() {
        ARRIVED.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count() -> Bytes {
        Bytes::copy_from_slice(&ARRIVED.load(Ordering::Relaxed).to_le_bytes())
    }

    pub async fn hold(body: Bytes) -> Bytes {
        let notified = GATE.notified();
        ARRIVED.fetch_add(1, Ordering::Relaxed);
        if !RELEASED.load(Ordering::Acquire) {
            notified.await;
        }
        body
    }

    pub fn release() -> Bytes {
        RELEASED.store(true, Ordering::Release);
        GATE.notify_waiters();
        Bytes::new()
    }
}

/// Decodes a [`Cmd::Count`] answer.
pub fn decode_count(body: &[u8]) -> CallResult<u64> {
    body.try_into()
        .map(u64::from_le_bytes)
        .map_err(|_| format!("count answer of {} bytes", body.len()))
}
