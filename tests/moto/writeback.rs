//! Closing the finding where it came from, end to end through the CLI with the bundled policies:
//! IAM on moto, GuardDuty and Security Hub on a loopback stub (`writeback/stub.rs`) reached with
//! the SDK's `AWS_ENDPOINT_URL_GUARDDUTY` and `AWS_ENDPOINT_URL_SECURITYHUB`.
//!
//! - the key is disabled, then the finding archived and resolved with the note: one request each,
//!   also after a redelivery; `remedy undo` of the update restores the status Security Hub had;
//! - the disable fails (no such user): nothing is written back and the records say why;
//! - a write-back kind the configuration does not turn on: skipped, nothing sent;
//! - an identifier Security Hub reports unprocessed: a failed action with its reason;
//! - a suppression waits for approval, is created on `remedy approve` with its expiry tag, and is
//!   deleted by `remedy expire` once its days are over; a filter not yet expired and a filter
//!   remedy did not make stay.

use std::path::{Path, PathBuf};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::common::{
    active, finding, iam, json_lines, key_finding, moto, ran, record, remedy, unique, user_with_key,
};

mod stub;

use stub::Stub;

const KINDS: &str = r#"["update_finding", "archive_finding", "suppress_similar"]"#;
const PRODUCT: &str = "arn:aws:securityhub:us-east-1::product/aws/guardduty";
const RECON: &str = "examples/findings/02-recon-iamuser.json";
const RECON_ID: &str = "d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3";
const RECON_IP: &str = "198.51.100.88";
/// An address of `known_scanners()` in the bundled `suppress-known-scanner` policy.
const SCANNER_IP: &str = "203.0.113.10";

/// A configuration in `dir` with the write-back `kinds` on (a TOML array, or `None`), requests
/// kept in `approvals`, the ledger and the audit trail in files.
fn config(dir: &Path, kinds: Option<&str>) -> PathBuf {
    let kinds = kinds.map_or(String::new(), |k| format!("kinds = {k}\n"));
    let text = format!(
        "[ledger]\npath = \"ledger\"\n[audit]\npath = \"audit.jsonl\"\n\
         [notify]\ndefault = \"log\"\n\
         [approval]\nnotify = \"security\"\npath = \"approvals\"\n\
         [writeback]\n{kinds}suppression_regions = [\"us-east-1\"]\n"
    );
    let path = dir.join("remedy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `remedy ARGS` against moto, with GuardDuty and Security Hub on `stub`.
fn remedy_on(url: &str, stub: &Stub, args: &[&str]) -> crate::common::Ran {
    let out = remedy(url, args)
        .env("AWS_ENDPOINT_URL_GUARDDUTY", &stub.url)
        .env("AWS_ENDPOINT_URL_SECURITYHUB", &stub.url)
        .output()
        .unwrap();
    ran(&out)
}

/// `remedy run policies FINDING --execute --config CONFIG` with the bundled policies.
fn run(url: &str, stub: &Stub, config: &Path, finding: &str) -> crate::common::Ran {
    remedy_on(
        url,
        stub,
        &[
            "run",
            "policies",
            finding,
            "--execute",
            "--config",
            config.to_str().unwrap(),
        ],
    )
}

/// The finding id and ARN of a finding file.
fn id_and_arn(path: &Path) -> (String, String) {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let detail = &doc["detail"];
    (
        detail["id"].as_str().unwrap().to_owned(),
        detail["arn"].as_str().unwrap().to_owned(),
    )
}

fn status(record: &Value) -> &str {
    record["outcome"]["status"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_disabled_then_the_finding_archived_and_resolved_once_and_undo_restores() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Some(KINDS));
    let (user, key) = user_with_key(&client, "writeback-").await;
    let path = key_finding(dir.path(), &user, &key);
    let (id, arn) = id_and_arn(&path);
    stub.set_workflow(&arn, "NOTIFIED");

    let r = run(&url, &stub, &config, path.to_str().unwrap());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let kinds: Vec<&str> = r
        .lines
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "disable_access_key",
            "update_finding",
            "archive_finding",
            "notify"
        ],
        "the write-back after the disable, the notification last"
    );
    for kind in ["disable_access_key", "update_finding", "archive_finding"] {
        assert_eq!(
            status(record(&r.lines, kind)),
            "executed",
            "{kind}: {:#?}",
            r.lines
        );
    }
    assert!(!active(&client, &user, &key).await, "the key is disabled");

    // One ArchiveFindings of the finding on remedy's detector.
    let archive = stub.calls("ArchiveFindings");
    assert_eq!(archive.len(), 1, "{:#?}", stub.received());
    assert_eq!(
        archive[0].path,
        format!("/detector/{}/findings/archive", stub::DETECTOR)
    );
    assert_eq!(archive[0].body["findingIds"], serde_json::json!([id]));
    assert!(stub.is_archived(&id));
    // One BatchUpdateFindings: the finding by its ARN and GuardDuty's product, RESOLVED, the note.
    let update = stub.calls("BatchUpdateFindings");
    assert_eq!(update.len(), 1, "{:#?}", stub.received());
    assert_eq!(update[0].method, "PATCH");
    let body = &update[0].body;
    assert_eq!(body["FindingIdentifiers"][0]["Id"], arn.as_str());
    assert_eq!(body["FindingIdentifiers"][0]["ProductArn"], PRODUCT);
    assert_eq!(body["Workflow"]["Status"], "RESOLVED");
    assert_eq!(body["Note"]["UpdatedBy"], "remedy");
    let note = body["Note"]["Text"].as_str().unwrap();
    assert_eq!(
        note,
        format!(
            "remedy disabled access key {key} of IAM user {user}: it was used from an address on a threat list"
        )
    );
    assert_eq!(
        stub.workflow(&arn),
        Some(("RESOLVED".to_owned(), Some(note.to_owned())))
    );
    // The status before the update was read first, for the undo.
    let resolved = record(&r.lines, "update_finding");
    assert_eq!(
        resolved["outcome"]["undo"]["status"], "NOTIFIED",
        "{resolved:#}"
    );
    assert_eq!(stub.calls("GetFindings").len(), 1);

    // Delivered again with the same ledger: nothing more is sent.
    let again = run(&url, &stub, &config, path.to_str().unwrap());
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    for kind in ["disable_access_key", "update_finding", "archive_finding"] {
        assert_eq!(status(record(&again.lines, kind)), "already_done", "{kind}");
    }
    assert_eq!(stub.calls("ArchiveFindings").len(), 1);
    assert_eq!(stub.calls("BatchUpdateFindings").len(), 1);

    // Undo of the update: the status Security Hub reported before it (NOTIFIED) comes back.
    let intent = resolved["intent"].as_str().unwrap();
    let undo = remedy_on(
        &url,
        &stub,
        &[
            "undo",
            intent,
            "--config",
            config.to_str().unwrap(),
            "--execute",
        ],
    );
    assert_eq!(undo.code, Some(0), "{}", undo.stderr);
    assert_eq!(undo.lines[0]["kind"], "undo");
    assert_eq!(status(&undo.lines[0]), "executed", "{:#?}", undo.lines);
    let updates = stub.calls("BatchUpdateFindings");
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1].body["Workflow"]["Status"], "NOTIFIED");
    assert_eq!(updates[1].body["FindingIdentifiers"][0]["Id"], arn.as_str());
    assert_eq!(stub.workflow(&arn).unwrap().0, "NOTIFIED");
    assert!(
        !active(&client, &user, &key).await,
        "undoing the update left the key alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_disable_writes_nothing_back_and_the_record_says_why() {
    let Some(url) = moto() else { return };
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Some(KINDS));
    // A user moto does not have: the disable fails.
    let path = key_finding(dir.path(), &unique("nobody-"), "AKIAIOSFODNN7NOSUCHK");

    let r = run(&url, &stub, &config, path.to_str().unwrap());
    assert_eq!(r.code, Some(1), "a failed action: {}", r.stderr);
    assert_eq!(status(record(&r.lines, "disable_access_key")), "failed");
    for kind in ["update_finding", "archive_finding"] {
        let held = record(&r.lines, kind);
        assert_eq!(status(held), "skipped", "{held:#}");
        let details = held["outcome"]["details"].as_str().unwrap();
        assert!(
            details.contains("not written back") && details.contains("disable_access_key"),
            "{details}"
        );
        assert_eq!(held["outcome"]["reason"]["kind"], "held_back", "{held:#}");
    }
    assert!(
        stub.received().is_empty(),
        "nothing reached GuardDuty or Security Hub: {:#?}",
        stub.received()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_that_is_not_turned_on_sends_nothing_and_names_the_line() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Some(r#"["archive_finding"]"#));
    let (user, key) = user_with_key(&client, "writeback-off-").await;
    let path = key_finding(dir.path(), &user, &key);

    let r = run(&url, &stub, &config, path.to_str().unwrap());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(!active(&client, &user, &key).await);
    let off = record(&r.lines, "update_finding");
    assert_eq!(off["outcome"]["reason"]["kind"], "not_enabled", "{off:#}");
    assert_eq!(
        off["outcome"]["reason"]["setting"],
        r#"[writeback] kinds = ["archive_finding", "update_finding"]"#
    );
    assert_eq!(status(record(&r.lines, "archive_finding")), "executed");
    assert!(r.stderr.contains("1 not enabled"), "{}", r.stderr);
    assert!(stub.calls("BatchUpdateFindings").is_empty());
    assert!(stub.calls("GetFindings").is_empty());
    assert_eq!(stub.calls("ArchiveFindings").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprocessed_identifier_is_a_failed_action_with_its_reason() {
    let Some(url) = moto() else { return };
    let client = iam(&url).await;
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Some(KINDS));
    let (user, key) = user_with_key(&client, "writeback-refused-").await;
    let path = key_finding(dir.path(), &user, &key);
    let (_, arn) = id_and_arn(&path);
    stub.refuse(&arn);

    let r = run(&url, &stub, &config, path.to_str().unwrap());
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let refused = record(&r.lines, "update_finding");
    assert_eq!(status(refused), "failed", "{refused:#}");
    let details = refused["outcome"]["details"].as_str().unwrap();
    assert!(
        details.contains("Finding Not Found") && details.contains("FindingNotFound"),
        "{details}"
    );
    assert!(details.contains(&arn), "{details}");
    assert!(
        r.stderr.contains("failed: update_finding"),
        "said on stderr: {}",
        r.stderr
    );
    assert_eq!(stub.calls("BatchUpdateFindings").len(), 1);
    assert_eq!(stub.workflow(&arn), None, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppression_waits_for_approval_is_created_then_expires_after_its_days() {
    let Some(url) = moto() else { return };
    let stub = Stub::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), Some(KINDS));
    let config_arg = config.to_str().unwrap();
    let id = unique("recon");
    let path = finding(
        dir.path(),
        RECON,
        &[(RECON_ID, id.as_str()), (RECON_IP, SCANNER_IP)],
    );

    // Recon by the known scanner: the suppression waits for a person; nothing is created yet.
    let r = run(&url, &stub, &config, &path);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let asked = record(&r.lines, "suppress_similar");
    assert_eq!(status(asked), "pending_approval", "{asked:#}");
    assert_eq!(asked["params"]["days"], 30);
    assert!(stub.calls("CreateFilter").is_empty());
    let approval = asked["outcome"]["approval_id"].as_str().unwrap();

    // Approved: one CreateFilter, ARCHIVE, on the type, the address and the principal, tagged
    // with its expiry 30 days from now.
    let before = OffsetDateTime::now_utc();
    let approve = remedy_on(
        &url,
        &stub,
        &["approve", approval, "--by", "bob", "--config", config_arg],
    );
    assert_eq!(approve.code, Some(0), "{}", approve.stderr);
    let after = OffsetDateTime::now_utc();
    let created = stub.calls("CreateFilter");
    assert_eq!(created.len(), 1, "{:#?}", stub.received());
    let body = &created[0].body;
    assert_eq!(body["action"], "ARCHIVE");
    let name = body["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("remedy-suppress-"), "{name}");
    let criterion = &body["findingCriteria"]["criterion"];
    assert_eq!(
        criterion["type"]["equals"],
        serde_json::json!(["Recon:IAMUser/MaliciousIPCaller"])
    );
    assert_eq!(
        criterion["service.action.awsApiCallAction.remoteIpDetails.ipAddressV4"]["equals"],
        serde_json::json!([SCANNER_IP])
    );
    assert_eq!(
        criterion["resource.accessKeyDetails.userName"]["equals"],
        serde_json::json!(["ci-deployer"])
    );
    let expires = body["tags"]["remedy-expires"].as_str().unwrap();
    let expires = OffsetDateTime::parse(expires, &Rfc3339).unwrap();
    let days = time::Duration::days(30);
    assert!(
        expires >= before + days - time::Duration::seconds(1) && expires <= after + days,
        "expires {expires}, approved between {before} and {after}"
    );
    let trail = json_lines(&dir.path().join("audit.jsonl"));
    assert!(trail.iter().any(|r| r["record"] == "action"
        && r["kind"] == "suppress_similar"
        && r["outcome"]["status"] == "executed"));

    // Other filters: two of remedy's, not yet expired (listed first: the expired one is on the
    // second page, as the stub pages two names at a time); the team's own, whose tag says
    // expired but whose name is not remedy's.
    let past = "2020-01-01T00:00:00Z";
    let future = "2999-01-01T00:00:00Z";
    stub.add_filter("remedy-suppress--notyet-1", &[("remedy-expires", future)]);
    stub.add_filter("remedy-suppress--notyet-2", &[("remedy-expires", future)]);
    stub.add_filter("team-own-filter", &[("remedy-expires", past)]);

    // Before its days are over, `remedy expire` deletes nothing.
    let early = remedy_on(&url, &stub, &["expire", "--config", config_arg]);
    assert_eq!(early.code, Some(0), "{}", early.stderr);
    assert!(
        stub.calls("DeleteFilter").is_empty(),
        "{:#?}",
        stub.received()
    );
    assert!(
        early
            .stderr
            .contains("0 expired suppression filter(s) deleted in us-east-1"),
        "{}",
        early.stderr
    );

    // The days pass: the filter's expiry is in the past.
    stub.set_tag(&name, "remedy-expires", past);
    let listed = stub.calls("ListFilters").len();
    let expire = remedy_on(&url, &stub, &["expire", "--config", config_arg]);
    assert_eq!(expire.code, Some(0), "{}", expire.stderr);
    assert_eq!(
        stub.calls("ListFilters").len() - listed,
        2,
        "both pages were read"
    );
    let deleted = stub.calls("DeleteFilter");
    assert_eq!(deleted.len(), 1, "{:#?}", stub.received());
    assert_eq!(deleted[0].method, "DELETE");
    assert_eq!(
        deleted[0].path,
        format!("/detector/{}/filter/{name}", stub::DETECTOR)
    );
    let left: Vec<String> = stub.filters().into_keys().collect();
    assert_eq!(
        left,
        [
            "remedy-suppress--notyet-1",
            "remedy-suppress--notyet-2",
            "team-own-filter"
        ]
    );
    assert!(
        expire.stderr.contains(&format!(
            "1 expired suppression filter(s) deleted in us-east-1: {name}"
        )),
        "{}",
        expire.stderr
    );
}
