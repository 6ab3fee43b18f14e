//! What the moto tests share: the endpoint, unique names, an IAM client, users with keys, the
//! bundled key finding made about one of them, and the `remedy` binary pointed at moto.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_iam::types::StatusType;
use serde_json::Value;

/// The bundled finding about an access key, and what it names.
pub const TEMPLATE: &str = "examples/findings/01-iam-malicious-ip-custom.json";
const USER: &str = "GuardDuty-Example-Compromised-Simulated";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const ID: &str = "b4c7e2a19f3d8e6a5b2c1d0e9f8a7b6c";

#[cfg(feature = "sqs")]
pub mod sqs;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (or run) uses.
pub fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{prefix}{t}x{}", COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// moto's endpoint, or `None` (and a note) when the tests run without it.
pub fn moto() -> Option<String> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            eprintln!("moto tests not run: AWS_ENDPOINT_URL is not set (run scripts/test.sh)");
            None
        }
    }
}

/// The project's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The SDK configuration of a client on moto at `url` (region `us-east-1`, moto's credentials).
pub async fn sdk(url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await
}

/// An IAM client on moto.
pub async fn iam(url: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk(url).await)
}

/// A new user with one active key: (user, key id).
pub async fn user_with_key(client: &aws_sdk_iam::Client, prefix: &str) -> (String, String) {
    let user = unique(prefix);
    client.create_user().user_name(&user).send().await.unwrap();
    let key = client
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    let id = key.access_key().unwrap().access_key_id().to_owned();
    (user, id)
}

/// `n` new users with one active key each: (user, key id).
pub async fn users_with_keys(
    client: &aws_sdk_iam::Client,
    prefix: &str,
    n: usize,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(user_with_key(client, prefix).await);
    }
    out
}

/// Whether `user`'s key `key` is active (a key `user` does not have fails the test).
pub async fn active(client: &aws_sdk_iam::Client, user: &str, key: &str) -> bool {
    let keys = client
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .unwrap();
    let meta = keys
        .access_key_metadata()
        .iter()
        .find(|m| m.access_key_id() == Some(key))
        .unwrap_or_else(|| panic!("no key {key} for {user}"));
    meta.status() == Some(&StatusType::Active)
}

/// A file holding the bundled key finding about `user` and `key`, with a fresh finding id.
pub fn key_finding(dir: &Path, user: &str, key: &str) -> PathBuf {
    let template = std::fs::read_to_string(root().join(TEMPLATE)).unwrap();
    let text = template
        .replace(USER, user)
        .replace(KEY, key)
        .replace(ID, &unique("f"));
    let path = dir.join(format!("{}.json", unique("finding")));
    std::fs::write(&path, text).unwrap();
    path
}

/// `remedy ARGS`, run from the project root against moto.
pub fn remedy(url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_remedy"));
    c.current_dir(root())
        .args(args)
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
    c
}

/// A copy of the bundled finding `template` (a path from the project root) with each `(from,
/// to)` of `replacements` replaced, in a new file of `dir`; returns its path.
pub fn finding(dir: &Path, template: &str, replacements: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(root().join(template)).unwrap();
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    let path = dir.join(format!("{}.json", unique("finding")));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The record of action kind `kind` among `records` (the test fails without one).
pub fn record<'a>(records: &'a [Value], kind: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["kind"] == kind)
        .unwrap_or_else(|| panic!("no `{kind}` record in {records:#?}"))
}

/// Runs `remedy ARGS` against moto to the end: its JSON records on stdout, its stderr, and
/// whether it exited 0.
pub fn remedy_json(url: &str, args: &[&str]) -> (Vec<Value>, String, bool) {
    let out = remedy(url, args).output().unwrap();
    let r = ran(&out);
    (r.lines, r.stderr, out.status.success())
}

/// What a finished command printed: its JSON lines, its stderr, its exit code.
pub struct Ran {
    /// One value per stdout line.
    pub lines: Vec<Value>,
    /// stderr.
    pub stderr: String,
    /// The exit code.
    pub code: Option<i32>,
}

/// Reads a finished command's output.
pub fn ran(out: &Output) -> Ran {
    Ran {
        lines: String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

/// Every line of a JSON Lines file.
pub fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}
