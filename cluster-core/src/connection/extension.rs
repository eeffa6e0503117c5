//! The extension on one connection (see [`crate::wire::ext`]): whether it
//! was agreed, in each direction, and the frames only it sends.
//!
//! Each direction switches at one frame: this side sends extension bodies
//! from the frame after its hello (dialer) or its hello's reply (acceptor),
//! and reads them from the frame after the reply (dialer) or the hello
//! (acceptor). Switching inside the write queue's lock, as the hello or
//! its reply is queued, keeps any other frame from slipping between.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;

use super::{Connection, Deadline, RequestHead};
use crate::body::{Body, Prefixed};
use crate::error::{Error, Status};
use crate::wire::ext;

/// No hello is awaited.
const NO_HELLO: u32 = u32::MAX;

/// The extension's state on one connection.
pub(super) struct Extension {
    send: AtomicBool,
    recv: AtomicBool,
    /// The session of the hello this side sent, until its reply came.
    hello: AtomicU32,
}

impl Default for Extension {
    fn default() -> Self {
        Self {
            send: AtomicBool::new(false),
            recv: AtomicBool::new(false),
            hello: AtomicU32::new(NO_HELLO),
        }
    }
}

impl Extension {
    /// Whether frames sent now carry extension bodies.
    #[inline]
    pub(super) fn sends(&self) -> bool {
        self.send.load(Ordering::Acquire)
    }

    /// Whether frames read now carry extension bodies.
    pub(super) fn receives(&self) -> bool {
        self.recv.load(Ordering::Acquire)
    }
}

impl Connection {
    /// Queues the hello as the connection's first frame: only for a peer
    /// known to speak the extension.
    pub(crate) fn send_hello(&self) -> Result<(), Error> {
        let session = self.sessions.next_unregistered();
        self.ext.hello.store(session, Ordering::Release);
        let codec = &self.shared.config.codec;
        self.writes.push(|buf| {
            codec.encode_request(buf, session, ext::HELLO_CMD, 0, ext::HELLO)?;
            self.ext.send.store(true, Ordering::Release);
            Ok(())
        })
    }

    /// Whether a request read is a hello this node answers; if so it is
    /// answered, and the extension is on from here.
    /// Inlined: every request of a plain connection passes this test.
    #[inline]
    pub(super) fn take_hello(&self, session: u32, cmd: u32, body: &[u8]) -> bool {
        cmd == ext::HELLO_CMD && self.answer_hello(session, body)
    }

    #[cold]
    fn answer_hello(&self, session: u32, body: &[u8]) -> bool {
        if body != ext::HELLO || !self.shared.config.extension {
            return false;
        }
        self.ext.recv.store(true, Ordering::Release);
        let codec = &self.shared.config.codec;
        let answered = self.writes.push(|buf| {
            codec.encode_response(buf, session, ext::HELLO)?;
            self.ext.send.store(true, Ordering::Release);
            Ok(())
        });
        if let Err(error) = answered {
            tracing::warn!(conn = self.id, %error, "hello not answered");
        }
        tracing::debug!(conn = self.id, "extension agreed");
        true
    }

    /// Whether a response read is the reply to this side's hello; if so,
    /// the extension is on from here.
    pub(super) fn take_hello_reply(&self, session: u32, body: &[u8]) -> bool {
        if self.ext.hello.load(Ordering::Acquire) != session || body != ext::HELLO {
            return false;
        }
        self.ext.hello.store(NO_HELLO, Ordering::Release);
        self.ext.recv.store(true, Ordering::Release);
        tracing::debug!(conn = self.id, "extension agreed");
        true
    }

    /// Encodes a request with an extension body into the write queue.
    pub(super) fn encode_ext_request<B: Body + ?Sized>(
        &self,
        buf: &mut BytesMut,
        head: RequestHead,
        deadline: Deadline,
        body: &B,
    ) -> Result<(), Error> {
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let prefix = ext::deadline_word(remaining).to_le_bytes();
        let framed = Prefixed {
            prefix: &prefix,
            body,
        };
        let codec = &self.shared.config.codec;
        codec.encode_request(buf, head.session, head.cmd, head.trace_id, &framed)
    }

    /// Encodes a successful response with an extension body into the write
    /// queue.
    pub(super) fn encode_ext_response<B: Body + ?Sized>(
        &self,
        buf: &mut BytesMut,
        session: u32,
        body: &B,
    ) -> Result<(), Error> {
        let framed = Prefixed {
            prefix: &[ext::OK],
            body,
        };
        self.shared
            .config
            .codec
            .encode_response(buf, session, &framed)
    }

    /// Answers request `session` with `status`, if the extension is on:
    /// without it the caller learns nothing, as from silly.
    pub(crate) fn write_status(&self, session: u32, status: Status, message: &str) {
        if !self.ext.sends() {
            return;
        }
        let framed = Prefixed {
            prefix: &[status.code()],
            body: message,
        };
        let codec = &self.shared.config.codec;
        let written = self
            .writes
            .push(|buf| codec.encode_response(buf, session, &framed));
        if let Err(error) = written {
            self.shared.budget.unsent_response();
            tracing::warn!(session, %status, %error, "status reply dropped");
        }
    }

    /// Tells the peer that the call of `session` was given up, if the
    /// extension is on.
    pub(crate) fn send_cancel(&self, session: u32) {
        if !self.ext.sends() {
            return;
        }
        let head = RequestHead {
            cmd: ext::CANCEL_CMD,
            session: self.sessions.next_unregistered(),
            trace_id: 0,
        };
        let target = session.to_le_bytes();
        if let Err(error) = self.write_request(head, None, &target) {
            tracing::debug!(session, %error, "cancel notice dropped");
        }
    }

    /// A cancel notice for the request of `session` arrived: its handler
    /// is cancelled, unless the node lets abandoned handlers run.
    pub(super) fn cancelled(&self, session: u32) {
        if self.shared.config.cancel_abandoned {
            self.handlers.cancel_session(session);
        }
    }

    /// Reads a response body of an agreed connection and hands it to its
    /// call; false if no call waits for it.
    pub(super) fn settle_ext(&self, session: u32, body: Bytes) -> Result<bool, Error> {
        Ok(match ext::split_response(body)? {
            ext::Reply::Ok(body) => self.sessions.complete(session, body),
            ext::Reply::Failed(status, message) => self.sessions.refuse(session, status, message),
        })
    }
}
