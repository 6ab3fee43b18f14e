use super::*;

#[test]
fn the_example_parses() {
    let text = include_str!("../../examples/remedy.toml");
    let c = Config::from_toml_str(text).unwrap();
    assert!(c.notify.channels.contains_key("security"));
    assert!(!c.protect.users.is_empty());
    assert!(c.rate_limits.contains_key("disable_access_key"));
    assert_eq!(c.rate_limits["disable_access_key"].per_account, Some(3));
    assert!(c.enrich.iam && c.enrich.cloudtrail_hours == 24);
    assert_eq!(c.approval.kinds, ["run_command", "isolate_instance"]);
    assert!(c.approval.tags.is_empty());
    assert!(c.runbooks.allows_document("AWSSupport-ContainIAMPrincipal"));
    assert!(!c.runbooks.allows_document("AWS-DeleteStack"));
}

#[test]
fn errors_name_the_field() {
    let e = Config::from_toml_str("concurrency = 0").unwrap_err();
    assert!(e.to_string().contains("`concurrency`"), "{e}");
    let e = Config::from_toml_str("[notify.channels]\nsecurity = \"mail\"").unwrap_err();
    assert!(e.to_string().contains("notify.channels.security"), "{e}");
    let e = Config::from_toml_str("[protect]\nuser = []").unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
    let e = Config::from_toml_str("[rate_limits]\nNotify = { max = 1, per_secs = 1 }").unwrap_err();
    assert!(e.to_string().contains("rate_limits.Notify"), "{e}");
    let e = Config::from_toml_str("[containment]\nquarantine_policy = \"a b\"").unwrap_err();
    assert!(
        e.to_string().contains("containment.quarantine_policy"),
        "{e}"
    );
    let e = Config::from_toml_str("[containment]\nquarantine_policy = \"\"").unwrap_err();
    assert!(
        e.to_string().contains("containment.quarantine_policy"),
        "{e}"
    );
    for ok in [
        "AWSCompromisedKeyQuarantineV2",
        "arn:aws:iam::123456789012:policy/security/remedy-quarantine",
    ] {
        let c =
            Config::from_toml_str(&format!("[containment]\nquarantine_policy = \"{ok}\"")).unwrap();
        assert_eq!(c.containment.quarantine_policy, ok);
    }
    assert_eq!(
        Config::default().containment.quarantine_policy,
        "AWSCompromisedKeyQuarantineV3"
    );
    let e = Config::from_toml_str("[state]\ndynamodb_table = \"a b\"").unwrap_err();
    assert!(e.to_string().contains("state.dynamodb_table"), "{e}");
    let e = Config::from_toml_str("[state]\nretain_days = 0").unwrap_err();
    assert!(e.to_string().contains("state.retain_days"), "{e}");
    let e = Config::from_toml_str("[state]\ndynamodb_table = \"t-1\"\n[ledger]\npath = \"l\"")
        .unwrap_err();
    assert!(e.to_string().contains("ledger.path"), "{e}");
    let c = Config::from_toml_str("[state]\ndynamodb_table = \"remedy-state\"").unwrap();
    assert_eq!(c.state.dynamodb_table.as_deref(), Some("remedy-state"));
    assert_eq!(c.state.retain_days, 90);
}

#[test]
fn relative_paths_follow_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remedy.toml");
    std::fs::write(&path, "[ledger]\npath = \"state/ledger\"\n").unwrap();
    let c = Config::from_path(&path).unwrap();
    assert_eq!(c.ledger.path.unwrap(), dir.path().join("state/ledger"));
    assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
}

#[test]
fn a_relative_command_is_found_next_to_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remedy.toml");
    std::fs::write(
        &path,
        "[host_kinds]\nquarantine_instance = { params = [\"instance_id\"], target = \"instance_id\", command = [\"./isolate.sh\", \"-v\"] }\n\
         page = { params = [\"who\"], destructive = false, command = [\"pager-cli\"] }\n",
    )
    .unwrap();
    let c = Config::from_path(&path).unwrap();
    let isolate = c.host_kinds["quarantine_instance"]
        .command
        .as_ref()
        .unwrap();
    assert_eq!(
        isolate[0],
        dir.path().join("./isolate.sh").display().to_string()
    );
    assert_eq!(isolate[1], "-v", "arguments stay as written");
    let page = c.host_kinds["page"].command.as_ref().unwrap();
    assert_eq!(page[0], "pager-cli", "a bare name is looked up on PATH");
}
