//! Deciding from Slack, end to end: `remedy run --execute` asks in Slack (a loopback double of its
//! Web API) with Approve and Deny buttons; `remedy serve` takes signed clicks; moto's IAM shows
//! what came of them. Forged, stale, unauthorised, replayed, contradicting and concurrent clicks
//! change nothing beyond one decision, and the kill switch holds over an approval.

use std::path::{Path, PathBuf};
use std::time::Duration;

use remedy::config::Secret;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::chat_double::ChatDouble;
use crate::common::{active, iam, json_lines, key_finding, moto, ran, remedy, user_with_key};

const TOKEN: &str = "xoxb-approval-test-token";
const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const APPROVER: &str = "U0APPROVER";

fn config(dir: &Path, api: &str) -> PathBuf {
    let text = format!(
        "[notify.channels]\nsecurity = {{ kind = \"slack\", channel = \"C0123456789\", \
         token_env = \"REMEDY_TEST_SLACK_TOKEN\", signing_secret_env = \"REMEDY_TEST_SLACK_SIGNING\", \
         api_url = \"{api}\" }}\n\
         [ledger]\npath = \"ledger\"\n[audit]\npath = \"audit.jsonl\"\n\
         [enforcement]\nkill_switch_file = \"STOP\"\n\
         [approval]\nkinds = [\"disable_access_key\"]\nnotify = \"security\"\npath = \"approvals\"\n\
         approvers = [\"{APPROVER}\"]\n"
    );
    let path = dir.join("remedy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the finding: the request id on the Approve button of the message the double received.
fn ask(url: &str, config: &Path, finding: &Path, double: &ChatDouble) -> (String, String) {
    let before = double.received().len();
    let out = remedy(
        url,
        &[
            "run",
            "policies",
            finding.to_str().unwrap(),
            "--execute",
            "--config",
            config.to_str().unwrap(),
        ],
    )
    .env("REMEDY_TEST_SLACK_TOKEN", TOKEN)
    .env("REMEDY_TEST_SLACK_SIGNING", SIGNING)
    .output()
    .unwrap();
    let r = ran(&out);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let received = double.received();
    let asked = received[before..]
        .iter()
        .find(|m| m.raw.contains("remedy_approve"))
        .unwrap_or_else(|| panic!("no message with buttons: {received:#?}"));
    let blocks = asked.body["blocks"].as_array().unwrap();
    let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    assert_eq!(actions["elements"][0]["action_id"], "remedy_approve");
    assert_eq!(actions["elements"][1]["action_id"], "remedy_deny");
    let id = actions["elements"][0]["value"].as_str().unwrap().to_owned();
    assert!(id.starts_with("apr-"), "{id}");
    (id, "1700000001.000001".to_owned())
}

/// A click's form body.
fn body(action: &str, id: &str, user: &str, double: &ChatDouble) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "alice"},
        "channel": {"id": "C0123456789"},
        "container": {"type": "message", "message_ts": "1700000001.000001", "channel_id": "C0123456789"},
        "response_url": format!("{}/response/1", double.url),
        "actions": [{"action_id": action, "value": id, "type": "button"}],
    });
    let encoded: String = percent_encoding::utf8_percent_encode(
        &payload.to_string(),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .collect();
    format!("payload={encoded}")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// POSTs `body` to the server with Slack's headers; the status.
async fn post(addr: &str, body: &str, at: u64, signature: Option<String>) -> u16 {
    let signature = signature
        .unwrap_or_else(|| remedy::serve::sign(&Secret::new(SIGNING), at, body.as_bytes()));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /slack/interactions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         x-slack-request-timestamp: {at}\r\nx-slack-signature: {signature}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Waits until `check` holds (at most 10 s).
async fn until(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_buttons_decide_once_through_every_guard() {
    let Some(url) = moto() else { return };
    let iam = iam(&url).await;
    let double = ChatDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &double.url);

    // The server, on a free port; its address from its first line.
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
        .current_dir(crate::common::root())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "policies",
            "--execute",
            "--config",
        ])
        .arg(&config)
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("REMEDY_TEST_SLACK_TOKEN", TOKEN)
        .env("REMEDY_TEST_SLACK_SIGNING", SIGNING)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    // Request 1: forged, stale, foreign, then two approvers at once and a replay.
    let (user, key) = user_with_key(&iam, "slack-approve-").await;
    let (id, _) = ask(
        &url,
        &config,
        &key_finding(dir.path(), &user, &key),
        &double,
    );
    let approve = body("remedy_approve", &id, APPROVER, &double);
    assert_eq!(
        post(
            &addr,
            &approve,
            now(),
            Some(format!("v0={}", "0".repeat(64)))
        )
        .await,
        401
    );
    assert_eq!(
        post(&addr, &approve, now() - 600, None).await,
        401,
        "a stale timestamp"
    );
    let foreign = body("remedy_approve", &id, "U0STRANGER", &double);
    assert_eq!(post(&addr, &foreign, now(), None).await, 200);
    assert!(
        until(async || double.received().iter().any(|m| m.path == "/response/1")).await,
        "the stranger is told privately"
    );
    assert!(active(&iam, &user, &key).await, "nothing changed");
    let at = now();
    let (a, b) = tokio::join!(
        post(&addr, &approve, at, None),
        post(&addr, &approve, at, None)
    );
    assert_eq!((a, b), (200, 200));
    assert!(
        until(async || !active(&iam, &user, &key).await).await,
        "the approved key is disabled"
    );
    assert!(
        until(async || double.received().iter().any(|m| m.path == "/chat.update")).await,
        "the message is updated"
    );
    // A replay of the same signed payload: answered, nothing more.
    assert_eq!(post(&addr, &approve, at, None).await, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let audit = json_lines(&dir.path().join("audit.jsonl"));
    let decided: Vec<&Value> = audit
        .iter()
        .filter(|r| r["approval_id"] == id.as_str() && r["event"] == "approved")
        .collect();
    assert_eq!(decided.len(), 1, "one decision: {audit:#?}");
    assert_eq!(decided[0]["by"], format!("slack:{APPROVER} (alice)"));
    assert!(
        audit
            .iter()
            .any(|r| r["approval_id"] == id.as_str() && r["event"] == "refused"),
        "the stranger's attempt is audited"
    );
    let updates: Vec<_> = double
        .received()
        .into_iter()
        .filter(|m| m.path == "/chat.update")
        .collect();
    assert_eq!(updates.len(), 1, "{updates:#?}");
    assert!(
        updates[0].raw.contains("approved by slack:U0APPROVER"),
        "{}",
        updates[0].raw
    );

    // Request 2: denied, then approved: stays denied.
    let (user, key) = user_with_key(&iam, "slack-deny-").await;
    let (id, _) = ask(
        &url,
        &config,
        &key_finding(dir.path(), &user, &key),
        &double,
    );
    assert_eq!(
        post(
            &addr,
            &body("remedy_deny", &id, APPROVER, &double),
            now(),
            None
        )
        .await,
        200
    );
    assert!(
        until(async || {
            json_lines(&dir.path().join("audit.jsonl"))
                .iter()
                .any(|r| r["approval_id"] == id.as_str() && r["event"] == "denied")
        })
        .await
    );
    assert_eq!(
        post(
            &addr,
            &body("remedy_approve", &id, APPROVER, &double),
            now(),
            None
        )
        .await,
        200
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        active(&iam, &user, &key).await,
        "an approval after a denial changes nothing"
    );

    // Request 3: the kill switch on at click time: approved, not carried out.
    let (user, key) = user_with_key(&iam, "slack-stop-").await;
    let (id, _) = ask(
        &url,
        &config,
        &key_finding(dir.path(), &user, &key),
        &double,
    );
    std::fs::write(dir.path().join("STOP"), "incident freeze").unwrap();
    assert_eq!(
        post(
            &addr,
            &body("remedy_approve", &id, APPROVER, &double),
            now(),
            None
        )
        .await,
        200
    );
    assert!(
        until(async || {
            double
                .received()
                .iter()
                .any(|m| m.path == "/chat.update" && m.raw.contains(&id))
        })
        .await
    );
    assert!(
        active(&iam, &user, &key).await,
        "the kill switch holds over an approval"
    );
    let _ = server.kill().await;
    assert!(
        !std::fs::read_to_string(dir.path().join("audit.jsonl"))
            .unwrap()
            .contains(TOKEN)
    );
}
