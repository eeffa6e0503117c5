//! Several services on one node, dispatched by command id.

use std::future::Future;

use bytes::BytesMut;
use cluster_core::{Body, Error, Handler, Request, RpcName};

use crate::service::{CommandTable, Service};

/// Two services (or routers) mounted side by side; nest routers for more,
/// or use the [`router!`](crate::router!) macro. A `Router` is a
/// [`Handler`]: give it to [`crate::NodeBuilder::handler`].
///
/// Two services that share a command id do not compile: `Router::new`
/// checks the ids when it is instantiated (reported by `cargo build`).
///
/// ```
/// #[cluster::service]
/// pub trait Ping {
///     async fn ping(&self) -> ();
/// }
/// #[cluster::service]
/// pub trait Echo {
///     async fn echo(&self, text: String) -> String;
/// }
/// struct Impl;
/// impl Ping for Impl {
///     async fn ping(&self) {}
/// }
/// impl Echo for Impl {
///     async fn echo(&self, text: String) -> String { text }
/// }
///
/// let node = cluster::Node::builder()
///     .handler(cluster::router![PingServer::new(Impl), EchoServer::new(Impl)])
///     .build();
/// ```
#[derive(Debug, Clone)]
pub struct Router<A, B> {
    first: A,
    second: B,
}

impl<A: Service, B: Service> Router<A, B> {
    /// Mounts `first` and `second` together.
    pub fn new(first: A, second: B) -> Self {
        const {
            assert!(
                !<Self as Service>::COMMANDS.has_duplicate_ids(),
                "two services mounted on one router share a command id"
            )
        };
        Self { first, second }
    }
}

impl<A: Service, B: Service> Service for Router<A, B> {
    const COMMANDS: CommandTable = CommandTable::Union(&A::COMMANDS, &B::COMMANDS);

    fn serve(
        &self,
        req: Request,
    ) -> Result<impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static, Request>
    {
        let routed = match self.first.serve(req) {
            Ok(first) => Ok(first),
            Err(req) => Err(self.second.serve(req)?),
        };
        Ok(async move {
            match routed {
                Ok(first) => first.await.map(Routed::First),
                Err(second) => second.await.map(Routed::Second),
            }
        })
    }

    fn method_name(cmd: u32) -> Option<RpcName> {
        A::method_name(cmd).or_else(|| B::method_name(cmd))
    }
}

impl<A: Service, B: Service> Handler for Router<A, B> {
    fn handle(
        &self,
        req: Request,
    ) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static {
        crate::dispatch::handle(self, req)
    }

    fn is_oneway(&self, cmd: u32) -> bool {
        Self::COMMANDS.is_oneway(cmd)
    }

    fn method_name(&self, cmd: u32) -> Option<RpcName> {
        <Self as Service>::method_name(cmd)
    }
}

/// The response of one of a router's two services.
enum Routed<A, B> {
    First(A),
    Second(B),
}

impl<A: Body, B: Body> Body for Routed<A, B> {
    fn write_to(&self, dst: &mut BytesMut) -> Result<(), Error> {
        match self {
            Routed::First(body) => body.write_to(dst),
            Routed::Second(body) => body.write_to(dst),
        }
    }

    fn exact_len(&self) -> Option<usize> {
        match self {
            Routed::First(body) => body.exact_len(),
            Routed::Second(body) => body.exact_len(),
        }
    }
}

/// Mounts several services on one [`Router`]:
/// `router![CalcServer::new(calc), EchoServer::new(echo), ...]`.
#[macro_export]
macro_rules! router {
    ($only:expr $(,)?) => {
        $only
    };
    ($first:expr, $($rest:expr),+ $(,)?) => {
        $crate::Router::new($first, $crate::router!($($rest),+))
    };
}
