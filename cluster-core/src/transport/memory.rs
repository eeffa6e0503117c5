//! In-memory transport: `memory:name` listeners of this process, and pipes
//! to them, for tests that want whole nodes without sockets.
//!
//! A pipe behaves as a TCP stream does for what a connection relies on:
//! bounded buffers that push back on a writer whose peer does not read, end
//! of stream after the peer shuts its side down, and an error on writing to
//! a peer that is gone. Its close flag stands in for socket readiness, so a
//! paused reader still notices a peer that left.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::sync::mpsc;

use crate::sync::lock;

/// Bytes buffered per direction: about what a loopback TCP socket holds.
const PIPE_BUFFER: usize = 256 * 1024;

type Registry = Mutex<HashMap<String, mpsc::UnboundedSender<Pipe>>>;

fn registry() -> &'static Registry {
    static LISTENERS: OnceLock<Registry> = OnceLock::new();
    LISTENERS.get_or_init(Registry::default)
}

/// Set once one side of a pipe has shut down or dropped its stream.
#[derive(Clone, Default)]
pub(crate) struct Closed(Arc<AtomicBool>);

impl Closed {
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// One end of an in-memory connection.
pub(crate) struct Pipe {
    inner: DuplexStream,
    mine: Closed,
    theirs: Closed,
}

impl Pipe {
    fn pair() -> (Pipe, Pipe) {
        let (a, b) = tokio::io::duplex(PIPE_BUFFER);
        let (a_closed, b_closed) = (Closed::default(), Closed::default());
        (
            Pipe {
                inner: a,
                mine: a_closed.clone(),
                theirs: b_closed.clone(),
            },
            Pipe {
                inner: b,
                mine: b_closed,
                theirs: a_closed,
            },
        )
    }

    /// The flag the other end sets when it leaves.
    pub(crate) fn peer_closed(&self) -> Closed {
        self.theirs.clone()
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.mine.set();
    }
}

impl AsyncRead for Pipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.mine.set();
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A bound `memory:` name and the connections that arrive on it.
pub(crate) struct Incoming {
    name: String,
    /// What the registry holds for this listener, to tell it from a later
    /// one bound to the same name.
    entry: mpsc::UnboundedSender<Pipe>,
    pipes: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pipe>>,
}

/// Binds `name`; fails if a listener of this process holds it.
pub(crate) fn bind(name: &str) -> io::Result<Incoming> {
    let mut listeners = lock(registry());
    if listeners.contains_key(name) {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "memory name already bound",
        ));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    listeners.insert(name.to_owned(), tx.clone());
    Ok(Incoming {
        name: name.to_owned(),
        entry: tx,
        pipes: tokio::sync::Mutex::new(rx),
    })
}

impl Incoming {
    /// The next connection; `None` once closed.
    pub(crate) async fn accept(&self) -> Option<Pipe> {
        self.pipes.lock().await.recv().await
    }

    /// Unbinds the name: from now on connecting to it is refused.
    pub(crate) fn close(&self) {
        let mut listeners = lock(registry());
        if listeners
            .get(&self.name)
            .is_some_and(|l| l.same_channel(&self.entry))
        {
            listeners.remove(&self.name);
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.close();
    }
}

/// Connects to the listener bound to `name`.
pub(crate) fn connect(name: &str) -> io::Result<Pipe> {
    let refused = || io::Error::new(io::ErrorKind::ConnectionRefused, "no memory listener");
    let listeners = lock(registry());
    let listener = listeners.get(name).ok_or_else(refused)?;
    let (ours, theirs) = Pipe::pair();
    listener.send(theirs).map_err(|_| refused())?;
    Ok(ours)
}
