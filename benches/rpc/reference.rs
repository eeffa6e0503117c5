//! The near-limit reference: a minimal hand-written tokio client and server
//! on silly's v1 frame format, sharing no code with the framework. Per
//! connection: a reader task, a writer task that writes everything queued
//! in one call, and on the client a pending map from session to a oneshot.
//! The server answers inside the reader; only held calls get a task.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

use crate::system::{CallResult, Cmd, Sent, System, serve};

const ACK: u32 = 0x8000_0000;
const SESSION_MASK: u32 = 0x7fff_ffff;
/// Queued bytes beyond which sends are refused, as the framework's default.
const WRITE_LIMIT: usize = 16 << 20;
const READ_CHUNK: usize = 8 << 10;
const MAX_CHUNK: usize = 64 << 10;

pub struct Reference;

#[derive(Clone)]
pub struct Client {
    shared: Arc<ClientShared>,
}

struct ClientShared {
    out: Arc<Outbox>,
    pending: Mutex<HashMap<u32, oneshot::Sender<Bytes>>>,
    next_session: AtomicU32,
}

impl System for Reference {
    type Client = Client;

    async fn serve() -> io::Result<String> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (rd, out) = start(stream);
                tokio::spawn(serve_connection(rd, out));
            }
        });
        Ok(addr)
    }

    async fn connect(addr: &str) -> io::Result<Client> {
        let (rd, out) = start(TcpStream::connect(addr).await?);
        let shared = Arc::new(ClientShared {
            out,
            pending: Mutex::default(),
            next_session: AtomicU32::new(0),
        });
        tokio::spawn(read_responses(rd, shared.clone()));
        Ok(Client { shared })
    }

    async fn call(client: &Client, cmd: Cmd, body: Bytes) -> CallResult<Bytes> {
        let shared = &client.shared;
        let session = shared.session();
        let (tx, rx) = oneshot::channel();
        lock(&shared.pending).insert(session, tx);
        if !shared
            .out
            .push(|buf| encode_request(buf, session, cmd.id(), &body))
        {
            lock(&shared.pending).remove(&session);
            return Err("write queue full".into());
        }
        rx.await.map_err(|_| "connection closed".to_owned())
    }

    async fn send(client: &Client, body: Bytes) -> CallResult<Sent> {
        let session = client.shared.session();
        let queued = client
            .shared
            .out
            .push(|buf| encode_request(buf, session, Cmd::Note.id(), &body));
        Ok(if queued { Sent::Queued } else { Sent::Full })
    }
}

impl ClientShared {
    fn session(&self) -> u32 {
        self.next_session.fetch_add(1, Ordering::Relaxed) & SESSION_MASK
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Splits `stream` and starts its writer task.
fn start(stream: TcpStream) -> (OwnedReadHalf, Arc<Outbox>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let out = Arc::new(Outbox {
        buf: Mutex::default(),
        ready: Notify::new(),
    });
    tokio::spawn(write_frames(out.clone(), wr));
    (rd, out)
}

/// Frames waiting for the writer.
struct Outbox {
    buf: Mutex<BytesMut>,
    ready: Notify,
}

impl Outbox {
    /// Appends a frame; false if the queue is full.
    fn push(&self, encode: impl FnOnce(&mut BytesMut)) -> bool {
        let mut buf = lock(&self.buf);
        if buf.len() >= WRITE_LIMIT {
            return false;
        }
        let was_empty = buf.is_empty();
        encode(&mut buf);
        drop(buf);
        if was_empty {
            self.ready.notify_one();
        }
        true
    }
}

async fn write_frames(out: Arc<Outbox>, mut wr: OwnedWriteHalf) {
    let mut spare = BytesMut::new();
    loop {
        out.ready.notified().await;
        let mut batch = std::mem::replace(&mut *lock(&out.buf), spare);
        if wr.write_all(&batch).await.is_err() {
            return;
        }
        batch.clear();
        spare = batch;
    }
}

fn encode_request(buf: &mut BytesMut, session: u32, cmd: u32, body: &[u8]) {
    buf.put_u16((body.len() + 16) as u16);
    buf.put_slice(body);
    buf.put_u64_le(0);
    buf.put_u32_le(cmd);
    buf.put_u32_le(session);
}

fn encode_response(buf: &mut BytesMut, session: u32, body: &[u8]) {
    buf.put_u16((body.len() + 4) as u16);
    buf.put_slice(body);
    buf.put_u32_le(session | ACK);
}

enum Frame {
    Request { session: u32, cmd: u32, body: Bytes },
    Response { session: u32, body: Bytes },
}

/// Takes one frame off `buf`, if it holds a whole one.
fn decode(buf: &mut BytesMut) -> io::Result<Option<Frame>> {
    let Some(&[hi, lo]) = buf.get(..2) else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([hi, lo]) as usize;
    if buf.len() < 2 + len {
        return Ok(None);
    }
    buf.advance(2);
    let mut payload = buf.split_to(len);
    let Some(body_len) = len.checked_sub(4) else {
        return Err(io::Error::other("short frame"));
    };
    let word = payload.split_off(body_len).get_u32_le();
    if word & ACK != 0 {
        return Ok(Some(Frame::Response {
            session: word & SESSION_MASK,
            body: payload.freeze(),
        }));
    }
    let Some(body_len) = body_len.checked_sub(12) else {
        return Err(io::Error::other("short request"));
    };
    let mut trailer = payload.split_off(body_len);
    trailer.advance(8);
    Ok(Some(Frame::Request {
        session: word,
        cmd: trailer.get_u32_le(),
        body: payload.freeze(),
    }))
}

/// Reads frames until the connection ends, handing each to `on_frame`.
/// A read that fills its space doubles the next one's, up to
/// `MAX_CHUNK`, so that a busy connection reads what is waiting in few
/// syscalls; a small read goes back to `READ_CHUNK`.
async fn read_frames(mut rd: OwnedReadHalf, mut on_frame: impl FnMut(Frame)) -> io::Result<()> {
    let mut buf = BytesMut::new();
    let mut chunk = READ_CHUNK;
    loop {
        while let Some(frame) = decode(&mut buf)? {
            on_frame(frame);
        }
        buf.reserve(chunk);
        let space = buf.capacity() - buf.len();
        match rd.read_buf(&mut buf).await? {
            0 => return Ok(()),
            n if n >= space => chunk = (chunk * 2).min(MAX_CHUNK),
            n if n < chunk / 4 => chunk = READ_CHUNK,
            _ => {}
        }
    }
}

async fn serve_connection(rd: OwnedReadHalf, out: Arc<Outbox>) {
    let respond = move |session: u32, body: &[u8]| {
        out.push(|buf| encode_response(buf, session, body));
    };
    let _ = read_frames(rd, |frame| {
        let Frame::Request { session, cmd, body } = frame else {
            return;
        };
        match Cmd::from_id(cmd) {
            Some(Cmd::Echo) => respond(session, &body),
            Some(Cmd::Note) => serve::note(),
            Some(Cmd::Count) => respond(session, &serve::count()),
            Some(Cmd::Release) => respond(session, &serve::release()),
            Some(Cmd::Hold) => {
                let respond = respond.clone();
                tokio::spawn(async move { respond(session, &serve::hold(body).await) });
            }
            None => {}
        }
    })
    .await;
}

async fn read_responses(rd: OwnedReadHalf, shared: Arc<ClientShared>) {
    let _ = read_frames(rd, |frame| {
        if let Frame::Response { session, body } = frame {
            if let Some(tx) = lock(&shared.pending).remove(&session) {
                let _ = tx.send(body);
            }
        }
    })
    .await;
    lock(&shared.pending).clear();
}
