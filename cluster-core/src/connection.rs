//! One TCP connection: its session table, its write queue, the reader and
//! writer tasks that move its frames, and the task that times its calls out.
//!
//! A call goes: peer → [`Connection::write_request`] → write queue → writer
//! task → socket; its response comes: socket → reader task → session table →
//! caller. A request goes: socket → reader task → dispatcher → handler →
//! [`Connection::write_response`] → writer task.
//!
//! A connection ends once ([`Connection::shutdown`]): its pending calls fail
//! with [`Error::Closed`], its tasks stop, and its peer learns of it.

mod dispatch;
mod reader;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use crate::error::Error;
use crate::node::NodeShared;
use crate::peer::{Peer, PeerShared};
use crate::session::{Owner, Sessions};

pub(crate) use writer::WriteQueue;

pub(crate) struct Connection {
    pub(crate) id: u64,
    pub(crate) sessions: Sessions,
    pub(crate) writes: WriteQueue,
    node: Arc<NodeShared>,
    owner: Weak<PeerShared>,
    open: AtomicBool,
    tasks: Mutex<Tasks>,
}

#[derive(Default)]
struct Tasks {
    down: bool,
    reader: Option<AbortHandle>,
    writer: Option<AbortHandle>,
    timeouts: Option<AbortHandle>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Owner for Arc<Connection> {
    fn sessions(&self) -> &Sessions {
        &self.sessions
    }
}

impl Connection {
    /// A connection for `peer`; nothing runs until [`Connection::start`].
    pub(crate) fn new(node: &Arc<NodeShared>, peer: &Peer) -> Arc<Self> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Self {
            id,
            sessions: Sessions::new(node.first_session()),
            writes: WriteQueue::new(node.config.limits.write_queue),
            node: node.clone(),
            owner: Arc::downgrade(&peer.inner),
            open: AtomicBool::new(true),
            tasks: Mutex::default(),
        });
        node.connections.insert(&conn);
        conn
    }

    /// Spawns the reader and writer over `stream`. Called once the
    /// connection is reachable from its peer, so that a connection that dies
    /// at once is seen dying.
    pub(crate) fn start(self: &Arc<Self>, stream: TcpStream, peer: Peer) {
        if let Some(timeout) = self.node.config.limits.dead_peer_timeout {
            if let Err(error) = detect_dead_peer(&stream, timeout) {
                tracing::debug!(conn = self.id, %error, "dead-peer detection not set");
            }
        }
        let (rd, wr) = stream.into_split();
        let reader = tokio::spawn(reader::run(self.clone(), peer, rd)).abort_handle();
        let writer = tokio::spawn(writer::run(self.clone(), wr)).abort_handle();
        let conn = self.clone();
        let timeouts =
            tokio::spawn(async move { conn.sessions.run_timeouts().await }).abort_handle();
        let mut tasks = self.lock_tasks();
        if tasks.down {
            reader.abort();
            writer.abort();
            timeouts.abort();
        } else {
            tasks.reader = Some(reader);
            tasks.writer = Some(writer);
            tasks.timeouts = Some(timeouts);
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Queues a request frame for writing.
    pub(crate) fn write_request(
        &self,
        session: u32,
        cmd: u32,
        trace_id: u64,
        body: &[u8],
    ) -> Result<(), Error> {
        let codec = &self.node.config.codec;
        self.writes
            .push(|buf| codec.encode_request(buf, session, cmd, trace_id, body))
    }

    /// Queues a response frame for writing.
    pub(crate) fn write_response(&self, session: u32, body: &[u8]) -> Result<(), Error> {
        let codec = &self.node.config.codec;
        self.writes
            .push(|buf| codec.encode_response(buf, session, body))
    }

    /// Ends the connection, once: fails its pending calls, stops its tasks
    /// and tells its peer. `local` is a [`Peer::close`]: the writer may flush
    /// what is queued (for at most the node's timeout) and no close callback
    /// fires. Otherwise `reason` says why the connection was lost.
    pub(crate) fn shutdown(&self, reason: Error, local: bool) {
        let (stopped, writer) = {
            let mut tasks = self.lock_tasks();
            if tasks.down {
                return;
            }
            tasks.down = true;
            self.open.store(false, Ordering::Release);
            (
                [tasks.reader.take(), tasks.timeouts.take()],
                tasks.writer.take(),
            )
        };
        self.node.connections.remove(self.id);
        self.sessions.close();
        self.writes.close();
        for task in stopped.into_iter().flatten() {
            task.abort();
        }
        if let Some(writer) = writer {
            // `close()` may come from outside any runtime; then there is
            // nothing to wait with, and the queue is dropped.
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) if local => {
                    let linger = self.node.config.timeout;
                    runtime.spawn(async move {
                        tokio::time::sleep(linger).await;
                        writer.abort();
                    });
                }
                _ => writer.abort(),
            }
        }
        if let Some(owner) = self.owner.upgrade() {
            Peer { inner: owner }.connection_lost(self, &reason, local);
        }
    }

    fn lock_tasks(&self) -> std::sync::MutexGuard<'_, Tasks> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Has the kernel close `stream` once its peer leaves probes or data
/// unacknowledged for `timeout` (see [`crate::Limits::dead_peer_timeout`]).
fn detect_dead_peer(stream: &TcpStream, timeout: Duration) -> std::io::Result<()> {
    let socket = socket2::SockRef::from(stream);
    // Keepalive counts in whole seconds; probing four times per timeout
    // bounds detection at about 1.25 times it.
    let probe = (timeout / 4).max(Duration::from_secs(1));
    let retries = u32::try_from(timeout.as_secs() / probe.as_secs()).unwrap_or(u32::MAX);
    socket.set_tcp_keepalive(
        &socket2::TcpKeepalive::new()
            .with_time(probe)
            .with_interval(probe)
            .with_retries(retries.max(1)),
    )?;
    // Also bounds unacknowledged data, and makes keepalive give up after
    // `timeout` rather than after a count of probes.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    socket.set_tcp_user_timeout(Some(timeout))?;
    Ok(())
}
