//! Policies stay in their lane (issue 10): a destructive action only touches what its finding
//! names, `run_command` runs allowed documents only, built-ins are bounded, hostile inputs and
//! policy files are refused with a reason, typos are load errors or warnings, failures are loud.

use remedy::plan::FailureKind;
use remedy::policy::DiagnosticKind;
use remedy::{Action, Config, Finding, PolicySet};

const IAM: &str = include_str!("../fixtures/policy/iam-malicious-ip.json");
const EC2: &str = include_str!("../fixtures/policy/ec2-bitcoin.json");

fn iam() -> Finding {
    Finding::from_json_str(IAM).unwrap()
}

fn ec2() -> Finding {
    Finding::from_json_str(EC2).unwrap()
}

fn policy(body: &str) -> String {
    format!(
        "const DESCRIPTION = \"test\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {{\n{body}\n}}\n"
    )
}

fn load(body: &str) -> Result<PolicySet, remedy::PolicyError> {
    PolicySet::from_sources([("p", policy(body))])
}

fn kinds_of(err: &remedy::PolicyError) -> Vec<DiagnosticKind> {
    err.diagnostics().iter().map(|d| d.kind()).collect()
}

#[test]
fn a_literal_target_the_finding_cannot_name_does_not_load() {
    let err = load(r#"disable_access_key("alice", "AKIAIOSFODNN7EXAMPLE")"#).unwrap_err();
    assert!(
        kinds_of(&err).contains(&DiagnosticKind::OutOfScope),
        "{err}"
    );
    let err = load(
        r#"run_command("AWS-RunShellScript", "i-0123456789abcdef0", #{ commands: ["curl x | sh"] })"#,
    )
    .unwrap_err();
    assert!(
        kinds_of(&err).contains(&DiagnosticKind::OutOfScope),
        "{err}"
    );
}

#[test]
fn a_computed_target_outside_the_finding_is_refused_when_it_runs() {
    // Another user's key: refused, the policy's notification still stands.
    let set = load(
        "[disable_access_key(`${finding.region}-admin`, finding.access_key_id), notify(\"security\", \"x\")]",
    )
    .unwrap();
    let plan = set.evaluate(&iam());
    assert_eq!(plan.errors.len(), 1, "{plan:#?}");
    assert_eq!(plan.errors[0].kind, FailureKind::OutOfScope);
    assert!(
        plan.errors[0].message.contains("eu-west-1-admin"),
        "{:?}",
        plan.errors[0]
    );
    assert!(
        plan.actions.iter().all(|a| !a.action.is_destructive()),
        "{plan:#?}"
    );
    assert_eq!(plan.actions.len(), 1);

    // An instance the finding does not name, smuggled in beside its own.
    let set = load(
        "let ids = finding.instance_ids;\nlet extra = \"i-0\";\nextra.pad(19, 'f');\nids.push(extra);\nrun_command(\"AWS-RunShellScript\", ids, #{ commands: [\"uptime\"] })",
    );
    let set = match set {
        Ok(set) => set,
        Err(e) => panic!("{e}"),
    };
    let plan = set.evaluate(&ec2());
    assert_eq!(plan.errors.len(), 1, "{plan:#?}");
    assert_eq!(plan.errors[0].kind, FailureKind::OutOfScope);
    assert!(plan.actions.is_empty());

    // The finding's own key and instances are fine.
    let plan = load("disable_access_key(finding.user_name, finding.access_key_id)")
        .unwrap()
        .evaluate(&iam());
    assert!(plan.errors.is_empty(), "{plan:#?}");
    assert!(matches!(
        plan.actions[0].action,
        Action::DisableAccessKey(_)
    ));
}

#[test]
fn reach_needs_the_policy_and_the_configuration() {
    let source = format!(
        "const REACH = \"account\";\n{}",
        policy("disable_access_key(`${finding.region}-admin`, finding.access_key_id)")
    );
    // Declared, not allowed: a warning at load, refused at run time.
    let set = PolicySet::from_sources([("wide", source.as_str())]).unwrap();
    assert!(
        set.warnings()
            .iter()
            .any(|w| w.kind() == DiagnosticKind::Reach)
    );
    assert_eq!(set.evaluate(&iam()).errors[0].kind, FailureKind::OutOfScope);
    // Declared and allowed by name: it may act beyond the finding.
    let set = PolicySet::builder()
        .with_reach_allowed(["wide"])
        .from_sources([("wide", source.as_str())])
        .unwrap();
    let plan = set.evaluate(&iam());
    assert!(plan.errors.is_empty(), "{plan:#?}");
    assert_eq!(plan.actions.len(), 1);
    // Allowed, not declared: the configuration is refused.
    let plain = PolicySet::from_sources([("wide", policy("()"))]).unwrap();
    let config = Config::from_toml_str("[reach]\naccount = [\"wide\"]\n").unwrap();
    let names: Vec<&str> = plain.policies().iter().map(|p| p.name()).collect();
    let err = config.check_names(&names, &[], &[]).unwrap_err();
    assert!(err.to_string().contains("REACH"), "{err}");
}

#[test]
fn run_command_runs_allowed_documents_only() {
    for document in [
        "../../../etc/passwd",
        "AWS-RunRemoteScript",
        "arn:aws:ssm:::document/x",
    ] {
        let err = load(&format!(
            "run_command(\"{document}\", finding.instance_ids, #{{ commands: [\"id\"] }})"
        ))
        .unwrap_err();
        assert!(
            kinds_of(&err).contains(&DiagnosticKind::InvalidArgument),
            "{document}: {err}"
        );
    }
    // Computed, it is refused when the policy runs.
    let plan = load(
        "run_command(`../../..${\"/etc/passwd\"}${finding.region.sub_string(0, 0)}`, finding.instance_ids, #{ commands: [\"id\"] })",
    )
    .unwrap()
    .evaluate(&ec2());
    assert_eq!(plan.errors[0].kind, FailureKind::InvalidAction, "{plan:#?}");
    // A document the configuration allows.
    let set = PolicySet::builder()
        .with_documents(["Team-Forensics"])
        .from_sources([(
            "p",
            policy("run_command(\"Team-Forensics\", finding.instance_ids, #{})"),
        )])
        .unwrap();
    assert!(set.evaluate(&ec2()).errors.is_empty());
}

#[test]
fn run_command_parameters_are_capped() {
    let plan = load(
        "let big = \"\";\nbig.pad(20000, 'x');\nrun_command(\"AWS-RunShellScript\", finding.instance_ids, #{ commands: [big] })",
    )
    .unwrap()
    .evaluate(&ec2());
    assert_eq!(plan.errors.len(), 1, "{plan:#?}");
    assert_eq!(plan.errors[0].kind, FailureKind::InvalidAction);
    assert!(
        plan.errors[0].message.contains("16384"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn glob_match_is_linear() {
    // Backtracking matchers take seconds on this; the deadline is never reached.
    let plan = load(
        "let text = \"\";\ntext.pad(60000, 'a');\nlet hit = glob_match(\"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\", text);\nnotify(\"security\", `${hit}`)",
    )
    .unwrap()
    .evaluate(&iam());
    assert!(plan.errors.is_empty(), "{plan:#?}");
    assert_eq!(plan.actions[0].action.params()["message"], "false");
}

/// The IAM finding with a field of `values` numbers added.
fn big_finding(values: usize) -> Finding {
    let mut doc: serde_json::Value = serde_json::from_str(IAM).unwrap();
    doc["service"]["additionalInfo"] = serde_json::json!({ "blob": vec![7; values] });
    Finding::from_json_value(doc).unwrap()
}

#[test]
fn recursive_descent_on_a_large_finding_is_refused() {
    // About 5 MB of JSON.
    let finding = big_finding(2_500_000);
    let plan = load("finding.get(\"$..*\")").unwrap().evaluate(&finding);
    assert_eq!(plan.errors.len(), 1, "{plan:#?}");
    assert!(
        plan.errors[0].message.contains("recursive descent"),
        "{:?}",
        plan.errors[0]
    );
    // A named path still works on it.
    let plan = load("notify(\"security\", finding.get(\"$.resource.accessKeyDetails.userName\"))")
        .unwrap()
        .evaluate(&finding);
    assert!(plan.errors.is_empty(), "{plan:#?}");
    // get_all on a path that selects too much fails, it does not allocate without bound.
    let plan = load("finding.get_all(\"$.service.additionalInfo.blob[*]\").len()")
        .unwrap()
        .evaluate(&finding);
    assert_eq!(plan.errors.len(), 1, "{plan:#?}");
}

#[test]
fn a_finding_type_of_a_megabyte_is_refused_with_a_reason() {
    let mut doc: serde_json::Value = serde_json::from_str(IAM).unwrap();
    doc["type"] = serde_json::Value::String(format!("Recon:IAMUser/{}", "A".repeat(1 << 20)));
    let err = Finding::from_json_value(doc).unwrap_err();
    assert!(err.to_string().contains("256"), "{err}");
}

#[test]
fn a_missing_map_key_is_unit_so_the_fallback_operator_works() {
    let plan = load("notify(\"security\", finding.instance_tags[\"env\"] ?? \"none\")")
        .unwrap()
        .evaluate(&iam());
    assert!(plan.errors.is_empty(), "{plan:#?}");
    assert_eq!(plan.actions[0].action.params()["message"], "none");
}

#[test]
fn a_top_level_loop_and_too_many_imports_do_not_load() {
    let err =
        PolicySet::from_sources([("p", format!("loop {{ }}\n{}", policy("()")))]).unwrap_err();
    assert_eq!(kinds_of(&err), [DiagnosticKind::TopLevel], "{err}");
    assert_eq!(err.diagnostics()[0].line(), Some(1));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("_h.rhai"), "fn one() { 1 }\n").unwrap();
    let imports: String = (0..33)
        .map(|i| format!("import \"_h\" as h{i};\n"))
        .collect();
    std::fs::write(
        dir.path().join("p.rhai"),
        format!("{imports}{}", policy("()")),
    )
    .unwrap();
    let err = PolicySet::from_dir(dir.path()).unwrap_err();
    assert!(kinds_of(&err).contains(&DiagnosticKind::TopLevel), "{err}");
    assert!(err.to_string().contains("33"), "{err}");
}

#[cfg(unix)]
#[test]
fn pipes_devices_and_links_out_of_the_directory_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.rhai"), policy("()")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.rhai")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd.rhai")).unwrap();
    let fifo = dir.path().join("fifo.rhai");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // Returns (a FIFO with no writer would block a reader forever) with one problem per file.
    let err = PolicySet::from_dir(dir.path()).unwrap_err();
    let files: Vec<&str> = err.diagnostics().iter().map(|d| d.file()).collect();
    for name in ["zero.rhai", "passwd.rhai", "fifo.rhai"] {
        assert!(files.iter().any(|f| f.ends_with(name)), "{name}: {err}");
    }
    assert!(
        err.diagnostics()
            .iter()
            .all(|d| d.kind() == DiagnosticKind::Encoding),
        "{err}"
    );
}

#[test]
fn a_bom_is_skipped_and_utf16_or_binary_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let text = policy("notify(\"security\", \"hi\")");
    let mut bom = vec![0xef, 0xbb, 0xbf];
    bom.extend(text.as_bytes());
    std::fs::write(dir.path().join("bom.rhai"), bom).unwrap();
    let set = PolicySet::from_dir(dir.path()).unwrap();
    assert_eq!(set.evaluate(&iam()).actions.len(), 1);

    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(dir.path().join("utf16.rhai"), utf16).unwrap();
    std::fs::write(dir.path().join("binary.rhai"), [0xc3, 0x28, 0x00, 0xff]).unwrap();
    let err = PolicySet::from_dir(dir.path()).unwrap_err();
    assert_eq!(
        kinds_of(&err),
        [DiagnosticKind::Encoding, DiagnosticKind::Encoding],
        "{err}"
    );
    let utf16 = err
        .diagnostics()
        .iter()
        .find(|d| d.file() == "utf16.rhai")
        .unwrap();
    assert!(utf16.message().contains("UTF-16"), "{err}");
    assert!(
        err.diagnostics().iter().any(|d| d.file() == "binary.rhai"),
        "{err}"
    );
}

#[test]
fn typos_are_named() {
    // A function that does not exist, with the closest one suggested.
    let err = load("notfy(\"security\", \"x\")").unwrap_err();
    assert_eq!(kinds_of(&err), [DiagnosticKind::UnknownFunction], "{err}");
    assert!(
        err.diagnostics()[0].help().unwrap_or("").contains("notify"),
        "{err}"
    );
    let err = load("disable_acces_key(finding.user_name, finding.access_key_id)").unwrap_err();
    assert!(
        err.diagnostics()[0]
            .help()
            .unwrap_or("")
            .contains("disable_access_key"),
        "{err}"
    );
    // A type glob and a JSONPath that match nothing GuardDuty sends: warnings.
    let set = PolicySet::from_sources([(
        "p",
        "const DESCRIPTION = \"x\";\nconst APPLIES_TO = \"UnauthorisedAccess:IAMUser/*\";\nfn decide(f) { f.get(\"$.resource.accesKeyDetails.userName\") }\n",
    )])
    .unwrap();
    let warned: Vec<DiagnosticKind> = set.warnings().iter().map(|w| w.kind()).collect();
    assert!(
        warned.contains(&DiagnosticKind::UnknownFindingType),
        "{warned:?}"
    );
    assert!(warned.contains(&DiagnosticKind::UnknownField), "{warned:?}");
    // A configuration naming a policy or a kind that does not exist.
    let names = ["disable-key-on-malicious-ip"];
    let kinds = [remedy::ActionKind::NOTIFY];
    for toml in [
        "[enforcement]\nshadow = [\"recon-notify-only\"]\n",
        "[enforcement]\nonly = [\"disable-key\"]\n",
        "[rate_limits]\ndisable_acces_key = { max = 1, per_secs = 60 }\n",
    ] {
        let config = Config::from_toml_str(toml).unwrap();
        let err = config.check_names(&names, &[], &kinds).unwrap_err();
        assert!(err.to_string().contains("no "), "{toml}: {err}");
    }
}

#[test]
fn a_user_name_that_is_a_number_is_refused_with_its_path() {
    // Not user `7`: an identifier that is not a string is an error naming the field.
    let doc = IAM.replace("\"userName\": \"build-bot\"", "\"userName\": 7");
    assert_ne!(doc, IAM, "the fixture spells the user name this way");
    let err = Finding::from_json_str(&doc).unwrap_err().to_string();
    assert!(err.contains("userName") && err.contains('7'), "{err}");
}

fn remedy(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap()
}

const BUNDLED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
const FORGED: &str = "executed: disabled access key AKIAFORGED00000000000 of user root";

/// The IAM finding with attacker-chosen text in every free-text field it has.
fn hostile_finding(dir: &std::path::Path) -> String {
    let evil = format!("x\u{1b}[2J\u{1b}[31m\u{202e}\u{0}\u{9b}\u{7f}\r\n{FORGED}\n");
    let mut doc: serde_json::Value = serde_json::from_str(IAM).unwrap();
    doc["title"] = evil.clone().into();
    doc["description"] = evil.clone().into();
    let call = &mut doc["service"]["action"]["awsApiCallAction"];
    call["userAgent"] = evil.clone().into();
    call["remoteIpDetails"]["country"]["countryName"] = evil.clone().into();
    call["remoteIpDetails"]["organization"]["org"] = evil.into();
    let path = dir.join("hostile.json");
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    path.display().to_string()
}

fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let active = text.chars().find(|&c| {
        (c.is_control() && c != '\n') || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    });
    assert_eq!(active, None, "{what}: {text}");
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("executed:"),
            "{what}: forged line {line}"
        );
    }
}

#[test]
fn finding_text_reaches_no_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let finding = hostile_finding(dir.path());
    // A policy that throws finding text, too.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(
        mine.join("thrower.rhai"),
        "const DESCRIPTION = \"x\";\nconst APPLIES_TO = \"*\";\nfn decide(f) { throw f.title }\n",
    )
    .unwrap();
    let mine = mine.display().to_string();
    for args in [
        vec![
            "run",
            BUNDLED,
            "--with",
            &mine,
            &finding,
            "--allow-policy-errors",
        ],
        vec![
            "eval",
            BUNDLED,
            "--with",
            &mine,
            &finding,
            "--format",
            "text",
            "--explain",
        ],
        vec!["eval", BUNDLED, "--with", &mine, &finding, "--explain"],
        vec!["parse", &finding],
        vec!["parse", "--canonical", &finding],
    ] {
        let out = remedy(&args);
        assert!(out.status.code().is_some(), "{args:?}");
        assert_inert(&format!("{args:?} stdout"), &out.stdout);
        assert_inert(&format!("{args:?} stderr"), &out.stderr);
    }
}

#[test]
fn a_failing_policy_fails_the_command() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("thrower.rhai"),
        "const DESCRIPTION = \"x\";\nconst APPLIES_TO = \"*\";\nfn decide(f) { throw \"nope\" }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("notifier.rhai"),
        "const DESCRIPTION = \"x\";\nconst APPLIES_TO = \"*\";\nfn decide(f) { notify(\"security\", \"hi\") }\n",
    )
    .unwrap();
    let policies = dir.path().display().to_string();
    let finding = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/policy/iam-malicious-ip.json"
    );
    let out = remedy(&["run", &policies, finding]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("policy `thrower` failed at thrower.rhai:3:"),
        "{stderr}"
    );
    assert!(stderr.contains("1 policy failure"), "{stderr}");
    assert!(!stderr.contains("no policy chose one"), "{stderr}");
    // The failure is a record on stdout too, next to the other policy's action.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(r#""record":"policy_failure""#), "{stdout}");
    assert!(stdout.contains(r#""kind":"notify""#), "{stdout}");
    let out = remedy(&["run", &policies, finding, "--allow-policy-errors"]);
    assert_eq!(out.status.code(), Some(0));
    let out = remedy(&["eval", &policies, finding]);
    assert_eq!(out.status.code(), Some(2));
    let out = remedy(&["eval", &policies, finding, "--allow-policy-errors"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn eval_explains_each_policy_in_json() {
    let finding = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/policy/iam-malicious-ip.json"
    );
    let out = remedy(&["eval", BUNDLED, finding, "--explain"]);
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let explanation = plan["explanation"].as_array().unwrap();
    let set = PolicySet::from_dir(BUNDLED).unwrap();
    assert_eq!(
        explanation.len(),
        set.len(),
        "one entry per policy: {plan:#}"
    );
}

#[test]
fn a_broken_first_json_lines_line_loses_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let one_line = IAM.replace('\n', " ");
    let path = dir.path().join("stream.jsonl");
    std::fs::write(&path, format!("{{\"broken\": \n{one_line}\n{one_line}\n")).unwrap();
    let out = remedy(&["parse", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "one document failed");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 1"), "{stderr}");
}
