//! The HTTPS client of the chat channels: hyper on rustls with aws-lc-rs and the system's root
//! certificates, the stack the AWS SDK already brings.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The most bytes of an answer read (Slack's and Teams' answers are small).
const MAX_ANSWER: usize = 1024 * 1024;

/// An HTTP answer: status, `Retry-After` and body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Bytes,
}

/// Why a call has no answer.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Nothing was sent: the connection could not be made, or the request could not be built.
    NotSent(String),
    /// The request may have been received: the connection broke or the time ran out.
    Unknown(String),
}

/// A client made at its first use (so that its connection pool lives on the runtime that uses
/// it), shared by the clones of one notifier.
#[derive(Debug, Clone, Default)]
pub(crate) struct Http {
    client: Arc<OnceLock<Result<Https, String>>>,
}

impl Http {
    fn client(&self) -> Result<&Https, CallError> {
        self.client
            .get_or_init(build)
            .as_ref()
            .map_err(|e| CallError::NotSent(e.clone()))
    }

    /// POSTs `body` (JSON) to `url` with `headers`, within `timeout`.
    pub(crate) async fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Answer, CallError> {
        let client = self.client()?;
        let mut request = hyper::Request::post(url)
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", concat!("remedy/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::NotSent(format!("cannot build the request: {e}")))?;
        let call = async {
            let response = client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    CallError::NotSent(format!("cannot connect: {e}"))
                } else {
                    CallError::Unknown(format!("the connection failed: {e}"))
                }
            })?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| CallError::Unknown(format!("cannot read the answer: {e}")))?
                .to_bytes();
            Ok(Answer {
                status,
                retry_after,
                body,
            })
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Unknown(format!(
                "no answer within {} s; whether it was delivered is unknown",
                timeout.as_secs()
            ))),
        }
    }
}

fn build() -> Result<Https, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}
