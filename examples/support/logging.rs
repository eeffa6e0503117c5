//! What every example logs: `RUST_LOG` (default `info`) to stderr, so that
//! an operator sees a hostile peer cut off or a handler panic. Each example
//! includes this file (`#[path]`); it is not an example of its own.

use tracing_subscriber::EnvFilter;

/// Installs the log subscriber for the process.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
