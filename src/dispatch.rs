//! Server-side glue for generated code: decode a request, encode a
//! response, hand unknown commands back.

use std::future::Future;
use std::sync::Arc;

use cluster_codec::{Codec, Decode};
use cluster_core::{Body, Request, Status};

use crate::service::Service;

/// Serves `req` with `service`; a command it does not know gets no
/// response (logged).
pub fn handle<S: Service>(
    service: &S,
    req: Request,
) -> impl Future<Output = Option<impl Body + Send + 'static>> + Send + 'static {
    let routed = service.serve(req);
    async move {
        match routed {
            Ok(serving) => serving.await,
            Err(req) => {
                tracing::warn!(
                    cmd = req.cmd,
                    session = req.session,
                    "unknown command: no response"
                );
                req.refuse(Status::UnknownCommand, &format!("command {}", req.cmd));
                None
            }
        }
    }
}

/// Decodes a request body; a body that does not decode is logged with the
/// request's cmd and session and gets no response, as in silly.
pub fn decode_request<C: Codec, T: Decode<C>>(req: &Request) -> Option<T> {
    match T::decode_bytes(&req.body) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(cmd = req.cmd, session = req.session, codec = C::NAME, %error, "request does not decode: no response");
            req.refuse(Status::BadRequest, &error.to_string());
            None
        }
    }
}

/// Answers a `#[remote_error]` method's `Err` as an application status:
/// its caller's call fails with [`cluster_core::Error::Remote`] carrying
/// the error's message. On a connection without the extension nothing is
/// sent, as silly would.
pub fn refuse(req: &Request, error: &impl std::fmt::Display) {
    req.refuse(Status::Application, &error.to_string());
}

/// Wraps a codec error for [`cluster_core::Error`].
pub(crate) fn boxed(
    error: impl std::error::Error + Send + Sync + 'static,
) -> cluster_core::BoxError {
    Arc::new(error)
}
