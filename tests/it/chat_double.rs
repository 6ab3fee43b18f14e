//! A loopback HTTP double of Slack's Web API (`chat.postMessage`, `chat.update`) and of a Teams
//! Workflows webhook: records every request, answers from a script (ok with a `ts`, 429 with
//! `Retry-After`, `{"ok":false,...}`, a 200 whose body says 429, or no answer at all).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the double answers to one request.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// `{"ok":true,"ts":...}` (Slack) or `202` (Teams).
    Ok,
    /// HTTP 429 with `Retry-After: secs`.
    TooMany(u64),
    /// `{"ok":false,"error":code}`.
    Error(&'static str),
    /// HTTP 200 whose body says 429 (Teams' throttling).
    Ok429,
    /// Reads the request and never answers.
    Hang,
}

/// One request the double received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Value,
    pub(crate) raw: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The double: its URL, what it received, and the script of its next answers (then `Ok`).
#[derive(Debug, Clone)]
pub(crate) struct ChatDouble {
    pub(crate) url: String,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl ChatDouble {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let double = Self {
            url,
            received: Arc::default(),
            script: Arc::default(),
        };
        let serving = double.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                n += 1;
                let serving = serving.clone();
                tokio::spawn(async move { serving.serve(stream, n).await });
            }
        });
        double
    }

    /// The next answers, in order.
    pub(crate) fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.lock().unwrap().extend(replies);
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    async fn serve(&self, stream: tokio::net::TcpStream, conn: u64) {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut seq = 0u64;
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                return;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_owned();
            let mut headers = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).await.is_err() {
                return;
            }
            let raw = String::from_utf8_lossy(&body).into_owned();
            let parsed = serde_json::from_slice(&body).unwrap_or(Value::Null);
            self.received.lock().unwrap().push(Received {
                path,
                headers,
                body: parsed,
                raw,
            });
            seq += 1;
            let reply = self.script.lock().unwrap().pop_front().unwrap_or(Reply::Ok);
            let (status, extra, text) = match reply {
                Reply::Ok => (
                    "200 OK",
                    String::new(),
                    format!(r#"{{"ok":true,"channel":"C1","ts":"1700000{conn:03}.{seq:06}"}}"#),
                ),
                Reply::TooMany(secs) => (
                    "429 Too Many Requests",
                    format!("Retry-After: {secs}\r\n"),
                    r#"{"ok":false,"error":"ratelimited"}"#.to_owned(),
                ),
                Reply::Error(code) => (
                    "200 OK",
                    String::new(),
                    format!(r#"{{"ok":false,"error":"{code}"}}"#),
                ),
                Reply::Ok429 => (
                    "200 OK",
                    String::new(),
                    "Microsoft Teams endpoint returned HTTP error 429 with ContextId ..."
                        .to_owned(),
                ),
                Reply::Hang => {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return;
                }
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n{text}",
                text.len()
            );
            if write.write_all(response.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}
