//! Captures the log lines of one test, to assert that a failure says what
//! went wrong and where.
//!
//! The capture is the calling thread's default subscriber, so it sees what
//! that thread logs: everything of a test on a current-thread runtime
//! (`#[tokio::test]`'s default), and nothing of other tests running beside
//! it.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::subscriber::DefaultGuard;

use super::poll;

/// The lines logged on this thread since [`capture`], at every level.
pub struct Logs {
    text: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
}

/// Starts capturing this thread's logs until the returned value is dropped.
pub fn capture() -> Logs {
    let text = Arc::new(Mutex::new(Vec::new()));
    let sink = text.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || Sink(sink.clone()))
        .finish();
    Logs {
        text,
        _guard: tracing::subscriber::set_default(subscriber),
    }
}

impl Logs {
    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        let text = self.text.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&text)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The first line that contains every one of `parts`, waiting for it to
    /// be logged; panics with what was logged if none comes.
    pub async fn line_with(&self, parts: &[&str]) -> String {
        let found = poll(|| {
            self.lines()
                .into_iter()
                .find(|line| parts.iter().all(|part| line.contains(part)))
        })
        .await;
        found.unwrap_or_else(|| panic!("no line with {parts:?} in:\n{}", self.lines().join("\n")))
    }
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
