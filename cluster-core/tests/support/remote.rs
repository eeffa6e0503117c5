//! A node on a runtime of its own, in a thread of its own, that a test can
//! kill: dropping its runtime drops every task at once and with them every
//! socket, as when the process of a remote node dies.

use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use cluster_core::Node;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

pub struct RemoteNode {
    node: Node,
    addr: String,
    runtime: Handle,
    kill: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RemoteNode {
    /// Runs `build` on a new current-thread runtime in a new thread, and the
    /// node it returns listening on `addr` (`127.0.0.1:0` for any port),
    /// until [`RemoteNode::kill`]. `build` may prepare the thread first (enter
    /// a network namespace, say): the runtime's sockets are made on it.
    pub fn start(addr: &str, build: impl FnOnce() -> Node + Send + 'static) -> Self {
        let (started, starting) = std_mpsc::channel();
        let (kill, killed) = oneshot::channel::<()>();
        let addr = addr.to_owned();
        let thread = std::thread::spawn(move || {
            let runtime = Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let node = build();
                let listener = node.listen(&addr).expect("remote node listens");
                let local = listener.local_addr().to_string();
                let _ = started.send((node, local, Handle::current()));
                let _ = killed.await;
            });
            // Dropping the runtime with everything still running on it is
            // the point: no task gets to say goodbye.
            drop(runtime);
        });
        let (node, addr, runtime) = starting.recv().expect("remote node started");
        Self {
            node,
            addr,
            runtime,
            kill: Some(kill),
            thread: Some(thread),
        }
    }

    /// The node, to read its stats. Calls through it are made on the
    /// remote runtime only if spawned there ([`RemoteNode::runtime`]).
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The listening address, as a `connect` argument.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The node's runtime, for its metrics.
    pub fn runtime(&self) -> &Handle {
        &self.runtime
    }

    /// Drops the runtime and everything on it; returns once it is gone.
    pub fn kill(mut self) {
        assert!(self.stop(), "remote node thread panicked");
    }

    /// False if the node's thread panicked.
    fn stop(&mut self) -> bool {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        self.thread
            .take()
            .is_none_or(|thread| thread.join().is_ok())
    }
}

impl Drop for RemoteNode {
    fn drop(&mut self) {
        // A test that failed before killing the node: its own panic says why.
        self.stop();
    }
}
