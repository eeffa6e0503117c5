//! A real etcd for the tests: started on free loopback ports with a data
//! directory of its own, killed (and the directory removed) on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Etcd {
    bin: PathBuf,
    data: PathBuf,
    /// The address it listens on: 127.0.0.1 unless in a namespace.
    host: String,
    /// The network namespace it runs in, if not this one.
    netns: Option<String>,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
}

/// The etcd binary: `$ETCD_BIN`, or `etcd` on the `PATH`.
fn find_etcd() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("ETCD_BIN") {
        return Some(PathBuf::from(bin)).filter(|bin| bin.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|bin| bin.is_file())
}

/// A port on `host` that the OS has just handed out and taken back.
pub fn free_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Etcd {
    /// Starts etcd, or says in one line why the test is skipped (no etcd
    /// binary here) and returns `None`.
    pub async fn start(test: &str) -> Option<Self> {
        let ports = (free_port("127.0.0.1"), free_port("127.0.0.1"));
        Self::start_at(test, "127.0.0.1", None, ports).await
    }

    /// Starts etcd on `host` with `(client, peer)` ports, in network
    /// namespace `netns` if given (through `ip netns exec`).
    pub async fn start_at(
        test: &str,
        host: &str,
        netns: Option<&str>,
        (client_port, peer_port): (u16, u16),
    ) -> Option<Self> {
        let Some(bin) = find_etcd() else {
            println!("skipping {test}: no etcd binary (install etcd-server, or set ETCD_BIN)");
            return None;
        };
        static RUN: AtomicU32 = AtomicU32::new(0);
        let data = std::env::temp_dir().join(format!(
            "cluster-etcd-{}-{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::SeqCst)
        ));
        let mut etcd = Self {
            bin,
            data,
            host: host.to_owned(),
            netns: netns.map(str::to_owned),
            client_port,
            peer_port,
            child: None,
        };
        etcd.spawn().await;
        Some(etcd)
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.client_port)
    }

    async fn spawn(&mut self) {
        let client = self.url();
        let peer = format!("http://{}:{}", self.host, self.peer_port);
        let log = std::fs::File::create(self.data_log()).expect("etcd log file");
        let mut command = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        let child = command
            .arg("--name=test")
            .arg(format!("--data-dir={}", self.data.display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        self.child = Some(child);
        self.wait_ready().await;
    }

    fn data_log(&self) -> PathBuf {
        PathBuf::from(format!("{}.log", self.data.display()))
    }

    /// Waits until etcd serves a read, at most 20 s.
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = self.url();
        let ready = async {
            while Instant::now() < deadline {
                let get = async {
                    let mut c = etcd_client::Client::connect([url.as_str()], None).await?;
                    c.get("ready", None).await
                };
                if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), get).await {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
        .await;
        let log = std::fs::read_to_string(self.data_log()).unwrap_or_default();
        assert!(ready, "etcd did not become ready; its log:\n{log}");
    }

    /// Kills etcd at once (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the killed etcd again, on the same ports and data.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// A raw client, to look at keys the way another tool would.
    pub async fn client(&self) -> etcd_client::Client {
        etcd_client::Client::connect([self.url()], None)
            .await
            .expect("etcd client")
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.data);
        let _ = std::fs::remove_file(format!("{}.log", self.data.display()));
    }
}
