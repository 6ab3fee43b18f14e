//! A request nobody decided in time: its timeout decides it, and the channel that was asked is
//! told what the timeout decided and what came of the action, once, in the finding's thread.
//! `on_timeout` is applied either way, once.

use std::sync::Arc;
use std::time::Duration;

use remedy::Status;
use remedy::action::SkipReason;
use remedy::config::OnTimeout;
use remedy::store::approval::{ApprovalError, MemoryApprovals};
use remedy::testing::InMemory;

use crate::approval::{KEY, USER, pending_id, plan, remediator, rules};

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
                assert!(
                    body.contains("denied by its timeout; not carried out"),
                    "{body}"
                );
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
