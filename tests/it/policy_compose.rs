//! Policies that compose: `remedy check` and `remedy test` say when two policies contradict each
//! other, a case's `others` sees the whole plan, a failed case says why each policy did or did
//! not decide, and the small author-facing fixes (helper-module constants, where `decide`
//! returned a string, `set` on a key the finding lacks).

use std::path::PathBuf;
use std::process::Command;

use remedy::PolicySet;
use remedy::policy::ConflictKind;
use remedy::testing::{self, CaseFailure};

const BIN: &str = env!("CARGO_BIN_EXE_remedy");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");

pub(crate) fn finding(name: &str) -> String {
    format!("{ROOT}/policies/tests/findings/{name}")
}

/// The first-time author's directory of the issue: a policy sparing `break-glass-*` sessions
/// (the bundled instance-credential-exfiltration still revokes them) and one saying forensics
/// must not run on `env=prod` instances (the bundled ec2-forensics still runs there), each with
/// the cases that show the exception. `others` is added to the break-glass case when asked.
fn author_dir(others: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join("tests")).unwrap();
    std::fs::write(
        p.join("spare-break-glass.rhai"),
        r#"const DESCRIPTION = "spare break-glass sessions whose credentials are used from elsewhere, tell the on-call";
const APPLIES_TO = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration*";
fn decide(finding) {
    if (finding.user_name ?? "").starts_with("break-glass-") {
        return notify("security", `break-glass session ${finding.user_name} used from elsewhere: spared`);
    }
    ()
}
"#,
    )
    .unwrap();
    std::fs::write(
        p.join("prod-no-forensics.rhai"),
        r#"const DESCRIPTION = "no forensic capture on env=prod instances: notify instead";
const APPLIES_TO = ["Backdoor:EC2/C&CActivity.B*", "CryptoCurrency:EC2/BitcoinTool.B*"];
fn decide(finding) {
    if (finding.instance_tags["env"] ?? "").starts_with("prod") {
        return notify("security", `no forensics on production instance ${finding.instance_id}`);
    }
    ()
}
"#,
    )
    .unwrap();
    std::fs::write(
        p.join("tests/spare-break-glass.toml"),
        format!(
            r#"policy = "spare-break-glass"

[[case]]
name = "a break-glass session is spared"
finding = "{exfil}"
set = {{ "/detail/resource/accessKeyDetails/userName" = "break-glass-ops" }}
expect = [{{ kind = "notify", mentions = ["spared"] }}]
{others}

[[case]]
name = "another role is not this policy's business"
finding = "{exfil}"
expect = []
"#,
            exfil = finding("instance-credential-exfiltration.json"),
        ),
    )
    .unwrap();
    std::fs::write(
        p.join("tests/prod-no-forensics.toml"),
        format!(
            r#"policy = "prod-no-forensics"

[[case]]
name = "no forensics on a prod instance"
finding = "{cc}"
set = {{ "/detail/resource/instanceDetails/tags/1" = {{ key = "env", value = "prod-eu" }} }}
expect = [{{ kind = "notify", mentions = ["no forensics"] }}]

[[case]]
name = "a dev instance is not this policy's business"
finding = "{cc}"
expect = []
"#,
            cc = finding("ec2-cc-activity-dns.json"),
        ),
    )
    .unwrap();
    dir
}

fn remedy(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap()
}

#[test]
fn check_warns_about_the_authors_contradictions_and_says_where_exceptions_belong() {
    let author = author_dir("");
    let dir = author.path().to_str().unwrap();
    let out = remedy(&["check", "policies", "--with", dir]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "warning: `spare-break-glass` only notifies where `instance-credential-exfiltration` \
             acts, on `UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "`instance-credential-exfiltration` chooses revoke_role_sessions role:break-glass-ops"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("`[protect] roles = [\"break-glass-ops\"]`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`[enforcement] shadow = [\"instance-credential-exfiltration\"]`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: `prod-no-forensics` only notifies where `ec2-forensics` acts, on \
             `Backdoor:EC2/C&CActivity.B!DNS`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("`[protect] instance_tags = [{ key = \"env\", value = \"prod*\" }]`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`[approval] policies = [\"ec2-forensics\"]`"),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(", 2 warnings"), "{stdout}");
    let denied = remedy(&["check", "policies", "--with", dir, "--deny-warnings"]);
    assert_eq!(denied.status.code(), Some(1));

    // The bundled set alone composes: nothing to warn about.
    let bundled = remedy(&["check", "policies", "--deny-warnings"]);
    let stderr = String::from_utf8(bundled.stderr).unwrap();
    assert!(bundled.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn check_compares_on_more_findings_given_with_findings() {
    let dir = tempfile::tempdir().unwrap();
    // A policy that spares every role in the finding's account 123456789012, without a case.
    std::fs::write(
        dir.path().join("spare-account.rhai"),
        r#"const DESCRIPTION = "spare one account";
const APPLIES_TO = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration*";
fn decide(finding) { notify("security", "spared") }
"#,
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let quiet = remedy(&["check", "policies", "--with", d]);
    assert!(
        String::from_utf8(quiet.stderr)
            .unwrap()
            .contains("warning: `spare-account` only notifies")
    );
    // Without the bundled cases (another directory of findings only) it is still found.
    let only = tempfile::tempdir().unwrap();
    std::fs::copy(
        finding("instance-credential-exfiltration.json"),
        only.path().join("x.json"),
    )
    .unwrap();
    let bundled = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(POLICIES).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            std::fs::copy(&path, bundled.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let b = bundled.path().to_str().unwrap();
    let none = remedy(&["check", b, "--with", d]);
    assert!(!String::from_utf8(none.stderr).unwrap().contains("warning"));
    let found = remedy(&[
        "check",
        b,
        "--with",
        d,
        "--findings",
        only.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8(found.stderr).unwrap();
    assert!(
        stderr.contains("warning: `spare-account` only notifies"),
        "{stderr}"
    );
    assert!(stderr.contains("x.json"), "{stderr}");
}

#[test]
fn conflicts_tell_nothing_chosen_and_other_targets_apart_and_ignore_policies_with_no_opinion() {
    let set = PolicySet::from_sources([
        (
            "revoke",
            r#"const DESCRIPTION = "d"; const APPLIES_TO = "UnauthorizedAccess:IAMUser/*";
               fn decide(f) { revoke_role_sessions(f.user_name) }"#,
        ),
        (
            // Acts on other roles, returns nothing for break-glass ones.
            "skip",
            r#"const DESCRIPTION = "d"; const APPLIES_TO = "UnauthorizedAccess:IAMUser/InstanceCredential*";
               fn decide(f) {
                   if f.user_name.starts_with("break-glass-") { return (); }
                   revoke_role_sessions(f.user_name)
               }"#,
        ),
        (
            // Quarantines the role: it touches what `revoke` touches, no conflict.
            "quarantine",
            r#"const DESCRIPTION = "d"; const APPLIES_TO = "*InstanceCredentialExfiltration*";
               fn decide(f) { quarantine_principal("role", f.user_name) }"#,
        ),
        (
            // Disables the key of a user where `console` only ends its console login.
            "key",
            r#"const DESCRIPTION = "d"; const APPLIES_TO = "UnauthorizedAccess:IAMUser/MaliciousIPCaller*";
               fn decide(f) { [disable_access_key(f.user_name, f.access_key_id), disable_console_login(f.user_name)] }"#,
        ),
        (
            "console",
            r#"const DESCRIPTION = "d"; const APPLIES_TO = "UnauthorizedAccess:IAMUser/*";
               fn decide(f) { if f.type.contains("MaliciousIP") { disable_console_login(f.user_name) } }"#,
        ),
        (
            // Never acts, and says nothing: no opinion, never a conflict.
            "silent",
            r#"const DESCRIPTION = "d"; const APPLIES_TO = "*";
               fn decide(f) { () }"#,
        ),
        (
            // Another type altogether.
            "recon",
            r#"const DESCRIPTION = "d"; const APPLIES_TO = "Recon:*";
               fn decide(f) { notify("security", "x") }"#,
        ),
    ])
    .unwrap();
    let json = std::fs::read_to_string(finding("instance-credential-exfiltration.json")).unwrap();
    let plain = testing::finding_with(&json, []).unwrap();
    let glass = testing::finding_with(
        &json,
        [(
            "/detail/resource/accessKeyDetails/userName",
            serde_json::json!("break-glass-ops"),
        )],
    )
    .unwrap();
    let key_json = std::fs::read_to_string(finding("iam-malicious-ip-custom.json")).unwrap();
    let key = testing::finding_with(&key_json, []).unwrap();
    let conflicts = set.conflicts([("plain", &plain), ("glass", &glass), ("key", &key)]);
    let summary: Vec<(ConflictKind, &str, &str, usize)> = conflicts
        .iter()
        .map(|c| (c.kind, c.acts.as_str(), c.spares.as_str(), c.findings))
        .collect();
    assert!(
        summary.contains(&(ConflictKind::ChoosesNothing, "revoke", "skip", 1)),
        "{summary:?}"
    );
    assert!(
        summary.contains(&(ConflictKind::SparesTarget, "key", "console", 1)),
        "{summary:?}"
    );
    assert!(
        !summary.iter().any(|(_, a, s, _)| matches!(
            (*a, *s),
            ("quarantine", "revoke") | ("revoke", "quarantine") | ("console", _)
        )),
        "{summary:?}"
    );
    assert!(
        !summary.contains(&(ConflictKind::SparesTarget, "console", "key", 1)),
        "{summary:?}"
    );
    // `console` acts only on other types: no opinion on the exfiltration finding.
    assert!(
        !summary
            .iter()
            .any(|(_, a, s, _)| *s == "console" && *a != "key"),
        "{summary:?}"
    );
    let spared = conflicts.iter().find(|c| c.acts == "key").unwrap();
    assert_eq!(
        spared.examples[0].hits,
        [
            "disable_access_key access_key:GuardDuty-Example-Compromised-Simulated/AKIAIOSFODNN7EXAMPLE"
        ]
    );
    assert!(
        !summary
            .iter()
            .any(|(_, a, s, _)| *a == "silent" || *s == "silent" || *a == "recon" || *s == "recon"),
        "{summary:?}"
    );
    let skip = conflicts
        .iter()
        .find(|c| c.kind == ConflictKind::ChoosesNothing)
        .unwrap();
    assert_eq!(skip.examples[0].finding, "glass");
    assert_eq!(
        skip.protect,
        [("roles".to_owned(), "break-glass-ops".to_owned())]
    );
    assert!(
        skip.to_string().contains("`skip` chooses nothing"),
        "{skip}"
    );
}

#[test]
fn a_case_with_others_fails_when_a_bundled_policy_contradicts_it() {
    let author = author_dir("others = []");
    let dirs = [PathBuf::from(POLICIES), author.path().to_path_buf()];
    let report = testing::run_dirs_with(&PolicySet::builder(), &dirs);
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report}");
    let failed = failures[0];
    assert_eq!(failed.name, "a break-glass session is spared");
    assert!(
        matches!(&failed.failure, Some(CaseFailure::Others { own: None, .. })),
        "{report}"
    );
    let text = report.to_string();
    assert!(text.contains("the other policies (`others`):"), "{text}");
    assert!(
        text.contains("+ revoke_role_sessions {\"role_name\":\"break-glass-ops\"}  (by instance-credential-exfiltration)"),
        "{text}"
    );
    // The conflicts come with the report too.
    assert_eq!(report.conflicts.len(), 2, "{:?}", report.conflicts);

    // Without `others` the case only sees its own policy's actions, and passes.
    let quiet = author_dir("");
    let report = testing::run_dirs_with(
        &PolicySet::builder(),
        &[PathBuf::from(POLICIES), quiet.path().to_path_buf()],
    );
    assert!(report.is_success(), "{report}");

    // With the exception in `[protect]`, `others` can say so and pass.
    let fixed = author_dir(
        "protect = { roles = [\"break-glass-*\"] }\nothers = [{ kind = \"revoke_role_sessions\", outcome = \"protected\" }, { kind = \"notify\" }]",
    );
    let report = testing::run_dirs_with(
        &PolicySet::builder(),
        &[PathBuf::from(POLICIES), fixed.path().to_path_buf()],
    );
    assert!(report.is_success(), "{report}");
}

#[test]
fn a_failed_case_says_why_each_policy_did_or_did_not_decide() {
    // The author's catch-all notifies about every high finding: the bundled fallback no longer
    // runs, and its case says so.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("page.rhai"),
        r#"const DESCRIPTION = "page about every high finding"; const APPLIES_TO = "*"; const MIN_SEVERITY = "high";
fn decide(f) { notify("pager", `high: ${f.type}`) }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tests/page.toml"),
        format!(
            "policy = \"page\"\n[[case]]\nname = \"pages\"\nfinding = \"{}\"\nexpect = [{{ kind = \"notify\" }}]\n",
            finding("ecs-malicious-file.json")
        ),
    )
    .unwrap();
    let report = testing::run_dirs_with(
        &PolicySet::builder(),
        &[PathBuf::from(POLICIES), dir.path().to_path_buf()],
    );
    let text = report.to_string();
    let failed = report
        .failures()
        .find(|r| r.name == "a high finding no policy handles: notify")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        failed.why.iter().any(|l| l
            == "high-severity-notify: not run: a fallback runs only when no other policy chose \
                an action, and `page` did"),
        "{:?}",
        failed.why
    );
    assert!(
        failed
            .why
            .iter()
            .any(|l| l.starts_with("page: applied (type matches `*`), chose notify channel:pager")),
        "{:?}",
        failed.why
    );
    assert!(
        failed.why.iter().any(|l| l.starts_with("not applied, the type `Execution:ECS/MaliciousFile` matches none of their `APPLIES_TO`: ")),
        "{:?}",
        failed.why
    );
    assert!(
        text.contains("      why:\n        high-severity-notify: not run"),
        "{text}"
    );
}

#[test]
fn why_names_a_failure_with_line_and_column_and_a_source_left_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("boom.rhai"),
        "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\nfn decide(f) {\n    throw \"no\";\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.rhai"),
        "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\nconst SOURCES = \"securityhub\";\nfn decide(f) { () }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tests/boom.toml"),
        format!(
            "[[case]]\nname = \"whole plan\"\nfinding = \"{}\"\nexpect = []\n",
            finding("ecs-malicious-file.json")
        ),
    )
    .unwrap();
    let report = testing::run_dir(dir.path());
    let failed = report.failures().find(|r| r.name == "whole plan").unwrap();
    assert!(
        failed
            .why
            .iter()
            .any(|l| l.starts_with("boom: applied, failed at line 4, column 5: ")),
        "{:?}",
        failed.why
    );
    assert!(
        failed
            .why
            .iter()
            .any(|l| l.starts_with("other: not applied: the finding is from `guardduty`")),
        "{:?}",
        failed.why
    );
}

#[test]
fn remedy_test_prints_the_load_warnings_and_the_contradictions() {
    let author = author_dir("");
    std::fs::write(
        author.path().join("typo.rhai"),
        "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"Recon:IAMuser/*\";\nfn decide(f) { notify(\"security\", \"x\") }\n",
    )
    .unwrap();
    std::fs::write(
        author.path().join("tests/typo.toml"),
        format!(
            "policy = \"typo\"\n[[case]]\nname = \"nothing\"\nfinding = \"{}\"\nexpect = []\n",
            finding("ecs-malicious-file.json")
        ),
    )
    .unwrap();
    let out = remedy(&[
        "test",
        "policies",
        "--with",
        author.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Recon:IAMuser/*"),
        "the glob warning: {stderr}"
    );
    assert!(stderr.contains("matches no known"), "{stderr}");
    assert!(
        stderr.contains("warning: `spare-break-glass` only notifies where `instance-credential-exfiltration` acts"),
        "{stderr}"
    );
}

#[test]
fn set_on_a_key_the_finding_lacks_is_an_error_and_add_adds_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("sample.rhai"),
        "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\nfn decide(f) { if f.sample { notify(\"security\", \"sample\") } }\n",
    )
    .unwrap();
    let case = |patch: &str| {
        format!(
            "policy = \"sample\"\n[[case]]\nname = \"a sample\"\nfinding = \"{}\"\n{patch}\nexpect = [{{ kind = \"notify\" }}]\n",
            finding("ecs-malicious-file.json")
        )
    };
    let path = dir.path().join("tests/sample.toml");
    std::fs::write(
        &path,
        case("set = { \"/detail/service/additionalInfo/sample\" = true }"),
    )
    .unwrap();
    let report = testing::run_dir(dir.path());
    let text = report.to_string();
    assert!(report.failures().any(|r| r.name == "a sample"), "{text}");
    assert!(
        text.contains(
            "cannot apply `/detail/service/additionalInfo/sample`: the finding has no `sample` here"
        ),
        "{text}"
    );
    assert!(text.contains("write it under `add`"), "{text}");
    std::fs::write(
        &path,
        case("add = { \"/detail/service/additionalInfo/sample\" = true }"),
    )
    .unwrap();
    let report = testing::run_dir(dir.path());
    assert!(report.is_success(), "{report}");
    // `add` still needs the parent, unless `create`.
    std::fs::write(
        &path,
        case("add = { \"/detail/service/additionalInf/sample\" = true }"),
    )
    .unwrap();
    let report = testing::run_dir(dir.path());
    assert!(report.failures().any(|r| r.name == "a sample"), "{report}");
}
