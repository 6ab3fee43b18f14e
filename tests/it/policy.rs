//! Policy sets: loading, diagnostics, metadata, evaluation, prefilter, merging, host kinds, helpers,
//! hot reload and threads.

use remedy::plan::FailureKind;
use remedy::policy::DiagnosticKind;
use remedy::{Action, Finding, HostActionKind, PolicySet};

const IAM: &str = include_str!("../fixtures/policy/iam-malicious-ip.json");
const EC2: &str = include_str!("../fixtures/policy/ec2-bitcoin.json");

pub(crate) fn iam() -> Finding {
    Finding::from_json_str(IAM).unwrap()
}

pub(crate) fn ec2() -> Finding {
    Finding::from_json_str(EC2).unwrap()
}

pub(crate) fn policy(applies_to: &str, body: &str) -> String {
    format!(
        "const DESCRIPTION = \"test\";\nconst APPLIES_TO = {applies_to};\nfn decide(finding) {{\n{body}\n}}\n"
    )
}

pub(crate) fn eval_one(body: &str, finding: &Finding) -> remedy::Plan {
    let set = PolicySet::from_sources([("p", policy("\"*\"", body))]).unwrap();
    set.evaluate(finding)
}

#[test]
fn bundled_policies_load_and_disable_the_key_in_the_iam_scenario() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let set = PolicySet::from_dir(dir).unwrap();
    assert!(set.len() >= 3);
    let plan = set.evaluate(&iam());
    assert!(plan.errors.is_empty(), "{plan:?}");
    let kinds: Vec<String> = plan
        .actions
        .iter()
        .map(|a| a.action.kind().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "disable_access_key",
            "update_finding",
            "archive_finding",
            "notify"
        ]
    );
    match &plan.actions[1].action {
        Action::UpdateFinding(u) => {
            assert_eq!(u.status, remedy::plan::WorkflowStatus::Resolved);
            assert!(
                u.note
                    .contains("disabled access key AKIAI44QH8DHBEXAMPLE of IAM user build-bot"),
                "{}",
                u.note
            );
        }
        other => panic!("{other:?}"),
    }
    match &plan.actions[0].action {
        Action::DisableAccessKey(d) => {
            assert_eq!(d.user_name.as_str(), "build-bot");
            assert_eq!(d.access_key_id.as_str(), "AKIAI44QH8DHBEXAMPLE");
        }
        other => panic!("{other:?}"),
    }
    let source = &plan.actions[0].sources[0];
    assert_eq!(&*source.policy, "disable-key-on-malicious-ip");
    assert_eq!(
        &*source.version,
        set.get("disable-key-on-malicious-ip").unwrap().version()
    );
    assert!(source.reason.as_deref().unwrap().contains("198.51.100.23"));
    assert!(source.line.is_some());
}

#[test]
fn sample_findings_are_marked_and_get_no_destructive_action() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let set = PolicySet::from_dir(dir).unwrap();
    let text = IAM.replace(
        "\"threatListName\": \"team-blocklist\"",
        "\"threatListName\": \"team-blocklist\", \"sample\": true",
    );
    let plan = set.evaluate(&Finding::from_json_str(&text).unwrap());
    assert!(plan.finding.sample);
    assert!(
        plan.actions.iter().all(|a| !a.action.is_destructive()),
        "{plan:?}"
    );
}

#[test]
fn from_dir_reads_policies_and_helper_modules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.rhai"),
        policy(
            "\"*\"",
            "import \"lib/util\" as u; notify(u::channel(), \"x\")",
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    std::fs::write(dir.path().join("lib/util.rhai"), "fn channel() { \"ops\" }").unwrap();
    std::fs::write(dir.path().join("README.md"), "not a policy").unwrap();
    let set = PolicySet::from_dir(dir.path()).unwrap();
    assert_eq!(set.len(), 1);
    let plan = set.evaluate(&iam());
    assert_eq!(plan.actions[0].action.params()["channel"], "ops");
}

#[test]
fn a_missing_directory_is_an_io_error() {
    let err = PolicySet::from_dir("/definitely/not/here").unwrap_err();
    assert_eq!(err.diagnostics()[0].kind(), DiagnosticKind::Io);
}

#[test]
fn syntax_errors_have_file_line_column_and_source_line() {
    let broken = "const DESCRIPTION = \"x\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {\n    let x = ;\n}\n";
    let err =
        PolicySet::from_sources([("ok", policy("\"*\"", "()")), ("broken", broken.to_owned())])
            .unwrap_err();
    assert_eq!(err.diagnostics().len(), 1);
    let d = &err.diagnostics()[0];
    assert_eq!(d.kind(), DiagnosticKind::Syntax);
    assert_eq!(d.file(), "broken.rhai");
    assert_eq!(d.line(), Some(4));
    assert_eq!(d.column(), Some(13));
    assert_eq!(d.source_line(), Some("    let x = ;"));
    assert!(err.to_string().contains("broken.rhai:4:13"), "{err}");
    // miette sees the source and a label
    let diag: &dyn miette::Diagnostic = d;
    assert!(diag.source_code().is_some());
    assert_eq!(diag.labels().unwrap().count(), 1);
}

#[test]
fn every_broken_file_is_reported_at_once() {
    let err = PolicySet::from_sources([
        ("a", "fn decide(f) { undefined_thing }".to_owned()),
        ("b", "const DESCRIPTION = \"x\"; fn decide(f) {}".to_owned()),
        ("c", policy("\"*\"", "(")),
    ])
    .unwrap_err();
    let files: Vec<&str> = err.diagnostics().iter().map(|d| d.file()).collect();
    assert_eq!(files, ["a.rhai", "b.rhai", "c.rhai"]);
    assert!(
        err.diagnostics()[0].message().contains("undefined_thing"),
        "strict variables: {err}"
    );
    assert_eq!(err.diagnostics()[1].kind(), DiagnosticKind::Metadata);
}

#[test]
fn metadata_is_validated() {
    let cases = [
        ("fn decide(f) {}", "missing `const DESCRIPTION`"),
        (
            "const DESCRIPTION = \"\"; const APPLIES_TO = \"*\"; fn decide(f) {}",
            "must not be empty",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = []; fn decide(f) {}",
            "at least one",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = [1]; fn decide(f) {}",
            "array of strings",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = \"a\\tb\"; fn decide(f) {}",
            "not a finding-type glob",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = \" Recon:*\"; fn decide(f) {}",
            "starts or ends with whitespace",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = \"*\"; const SOURCES = [\"guardduty\", 1]; fn decide(f) {}",
            "array of strings",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = \"*\"; const MIN_SEVERITY = 11; fn decide(f) {}",
            "not a severity",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = \"*\"; const MIN_SEVERITY = \"severe\"; fn decide(f) {}",
            "not a severity",
        ),
        (
            "const NAME = \"has space\"; const DESCRIPTION = \"x\"; const APPLIES_TO = \"*\"; fn decide(f) {}",
            "not a valid policy name",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = \"*\";",
            "missing `fn decide(finding)`",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = \"*\"; fn decide() {}",
            "must take one",
        ),
        (
            "const DESCRIPTION = \"x\"; const APPLIES_TO = \"*\"; fn decide(f) { f.get(\"$[\") }",
            "not a JSONPath",
        ),
    ];
    for (source, expected) in cases {
        let err = PolicySet::from_sources([("p", source)]).unwrap_err();
        let d = &err.diagnostics()[0];
        assert!(d.message().contains(expected), "{source}: {d}");
        assert!(d.line().is_some(), "{source}: {d}");
    }
}

#[test]
fn versions_are_content_hashes() {
    let one = PolicySet::from_sources([("a", policy("\"*\"", "()")), ("b", policy("\"*\"", "()"))])
        .unwrap();
    let same =
        PolicySet::from_sources([("a", policy("\"*\"", "()")), ("b", policy("\"*\"", "()"))])
            .unwrap();
    let changed =
        PolicySet::from_sources([("a", policy("\"*\"", "()")), ("b", policy("\"*\"", "[]"))])
            .unwrap();
    assert_eq!(one.version(), same.version());
    assert_ne!(one.version(), changed.version());
    assert_eq!(one.policies()[0].version(), changed.policies()[0].version());
    assert_ne!(one.policies()[1].version(), changed.policies()[1].version());
    assert_eq!(one.version().len(), 16);
}

#[test]
fn prefilter_runs_only_matching_policies() {
    let set = PolicySet::from_sources([
        (
            "exact",
            policy(
                "\"UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom\"",
                "notify(\"a\", \"exact\")",
            ),
        ),
        (
            "glob",
            policy(
                "[\"Recon:*\", \"UnauthorizedAccess:IAMUser/*\"]",
                "notify(\"a\", \"glob\")",
            ),
        ),
        (
            "other",
            policy("\"CryptoCurrency:EC2/*\"", "throw \"must not run\""),
        ),
        (
            "suffix",
            policy("\"*.Custom\"", "notify(\"a\", \"suffix\")"),
        ),
        (
            "severe",
            format!(
                "const MIN_SEVERITY = \"high\";\n{}",
                policy("\"*\"", "throw \"too low\"")
            ),
        ),
    ])
    .unwrap();
    let plan = set.evaluate(&iam());
    assert_eq!(
        plan.evaluated.iter().map(|s| &**s).collect::<Vec<_>>(),
        ["exact", "glob", "suffix"]
    );
    assert!(plan.errors.is_empty());
    let names: Vec<&str> = set.applicable(&ec2()).map(|p| p.name()).collect();
    assert_eq!(names, ["other", "severe"]);
}

#[test]
fn min_severity_accepts_numbers_and_bands() {
    let set = PolicySet::from_sources([
        (
            "five",
            format!("const MIN_SEVERITY = 5;\n{}", policy("\"*\"", "()")),
        ),
        (
            "six",
            format!("const MIN_SEVERITY = 6.0;\n{}", policy("\"*\"", "()")),
        ),
        (
            "medium",
            format!(
                "const MIN_SEVERITY = \"Medium\";\n{}",
                policy("\"*\"", "()")
            ),
        ),
    ])
    .unwrap();
    assert_eq!(set.get("medium").unwrap().min_severity(), Some(4.0));
    assert_eq!(
        set.evaluate(&iam())
            .evaluated
            .iter()
            .map(|s| &**s)
            .collect::<Vec<_>>(),
        ["five", "medium"]
    );
}

#[test]
fn identical_actions_are_merged_with_all_sources() {
    let set = PolicySet::from_sources([
        (
            "a",
            policy(
                "\"*\"",
                "[notify(\"security\", \"same\", \"from a\"), notify(\"security\", \"only a\")]",
            ),
        ),
        (
            "b",
            policy("\"*\"", "notify(\"security\", \"same\", \"from b\")"),
        ),
    ])
    .unwrap();
    let plan = set.evaluate(&iam());
    assert_eq!(plan.actions.len(), 2);
    let merged = &plan.actions[0];
    assert_eq!(merged.sources.len(), 2);
    assert_eq!(merged.sources[0].reason.as_deref(), Some("from a"));
    assert_eq!(&*merged.sources[1].policy, "b");
    assert_eq!(merged.sources[1].line, Some(4));
}

#[test]
fn decide_may_return_nothing_one_action_or_an_array() {
    assert!(eval_one("()", &iam()).actions.is_empty());
    assert!(eval_one("[]", &iam()).actions.is_empty());
    assert!(
        eval_one("if false { notify(\"a\", \"b\") }", &iam())
            .actions
            .is_empty()
    );
    assert_eq!(eval_one("notify(\"a\", \"b\")", &iam()).actions.len(), 1);
    assert_eq!(
        eval_one("[notify(\"a\", \"b\"), (), notify(\"a\", \"c\")]", &iam())
            .actions
            .len(),
        2
    );
}

#[test]
fn errors_are_isolated_and_located() {
    let set = PolicySet::from_sources([
        (
            "a-fails",
            policy("\"*\"", "let x = 1;\n    x.no_such_method()"),
        ),
        ("b-works", policy("\"*\"", "notify(\"security\", \"fine\")")),
    ])
    .unwrap();
    let plan = set.evaluate(&iam());
    assert_eq!(plan.actions.len(), 1);
    assert_eq!(plan.errors.len(), 1);
    let e = &plan.errors[0];
    assert_eq!(e.policy, "a-fails");
    assert_eq!(e.kind, FailureKind::Runtime);
    assert_eq!(e.line, Some(5));
    assert!(e.message.contains("no_such_method"), "{e:?}");
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["errors"][0]["policy"], "a-fails");
    assert_eq!(json["errors"][0]["line"], 5);
    assert_eq!(json["errors"][0]["kind"], "runtime");
}

#[test]
fn repeated_evaluations_decide_the_same() {
    // Policies without top-level statements reuse rhai's caches between calls: a failure, a
    // different finding or an operation budget must not leak from one evaluation into the next.
    let set = PolicySet::builder()
        .with_limits(remedy::policy::Limits::default().with_max_operations(20_000))
        .from_sources([
            (
                "busy",
                policy(
                    "\"*\"",
                    "let n = 0;\n    for i in 0..1500 { n += i; }\n    notify(\"ops\", `${finding.type} ${n}`)",
                ),
            ),
            (
                "fails-on-ec2",
                policy(
                    "\"*\"",
                    "if finding.instance_id != () { throw \"no instance expected\" }\n    notify(\"ops\", finding.id)",
                ),
            ),
        ])
        .unwrap();
    let (iam, ec2) = (iam(), ec2());
    let first = (set.evaluate(&iam), set.evaluate(&ec2));
    assert!(first.0.errors.is_empty(), "{:?}", first.0);
    assert_eq!(first.0.actions.len(), 2);
    assert_eq!(first.1.errors.len(), 1, "{:?}", first.1);
    assert_eq!(first.1.errors[0].line, Some(4));
    for _ in 0..20 {
        assert_eq!(set.evaluate(&iam), first.0);
        assert_eq!(set.evaluate(&ec2), first.1);
    }
}

#[test]
fn constructors_check_their_arguments() {
    let cases = [
        ("notify(\"\", \"x\")", "`channel` must not be empty"),
        ("notify(\"security\", 42)", "`message` must be a string"),
        ("notify(\"has space\", \"x\")", "channel"),
        (
            "disable_access_key(finding.user_name, finding.instance_id)",
            "`access_key_id` is absent",
        ),
        (
            "disable_access_key(finding.user_name, \"not-a-key\")",
            "access key id",
        ),
        (
            "run_command(\"AWS-RunShellScript\", [], #{})",
            "at least one instance",
        ),
        (
            "run_command(\"AWS-RunShellScript\", \"i-0a1b2c3d4e5f60718\", #{ commands: 1 })",
            "parameter `commands`",
        ),
        (
            "run_command(\"AWS-RunShellScript\", \"i-0a1b2c3d4e5f60718\", \"x\")",
            "`parameters` must be a map",
        ),
        ("notify(\"a\", \"b\", 42)", "`reason` must be a string"),
    ];
    for (call, expected) in cases {
        // Arguments written as literals are checked when the policy loads; the same call with
        // the arguments computed is checked when it runs, with the same line and column.
        let constructor = &call[..call.find('(').unwrap()];
        if let Err(err) = PolicySet::from_sources([("p", policy("\"*\"", call))]) {
            let d = &err.diagnostics()[0];
            assert!(
                matches!(
                    d.kind(),
                    DiagnosticKind::InvalidArgument | DiagnosticKind::OutOfScope
                ),
                "{call}: {err}"
            );
            assert!(
                d.message().starts_with(&format!("`{constructor}`")),
                "{call}: {err}"
            );
            assert_eq!((d.line(), d.column()), (Some(4), Some(1)), "{call}: {err}");
        }
        let source = format!(
            "{}fn pass(x) {{ x }}\n",
            policy("\"*\"", &runtime_form(call))
        );
        let plan = PolicySet::from_sources([("p", source)])
            .unwrap()
            .evaluate(&iam());
        let e = plan
            .errors
            .first()
            .unwrap_or_else(|| panic!("{call} succeeded"));
        assert_eq!(e.kind, FailureKind::InvalidAction, "{call}: {e:?}");
        assert!(e.message.contains(expected), "{call}: {e:?}");
        assert_eq!((e.line, e.column), (Some(4), Some(1)), "{call}: {e:?}");
    }
}

/// `call` with every string, number and map literal passed through `pass(...)`, a policy
/// function: the load-time checks cannot see the values, so the constructor checks them when it
/// runs.
fn runtime_form(call: &str) -> String {
    let open = call.find('(').unwrap();
    let (name, args) = (&call[..open], &call[open + 1..call.len() - 1]);
    let mut parts = Vec::new();
    let (mut depth, mut start, mut quoted) = (0i32, 0usize, false);
    for (i, c) in args.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(args[start..i].trim().to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(args[start..].trim().to_owned());
    let wrapped: Vec<String> = parts
        .into_iter()
        .map(|a| {
            if a.starts_with("finding.") {
                a
            } else {
                format!("pass({a})")
            }
        })
        .collect();
    format!("{name}({})", wrapped.join(", "))
}

#[test]
fn run_command_builds_a_typed_action() {
    let plan = eval_one(
        "run_command(\"AWS-RunShellScript\", finding.instance_ids, #{ commands: [\"uptime\", \"ps aux\"], timeout: \"60\" }, \"capture\")",
        &ec2(),
    );
    assert!(plan.errors.is_empty(), "{plan:?}");
    let json = serde_json::to_value(&plan.actions[0]).unwrap();
    assert_eq!(json["kind"], "run_command");
    assert_eq!(json["params"]["document"], "AWS-RunShellScript");
    assert_eq!(json["params"]["instance_ids"][0], "i-0a1b2c3d4e5f60718");
    assert_eq!(json["params"]["parameters"]["commands"][1], "ps aux");
    assert_eq!(json["params"]["parameters"]["timeout"][0], "60");
    assert_eq!(json["reason"], "capture");
}

#[test]
fn host_action_kinds_are_callable_and_checked() {
    let isolate = HostActionKind::new("quarantine_instance")
        .unwrap()
        .with_params(["instance_id", "mode"])
        .with_check(|params| match params["instance_id"].as_str() {
            Some(id) if id.starts_with("i-") => Ok(id.to_owned()),
            _ => Err("`instance_id` must be an instance id".to_owned()),
        });
    assert!(HostActionKind::new("notify").is_err());
    assert!(HostActionKind::new("Bad Name").is_err());
    let builder = PolicySet::builder().with_action_kind(isolate);
    let set = builder
        .from_sources([(
            "p",
            policy(
                "\"*\"",
                "quarantine_instance(finding.instance_id, \"quarantine\", \"mining\")",
            ),
        )])
        .unwrap();
    let plan = set.evaluate(&ec2());
    assert!(plan.errors.is_empty(), "{plan:?}");
    match &plan.actions[0].action {
        Action::Custom(c) => {
            assert_eq!(c.kind.as_str(), "quarantine_instance");
            assert_eq!(c.target, "i-0a1b2c3d4e5f60718");
            assert_eq!(c.params["mode"], "quarantine");
            assert!(c.destructive);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(plan.actions[0].reason(), Some("mining"));
    // The IAM finding has no instance: the check rejects it, with the policy's line.
    let plan = set.evaluate(&iam());
    assert_eq!(plan.errors[0].kind, FailureKind::InvalidAction);
    assert!(
        plan.errors[0].message.contains("quarantine_instance"),
        "{:?}",
        plan.errors[0]
    );
    // Unknown to a set built without the kind: the load fails and names the function.
    let err = PolicySet::from_sources([(
        "p",
        policy(
            "\"*\"",
            "quarantine_instance(\"i-0a1b2c3d4e5f60718\", \"q\")",
        ),
    )])
    .unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.kind(), DiagnosticKind::UnknownFunction, "{err}");
    assert!(d.message().contains("quarantine_instance"), "{err}");
    assert_eq!(d.line(), Some(4));
}
