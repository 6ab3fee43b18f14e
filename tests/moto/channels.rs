//! AWS Chatbot over SNS and email over SES v2, end to end on moto: a finding then its update, in
//! two processes of the CLI, land in one thread (`metadata.threadId`; `In-Reply-To`).

use std::path::Path;

use serde_json::Value;

use crate::common::{moto, record, remedy_json, root, sdk, unique};

/// A policy dir telling `channel` about every Recon finding, again on each update; a finding and
/// its update (count 9) in `dir`.
fn setup(dir: &Path, channel_toml: &str) -> (String, String, String, String) {
    let policies = dir.join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("tell.rhai"),
        "const DESCRIPTION = \"tells the team\";\nconst APPLIES_TO = \"Recon:IAMUser/*\";\n\
         fn decide(finding) { notify(\"team\", `seen ${finding.count} times`).repeat_on_update() }\n",
    )
    .unwrap();
    let config = dir.join("remedy.toml");
    std::fs::write(
        &config,
        format!(
            "[notify.channels]\nteam = {channel_toml}\n[ledger]\npath = \"{}\"\n",
            dir.join("ledger").display()
        ),
    )
    .unwrap();
    let sample =
        std::fs::read_to_string(root().join("examples/findings/02-recon-iamuser.json")).unwrap();
    let mut event: Value = serde_json::from_str(&sample).unwrap();
    event["detail"]["id"] = unique("f").into();
    let first = dir.join("first.json");
    std::fs::write(&first, event.to_string()).unwrap();
    event["detail"]["updatedAt"] = "2024-06-11T10:36:51.208Z".into();
    event["detail"]["service"]["count"] = 9.into();
    let update = dir.join("update.json");
    std::fs::write(&update, event.to_string()).unwrap();
    let s = |p: &Path| p.display().to_string();
    (s(&policies), s(&config), s(&first), s(&update))
}

/// Runs the finding then its update, each in its own process; the two notify records.
fn twice(url: &str, policies: &str, config: &str, first: &str, update: &str) -> Vec<Value> {
    let mut notes = Vec::new();
    for finding in [first, update] {
        let (records, stderr, ok) = remedy_json(
            url,
            &["run", policies, finding, "--config", config, "--execute"],
        );
        assert!(ok, "{stderr}");
        let note = record(&records, "notify").clone();
        assert_eq!(note["outcome"]["status"], "executed", "{note:#?}");
        notes.push(note);
    }
    notes
}

#[cfg(feature = "sqs")]
#[tokio::test]
async fn chatbot_messages_of_one_finding_share_a_thread_id() {
    let Some(url) = moto() else { return };
    let sdk = sdk(&url).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let topic = sns
        .create_topic()
        .name(unique("chatops"))
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let queue = sqs
        .create_queue()
        .queue_name(unique("chatbot"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (policies, config, first, update) = setup(
        dir.path(),
        &format!("{{ kind = \"sns\", topic = \"{topic}\", format = \"chatbot\" }}"),
    );
    twice(&url, &policies, &config, &first, &update);

    let mut bodies = Vec::new();
    for _ in 0..5 {
        let got = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        bodies.extend(
            got.messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_owned)),
        );
        if bodies.len() >= 2 {
            break;
        }
    }
    assert_eq!(bodies.len(), 2, "{bodies:#?}");
    let parsed: Vec<Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    for p in &parsed {
        assert_eq!(p["version"], "1.0");
        assert_eq!(p["source"], "custom");
        assert!(
            p["content"]["title"]
                .as_str()
                .unwrap()
                .contains("Recon:IAMUser")
        );
    }
    let thread = parsed[0]["metadata"]["threadId"].as_str().unwrap();
    assert!(thread.starts_with("remedy-"), "{thread}");
    assert_eq!(parsed[1]["metadata"]["threadId"], thread);
    assert!(
        parsed.iter().any(|p| p["content"]["description"]
            .as_str()
            .unwrap()
            .contains("9 times")),
        "{parsed:#?}"
    );
}

#[tokio::test]
async fn an_email_update_replies_to_the_first_message() {
    let Some(url) = moto() else { return };
    let ses = aws_sdk_sesv2::Client::new(&sdk(&url).await);
    ses.create_email_identity()
        .email_identity("remedy@example.com")
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (policies, config, first, update) = setup(
        dir.path(),
        "{ kind = \"email\", from = \"remedy@example.com\", to = [\"secops@example.com\"] }",
    );
    let notes = twice(&url, &policies, &config, &first, &update);
    let said = |n: &Value| n["outcome"]["details"].as_str().unwrap().to_owned();
    let one = said(&notes[0]);
    let two = said(&notes[1]);
    assert!(one.contains("a new thread"), "{one}");
    // The first message's id, as SES names it in its Message-ID header.
    let id = one
        .split("(message ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap();
    assert!(
        two.contains(&format!("a reply to <{id}@email.amazonses.com>")),
        "{two}"
    );
}
