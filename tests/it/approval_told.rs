//! What the channel that was asked is told once a request is decided elsewhere: by its timeout
//! (which decides it, once, either way), from the command line, or not at all when the decision
//! was a click in Slack (the click's message says it). A Slack ask loses its buttons.

use std::sync::Arc;
use std::time::Duration;

use remedy::Status;
use remedy::action::{ChannelRouter, Executor, SkipReason};
use remedy::config::{OnTimeout, Secret};
use remedy::notify::Slack;
use remedy::plan::ActionKind;
use remedy::remediate::Remediator;
use remedy::store::FileThreads;
use remedy::store::approval::{ApprovalError, MemoryApprovals};
use remedy::testing::InMemory;

use crate::approval::{KEY, USER, pending_id, plan, remediator, rules};
use crate::chat_double::ChatDouble;

#[tokio::test]
async fn the_asked_channel_is_told_what_the_timeout_decided_once() {
    for on_timeout in [OnTimeout::Deny, OnTimeout::Approve] {
        let world = InMemory::new().with_key(USER, KEY);
        let store = Arc::new(MemoryApprovals::new());
        let r = remediator(&world, &store, rules(1, on_timeout));
        // Finding text is the attacker's: a line break must not start a line of its own.
        let id = pending_id(&r.run(&plan("f-8\nApprove: yes")).await);
        let asked = world.notifier.messages().len();
        tokio::time::sleep(Duration::from_millis(2100)).await;

        let reports = r.expire().await.unwrap();
        assert_eq!(reports.len(), 1);
        let records = &reports[0].actions;
        assert_eq!(records.len(), 2, "{records:#?}");
        assert_eq!(records[0].kind.as_str(), "disable_access_key");
        assert_eq!(records[1].kind.as_str(), "notify");
        assert_eq!(
            records[1].outcome.status(),
            Status::Executed,
            "{records:#?}"
        );

        let messages = world.notifier.messages();
        assert_eq!(messages.len(), asked + 1, "one message more: {messages:#?}");
        let told = messages.last().unwrap();
        assert_eq!(told.channel, "security");
        let body = &told.body;
        assert!(
            body.contains(&format!("nobody decided request {id}")),
            "{body}"
        );
        match on_timeout {
            OnTimeout::Deny => {
                assert!(body.contains("denied by its timeout."), "{body}");
                assert!(body.contains("Not carried out."), "{body}");
                assert!(!body.contains("Outcome:"), "{body}");
            }
            OnTimeout::Approve => {
                assert!(body.contains("approved by its timeout"), "{body}");
                assert!(body.contains("Outcome: executed"), "{body}");
            }
        }
        assert!(
            !body.lines().any(|l| l.starts_with("Approve: yes")),
            "finding text stays inert: {body}"
        );
        // A reply in the finding's thread, which the first message started.
        assert_eq!(world.notifier.parent_of(messages.len() - 1), Some(0));

        // Applied once, told once.
        assert!(r.expire().await.unwrap().is_empty());
        assert_eq!(world.notifier.messages().len(), asked + 1);
    }
}

#[tokio::test]
async fn timeouts_deny_or_approve_as_configured() {
    for on_timeout in [OnTimeout::Deny, OnTimeout::Approve] {
        let world = InMemory::new().with_key(USER, KEY);
        let store = Arc::new(MemoryApprovals::new());
        let r = remediator(&world, &store, rules(1, on_timeout));
        let id = pending_id(&r.run(&plan("f-7")).await);
        assert!(r.expire().await.unwrap().is_empty(), "not expired yet");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(matches!(
            r.approve(&id, "bob", None).await,
            Err(ApprovalError::Expired { .. })
        ));
        let reports = r.expire().await.unwrap();
        assert_eq!(reports.len(), 1);
        let outcome = &reports[0].actions[0].outcome;
        match on_timeout {
            OnTimeout::Deny => {
                assert_eq!(outcome.skip_reason().map(SkipReason::kind), Some("denied"));
                assert!(outcome.to_string().contains("expired"), "{outcome}");
                assert_eq!(world.iam.is_active(USER, KEY), Some(true));
            }
            OnTimeout::Approve => {
                assert_eq!(outcome.status(), Status::Executed, "{outcome}");
                assert_eq!(world.iam.is_active(USER, KEY), Some(false));
            }
        }
        assert!(r.pending().await.unwrap().is_empty());
        assert!(r.expire().await.unwrap().is_empty(), "applied once");
        let stored = r.approval(&id).await.unwrap();
        assert_eq!(stored.decision.unwrap().by, "timeout");
    }
}

#[tokio::test]
async fn a_slack_ask_loses_its_buttons_when_the_timeout_decides() {
    let double = ChatDouble::start().await;
    let dir = tempfile::tempdir().unwrap();
    let world = InMemory::new().with_key(USER, KEY);
    let approvals = Arc::new(MemoryApprovals::new());
    // Two processes (the run that asks, then `remedy expire`) sharing the threads' directory.
    let process = || {
        let threads = FileThreads::open(dir.path()).unwrap();
        let slack: Arc<dyn Executor> = Arc::new(
            Slack::new("C0123456789", Secret::new("xoxb-t"))
                .with_api_url(&double.url)
                .with_interval(Duration::ZERO)
                .with_threads(Arc::new(threads)),
        );
        let router = world.router().with(
            ActionKind::NOTIFY,
            Arc::new(ChannelRouter::new().with_channel("security", slack)),
        );
        Remediator::builder(Arc::new(router))
            .with_approval(rules(1, OnTimeout::Deny))
            .with_approval_store(approvals.clone())
            .enforce(true)
            .build()
    };
    let id = pending_id(&process().run(&plan("f-9")).await);
    let posted = |double: &ChatDouble| {
        double
            .received()
            .into_iter()
            .filter(|m| m.path == "/chat.postMessage")
            .collect::<Vec<_>>()
    };
    let ask = posted(&double)
        .into_iter()
        .find(|m| m.raw.contains("remedy_approve"))
        .unwrap_or_else(|| panic!("no ask with buttons: {:#?}", double.received()));
    assert!(ask.raw.contains(id.as_str()), "{}", ask.raw);
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let reports = process().expire().await.unwrap();
    let told = &reports[0].actions[1];
    assert_eq!(told.outcome.status(), Status::Executed, "{told:#?}");
    assert!(
        told.outcome.to_string().contains("its buttons are gone"),
        "{}",
        told.outcome
    );
    // The ask (its channel and ts, as Slack answered) now says what the timeout decided, with
    // no button left; the thread got the reply saying so.
    let updates: Vec<_> = double
        .received()
        .into_iter()
        .filter(|m| m.path == "/chat.update")
        .collect();
    assert_eq!(updates.len(), 1, "{updates:#?}");
    let update = &updates[0].body;
    assert_eq!(update["channel"], "C1");
    assert!(
        update["ts"].as_str().unwrap().starts_with("1700000"),
        "{update}"
    );
    let text = update.to_string();
    assert!(text.contains(&format!("Request {id}")), "{text}");
    assert!(text.contains("denied by its timeout"), "{text}");
    assert!(
        !text.contains("remedy_approve") && !text.contains("button"),
        "{text}"
    );
    assert!(
        posted(&double)
            .iter()
            .any(|m| m.raw.contains("denied by its timeout") && m.body["thread_ts"].is_string()),
        "{:#?}",
        double.received()
    );
}

#[tokio::test]
async fn a_decision_from_the_shell_is_told_and_a_click_in_slack_is_not() {
    for (by, told) in [("bob", true), ("slack:U0APPROVER (alice)", false)] {
        let world = InMemory::new().with_key(USER, KEY);
        let store = Arc::new(MemoryApprovals::new());
        let r = remediator(&world, &store, rules(3600, OnTimeout::Deny));
        let id = pending_id(&r.run(&plan("f-10")).await);
        let asked = world.notifier.messages().len();
        let report = r
            .approve(&id, by, Some("checked\nApprove: all"))
            .await
            .unwrap();
        assert_eq!(report.actions[0].outcome.status(), Status::Executed);
        let messages = world.notifier.messages();
        if !told {
            assert_eq!(messages.len(), asked, "{messages:#?}");
            assert_eq!(report.actions.len(), 1, "{:#?}", report.actions);
            continue;
        }
        assert_eq!(messages.len(), asked + 1, "{messages:#?}");
        assert_eq!(report.actions.len(), 2, "{:#?}", report.actions);
        assert_eq!(report.actions[1].kind.as_str(), "notify");
        let body = &messages.last().unwrap().body;
        assert!(
            body.contains(&format!("request {id} was approved by bob at ")),
            "{body}"
        );
        assert!(body.contains("(checked\\nApprove: all)"), "{body}");
        assert!(body.contains("Outcome: executed"), "{body}");
        assert_eq!(world.notifier.parent_of(messages.len() - 1), Some(0));
    }
}
