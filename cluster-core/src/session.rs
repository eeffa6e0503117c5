//! The session table: calls in flight on one connection, keyed by session.
//!
//! Sessions are allocated per connection from a counter that wraps to 0 at
//! 2^31, as silly's does; uniqueness is only needed among the calls in flight
//! on one connection, so a number still in flight is skipped. A response is
//! delivered to exactly the call that registered its session; anything else
//! (late after a timeout, or bogus) is dropped.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::error::Error;

/// Sessions are 31-bit: the top bit of the session word is the ACK flag.
const SESSION_MASK: u32 = 0x7fff_ffff;

type Reply = oneshot::Sender<Result<Bytes, Error>>;

/// The pending calls of one connection.
#[derive(Debug)]
pub(crate) struct Sessions {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    next: u32,
    pending: HashMap<u32, Reply>,
    /// Set once the connection is gone: no call may register after that, so
    /// none can wait for a response that cannot come.
    closed: bool,
}

/// A registered call: its session and where its response will arrive.
pub(crate) struct Pending {
    pub(crate) session: u32,
    pub(crate) reply: oneshot::Receiver<Result<Bytes, Error>>,
}

impl Sessions {
    pub(crate) fn new(first: u32) -> Self {
        Self {
            inner: Mutex::new(Inner {
                next: first & SESSION_MASK,
                pending: HashMap::new(),
                closed: false,
            }),
        }
    }

    /// Registers a call; fails with [`Error::Closed`] once the connection is gone.
    pub(crate) fn register(&self) -> Result<Pending, Error> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(Error::Closed);
        }
        let session = inner.allocate();
        let (tx, rx) = oneshot::channel();
        inner.pending.insert(session, tx);
        Ok(Pending { session, reply: rx })
    }

    /// A session for a one-way send: consumed from the same counter, as silly
    /// does, but nothing waits for it.
    pub(crate) fn next_unregistered(&self) -> u32 {
        self.lock().allocate()
    }

    /// Hands a response to its call. Returns false if no call waits for it.
    pub(crate) fn complete(&self, session: u32, body: Bytes) -> bool {
        let reply = self.lock().pending.remove(&session);
        match reply {
            // The caller may have given up in the meantime; that is not an error.
            Some(reply) => reply.send(Ok(body)).is_ok(),
            None => false,
        }
    }

    /// Forgets a call that timed out or was dropped.
    pub(crate) fn cancel(&self, session: u32) {
        self.lock().pending.remove(&session);
    }

    /// Fails every call in flight with `error` and refuses new ones.
    pub(crate) fn close(&self, error: &Error) {
        let pending = {
            let mut inner = self.lock();
            inner.closed = true;
            std::mem::take(&mut inner.pending)
        };
        for reply in pending.into_values() {
            let _ = reply.send(Err(error.clone()));
        }
    }

    /// The number of calls in flight.
    pub(crate) fn len(&self) -> usize {
        self.lock().pending.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The table stays consistent even if a holder panicked: every
        // critical section is a single map operation.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn allocate(&mut self) -> u32 {
        loop {
            let session = self.next;
            self.next = (self.next + 1) & SESSION_MASK;
            if !self.pending.contains_key(&session) {
                return session;
            }
        }
    }
}

/// Removes a call's entry if the call ends without a response (timeout,
/// cancellation, error), so the table never keeps dead entries.
pub(crate) struct CancelOnDrop<'a> {
    sessions: &'a Sessions,
    session: Option<u32>,
}

impl<'a> CancelOnDrop<'a> {
    pub(crate) fn new(sessions: &'a Sessions, session: u32) -> Self {
        Self {
            sessions,
            session: Some(session),
        }
    }

    /// The response arrived: its entry is already gone.
    pub(crate) fn disarm(&mut self) {
        self.session = None;
    }
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session {
            self.sessions.cancel(session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_wrap_to_zero_at_two_to_the_31() {
        let table = Sessions::new(SESSION_MASK - 1);
        let a = table.register().expect("open");
        let b = table.register().expect("open");
        let c = table.register().expect("open");
        assert_eq!(
            [a.session, b.session, c.session],
            [SESSION_MASK - 1, SESSION_MASK, 0]
        );
    }

    #[test]
    fn wrap_skips_sessions_still_in_flight() {
        let table = Sessions::new(0);
        let first = table.register().expect("open");
        // Walk the counter all the way round without touching the pending map.
        table.lock().next = SESSION_MASK;
        let last = table.register().expect("open");
        let wrapped = table.register().expect("open");
        assert_eq!(first.session, 0);
        assert_eq!(last.session, SESSION_MASK);
        assert_eq!(wrapped.session, 1, "session 0 is still in flight");
    }

    #[test]
    fn response_for_unknown_session_is_dropped() {
        let table = Sessions::new(0);
        let mut call = table.register().expect("open");
        assert!(!table.complete(call.session + 1, Bytes::from_static(b"x")));
        assert!(
            call.reply.try_recv().is_err(),
            "nothing delivered to the wrong call"
        );
        assert!(table.complete(call.session, Bytes::from_static(b"ok")));
        assert_eq!(call.reply.try_recv().expect("delivered").expect("ok"), "ok");
    }

    #[test]
    fn close_fails_pending_and_refuses_new_calls() {
        let table = Sessions::new(0);
        let mut call = table.register().expect("open");
        table.close(&Error::Closed);
        assert!(matches!(call.reply.try_recv(), Ok(Err(Error::Closed))));
        assert!(matches!(table.register(), Err(Error::Closed)));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn dropped_guard_cancels_the_call() {
        let table = Sessions::new(0);
        let call = table.register().expect("open");
        drop(CancelOnDrop::new(&table, call.session));
        assert_eq!(table.len(), 0);
    }
}
