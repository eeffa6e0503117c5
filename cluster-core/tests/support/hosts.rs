//! Two hosts on one machine: two network namespaces joined by a veth pair.
//! A thread that has entered a namespace makes its sockets there. Shared by
//! the multi-host tests of cluster-core and cluster-membership.
//!
//! Needs root and iproute2's `ip`; [`Hosts::create`] says why otherwise.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs::File;
use std::future::Future;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The server's host address. The only addresses besides 127.0.0.1 that
/// the tests use, and only inside their own namespaces.
pub const SERVER_HOST: &str = "10.199.0.2";
pub const CLIENT_HOST: &str = "10.199.0.1";

/// Two namespaces joined by a veth pair, removed on drop (also when a test
/// fails): deleting a namespace deletes its end of the pair, and the pair
/// with it.
pub struct Hosts {
    pub client: String,
    pub server: String,
}

/// Runs `ip` with `args`; the error says what failed.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Hosts {
    /// Makes the two hosts, or says why they cannot be made here.
    pub fn create() -> Result<Self, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        static RUN: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::SeqCst)
        );
        let hosts = Self {
            client: format!("cluster-{id}-client"),
            server: format!("cluster-{id}-server"),
        };
        ip(&["netns", "add", &hosts.client])?;
        // From here on, Drop cleans up whatever was made.
        ip(&["netns", "add", &hosts.server])?;
        ip(&[
            "link",
            "add",
            "veth0",
            "netns",
            &hosts.client,
            "type",
            "veth",
            "peer",
            "name",
            "veth0",
            "netns",
            &hosts.server,
        ])?;
        for (ns, addr) in [(&hosts.client, CLIENT_HOST), (&hosts.server, SERVER_HOST)] {
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/30"),
                "dev",
                "veth0",
            ])?;
            ip(&["-n", ns, "link", "set", "veth0", "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    /// Takes the client's end of the link down: packets stop, and neither
    /// side is told (no FIN, no RST).
    pub fn cut(&self) {
        ip(&["-n", &self.client, "link", "set", "veth0", "down"]).expect("cut the link");
    }

    pub fn restore(&self) {
        ip(&["-n", &self.client, "link", "set", "veth0", "up"]).expect("restore the link");
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in [&self.client, &self.server] {
            let _ = ip(&["netns", "delete", ns]);
        }
    }
}

/// Moves the calling thread into namespace `name`; the sockets it makes
/// from then on live there. Other threads are not affected.
pub fn enter(name: &str) {
    let ns = File::open(format!("/var/run/netns/{name}")).expect("namespace file");
    // SAFETY: setns only reads the descriptor, which outlives the call.
    let entered = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
}

/// Runs `test` on a current-thread runtime in a new thread that has
/// entered namespace `name`.
pub fn on_host<F: Future<Output = ()> + 'static>(
    name: &str,
    test: impl FnOnce() -> F + Send + 'static,
) {
    let name = name.to_owned();
    let thread = std::thread::spawn(move || {
        enter(&name);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(test());
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}
