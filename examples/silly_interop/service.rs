//! The interop service: silly's interop schema (`interop.zproto`, beside
//! this file), served and called with the zproto codec, so a Lua silly node
//! can take either side.

use std::sync::Mutex;
use std::time::Duration;

use cluster::zproto::ByteStr;

cluster::zproto!("examples/silly_interop/interop.zproto");

/// The commands of silly's interop test. Each command id is the protocol
/// tag of the request message (ping 0x01, add 0x03, sleep 0x05, notify 0x07,
/// stats 0x08), as silly's zproto services use them.
#[cluster::service(codec = zproto)]
pub trait Interop {
    /// Echoes the message.
    async fn ping(&self, req: Ping) -> Pong;
    /// Adds two 32-bit integers (wrapping, as silly's int32 fields do).
    async fn add(&self, req: Add) -> Sum;
    /// Replies after `ms` milliseconds.
    async fn sleep(&self, req: Sleep) -> Slept;
    /// Counts a one-way notification and keeps its message.
    #[oneway]
    async fn notify(&self, req: Notify);
    /// How many notifications arrived, and the last one's message.
    async fn stats(&self, req: Stats) -> Counts;
}

/// The server side of the interop test.
#[derive(Default)]
pub struct Server {
    notified: Mutex<(i32, Option<ByteStr>)>,
}

impl Interop for Server {
    async fn ping(&self, req: Ping) -> Pong {
        Pong { msg: req.msg }
    }

    async fn add(&self, req: Add) -> Sum {
        let result = req.a.unwrap_or(0).wrapping_add(req.b.unwrap_or(0));
        Sum {
            result: Some(result),
        }
    }

    async fn sleep(&self, req: Sleep) -> Slept {
        let ms = req.ms.unwrap_or(0).max(0);
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        Slept { ms: Some(ms) }
    }

    async fn notify(&self, req: Notify) {
        let mut notified = self.notified.lock().unwrap_or_else(|e| e.into_inner());
        notified.0 += 1;
        notified.1 = req.message;
    }

    async fn stats(&self, _req: Stats) -> Counts {
        let notified = self.notified.lock().unwrap_or_else(|e| e.into_inner());
        Counts {
            notifies: Some(notified.0),
            last: notified.1.clone(),
        }
    }
}
