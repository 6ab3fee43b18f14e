//! Load errors that teach: helper-module constants, strings returned from `decide`, where a
//! metadata error is, and two policies of one name.

use remedy::PolicySet;
use remedy::policy::DiagnosticKind;
use remedy::testing;

use super::policy::policy;
use super::policy_compose::finding;

fn load_error(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let err = PolicySet::from_dir(dir.path()).unwrap_err();
    err.diagnostics()
        .iter()
        .map(|d| {
            format!(
                "{}:{:?}:{}: {}",
                d.file(),
                d.line(),
                d.message(),
                d.help().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_constant_read_inside_a_function_gets_the_global_or_module_hint() {
    let policy = |body: &str| {
        format!(
            "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\nimport \"_common\" as common;\nfn decide(f) {{ {body} }}\n"
        )
    };
    // In the helper module: `global::NAME`.
    let err = load_error(&[
        (
            "_common.rhai",
            "const SPARE = \"break-glass-\";\nfn spared(n) { n.starts_with(SPARE) }\n",
        ),
        ("p.rhai", &policy("if common::spared(f.user_name) { () }")),
    ]);
    assert!(err.contains("_common.rhai:Some(2):"), "{err}");
    assert!(err.contains("write `global::SPARE`"), "{err}");
    // In the importer: `common::NAME`.
    let err = load_error(&[
        ("_common.rhai", "const SPARE = \"break-glass-\";\n"),
        ("p.rhai", &policy("notify(\"security\", SPARE)")),
    ]);
    assert!(
        err.contains(
            "imported as `common`: write `common::SPARE`, and declare it `export const SPARE"
        ),
        "{err}"
    );
    let err = load_error(&[
        ("_common.rhai", "export const SPARE = \"break-glass-\";\n"),
        ("p.rhai", &policy("notify(\"security\", SPARE)")),
    ]);
    assert!(
        err.ends_with("imported as `common`: write `common::SPARE`"),
        "{err}"
    );
    // The policy's own constant: `global::NAME`.
    let err = load_error(&[(
        "p.rhai",
        "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\nconst CH = \"ops\";\nfn decide(f) { notify(CH, \"x\") }\n",
    )]);
    assert!(err.contains("write `global::CH`"), "{err}");
    // A variable declared nowhere keeps the strict-variables hint.
    let err = load_error(&[(
        "p.rhai",
        "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\nfn decide(f) { notify(NOPE, \"x\") }\n",
    )]);
    assert!(err.contains("strict variables"), "{err}");
    // And the hints are right: both forms load and run.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("_common.rhai"),
        "export const SPARE = \"break-glass-\";\nfn spared(n) { n.starts_with(global::SPARE) }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.rhai"),
        policy("if common::spared(f.user_name ?? \"\") { notify(\"security\", common::SPARE) }"),
    )
    .unwrap();
    let set = PolicySet::from_dir(dir.path()).unwrap();
    let json = std::fs::read_to_string(finding("instance-credential-exfiltration.json")).unwrap();
    let glass = testing::finding_with(
        &json,
        [(
            "/detail/resource/accessKeyDetails/userName",
            serde_json::json!("break-glass-ops"),
        )],
    )
    .unwrap();
    let plan = set.evaluate(&glass);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(plan.actions.len(), 1);
    // Without `export`, `common::SPARE` is not found at run time, and the message says why.
    std::fs::write(
        dir.path().join("_common.rhai"),
        "const SPARE = \"break-glass-\";\nfn spared(n) { n.starts_with(global::SPARE) }\n",
    )
    .unwrap();
    let unexported = PolicySet::from_dir(dir.path()).unwrap().evaluate(&glass);
    assert!(
        unexported.errors[0]
            .message
            .contains("declares it `export const`"),
        "{:?}",
        unexported.errors
    );
    assert_eq!(plan.actions.len(), 1);
    assert!(
        plan.actions[0]
            .action
            .params()
            .to_string()
            .contains("break-glass-")
    );
}

#[test]
fn a_string_returned_from_decide_is_reported_at_its_line() {
    let set = PolicySet::from_sources([(
        "p",
        "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\nfn decide(f) {\n    if f.sample {\n        return notify(\"security\", \"sample\");\n    }\n    `done: ${f.type}`\n}\n",
    )])
    .unwrap();
    let json = std::fs::read_to_string(finding("ecs-malicious-file.json")).unwrap();
    let plan = set.evaluate(&testing::finding_with(&json, []).unwrap());
    let failure = &plan.errors[0];
    assert_eq!(
        (failure.line, failure.column),
        (Some(7), Some(5)),
        "{failure:?}"
    );
    assert!(
        failure.message.contains("returned a `string`"),
        "{}",
        failure.message
    );
    // Two returns could give it: said so, at `fn decide`.
    let set = PolicySet::from_sources([(
        "p",
        "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\nfn decide(f) {\n    if f.severity > 1.0 { return \"a\"; }\n    \"b\"\n}\n",
    )])
    .unwrap();
    let plan = set.evaluate(&testing::finding_with(&json, []).unwrap());
    let failure = &plan.errors[0];
    assert_eq!(failure.line, Some(3));
    assert!(
        failure
            .message
            .contains("from one of the returns at lines 4, 5"),
        "{}",
        failure.message
    );
}

#[test]
fn metadata_positions_point_at_the_constant() {
    let source =
        "// header\nconst DESCRIPTION = \"x\";\n    const APPLIES_TO = [];\nfn decide(f) {}\n";
    let err = PolicySet::from_sources([("p", source)]).unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!((d.line(), d.column()), (Some(3), Some(11)));
    assert!(d.help().is_some());
}

#[test]
fn duplicate_names_are_an_error() {
    let a = format!("const NAME = \"same\";\n{}", policy("\"*\"", "()"));
    let err = PolicySet::from_sources([("a", a.clone()), ("b", a)]).unwrap_err();
    assert_eq!(err.diagnostics().len(), 1);
    let d = &err.diagnostics()[0];
    assert_eq!(d.kind(), DiagnosticKind::DuplicateName);
    assert_eq!(d.file(), "b.rhai");
    assert_eq!(d.line(), Some(1));
    assert!(
        d.message().contains("`same`") && d.message().contains("a.rhai"),
        "{d}"
    );
}
