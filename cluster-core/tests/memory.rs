//! What a node's memory costs, in resident set size: one test at a time in
//! a binary of its own, so that no other test moves the figures.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cluster_core::wire::WireFormat;
use cluster_core::{Node, Request};
use support::{addr, alloc, echo, frames, wait_until};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// This process's resident set, in bytes (Linux).
fn rss() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// This process's open file descriptors (Linux).
fn descriptors() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

#[test]
fn memory_stays_bounded() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        a_trickled_request_holds_little_more_than_its_own_bytes().await;
        node_cycles_leave_descriptors_and_memory_where_they_started().await;
    });
}

/// 2,000 requests of 24 bytes, each in a read of its own, to a handler
/// that waits: each may hold at most 450 bytes of heap (392 measured, in
/// both release and debug builds) and 1 KB of resident memory (a slice of
/// the read buffer would keep 8 KiB alive per request).
/// The heap is the exact measure; resident memory adds how the allocator
/// lays blocks out, which moved by 20 % between two builds whose heaps
/// differed by 8 bytes per request. Both are measured from the 200th
/// waiting request on: the first ones also page in the code they run and
/// grow the allocator's arenas, once, which made the figure swing by a
/// few hundred bytes per request between runs. `.ci/run` runs this test
/// in both builds.
async fn a_trickled_request_holds_little_more_than_its_own_bytes() {
    const WARM: u32 = 200;
    const REQUESTS: u32 = 2000;
    if rss().is_none() {
        println!("skipped: no /proc/self/statm here");
        return;
    }
    let (mut before, mut heap_before) = (0, 0);
    let gate = Arc::new(Semaphore::new(0));
    let node = Node::builder()
        .handler({
            let gate = gate.clone();
            move |req: Request| {
                let gate = gate.clone();
                async move {
                    let _ = gate.acquire().await.map(|p| p.forget());
                    Some(req.body)
                }
            }
        })
        .build();
    let addr = addr(&node.listen("127.0.0.1:0").expect("bind"));
    let codec = frames::default_codec(WireFormat::V1);
    let mut client = TcpStream::connect(&addr).await.expect("connect");
    for session in 0..WARM + REQUESTS {
        if session == WARM {
            (before, heap_before) = (rss().expect("statm"), alloc::live());
        }
        let mut frame = BytesMut::new();
        codec
            .encode_request(&mut frame, session, 1, 0, b"trickle!")
            .expect("encode");
        client.write_all(&frame).await.expect("write");
        let seen = session as usize + 1;
        wait_until("the request reached its handler", || {
            node.stats().handlers == seen
        })
        .await;
    }
    let per_request = |grown: usize| grown / REQUESTS as usize;
    let heap = per_request(alloc::live().saturating_sub(heap_before));
    let resident = per_request(rss().expect("statm").saturating_sub(before));
    println!("trickle: {heap} bytes of heap, {resident} of RSS per waiting request");
    assert!(
        heap <= 450,
        "{heap} bytes of heap per waiting request (at most 450)"
    );
    assert!(
        resident <= 1024,
        "{resident} bytes of RSS per waiting request (at most 1 KB)"
    );
    gate.add_permits((WARM + REQUESTS) as usize);
    wait_until("answered", || node.stats().handlers == 0).await;
    drop(client);
    wait_until("closed", || node.stats().connections == 0).await;
}

/// 10,000 cycles of building a node, connecting, calling and dropping it:
/// descriptors back where they were, memory within 1 MB once warm.
async fn node_cycles_leave_descriptors_and_memory_where_they_started() {
    let (Some(_), Some(fds_before)) = (rss(), descriptors()) else {
        println!("skipped: no /proc/self here");
        return;
    };
    let server = Node::builder().handler(echo).build();
    let addr = addr(&server.listen("127.0.0.1:0").expect("bind"));
    let cycle = || async {
        let client = Node::builder().build();
        let peer = client.connect(&addr).await;
        assert_eq!(
            peer.call(1, "cycle").await.expect("call"),
            Bytes::from("cycle")
        );
    };
    for _ in 0..2000 {
        cycle().await;
    }
    wait_until("warm-up connections closed", || {
        server.stats().connections == 0
    })
    .await;
    let warm = rss().expect("statm");
    for _ in 0..8000 {
        cycle().await;
    }
    wait_until("every connection closed", || {
        server.stats().connections == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let grown = rss().expect("statm").saturating_sub(warm);
    let fds = descriptors().expect("fds");
    println!("cycles: RSS grew {grown} bytes over 8,000 cycles; descriptors {fds_before} -> {fds}");
    assert!(grown <= 1024 * 1024, "RSS grew {grown} bytes");
    // The server's listener is open now and was not before.
    assert!(fds <= fds_before + 2, "descriptors {fds_before} -> {fds}");
    assert_eq!(server.stats().tasks, 1, "only the accept loop");
}
