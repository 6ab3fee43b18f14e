//! `remedy serve`'s HTTP server: hyper on one listener, `POST /slack/interactions` only.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::{MAX_BODY, Reply, SlackInteractions};

/// Serves Slack's interactions on `listener` until `stop` completes: `POST /slack/interactions`
/// goes to `handler` (answered at once, the click carried out after), `GET /healthz` answers
/// `ok`, anything else 404. Connections are HTTP/1.1; put TLS in front (a load balancer, an API
/// gateway), as Slack calls only HTTPS URLs.
pub async fn listen(
    listener: TcpListener,
    handler: Arc<SlackInteractions>,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut stop => return Ok(()),
        };
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let handler = Arc::clone(&handler);
                async move { Ok::<_, Infallible>(route(&handler, request).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
}

async fn route(
    handler: &Arc<SlackInteractions>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    match (method.as_str(), path.as_str()) {
        ("GET", "/healthz") => respond(&Reply {
            status: 200,
            body: "ok".into(),
        }),
        ("POST", "/slack/interactions") => {
            let headers = request.headers().clone();
            let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => {
                    return respond(&Reply {
                        status: 401,
                        body: "request too large".into(),
                    });
                }
            };
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
            let (reply, click) = handler.accept(header, &body, crate::clock::now_secs());
            if let Some(click) = click {
                let handler = Arc::clone(handler);
                // Answered first (Slack waits 3 s); the decision and its action run after.
                tokio::spawn(async move {
                    let said = handler.carry_out(&click).await;
                    tracing::info!("{said}");
                });
            }
            respond(&reply)
        }
        _ => respond(&Reply {
            status: 404,
            body: "not found".into(),
        }),
    }
}

fn respond(reply: &Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body.clone())));
    *response.status_mut() = hyper::StatusCode::from_u16(reply.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response
}
