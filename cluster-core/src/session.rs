//! The session table: calls in flight on one connection, keyed by session.
//!
//! Sessions are allocated per connection from a counter that wraps to 0 at
//! 2^31, as silly's does; uniqueness is only needed among the calls in flight
//! on one connection, so a number still in flight is skipped. A response is
//! delivered to exactly the call that registered its session; anything else
//! (late after a timeout, or bogus) is dropped.
//!
//! The table is a ring of slots indexed by the low bits of the session, and
//! a call's waker and response live in its slot: no hashing and no
//! allocation per call. Sessions are consecutive, so the calls in flight
//! sit in distinct slots; a session whose slot is still taken by an older
//! call is skipped like one still in flight, and the ring doubles when that
//! happens while more than half of it is in use.
//!
//! Timeouts are kept here too: each call's slot holds its deadline, and one
//! task per connection ([`Sessions::run_timeouts`]) sleeps until the
//! earliest one, instead of every call registering and removing a timer of
//! its own (a fifth of a call's instructions on the client, callgrind). A
//! call's deadline is later than the armed one unless it has a shorter
//! timeout than the calls before it, so the task is seldom woken early;
//! when it wakes it expires what is due and arms the next deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::{Error, Status};
use crate::sync::lock;

/// Sessions are 31-bit: the top bit of the session word is the ACK flag.
const SESSION_MASK: u32 = 0x7fff_ffff;
/// The ring's size once a connection makes calls: 16 slots of 40 bytes.
const MIN_SLOTS: usize = 16;
/// A ring larger than this is shrunk back when it empties, so that a burst
/// does not pin memory on a connection that goes quiet.
const KEEP_SLOTS: usize = 1024;

/// The pending calls of one connection.
#[derive(Debug)]
pub(crate) struct Sessions {
    inner: Mutex<Table>,
    /// Tells the timeout task that a deadline earlier than the armed one
    /// came in.
    rearm: Notify,
}

#[derive(Debug)]
struct Table {
    next: u32,
    /// Empty or a power of two long; session `s` lives at `s & (len - 1)`.
    slots: Vec<Slot>,
    /// Slots in use.
    used: usize,
    /// Set once the connection is gone, to the error its calls get: no call
    /// may register after that, so none can wait for a response that
    /// cannot come.
    closed: Option<Error>,
    /// When the timeout task wakes next; `None` while it waits for a call.
    armed: Option<Instant>,
}

#[derive(Debug, Default)]
enum Slot {
    #[default]
    Free,
    Waiting {
        session: u32,
        deadline: Instant,
        waker: Option<Waker>,
    },
    Answered {
        session: u32,
        body: Bytes,
    },
    /// The remote node answered with a status (the extension).
    Refused {
        session: u32,
        status: Status,
        message: Bytes,
    },
    /// The deadline passed before the response came.
    Expired {
        session: u32,
    },
}

impl Slot {
    fn session(&self) -> Option<u32> {
        match self {
            Slot::Free => None,
            Slot::Waiting { session, .. }
            | Slot::Answered { session, .. }
            | Slot::Refused { session, .. }
            | Slot::Expired { session } => Some(*session),
        }
    }
}

impl Sessions {
    pub(crate) fn new(first: u32) -> Self {
        Self {
            inner: Mutex::new(Table {
                next: first & SESSION_MASK,
                slots: Vec::new(),
                used: 0,
                closed: None,
                armed: None,
            }),
            rearm: Notify::new(),
        }
    }

    /// Registers a call that gives up at `deadline` and returns its
    /// session; fails with the table's closing error once it is closed.
    /// Its response is awaited with [`Reply`].
    pub(crate) fn register(&self, deadline: Instant) -> Result<u32, Error> {
        let (session, earlier) = {
            let mut table = self.lock();
            if let Some(reason) = &table.closed {
                return Err(reason.clone());
            }
            let session = table.allocate();
            *table.slot_mut(session) = Slot::Waiting {
                session,
                deadline,
                waker: None,
            };
            table.used += 1;
            let earlier = table.armed.is_none_or(|armed| deadline < armed);
            if earlier {
                table.armed = Some(deadline);
            }
            (session, earlier)
        };
        if earlier {
            self.rearm.notify_one();
        }
        Ok(session)
    }

    /// A session for a one-way send: consumed from the same counter, as silly
    /// does, but nothing waits for it.
    pub(crate) fn next_unregistered(&self) -> u32 {
        self.lock().allocate()
    }

    /// Hands a response to its call. Returns false if no call waits for it.
    pub(crate) fn complete(&self, session: u32, body: Bytes) -> bool {
        self.settle(session, Slot::Answered { session, body })
    }

    /// Hands a status reply to its call. Returns false if no call waits
    /// for it.
    pub(crate) fn refuse(&self, session: u32, status: Status, message: Bytes) -> bool {
        self.settle(
            session,
            Slot::Refused {
                session,
                status,
                message,
            },
        )
    }

    fn settle(&self, session: u32, outcome: Slot) -> bool {
        let waker = {
            let mut table = self.lock();
            let Some(slot) = table.find(session) else {
                return false;
            };
            let Slot::Waiting { waker, .. } = slot else {
                // A second response to one request: only the first counts.
                return false;
            };
            let waker = waker.take();
            *slot = outcome;
            waker
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    fn poll_reply(&self, session: u32, cx: &mut Context<'_>) -> Poll<Result<Bytes, Error>> {
        let mut table = self.lock();
        let Some(slot) = table.find(session) else {
            // Only closing the table takes a waiting call's slot away.
            let reason = table.closed.clone().unwrap_or(Error::Closed);
            return Poll::Ready(Err(reason));
        };
        if let Slot::Waiting { waker, .. } = slot {
            match waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        let outcome = match std::mem::take(slot) {
            Slot::Answered { body, .. } => Ok(body),
            Slot::Refused {
                status, message, ..
            } => Err(Error::Remote {
                status,
                message: String::from_utf8_lossy(&message).into_owned(),
            }),
            Slot::Expired { .. } => Err(Error::Timeout),
            Slot::Waiting { .. } | Slot::Free => Err(Error::Closed),
        };
        table.release();
        Poll::Ready(outcome)
    }

    /// Expires the calls whose deadline passed, for as long as the
    /// connection lives. Between deadlines it sleeps; while no call waits it
    /// waits for one.
    pub(crate) async fn run_timeouts(&self) {
        loop {
            let armed = self.lock().armed;
            match armed {
                None => self.rearm.notified().await,
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => self.expire(Instant::now()),
                        () = self.rearm.notified() => {}
                    }
                }
            }
        }
    }

    /// Expires the calls due at `now` and arms the earliest deadline left.
    fn expire(&self, now: Instant) {
        let wakers: Vec<Waker> = {
            let mut table = self.lock();
            let mut wakers = Vec::new();
            let mut next: Option<Instant> = None;
            for slot in &mut table.slots {
                if let Slot::Waiting {
                    session,
                    deadline,
                    waker,
                } = slot
                {
                    if *deadline <= now {
                        wakers.extend(waker.take());
                        *slot = Slot::Expired { session: *session };
                    } else {
                        next = Some(next.map_or(*deadline, |n| n.min(*deadline)));
                    }
                }
            }
            table.armed = next;
            wakers
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Forgets a call that ended without taking its response.
    fn cancel(&self, session: u32) {
        let mut table = self.lock();
        if let Some(slot) = table.find(session) {
            *slot = Slot::Free;
            table.release();
        }
    }

    /// Fails every call waiting with `reason` ([`Error::Closed`] when the
    /// connection went away) and refuses new ones. Responses already
    /// delivered are still taken by their calls. Only the first close counts.
    pub(crate) fn close(&self, reason: Error) {
        let wakers: Vec<Waker> = {
            let mut table = self.lock();
            if table.closed.is_some() {
                return;
            }
            table.closed = Some(reason);
            let mut wakers = Vec::new();
            let mut failed = 0;
            for slot in &mut table.slots {
                if let Slot::Waiting { waker, .. } = slot {
                    wakers.extend(waker.take());
                    *slot = Slot::Free;
                    failed += 1;
                }
            }
            table.used -= failed;
            wakers
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// The number of calls in flight.
    pub(crate) fn len(&self) -> usize {
        self.lock().used
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // The table stays consistent even if a holder panicked: no critical
        // section calls out of this module.
        lock(&self.inner)
    }
}

impl Table {
    fn index(&self, session: u32) -> usize {
        session as usize & (self.slots.len() - 1)
    }

    fn slot_mut(&mut self, session: u32) -> &mut Slot {
        let i = self.index(session);
        &mut self.slots[i]
    }

    /// The slot of `session`, if that session is in the table.
    fn find(&mut self, session: u32) -> Option<&mut Slot> {
        if self.slots.is_empty() {
            return None;
        }
        let slot = self.slot_mut(session);
        (slot.session() == Some(session)).then_some(slot)
    }

    /// The next session whose slot is free. A taken slot (a call from a
    /// full turn of the ring ago) is skipped, or the ring doubled when more
    /// than half of it is in use, so that skips stay short.
    fn allocate(&mut self) -> u32 {
        if self.slots.is_empty() {
            self.grow();
        }
        loop {
            let session = self.next;
            if matches!(self.slot_mut(session), Slot::Free) {
                self.next = (session + 1) & SESSION_MASK;
                return session;
            }
            if self.used * 2 > self.slots.len() {
                self.grow();
            } else {
                self.next = (session + 1) & SESSION_MASK;
            }
        }
    }

    fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, Vec::with_capacity(len));
        self.slots.resize_with(len, Slot::default);
        // Sessions in distinct slots of the old ring are in distinct slots of
        // one twice its size.
        for slot in old {
            if let Some(session) = slot.session() {
                *self.slot_mut(session) = slot;
            }
        }
    }

    /// A slot was freed.
    fn release(&mut self) {
        self.used -= 1;
        if self.used == 0 && self.slots.len() > KEEP_SLOTS {
            self.slots = Vec::new();
        }
    }
}

/// Whatever keeps a session table alive while a call waits on it: the
/// connection, for a call; the table itself, in tests.
pub(crate) trait Owner {
    fn sessions(&self) -> &Sessions;
    /// The call of `session` was given up before its response came.
    fn abandoned(&self, session: u32) {
        let _ = session;
    }
}

impl Owner for &Sessions {
    fn sessions(&self) -> &Sessions {
        self
    }
}

/// The response of a registered call. Dropping it before it is ready (the
/// call was cancelled) forgets the call, so the table never keeps dead
/// entries and a late response is dropped.
pub(crate) struct Reply<T: Owner> {
    owner: T,
    session: u32,
    done: bool,
}

impl<T: Owner> Reply<T> {
    pub(crate) fn new(owner: T, session: u32) -> Self {
        Self {
            owner,
            session,
            done: false,
        }
    }

    pub(crate) fn owner(&self) -> &T {
        &self.owner
    }
}

impl<T: Owner + Unpin> Future for Reply<T> {
    type Output = Result<Bytes, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let polled = self.owner.sessions().poll_reply(self.session, cx);
        self.done = polled.is_ready();
        polled
    }
}

impl<T: Owner> Drop for Reply<T> {
    fn drop(&mut self) {
        if !self.done {
            self.owner.sessions().cancel(self.session);
            self.owner.abandoned(self.session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> Instant {
        Instant::now() + std::time::Duration::from_secs(60)
    }

    fn poll(reply: &mut Reply<&Sessions>) -> Poll<Result<Bytes, Error>> {
        Pin::new(reply).poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn sessions_wrap_to_zero_at_two_to_the_31() {
        let table = Sessions::new(SESSION_MASK - 1);
        let sessions = [(); 3].map(|()| table.register(later()).expect("open"));
        assert_eq!(sessions, [SESSION_MASK - 1, SESSION_MASK, 0]);
    }

    #[test]
    fn wrap_skips_sessions_still_in_flight() {
        let table = Sessions::new(0);
        let first = table.register(later()).expect("open");
        // Walk the counter all the way round without touching the slots.
        table.lock().next = SESSION_MASK;
        let last = table.register(later()).expect("open");
        let wrapped = table.register(later()).expect("open");
        assert_eq!(first, 0);
        assert_eq!(last, SESSION_MASK);
        assert_eq!(wrapped, 1, "session 0 is still in flight");
    }

    #[test]
    fn response_for_unknown_session_is_dropped() {
        let table = Sessions::new(0);
        let session = table.register(later()).expect("open");
        let mut reply = Reply::new(&table, session);
        assert!(!table.complete(session + 1, Bytes::from_static(b"x")));
        assert!(
            poll(&mut reply).is_pending(),
            "nothing delivered to the wrong call"
        );
        assert!(table.complete(session, Bytes::from_static(b"ok")));
        assert!(!table.complete(session, Bytes::from_static(b"again")));
        assert!(matches!(poll(&mut reply), Poll::Ready(Ok(b)) if b == "ok"));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn close_fails_pending_and_refuses_new_calls() {
        let table = Sessions::new(0);
        let waiting = table.register(later()).expect("open");
        let answered = table.register(later()).expect("open");
        table.complete(answered, Bytes::from_static(b"in time"));
        table.close(Error::Closed);
        let mut waiting = Reply::new(&table, waiting);
        assert!(matches!(
            poll(&mut waiting),
            Poll::Ready(Err(Error::Closed))
        ));
        let mut answered = Reply::new(&table, answered);
        assert!(matches!(poll(&mut answered), Poll::Ready(Ok(b)) if b == "in time"));
        assert!(matches!(table.register(later()), Err(Error::Closed)));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn dropped_reply_cancels_the_call() {
        let table = Sessions::new(0);
        let session = table.register(later()).expect("open");
        let mut reply = Reply::new(&table, session);
        assert!(poll(&mut reply).is_pending());
        drop(reply);
        assert_eq!(table.len(), 0);
        assert!(!table.complete(session, Bytes::from_static(b"late")));
    }

    #[test]
    fn many_calls_in_flight_grow_the_ring_and_keep_their_sessions() {
        let table = Sessions::new(0);
        let straggler = table.register(later()).expect("open");
        let mut sessions: Vec<u32> = (0..5000)
            .map(|_| table.register(later()).expect("open"))
            .collect();
        sessions.push(straggler);
        sessions.sort_unstable();
        sessions.dedup();
        assert_eq!(sessions.len(), 5001, "sessions unique");
        for &s in sessions.iter().rev() {
            assert!(table.complete(s, Bytes::from(s.to_le_bytes().to_vec())));
        }
        for &s in &sessions {
            let mut reply = Reply::new(&table, s);
            assert!(matches!(poll(&mut reply), Poll::Ready(Ok(b)) if b[..] == s.to_le_bytes()));
        }
        assert_eq!(table.len(), 0);
        assert!(
            table.lock().slots.is_empty(),
            "an emptied large ring is released"
        );
    }

    #[test]
    fn calls_past_their_deadline_expire_and_the_next_deadline_is_armed() {
        let table = Sessions::new(0);
        let now = Instant::now();
        let second = std::time::Duration::from_secs(1);
        let due = table.register(now).expect("open");
        let later = table.register(now + 5 * second).expect("open");
        let sooner = table.register(now + 2 * second).expect("open");
        assert_eq!(
            table.lock().armed,
            Some(now),
            "the earliest deadline is armed"
        );
        table.expire(now);
        assert_eq!(table.lock().armed, Some(now + 2 * second));
        let mut due = Reply::new(&table, due);
        assert!(matches!(poll(&mut due), Poll::Ready(Err(Error::Timeout))));
        assert!(
            !table.complete(due.session, Bytes::from_static(b"late")),
            "a late response is dropped"
        );
        for session in [later, sooner] {
            assert!(poll(&mut Reply::new(&table, session)).is_pending());
        }
        assert_eq!(table.len(), 0, "dropped replies were forgotten");
        table.expire(now + 10 * second);
        assert_eq!(table.lock().armed, None, "nothing left to time");
    }
}
