//! The containment kinds (`revoke_role_sessions`, `quarantine_principal`,
//! `disable_console_login`) and `undo`: one suite, run against the in-memory IAM (bare, behind
//! `Box<dyn>`/`Arc<dyn>`, a router and the wrappers) and the AWS executors against moto.

use std::collections::BTreeMap;

use remedy::action::Verification;
use remedy::config::ProtectConfig;
use remedy::id::RoleName;
use remedy::plan::{
    DisableConsoleLogin, IamPrincipal, QuarantinePrincipal, Reversal, RevokeRoleSessions, Undo,
};
use remedy::remediate::Protection;

use super::*;

/// The quarantine policy AWS attaches to exposed keys (moto has it with
/// `MOTO_IAM_LOAD_MANAGED_POLICIES=true`).
const QUARANTINE_ARN: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";
/// A managed policy no account has: quarantine falls back to an inline deny-all.
const MISSING_POLICY: &str = "RemedyConformanceNoSuchPolicy";

/// An IAM with users and roles, and an executor for every IAM kind acting on it.
#[async_trait]
pub(crate) trait ContainmentBackend: Send + Sync {
    fn name(&self) -> String;
    /// The executor, quarantining with `quarantine_policy` (a name or ARN; `None`: the default).
    async fn executor(&self, quarantine_policy: Option<&str>) -> Arc<dyn Executor>;
    async fn create_role(&self, role: &str);
    async fn create_user(&self, user: &str, console_password: bool);
    /// Creates a user with two active keys.
    async fn user_with_two_keys(&self, user: &str) -> (String, String);
    async fn put_role_policy(&self, role: &str, name: &str, document: &str);
    async fn inline_policies(&self, principal: &IamPrincipal) -> BTreeMap<String, String>;
    async fn attached(&self, principal: &IamPrincipal) -> Vec<String>;
    async fn has_console_password(&self, user: &str) -> bool;
    async fn is_active(&self, user: &str, key: &str) -> bool;
}

struct Memory {
    label: &'static str,
    iam: MemoryIam,
    wrap: fn(MemoryIam) -> Arc<dyn Executor>,
}

#[async_trait]
impl ContainmentBackend for Memory {
    fn name(&self) -> String {
        self.label.into()
    }
    async fn executor(&self, quarantine_policy: Option<&str>) -> Arc<dyn Executor> {
        let iam = match quarantine_policy {
            Some(p) => self.iam.clone().with_quarantine_policy(p),
            None => self.iam.clone(),
        };
        (self.wrap)(iam)
    }
    async fn create_role(&self, role: &str) {
        self.iam.add_role(role);
    }
    async fn create_user(&self, user: &str, console_password: bool) {
        self.iam.add_user(user);
        if console_password {
            self.iam.add_login_profile(user);
        }
    }
    async fn user_with_two_keys(&self, user: &str) -> (String, String) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let (a, b) = (format!("AKIACONTAIN{n:09}"), format!("AKIACONTAIZ{n:09}"));
        self.iam.add_key(user, &a).add_key(user, &b);
        (a, b)
    }
    async fn put_role_policy(&self, role: &str, name: &str, document: &str) {
        self.iam.put_role_policy(role, name, document);
    }
    async fn inline_policies(&self, principal: &IamPrincipal) -> BTreeMap<String, String> {
        self.iam.inline_policies(principal)
    }
    async fn attached(&self, principal: &IamPrincipal) -> Vec<String> {
        self.iam.attached_policies(principal)
    }
    async fn has_console_password(&self, user: &str) -> bool {
        self.iam.has_login_profile(user).unwrap()
    }
    async fn is_active(&self, user: &str, key: &str) -> bool {
        self.iam.is_active(user, key).unwrap()
    }
}

fn memory_backends() -> Vec<Memory> {
    fn iam_router(i: MemoryIam) -> Router {
        let arc = i.into_arc();
        [
            ActionKind::DISABLE_ACCESS_KEY,
            ActionKind::REVOKE_ROLE_SESSIONS,
            ActionKind::QUARANTINE_PRINCIPAL,
            ActionKind::DISABLE_CONSOLE_LOGIN,
            ActionKind::UNDO,
        ]
        .into_iter()
        .fold(Router::new(), |r, k| r.with(k, Arc::clone(&arc)))
    }
    fn b(label: &'static str, wrap: fn(MemoryIam) -> Arc<dyn Executor>) -> Memory {
        Memory {
            label,
            iam: MemoryIam::new(),
            wrap,
        }
    }
    vec![
        b("memory", |i| Arc::new(i)),
        b("box<dyn>", |i| {
            let boxed: Box<dyn Executor> = Box::new(i);
            Arc::new(boxed)
        }),
        b("arc<dyn>", |i| {
            let arc: Arc<dyn Executor> = Arc::new(i);
            Arc::new(arc)
        }),
        b("router", |i| iam_router(i).into_arc()),
        b("retry", |i| Retry::new(i).with_max_attempts(3).into_arc()),
        b("timeout", |i| i.timeout(Duration::from_secs(5)).into_arc()),
    ]
}

fn role(name: &str) -> IamPrincipal {
    IamPrincipal::Role(RoleName::new(name).unwrap())
}

fn user(name: &str) -> IamPrincipal {
    IamPrincipal::User(UserName::new(name).unwrap())
}

fn revoke(name: &str) -> Action {
    Action::RevokeRoleSessions(RevokeRoleSessions {
        role_name: RoleName::new(name).unwrap(),
    })
}

fn quarantine(principal: IamPrincipal) -> Action {
    Action::QuarantinePrincipal(QuarantinePrincipal { principal })
}

fn console(name: &str) -> Action {
    Action::DisableConsoleLogin(DisableConsoleLogin {
        user_name: UserName::new(name).unwrap(),
    })
}

fn undo_of(outcome: &Outcome) -> Action {
    Action::Undo(Undo {
        record: unique("record"),
        reversal: outcome
            .undo()
            .cloned()
            .expect("an executed outcome says how to undo it"),
    })
}

/// The `aws:TokenIssueTime` a revocation document denies sessions before.
fn issue_time(document: &str) -> String {
    let doc: serde_json::Value = serde_json::from_str(document).unwrap();
    let statement = &doc["Statement"][0];
    assert_eq!(statement["Effect"], "Deny", "{document}");
    assert_eq!(statement["Action"], "*", "{document}");
    statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn kind_of(o: &Outcome) -> Option<ErrorKind> {
    o.error().map(|e| e.kind())
}

async fn verify(e: &dyn Executor, action: &Action, f: &FindingContext) -> Verification {
    e.verify(&ActionRequest::new(action, f)).await
}

/// `revoke_role_sessions` and its undo.
async fn revoke_conformance(backend: &dyn ContainmentBackend) {
    let name = backend.name();
    let e = backend.executor(None).await;
    let f = finding("AssumedRole");
    let (target, bystander) = (unique("role"), unique("role"));
    backend.create_role(&target).await;
    backend.create_role(&bystander).await;

    let executed = exec(&*e, &revoke(&target), &f).await;
    assert!(
        matches!(executed, Outcome::Executed { .. }),
        "{name}: {executed}"
    );
    let policy = RevokeRoleSessions::policy_name(&f.id);
    let policies = backend.inline_policies(&role(&target)).await;
    assert_eq!(
        policies.keys().collect::<Vec<_>>(),
        [&policy],
        "{name}: exactly one policy, named for the finding"
    );
    let first = issue_time(&policies[&policy]);
    assert!(
        backend.inline_policies(&role(&bystander)).await.is_empty(),
        "{name}: another role was touched"
    );
    assert_eq!(
        executed.undo(),
        Some(&Reversal::DeleteInlinePolicy {
            principal: role(&target),
            policy_name: policy.clone(),
        }),
        "{name}"
    );

    // A repeat (a second later, so a new time would differ) keeps the first time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let o = exec(&*e, &revoke(&target), &f).await;
    assert!(matches!(o, Outcome::AlreadyDone { .. }), "{name}: {o}");
    assert!(o.to_string().contains(&first), "{name}: {o}");
    let policies = backend.inline_policies(&role(&target)).await;
    assert_eq!(issue_time(&policies[&policy]), first, "{name}: time moved");
    assert!(
        matches!(
            verify(&*e, &revoke(&target), &f).await,
            Verification::Done(_)
        ),
        "{name}"
    );

    // Another finding revokes with a time of its own, in a policy of its own.
    let f2 = finding("AssumedRole");
    assert!(
        matches!(
            verify(&*e, &revoke(&target), &f2).await,
            Verification::NotDone
        ),
        "{name}"
    );
    let o2 = exec(&*e, &revoke(&target), &f2).await;
    assert!(matches!(o2, Outcome::Executed { .. }), "{name}: {o2}");
    let policies = backend.inline_policies(&role(&target)).await;
    assert_eq!(policies.len(), 2, "{name}");
    assert!(issue_time(&policies[&RevokeRoleSessions::policy_name(&f2.id)]) > first);

    // Undo removes exactly what was added: the first finding's policy, not the second's.
    let undo = undo_of(&executed);
    let o = exec(&*e, &undo, &f).await;
    assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
    let left = backend.inline_policies(&role(&target)).await;
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        [&RevokeRoleSessions::policy_name(&f2.id)],
        "{name}"
    );
    let o = exec(&*e, &undo, &f).await;
    assert!(matches!(o, Outcome::AlreadyDone { .. }), "{name}: {o}");
    let o = exec(&*e, &undo_of(&o2), &f2).await;
    assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
    assert!(backend.inline_policies(&role(&target)).await.is_empty());

    // An unknown role: not found, nothing created.
    let ghost = unique("ghost");
    let o = exec(&*e, &revoke(&ghost), &f).await;
    assert_eq!(kind_of(&o), Some(ErrorKind::NotFound), "{name}: {o}");

    // A policy of that name that is not remedy's: a conflict, left as it was.
    let other = unique("role");
    let f3 = finding("AssumedRole");
    let theirs = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
    backend
        .put_role_policy(&other, &RevokeRoleSessions::policy_name(&f3.id), theirs)
        .await;
    let o = exec(&*e, &revoke(&other), &f3).await;
    assert_eq!(kind_of(&o), Some(ErrorKind::Conflict), "{name}: {o}");
    let kept = backend.inline_policies(&role(&other)).await;
    let kept: serde_json::Value =
        serde_json::from_str(&kept[&RevokeRoleSessions::policy_name(&f3.id)]).unwrap();
    assert_eq!(kept["Statement"][0]["Action"], "s3:*", "{name}");

    // Through the remediator: a protected role is untouched, a sample finding never acts.
    let protected = unique("protected");
    backend.create_role(&protected).await;
    let protection = Protection::new(&ProtectConfig {
        roles: vec!["protected-*".into()],
        ..ProtectConfig::default()
    })
    .unwrap();
    let remediator = Remediator::builder(Arc::clone(&e))
        .with_protection(protection)
        .enforce(true)
        .build();
    let report = remediator
        .run(&plan_of(finding("AssumedRole"), [revoke(&protected)], "p"))
        .await;
    assert!(
        matches!(
            report.actions[0].outcome,
            Outcome::Skipped(SkipReason::Protected { .. })
        ),
        "{name}: {}",
        report.actions[0].outcome
    );
    let mut sample = finding("AssumedRole");
    sample.sample = true;
    let o = remediate(&e, revoke(&bystander), sample).await;
    assert!(
        matches!(o, Outcome::Skipped(SkipReason::Sample)),
        "{name}: {o}"
    );
    assert!(backend.inline_policies(&role(&protected)).await.is_empty());
    assert!(backend.inline_policies(&role(&bystander)).await.is_empty());

    // Dry run around it: reports, changes nothing.
    let o = exec(&DryRun::new(Arc::clone(&e)), &revoke(&bystander), &f).await;
    assert!(
        matches!(o, Outcome::Skipped(SkipReason::DryRun { .. })),
        "{name}: {o}"
    );
    assert!(backend.inline_policies(&role(&bystander)).await.is_empty());
}

/// `quarantine_principal` of users and roles, the inline fallback, and their undo.
async fn quarantine_conformance(backend: &dyn ContainmentBackend) {
    let name = backend.name();
    let e = backend.executor(None).await;
    let f = finding("IAMUser");
    let (u, r) = (unique("user"), unique("role"));
    backend.create_user(&u, false).await;
    backend.create_role(&r).await;

    let mut done = Vec::new();
    for principal in [user(&u), role(&r)] {
        let o = exec(&*e, &quarantine(principal.clone()), &f).await;
        assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
        assert_eq!(
            backend.attached(&principal).await,
            [QUARANTINE_ARN],
            "{name}"
        );
        assert!(backend.inline_policies(&principal).await.is_empty());
        assert_eq!(
            o.undo(),
            Some(&Reversal::DetachPolicy {
                principal: principal.clone(),
                policy_arn: QUARANTINE_ARN.into(),
            }),
            "{name}"
        );
        let again = exec(&*e, &quarantine(principal.clone()), &f).await;
        assert!(
            matches!(again, Outcome::AlreadyDone { .. }),
            "{name}: {again}"
        );
        assert!(
            matches!(
                verify(&*e, &quarantine(principal.clone()), &f).await,
                Verification::Done(_)
            ),
            "{name}"
        );
        done.push((principal, o));
    }

    // The managed policy does not exist: an inline deny-all instead.
    let fallback = backend.executor(Some(MISSING_POLICY)).await;
    let u2 = unique("user");
    backend.create_user(&u2, false).await;
    let o = exec(&*fallback, &quarantine(user(&u2)), &f).await;
    assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
    assert!(backend.attached(&user(&u2)).await.is_empty(), "{name}");
    let inline = backend.inline_policies(&user(&u2)).await;
    let deny: serde_json::Value = serde_json::from_str(&inline["remedy-quarantine"]).unwrap();
    assert_eq!(deny["Statement"][0]["Effect"], "Deny", "{name}");
    assert_eq!(deny["Statement"][0]["Action"], "*", "{name}");
    let again = exec(&*fallback, &quarantine(user(&u2)), &f).await;
    assert!(
        matches!(again, Outcome::AlreadyDone { .. }),
        "{name}: {again}"
    );
    done.push((user(&u2), o));

    // Undo removes exactly what was added.
    for (principal, o) in &done {
        let undo = undo_of(o);
        let u = exec(&*e, &undo, &f).await;
        assert!(matches!(u, Outcome::Executed { .. }), "{name}: {u}");
        assert!(backend.attached(principal).await.is_empty(), "{name}");
        assert!(
            backend.inline_policies(principal).await.is_empty(),
            "{name}"
        );
        let u = exec(&*e, &undo, &f).await;
        assert!(matches!(u, Outcome::AlreadyDone { .. }), "{name}: {u}");
    }

    let o = exec(&*e, &quarantine(user(&unique("ghost"))), &f).await;
    assert_eq!(kind_of(&o), Some(ErrorKind::NotFound), "{name}: {o}");
    let o = exec(&*e, &quarantine(role(&unique("ghost"))), &f).await;
    assert_eq!(kind_of(&o), Some(ErrorKind::NotFound), "{name}: {o}");

    // A protected user is not quarantined; a role of the same name is checked against `roles`.
    let protected = unique("protected");
    backend.create_user(&protected, false).await;
    let protection = Protection::new(&ProtectConfig {
        users: vec!["protected-*".into()],
        ..ProtectConfig::default()
    })
    .unwrap();
    let report = Remediator::builder(Arc::clone(&e))
        .with_protection(protection)
        .enforce(true)
        .build()
        .run(&plan_of(
            finding("IAMUser"),
            [quarantine(user(&protected))],
            "p",
        ))
        .await;
    assert!(
        matches!(
            report.actions[0].outcome,
            Outcome::Skipped(SkipReason::Protected { .. })
        ),
        "{name}"
    );
    assert!(backend.attached(&user(&protected)).await.is_empty());
}

/// `disable_console_login`: deleted once, never restored.
async fn console_conformance(backend: &dyn ContainmentBackend) {
    let name = backend.name();
    let e = backend.executor(None).await;
    let f = finding("IAMUser");
    let (with, without) = (unique("user"), unique("user"));
    backend.create_user(&with, true).await;
    backend.create_user(&without, false).await;

    assert!(
        matches!(
            verify(&*e, &console(&with), &f).await,
            Verification::NotDone
        ),
        "{name}"
    );
    let o = exec(&*e, &console(&with), &f).await;
    assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
    assert!(!backend.has_console_password(&with).await, "{name}");
    let undo = o.undo().cloned().unwrap();
    assert!(!undo.is_reversible(), "{name}: {undo}");
    assert!(undo.to_string().contains("cannot be restored"), "{name}");

    let again = exec(&*e, &console(&with), &f).await;
    assert!(
        matches!(again, Outcome::AlreadyDone { .. }),
        "{name}: {again}"
    );
    assert!(
        matches!(
            verify(&*e, &console(&with), &f).await,
            Verification::Done(_)
        ),
        "{name}"
    );
    let o = exec(&*e, &console(&without), &f).await;
    assert!(matches!(o, Outcome::AlreadyDone { .. }), "{name}: {o}");
    assert!(o.to_string().contains("no console password"), "{name}: {o}");

    let o = exec(&*e, &console(&unique("ghost")), &f).await;
    assert_eq!(kind_of(&o), Some(ErrorKind::NotFound), "{name}: {o}");

    // An irreversible undo is refused, not attempted.
    let refused = Action::Undo(Undo {
        record: "r".into(),
        reversal: undo,
    });
    let o = exec(&*e, &refused, &f).await;
    assert_eq!(kind_of(&o), Some(ErrorKind::InvalidInput), "{name}: {o}");
}

/// `undo` of `disable_access_key`: exactly that key active again.
async fn key_undo_conformance(backend: &dyn ContainmentBackend) {
    let name = backend.name();
    let e = backend.executor(None).await;
    let f = finding("IAMUser");
    let u = unique("user");
    let (key, other) = backend.user_with_two_keys(&u).await;
    let o = exec(&*e, &disable(&u, &key), &f).await;
    assert!(matches!(o, Outcome::Executed { .. }), "{name}: {o}");
    let undo = undo_of(&o);
    let back = exec(&*e, &undo, &f).await;
    assert!(matches!(back, Outcome::Executed { .. }), "{name}: {back}");
    assert!(backend.is_active(&u, &key).await, "{name}");
    assert!(backend.is_active(&u, &other).await, "{name}");
    let again = exec(&*e, &undo, &f).await;
    assert!(
        matches!(again, Outcome::AlreadyDone { .. }),
        "{name}: {again}"
    );
}

async fn containment_conformance(backend: &dyn ContainmentBackend) {
    revoke_conformance(backend).await;
    quarantine_conformance(backend).await;
    console_conformance(backend).await;
    key_undo_conformance(backend).await;
}

/// An executor of IAM kinds given another kind: unsupported, not a panic.
async fn refuses_other_kinds(name: &str, e: &dyn Executor) {
    let o = exec(e, &run_command(1), &finding("IAMUser")).await;
    assert_eq!(kind_of(&o), Some(ErrorKind::Unsupported), "{name}: {o}");
}

#[tokio::test]
async fn in_memory_containment_executors_conform() {
    for backend in memory_backends() {
        containment_conformance(&backend).await;
        refuses_other_kinds(&backend.name(), &*backend.executor(None).await).await;
    }
}

#[cfg(feature = "aws")]
mod moto;
