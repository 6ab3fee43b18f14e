//! Enrichment before deciding: the context frozen into the finding, what policies see as
//! `finding.context`, the plan and the audit trail recording it, the combinator's timeout, cache
//! and failures, and `remedy check`'s lint of context properties.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use remedy::enrich::{
    ActivityEvent, ActivitySummary, Context, ContextError, ContextErrorKind, Enricher,
    MemoryEnricher, PrincipalDetails, StaticEnricher,
};
use remedy::store::audit::{AuditRecord, MemoryAudit};
use remedy::testing::{ExpectedAction, InMemory, check_plan, finding_with};
use remedy::{Enrichers, Finding, Pipeline, Plan, PolicySet, Status};
use serde_json::json;

const FINDING: &str = include_str!("../../examples/findings/01-iam-malicious-ip-custom.json");
const USER: &str = "GuardDuty-Example-Compromised-Simulated";
const KEY: &str = "AKIAIOSFODNN7EXAMPLE";

/// Disables a key only when its user can administer the account; otherwise notifies.
const ADMIN_ONLY: &str = r#"
const DESCRIPTION = "disable a key used from a threat list only when its user is an administrator";
const APPLIES_TO = "UnauthorizedAccess:IAMUser/MaliciousIPCaller*";
fn decide(finding) {
    let p = finding.context.principal;
    if p == () {
        return notify("security", `permissions of ${finding.user_name} unknown (${finding.context.errors.len()} errors): look into it`);
    }
    if p.is_admin {
        return [
            disable_access_key(finding.user_name, finding.access_key_id, `administrator via ${p.admin_via}`),
            notify("security", `${p.name} is an administrator: key disabled`),
        ];
    }
    notify("security", `${p.name} is not an administrator: key left active`)
}
"#;

fn admin_only() -> PolicySet {
    PolicySet::from_sources([("admin-only.rhai", ADMIN_ONLY)]).unwrap()
}

fn finding() -> Finding {
    Finding::from_json_str(FINDING).unwrap()
}

fn principal(name: &str, admin: bool) -> PrincipalDetails {
    PrincipalDetails {
        name: name.into(),
        policies: vec![
            if admin {
                "AdministratorAccess"
            } else {
                "ReadOnlyAccess"
            }
            .into(),
        ],
        is_admin: admin,
        admin_via: if admin {
            vec!["AdministratorAccess".into()]
        } else {
            Vec::new()
        },
        ..PrincipalDetails::default()
    }
}

fn with_principal(p: PrincipalDetails) -> Context {
    Context {
        principal: Some(p),
        ..Context::default()
    }
}

#[test]
fn a_policy_disabling_only_admin_keys_decides_right_in_both_cases() {
    let set = admin_only();
    let admin = finding().with_context(with_principal(principal(USER, true)));
    check_plan(
        &set.evaluate(&admin),
        None,
        &[
            ExpectedAction::disable_access_key(USER, KEY),
            ExpectedAction::notify("security").mentioning("is an administrator"),
        ],
    )
    .unwrap();

    let plain = finding().with_context(with_principal(principal(USER, false)));
    check_plan(
        &set.evaluate(&plain),
        None,
        &[ExpectedAction::notify("security").mentioning("is not an administrator")],
    )
    .unwrap();

    // Not enriched, or enrichment failed: `principal` is `()`, the policy still decides.
    for f in [
        finding(),
        finding().with_context(Context::failed(ContextError::new(
            "iam",
            ContextErrorKind::PermissionDenied,
            "GetUser failed",
        ))),
    ] {
        let plan = set.evaluate(&f);
        assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        check_plan(
            &plan,
            None,
            &[ExpectedAction::notify("security").mentioning("permissions of")],
        )
        .unwrap();
    }
}

#[test]
fn the_plan_records_the_context_and_round_trips() {
    let context = Context {
        principal: Some(principal(USER, true)),
        activity: Some(ActivitySummary::from_events(
            24,
            [ActivityEvent {
                name: "CreateAccessKey".into(),
                time: None,
                source_ip: Some("198.51.100.23".into()),
            }],
            false,
        )),
        errors: vec![],
    };
    let plan = admin_only().evaluate(&finding().with_context(context.clone()));
    assert_eq!(plan.finding.enrichment.as_deref(), Some(&context));
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["enrichment"]["principal"]["is_admin"], true);
    assert_eq!(
        json["enrichment"]["activity"]["writes"],
        json!(["CreateAccessKey"])
    );
    assert_eq!(Plan::from_json_value(json).unwrap(), plan);
    // A plan without the field (written before enrichment existed) still reads.
    let old = serde_json::to_value(admin_only().evaluate(&finding())).unwrap();
    assert!(old.get("enrichment").is_none());
    assert_eq!(Plan::from_json_value(old).unwrap().finding.enrichment, None);
}

#[test]
fn scripts_see_every_part_of_the_context() {
    let set = PolicySet::from_sources([(
        "read.rhai",
        r#"
        const DESCRIPTION = "reads the context";
        const APPLIES_TO = "*";
        fn decide(finding) {
            let c = finding.context;
            let p = c.principal;
            let a = c.activity;
            notify("security", `${p.kind} ${p.name} admin=${p.is_admin} tags=${p.tags.team} key=${p.key?.id ?? "none"} ` +
                `events=${a.events} top=${a.top[0].name}:${a.top[0].count} ips=${a.source_ips} any_write=${a.any_write} ` +
                `list=${a.by_name["ListUsers"]} errors=${c.errors[0].enricher}/${c.errors[0].kind}`)
        }
        "#,
    )])
    .unwrap();
    let mut p = principal(USER, true);
    p.tags.insert("team".into(), "payments".into());
    let context = Context {
        principal: Some(p),
        activity: Some(ActivitySummary::from_events(
            24,
            ["ListUsers", "ListUsers", "PutUserPolicy"].map(|n| ActivityEvent {
                name: n.into(),
                time: None,
                source_ip: Some("198.51.100.23".into()),
            }),
            false,
        )),
        errors: vec![ContextError::new(
            "cloudtrail",
            ContextErrorKind::Timeout,
            "late",
        )],
    };
    let plan = set.evaluate(&finding().with_context(context));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let message = plan.actions[0].action.params()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        message,
        format!(
            "user {USER} admin=true tags=payments key=none events=3 top=ListUsers:2 \
             ips=[\"198.51.100.23\"] any_write=true list=2 errors=cloudtrail/timeout"
        )
    );
}

#[tokio::test]
async fn the_engine_enriches_before_deciding_caches_per_principal_and_audits_the_context() {
    let iam = MemoryEnricher::new();
    iam.add_principal(principal(USER, true));
    let aws = InMemory::new().with_keys_of(
        &admin_only().evaluate(&finding().with_context(with_principal(principal(USER, true)))),
    );
    let audit = MemoryAudit::new();
    let remediator = aws
        .remediator()
        .with_audit(Arc::new(audit.clone()))
        .enforce(true)
        .build();
    let engine = Pipeline::new(admin_only(), remediator)
        .unwrap()
        .with_enrichers(Enrichers::new().with(Arc::new(iam.clone())));
    // The same principal twice (a re-delivery with a new id): one lookup.
    let again = finding_with(FINDING, [("/detail/id", json!("another-id-0000"))]).unwrap();
    let reports = engine.handle_all([finding(), again]).await;
    assert_eq!(
        iam.calls(),
        1,
        "answers are cached per principal for the run"
    );
    assert_eq!(reports[0].count(Status::Executed), 2);
    assert_eq!(aws.iam.is_active(USER, KEY), Some(false));
    let decisions: Vec<Plan> = audit
        .records()
        .into_iter()
        .filter_map(|r| match r {
            AuditRecord::Decision(d) => Some(d.plan),
            _ => None,
        })
        .collect();
    assert_eq!(decisions.len(), 2);
    assert!(
        decisions[0]
            .finding
            .enrichment
            .as_ref()
            .unwrap()
            .principal
            .as_ref()
            .unwrap()
            .is_admin
    );

    // A finding that already carries a context keeps it (a replay).
    let replay = finding().with_context(with_principal(principal(USER, false)));
    let plan = engine.decide(&replay).await;
    assert!(
        !plan
            .finding
            .enrichment
            .unwrap()
            .principal
            .as_ref()
            .unwrap()
            .is_admin
    );
    assert_eq!(iam.calls(), 1);
}

#[tokio::test]
async fn sample_findings_are_not_enriched() {
    let iam = MemoryEnricher::new();
    let enrichers = Enrichers::new().with(Arc::new(iam.clone()));
    let sample = finding_with(
        FINDING,
        [("/detail/service/additionalInfo/sample", json!(true))],
    )
    .unwrap();
    let context = enrichers.context(&sample).await;
    assert_eq!(iam.calls(), 0);
    assert_eq!(context.errors[0].kind, ContextErrorKind::Unsupported);
}

/// An enricher that takes `delay`, then answers with a principal (or panics).
#[derive(Debug)]
struct Slow {
    delay: Duration,
    panics: bool,
}

#[async_trait]
impl Enricher for Slow {
    async fn enrich(&self, _finding: &Finding) -> Context {
        tokio::time::sleep(self.delay).await;
        assert!(!self.panics, "boom");
        with_principal(principal("slow", true))
    }

    fn name(&self) -> &str {
        "slow"
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_or_failing_enricher_is_an_error_entry_and_the_others_stand() {
    let activity = ActivitySummary::from_events(24, [], false);
    let fixed = StaticEnricher::new(Context {
        activity: Some(activity.clone()),
        ..Context::default()
    });
    let enrichers = Enrichers::new()
        .with(Arc::new(Slow {
            delay: Duration::from_secs(10),
            panics: false,
        }))
        .with(Arc::new(fixed.clone()))
        .with_timeout(Duration::from_secs(2));
    let started = tokio::time::Instant::now();
    let context = enrichers.context(&finding()).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(context.principal, None);
    assert_eq!(context.activity, Some(activity.clone()));
    assert_eq!(
        (context.errors[0].enricher.as_str(), context.errors[0].kind),
        ("slow", ContextErrorKind::Timeout)
    );

    let enrichers = Enrichers::new()
        .with(Arc::new(Slow {
            delay: Duration::ZERO,
            panics: true,
        }))
        .with(Arc::new(fixed));
    let context = enrichers.context(&finding()).await;
    assert_eq!(context.activity, Some(activity));
    assert_eq!(
        (context.errors[0].enricher.as_str(), context.errors[0].kind),
        ("slow", ContextErrorKind::Failed)
    );
}

#[test]
fn remedy_check_knows_the_context_properties() {
    let load = |body: &str| {
        PolicySet::from_sources([(
            "p.rhai",
            format!(
                "const DESCRIPTION = \"d\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {{\n    {body}\n}}\n"
            ),
        )])
    };
    let err = load("if finding.context.principal.is_admn { notify(\"s\", \"x\") }").unwrap_err();
    let d = &err.diagnostics()[0];
    assert!(d.to_string().contains("`principal.is_admn`"), "{d}");
    assert!(
        d.help().unwrap().contains("did you mean `is_admin`?"),
        "{d:?}"
    );

    let err = load("let c = finding.contxt;").unwrap_err();
    let help = |e: &remedy::PolicyError| e.diagnostics()[0].help().unwrap_or_default().to_owned();
    assert!(
        help(&err).contains("did you mean `context`?"),
        "{}",
        help(&err)
    );

    let err = load("let n = finding.context.activity.evnts;").unwrap_err();
    assert!(
        help(&err).contains("did you mean `events`?"),
        "{}",
        help(&err)
    );

    let err = load("let n = finding.context.principal.key.last_usd;").unwrap_err();
    assert!(
        help(&err).contains("did you mean `last_used`?"),
        "{}",
        help(&err)
    );

    // Maps with arbitrary keys, indexes, methods and the elvis operator are fine.
    load(
        "let a = finding.context.principal?.tags.team; let b = finding.context.activity.by_name[\"ListUsers\"]; \
         let c = finding.context.errors.len(); let d = finding.context.principal.group_policies.admins;",
    )
    .unwrap();
}

#[test]
fn the_readme_example_notification_is_what_the_bundled_policy_says() {
    let root = env!("CARGO_MANIFEST_DIR");
    let set = PolicySet::from_dir(format!("{root}/policies")).unwrap();
    let text = std::fs::read_to_string(format!("{root}/examples/context/01-compromised-user.json"))
        .unwrap();
    let context: Context = serde_json::from_str(&text).unwrap();
    let plan = set.evaluate(&finding().with_context(Arc::new(context)));
    let notify = plan
        .actions
        .iter()
        .find(|a| a.action.kind() == remedy::ActionKind::NOTIFY)
        .unwrap();
    let message = notify.action.params()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("is an administrator (AdministratorAccess)")
            && message.contains("41 calls in the last 24 h"),
        "{message}"
    );
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let shown = serde_json::to_string(&message).unwrap();
    assert!(
        readme.contains(&shown),
        "README.md's enrichment example no longer shows the notification:\n{shown}"
    );
}
