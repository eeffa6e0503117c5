//! tarpc, set up as its README and examples do: a `#[tarpc::service]`, the
//! serde transport over TCP with bincode, `BaseChannel::with_defaults`, one
//! spawned task per request.
//!
//! tarpc has no one-way request: [`Cmd::Note`] is a call to a method that
//! returns `()`, and the sender waits for that empty response.

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::prelude::*;
use tarpc::serde_transport::tcp;
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::{client, context};

use crate::system::{CallResult, Cmd, Sent, System, serve};

#[tarpc::service]
pub trait Bench {
    async fn echo(body: Bytes) -> Bytes;
    async fn note(body: Bytes);
    async fn count() -> Bytes;
    async fn hold(body: Bytes) -> Bytes;
    async fn release() -> Bytes;
}

#[derive(Clone)]
struct BenchServer;

impl Bench for BenchServer {
    async fn echo(self, _: context::Context, body: Bytes) -> Bytes {
        body
    }

    async fn note(self, _: context::Context, _body: Bytes) {
        serve::note();
    }

    async fn count(self, _: context::Context) -> Bytes {
        serve::count()
    }

    async fn hold(self, _: context::Context, body: Bytes) -> Bytes {
        serve::hold(body).await
    }

    async fn release(self, _: context::Context) -> Bytes {
        serve::release()
    }
}

pub struct Tarpc;

/// Held calls wait for the whole memory measurement.
const HOLD_DEADLINE: Duration = Duration::from_secs(120);

impl System for Tarpc {
    type Client = BenchClient;

    async fn serve() -> io::Result<String> {
        let incoming = tcp::listen("127.0.0.1:0", Bincode::default).await?;
        let addr = incoming.local_addr().to_string();
        tokio::spawn(
            incoming
                .filter_map(|conn| future::ready(conn.ok()))
                .map(BaseChannel::with_defaults)
                .for_each(|channel| async move {
                    tokio::spawn(channel.execute(BenchServer.serve()).for_each(
                        |response| async move {
                            tokio::spawn(response);
                        },
                    ));
                }),
        );
        Ok(addr)
    }

    async fn connect(addr: &str) -> io::Result<BenchClient> {
        let transport = tcp::connect(addr, Bincode::default).await?;
        let mut config = client::Config::default();
        // The in-flight memory measurement holds 100,000 calls on one connection.
        config.max_in_flight_requests = 1 << 20;
        Ok(BenchClient::new(config, transport).spawn())
    }

    async fn call(client: &BenchClient, cmd: Cmd, body: Bytes) -> CallResult<Bytes> {
        let ctx = context::current();
        let reply = match cmd {
            Cmd::Echo => client.echo(ctx, body).await,
            Cmd::Count => client.count(ctx).await,
            Cmd::Hold => {
                let mut ctx = ctx;
                ctx.deadline = Instant::now() + HOLD_DEADLINE;
                client.hold(ctx, body).await
            }
            Cmd::Release => client.release(ctx).await,
            Cmd::Note => return Err("a note is sent, not called".into()),
        };
        reply.map_err(|e| e.to_string())
    }

    async fn send(client: &BenchClient, body: Bytes) -> CallResult<Sent> {
        client
            .note(context::current(), body)
            .await
            .map(|()| Sent::Queued)
            .map_err(|e| e.to_string())
    }
}
