//! Slack and Teams channels against a loopback double of their HTTP APIs: threading across
//! processes, 429s, hangs, hostile finding text and the token kept out of every output.

use std::sync::Arc;
use std::time::{Duration, Instant};

use remedy::action::{ActionRequest, ChannelRouter, Executor, ExecutorExt, Outcome, Retry, Status};
use remedy::config::Secret;
use remedy::notify::{Message, Slack, Teams, slack_blocks, teams_card};
use remedy::plan::{Action, FindingContext, Notify, Principal};
use remedy::remediate::Remediator;
use remedy::testing::{context, plan_of};
use serde_json::Value;

use crate::chat_double::{ChatDouble, Reply};

const TOKEN: &str = "xoxb-remedy-test-token-never-shown";

fn notify(channel: &str, message: &str) -> Action {
    Action::Notify(Notify {
        channel: channel.into(),
        message: message.into(),
    })
}

fn slack(double: &ChatDouble) -> Slack {
    Slack::new("C0123456789", Secret::new(TOKEN))
        .with_api_url(&double.url)
        .with_interval(Duration::from_millis(10))
}

fn hostile() -> FindingContext {
    let mut f = context("f-hostile", "Recon:IAMUser/UserPermissions").unwrap();
    f.principal = Some(Principal {
        user_name: Some("<!channel> <@U0BADBAD> <https://evil.example.com|click here>".into()),
        user_type: Some("*bold* _it_ ```code``` [link](https://evil.example.com)".into()),
        ..Principal::default()
    });
    f.remote_ip = Some("198.51.100.7\n\n*forged line*".into());
    f
}

/// Every string inside `value`, for checks on what a platform would render.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn a_429_is_posted_once_after_its_retry_after() {
    let double = ChatDouble::start().await;
    double.script([Reply::TooMany(1)]);
    let notifier = Retry::new(slack(&double))
        .with_max_attempts(4)
        .with_backoff(Duration::from_millis(10), Duration::from_secs(5));
    let f = context("f-429", "Recon:IAMUser/UserPermissions").unwrap();
    let action = notify("security", "hello");
    let started = Instant::now();
    let outcome = notifier.execute(&ActionRequest::new(&action, &f)).await;
    assert_eq!(outcome.status(), Status::Executed, "{outcome}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    let received = double.received();
    assert_eq!(received.len(), 2, "one refused, one posted");
    assert_eq!(received[1].path, "/chat.postMessage");
    assert_eq!(
        received[1].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(!outcome.to_string().contains(TOKEN));
}

#[tokio::test]
async fn a_refusal_is_a_failed_action_with_its_reason_and_no_retry() {
    let double = ChatDouble::start().await;
    double.script([Reply::Error("channel_not_found")]);
    let notifier = Retry::new(slack(&double)).with_backoff(Duration::ZERO, Duration::ZERO);
    let f = context("f-err", "Recon:IAMUser/UserPermissions").unwrap();
    let action = notify("security", "hello");
    let outcome = notifier.execute(&ActionRequest::new(&action, &f)).await;
    assert_eq!(outcome.status(), Status::Failed);
    assert!(
        outcome.to_string().contains("channel_not_found"),
        "{outcome}"
    );
    assert_eq!(double.received().len(), 1);
}

#[tokio::test]
async fn a_hang_fails_with_a_reason_and_the_other_channels_still_deliver() {
    let slack_double = ChatDouble::start().await;
    slack_double.script([Reply::Hang]);
    let teams_double = ChatDouble::start().await;
    let hanging = Retry::new(slack(&slack_double).with_timeout(Duration::from_secs(1)))
        .with_backoff(Duration::ZERO, Duration::ZERO);
    let teams = Teams::new(Secret::new(format!(
        "{}/workflows/secret-path",
        teams_double.url
    )));
    let router = ChannelRouter::new()
        .with_channel("chat", hanging.into_arc())
        .with_channel("teams", teams.into_arc());
    let remediator = Remediator::builder(Arc::new(router)).enforce(true).build();
    let f = context("f-hang", "Recon:IAMUser/UserPermissions").unwrap();
    let plan = plan_of(
        f,
        [notify("chat", "to slack"), notify("teams", "to teams")],
        "p",
    );
    let report = remediator.run(&plan).await;
    let chat = &report.actions[0];
    let teams = &report.actions[1];
    assert_eq!(chat.outcome.status(), Status::Failed, "{:?}", chat.outcome);
    assert!(
        chat.outcome.to_string().contains("unknown"),
        "{}",
        chat.outcome
    );
    assert_eq!(
        slack_double.received().len(),
        1,
        "a post whose result is unknown is not re-sent"
    );
    assert_eq!(
        teams.outcome.status(),
        Status::Executed,
        "{:?}",
        teams.outcome
    );
    assert!(
        !teams.outcome.to_string().contains("secret-path"),
        "the webhook URL is a secret"
    );
}

#[tokio::test]
async fn teams_throttling_in_a_200_is_retried_once() {
    let double = ChatDouble::start().await;
    double.script([Reply::Ok429, Reply::Ok429]);
    let teams = Retry::new(Teams::new(Secret::new(format!("{}/hook", double.url))))
        .with_backoff(Duration::from_millis(10), Duration::from_millis(10));
    // One attempt alone: a failure that says nothing was posted.
    let f = context("f-teams", "Recon:IAMUser/UserPermissions").unwrap();
    let action = notify("teams", "hello");
    let single = Teams::new(Secret::new(format!("{}/hook", double.url)));
    let first = single.execute(&ActionRequest::new(&action, &f)).await;
    assert_eq!(first.status(), Status::Failed);
    let Outcome::Failed(e) = &first else { panic!() };
    assert!(e.nothing_done() && e.retryable(), "{e}");
    // Through Retry: posted after the wait (no Retry-After: Teams' 5 s).
    let outcome = teams.execute(&ActionRequest::new(&action, &f)).await;
    assert_eq!(outcome.status(), Status::Executed, "{outcome}");
    let received = double.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[2].body["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
}

#[test]
fn hostile_finding_text_cannot_mention_link_or_add_a_block() {
    let f = hostile();
    let action = notify(
        "security",
        "user <!here> said ```\n\n{\"type\":\"section\"}```",
    );
    let message = Message::from_request(&ActionRequest::new(&action, &f), "test").unwrap();
    let blocks = slack_blocks(&message);
    assert_eq!(blocks.as_array().unwrap().len(), 5, "a fixed set of blocks");
    let mut texts = Vec::new();
    strings(&blocks, &mut texts);
    for text in &texts {
        for bad in ["<!", "<@", "<http", "://evil", "evil.example.com"] {
            assert!(!text.contains(bad), "{bad} in {text}");
        }
    }
    // Finding values are plain text: Slack renders them as they are, formatting and all.
    let mrkdwn: Vec<&Value> = blocks[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["type"] == "mrkdwn")
        .collect();
    assert!(
        mrkdwn
            .iter()
            .all(|f| !f["text"].as_str().unwrap().contains("channel"))
    );
    let fallback = remedy::notify::slack_fallback(&message);
    assert!(
        !fallback.contains('<') && !fallback.contains('*'),
        "{fallback}"
    );

    let card = teams_card(&message);
    let mut texts = Vec::new();
    strings(&card, &mut texts);
    for text in &texts {
        for bad in ["](", "<!", "<@", "<at>", "://evil"] {
            assert!(!text.contains(bad), "{bad} in {text}");
        }
    }
    let chatbot: Value = serde_json::from_str(&remedy::notify::chatbot::render(&message)).unwrap();
    let description = chatbot["content"]["description"].as_str().unwrap();
    assert!(
        !description.contains("](") && !description.contains("<!"),
        "{description}"
    );
    let mail =
        remedy::notify::email::render(&message, "a@example.com", &["b@example.com".into()], None);
    let headers = mail.split("\r\n\r\n").next().unwrap();
    assert!(!headers.contains("forged"), "{headers}");
}

/// A finding then its update, in two processes of the CLI sharing a ledger directory: one
/// parent and one reply in its thread; a repeat of the update posts nothing; the token is in no
/// output, record or file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_and_its_update_in_two_processes_are_one_thread() {
    let double = ChatDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("tell.rhai"),
        "const DESCRIPTION = \"tells the team\";\nconst APPLIES_TO = \"Recon:IAMUser/*\";\n\
         fn decide(finding) { notify(\"team\", `seen ${finding.count} times`).repeat_on_update() }\n",
    )
    .unwrap();
    let config = dir.path().join("remedy.toml");
    std::fs::write(
        &config,
        format!(
            "[notify.channels]\nteam = {{ kind = \"slack\", channel = \"C0123456789\", \
             token_env = \"REMEDY_TEST_SLACK_TOKEN\", api_url = \"{}\" }}\n\
             [ledger]\npath = \"ledger\"\n[audit]\npath = \"audit.jsonl\"\n",
            double.url
        ),
    )
    .unwrap();
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/findings/02-recon-iamuser.json"
    ))
    .unwrap();
    let mut event: Value = serde_json::from_str(&sample).unwrap();
    let first = dir.path().join("first.json");
    std::fs::write(&first, event.to_string()).unwrap();
    event["detail"]["updatedAt"] = "2024-06-11T10:36:51.208Z".into();
    event["detail"]["service"]["count"] = 9.into();
    let update = dir.path().join("update.json");
    std::fs::write(&update, event.to_string()).unwrap();

    let run = |finding: std::path::PathBuf| {
        let policies = policies.clone();
        let config = config.clone();
        async move {
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
                .arg("run")
                .arg(&policies)
                .arg(&finding)
                .arg("--config")
                .arg(&config)
                .arg("--execute")
                .env("REMEDY_TEST_SLACK_TOKEN", TOKEN)
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("RUST_LOG", "debug")
                .output()
                .await
                .unwrap();
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{all}");
            assert!(!all.contains(TOKEN), "the token was printed: {all}");
            all
        }
    };
    run(first.clone()).await;
    run(update.clone()).await;
    run(update.clone()).await;
    let received = double.received();
    assert_eq!(received.len(), 2, "a parent and one reply: {received:#?}");
    assert!(received[0].body.get("thread_ts").is_none());
    assert_eq!(received[1].body["thread_ts"], "1700000001.000001");
    assert!(
        received[1].raw.contains("seen 9 times"),
        "{}",
        received[1].raw
    );
    for entry in walk(dir.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        assert!(!text.contains(TOKEN), "the token is in {}", entry.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The Slack message the README shows is the one remedy renders (run with `REMEDY_BLESS=1` to
/// rewrite the README's copy after a deliberate change).
#[test]
fn the_readme_shows_the_slack_message_remedy_renders() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/findings/01-iam-malicious-ip-custom.json"
    ))
    .unwrap();
    let finding = remedy::Finding::from_json_str(&text).unwrap();
    let f = FindingContext::from(&finding);
    let action = notify(
        "security",
        "Key disabled: GuardDuty-Example-Compromised-Simulated called the API from a custom threat list IP.",
    );
    let prior = [remedy::action::PriorOutcome {
        kind: remedy::plan::ActionKind::DISABLE_ACCESS_KEY,
        target: "access_key:GuardDuty-Example-Compromised-Simulated/AKIAIOSFODNN7EXAMPLE".into(),
        summary: "executed: access key set Inactive".into(),
        approval_id: None,
    }];
    let sources = [remedy::plan::Source {
        policy: "disable-key-on-malicious-ip".into(),
        version: "1".into(),
        reason: Some("API call from an IP on a custom threat list".into()),
        line: None,
    }];
    let request = ActionRequest::new(&action, &f)
        .with_prior(&prior)
        .with_sources(&sources);
    let message = Message::from_request(&request, "readme").unwrap();
    let rendered = serde_json::to_string_pretty(&slack_blocks(&message)).unwrap();
    // Other tests rewrite the README too when blessing.
    let _lock = crate::readme::transcript::README_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(readme_path).unwrap();
    let (start, end) = (
        "<!-- slack-blocks -->\n```json\n",
        "\n```\n<!-- /slack-blocks -->",
    );
    let from = readme
        .find(start)
        .expect("README has the slack-blocks marker")
        + start.len();
    let to = from + readme[from..].find(end).unwrap();
    if std::env::var_os("REMEDY_BLESS").is_some() {
        let blessed = format!("{}{rendered}{}", &readme[..from], &readme[to..]);
        std::fs::write(readme_path, blessed).unwrap();
        return;
    }
    assert_eq!(
        readme[from..to],
        rendered,
        "the README's Slack message is stale: run with REMEDY_BLESS=1"
    );
}

#[tokio::test]
async fn the_in_memory_twin_threads_like_the_chat_channels() {
    let twin = remedy::action::MemoryNotifier::new();
    let a = context("f-a", "Recon:IAMUser/UserPermissions").unwrap();
    let b = context("f-b", "Recon:IAMUser/UserPermissions").unwrap();
    for (f, channel) in [(&a, "x"), (&b, "x"), (&a, "x"), (&a, "y")] {
        let action = notify(channel, "m");
        let outcome = twin.execute(&ActionRequest::new(&action, f)).await;
        assert_eq!(outcome.status(), Status::Executed);
    }
    assert_eq!(twin.parent_of(0), None);
    assert_eq!(
        twin.parent_of(1),
        None,
        "another finding starts its own thread"
    );
    assert_eq!(
        twin.parent_of(2),
        Some(0),
        "the same finding replies to its first message"
    );
    assert_eq!(
        twin.parent_of(3),
        None,
        "another channel starts its own thread"
    );
}
