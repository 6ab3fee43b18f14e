// The sandbox cases, included once per call mode by `tests/it/policy_sandbox.rs`; `builder()` is
// the mode's policy-set builder.

use std::time::{Duration, Instant};

use remedy::plan::FailureKind;
use remedy::policy::{DiagnosticKind, Limits};
use remedy::{Finding, HostActionKind, Plan};

const FIXTURE: &str = include_str!("../../fixtures/policy/iam-malicious-ip.json");

/// A well-behaved policy that must still decide next to a hostile one.
const GOOD: &str = r#"
const DESCRIPTION = "the good neighbour";
const APPLIES_TO = "*";
fn decide(finding) { notify("security", `seen ${finding.id}`) }
"#;

fn hostile(body: &str) -> String {
    format!("const DESCRIPTION = \"hostile\";\nconst APPLIES_TO = \"*\";\n{body}\n")
}

fn finding() -> Finding {
    Finding::from_json_str(FIXTURE).unwrap()
}

fn panicking_kind() -> HostActionKind {
    HostActionKind::new("explode")
        .unwrap()
        .with_params(["what"])
        .with_check(|_| panic!("host check exploded"))
}

/// Loads GOOD and the hostile policy, evaluates, and checks the hostile one failed with `kind`
/// quickly while the good one decided.
fn assert_stopped(body: &str, kind: FailureKind) -> Plan {
    assert_stopped_with(Limits::default(), body, kind)
}

fn assert_stopped_with(limits: Limits, body: &str, kind: FailureKind) -> Plan {
    let set = builder()
        .with_limits(limits)
        .with_action_kind(panicking_kind())
        .from_sources([("a-good", GOOD.to_owned()), ("hostile", hostile(body))])
        .unwrap_or_else(|e| panic!("load failed: {e}"));
    let started = Instant::now();
    let plan = set.evaluate(&finding());
    let took = started.elapsed();
    assert!(took < Duration::from_millis(800), "took {took:?}: {plan:?}");
    assert_eq!(plan.errors.len(), 1, "{plan:#?}");
    let error = &plan.errors[0];
    assert_eq!(error.policy, "hostile");
    assert_eq!(error.kind, kind, "{error:?}");
    assert_eq!(
        plan.actions.len(),
        1,
        "the good policy still decides: {plan:#?}"
    );
    assert_eq!(&*plan.actions[0].sources[0].policy, "a-good");
    plan
}

/// Loading a policy that is hostile at compile time fails quickly with a typed diagnostic naming
/// that file only; the same set without it loads and decides.
fn assert_rejected(body: &str, kind: DiagnosticKind) -> remedy::policy::PolicyDiagnostic {
    let started = Instant::now();
    let err = builder().from_sources([("a-good", GOOD.to_owned()), ("hostile", hostile(body))])
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(800));
    assert_eq!(err.diagnostics().len(), 1, "{err}");
    let d = err.diagnostics()[0].clone();
    assert_eq!(d.file(), "hostile.rhai");
    assert_eq!(d.kind(), kind, "{d}");
    assert!(d.line().is_some(), "{d}");
    let rest = builder().from_sources([("a-good", GOOD)]).unwrap();
    assert_eq!(rest.evaluate(&finding()).actions.len(), 1);
    d
}

#[test]
fn infinite_loop_hits_the_operation_limit() {
    // A deadline far away, so the operation limit is what stops the loop in debug builds too.
    let limits = Limits::default()
        .with_max_operations(20_000)
        .with_deadline(Duration::from_secs(5));
    let plan = assert_stopped_with(
        limits,
        "fn decide(f) { let x = 0;\n loop { x += 1; } }",
        FailureKind::Limit,
    );
    assert!(
        plan.errors[0].message.contains("20000 operations"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn infinite_loop_runs_into_the_deadline() {
    // With the operation limit out of the way, the wall-clock deadline stops the loop.
    let limits = Limits::default()
        .with_max_operations(u64::MAX)
        .with_deadline(Duration::from_millis(50));
    let started = Instant::now();
    let plan = assert_stopped_with(limits, "fn decide(f) { loop { } }", FailureKind::Timeout);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(
        plan.errors[0].message.contains("50 ms"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn busy_loop_times_out_or_hits_the_operation_limit() {
    let set = builder().from_sources([
        ("a-good", GOOD.to_owned()),
        (
            "hostile",
            hostile("fn decide(f) { let x = 0; while true { x += 1; } }"),
        ),
    ])
    .unwrap();
    let plan = set.evaluate(&finding());
    assert!(matches!(
        plan.errors[0].kind,
        FailureKind::Timeout | FailureKind::Limit
    ));
    assert_eq!(plan.actions.len(), 1);
}

#[test]
fn operation_limit_stops_long_loops() {
    let set = builder()
        .with_limits(
            Limits::default()
                .with_max_operations(10_000)
                .with_deadline(Duration::from_secs(5)),
        )
        .from_sources([(
            "hostile",
            hostile("fn decide(f) { let x = 0; for i in 0..1000000 { x += i; } }"),
        )])
        .unwrap();
    let plan = set.evaluate(&finding());
    assert_eq!(plan.errors[0].kind, FailureKind::Limit);
    assert!(
        plan.errors[0].message.contains("10000 operations"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn deep_recursion_hits_the_call_limit() {
    let plan = assert_stopped(
        "fn down(n) { down(n + 1) }\nfn decide(f) { down(0) }",
        FailureKind::Limit,
    );
    assert!(
        plan.errors[0].message.contains("nested deeper"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn nested_brackets_are_rejected_at_load() {
    let deep = format!(
        "fn decide(f) {{ {}1{} }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let d = assert_rejected(&deep, DiagnosticKind::Syntax);
    assert!(d.message().contains("complex"), "{d}");
}

#[test]
fn nested_arrays_at_run_time_are_rejected_at_load_too() {
    let deep = format!(
        "fn decide(f) {{ let x = {}1{}; }}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_rejected(&deep, DiagnosticKind::Syntax);
}

#[test]
fn string_doubling_hits_the_size_limit() {
    let plan = assert_stopped(
        r#"fn decide(f) { let s = "xx"; loop { s += s; } }"#,
        FailureKind::Limit,
    );
    assert!(
        plan.errors[0].message.contains("larger than"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn huge_arrays_hit_the_size_limit() {
    assert_stopped(
        "fn decide(f) { let a = []; a.pad(100000000, 0); }",
        FailureKind::Limit,
    );
    assert_stopped(
        "fn decide(f) { let a = [1]; loop { a += a; } }",
        FailureKind::Limit,
    );
}

#[test]
fn huge_maps_hit_the_size_limit() {
    let limits = Limits::default()
        .with_max_sizes(64 * 1024, 10_000, 50)
        .with_deadline(Duration::from_secs(5));
    let plan = assert_stopped_with(
        limits.clone(),
        "fn decide(f) { let m = #{}; for i in 0..100 { m.set(`k${i}`, i); } }",
        FailureKind::Limit,
    );
    assert!(
        plan.errors[0].message.contains("object map"),
        "{:?}",
        plan.errors[0]
    );
    assert_stopped_with(
        limits,
        "fn decide(f) { let m = #{a: 1}; loop { let n = #{}; for k in m.keys() { n[k + \"x\"] = 1; n[k] = 1; } m = n; } }",
        FailureKind::Limit,
    );
}

#[test]
fn maps_grown_by_index_assignment_are_stopped_by_operations_or_deadline() {
    // rhai 1.27 checks the assigned value but not the map's size on `m[new_key] = v`; such growth
    // is bounded by the operation limit and the deadline (whichever comes first).
    let set = builder().from_sources([
        ("a-good", GOOD.to_owned()),
        (
            "hostile",
            hostile("fn decide(f) { let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; } }"),
        ),
    ])
    .unwrap();
    let started = Instant::now();
    let plan = set.evaluate(&finding());
    assert!(started.elapsed() < Duration::from_millis(800));
    assert!(
        matches!(
            plan.errors[0].kind,
            FailureKind::Limit | FailureKind::Timeout
        ),
        "{plan:?}"
    );
    assert_eq!(plan.actions.len(), 1);
}

#[test]
fn too_many_variables_hit_the_limit() {
    let vars: String = (0..1100).map(|i| format!("let v{i} = {i};\n")).collect();
    assert_stopped(&format!("fn decide(f) {{\n{vars} }}"), FailureKind::Limit);
}

#[test]
fn sleep_is_forbidden() {
    let plan = assert_stopped("fn decide(f) { sleep(10); }", FailureKind::Forbidden);
    assert!(plan.errors[0].message.contains("sleep"));
    assert_stopped("fn decide(f) { sleep(0.5); }", FailureKind::Forbidden);
}

#[test]
fn eval_is_disabled() {
    let d = assert_rejected(
        r#"fn decide(f) { eval("loop {}") }"#,
        DiagnosticKind::Syntax,
    );
    assert_eq!(d.line(), Some(3));
    assert!(d.message().contains("eval"), "{d}");
}

#[test]
fn static_import_outside_the_directory_is_rejected_at_load() {
    let d = assert_rejected(
        "import \"../../etc/passwd\" as p;\nfn decide(f) { }",
        DiagnosticKind::Import,
    );
    assert_eq!(d.line(), Some(3));
    assert_eq!(d.column(), Some(8));
    let d = assert_rejected(
        "import \"/etc/passwd\" as p;\nfn decide(f) { }",
        DiagnosticKind::Import,
    );
    assert!(d.message().contains("/etc/passwd"));
}

#[test]
fn dynamic_import_outside_the_directory_is_forbidden() {
    let plan = assert_stopped(
        "fn decide(f) { let path = \"../\" + \"secret\"; import path as s; }",
        FailureKind::Forbidden,
    );
    assert!(
        plan.errors[0].message.contains("../secret"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn panicking_host_call_is_caught() {
    let plan = assert_stopped(
        r#"fn decide(f) { explode("everything") }"#,
        FailureKind::HostPanic,
    );
    assert!(
        plan.errors[0].message.contains("host check exploded"),
        "{:?}",
        plan.errors[0]
    );
    assert_eq!(plan.errors[0].line, Some(3));
}

#[test]
fn garbage_results_are_rejected() {
    let plan = assert_stopped(
        r#"fn decide(f) { "disable everything" }"#,
        FailureKind::InvalidResult,
    );
    assert!(
        plan.errors[0].message.contains("string"),
        "{:?}",
        plan.errors[0]
    );
    assert_stopped(
        r#"fn decide(f) { [notify("a", "b"), 42] }"#,
        FailureKind::InvalidResult,
    );
    assert_stopped(
        "fn decide(f) { #{ kind: \"notify\" } }",
        FailureKind::InvalidResult,
    );
}

#[test]
fn a_throwing_policy_is_isolated() {
    let plan = assert_stopped(
        r#"fn decide(f) { throw "no thanks"; }"#,
        FailureKind::Runtime,
    );
    assert!(plan.errors[0].message.contains("no thanks"));
    assert_eq!(plan.errors[0].line, Some(3));
}

#[test]
fn top_level_code_that_loops_is_stopped() {
    // Nothing at the top level runs per finding: a loop (or a `let`) there is a load error that
    // names the line, not a deadline hit on every finding.
    let err = builder()
        .from_sources([("hostile", hostile("let n = 0;\nloop { n += 1; }\nfn decide(f) { }"))])
        .unwrap_err();
    let lines: Vec<Option<usize>> = err.diagnostics().iter().map(|d| d.line()).collect();
    assert_eq!(lines, [Some(3), Some(4)], "{err}");
    assert!(
        err.diagnostics()
            .iter()
            .all(|d| d.kind() == remedy::policy::DiagnosticKind::TopLevel),
        "{err}"
    );
}

#[test]
fn forged_actions_are_impossible() {
    // Scripts can only get actions from the constructors: a map that looks like one is garbage,
    // and a constructor rejects a value that is not an id.
    let plan = assert_stopped(
        r#"fn decide(f) { disable_access_key(`root; rm -rf ${f.region}`, f.access_key_id) }"#,
        FailureKind::InvalidAction,
    );
    // Written as a literal, the same call does not load.
    let err = builder()
        .from_sources([(
            "hostile",
            hostile(r#"fn decide(f) { disable_access_key("root; rm -rf /", f.access_key_id) }"#),
        )])
        .unwrap_err();
    assert!(err.to_string().contains("not a valid user name"), "{err}");
    assert!(
        plan.errors[0].message.contains("user name"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn print_and_debug_do_not_reach_stdout() {
    // Routed to tracing: a policy that prints still decides normally.
    let set = builder().from_sources([(
        "chatty",
        hostile(r#"fn decide(f) { print("hello"); debug(f); notify("security", "x") }"#),
    )])
    .unwrap();
    let plan = set.evaluate(&finding());
    assert!(plan.errors.is_empty(), "{plan:#?}");
    assert_eq!(plan.actions.len(), 1);
}

#[test]
fn every_hostile_policy_in_one_set() {
    let bodies = [
        "fn decide(f) { loop { } }",
        "fn down(n) { down(n + 1) }\nfn decide(f) { down(0) }",
        r#"fn decide(f) { let s = "xx"; loop { s += s; } }"#,
        "fn decide(f) { let a = [1]; loop { a += a; } }",
        "fn decide(f) { sleep(10) }",
        r#"fn decide(f) { explode("x") }"#,
        r#"fn decide(f) { "garbage" }"#,
        r#"fn decide(f) { throw "boom" }"#,
        r#"fn decide(f) { f.get("$..*") }"#,
    ];
    let mut sources = vec![("a-good".to_owned(), GOOD.to_owned())];
    sources.extend(
        bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("hostile-{i}"), hostile(b))),
    );
    let set = builder()
        .with_action_kind(panicking_kind())
        .from_sources(sources)
        .unwrap();
    let started = Instant::now();
    let plan = set.evaluate(&finding());
    // Two policies run into the 100 ms deadline; everything else stops at once.
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(plan.errors.len(), bodies.len(), "{plan:#?}");
    assert_eq!(plan.actions.len(), 1);
    assert_eq!(plan.evaluated.len(), bodies.len() + 1);
}

/// Policies with nothing at the top level run `decide`'s body in place with reused caches; the same
/// policy with a top-level constant goes through `call_fn`. Both must decide and fail alike: same
/// actions, same errors (kind, message, line, column), same call-depth limit, evaluated repeatedly.
#[test]
fn in_place_and_called_decide_behave_the_same() {
    let max = Limits::default().max_call_levels;
    let mut bodies = vec![
        r#"fn decide(f) { if f.severity > 1.0 { return notify("a", "early"); } notify("a", "late") }"#
            .to_owned(),
        r#"fn helper(x) { x + 1 }
fn decide(f) { const K = 2; let n = helper(K); notify("a", `n=${n}`) }"#
            .to_owned(),
        "fn decide(f) {\n  let x = 1;\n  x.nope()\n}".to_owned(),
        "fn decide(f) { throw \"boom\" }".to_owned(),
        "fn decide(f) {\n    42\n}".to_owned(),
        "fn r(n) { r(n + 1) }\nfn decide(f) { r(0) }".to_owned(),
        r#"fn decide(f) { let g = || f.id; notify("a", g.call()) }"#.to_owned(),
        r#"fn decide(f) { f = 1; notify("a", `${f}`) }"#.to_owned(),
        r#"fn decide(f) { let f = 2; const f = 3; notify("a", `${f}`) }"#.to_owned(),
        "fn decide(f) { || f.id }".to_owned(),
        "fn decide(f) { let x = [1]; x.push(f.user_name); x.len(); }".to_owned(),
        "fn decide(f) { for i in 0..1000000000 { } }".to_owned(),
    ];
    for depth in max.saturating_sub(3)..=max + 1 {
        bodies.push(format!(
            "fn d(n) {{ if n == 0 {{ 0 }} else {{ d(n - 1) }} }}\nfn decide(f) {{ d({depth}); notify(\"a\", \"deep\") }}"
        ));
    }
    let finding = finding();
    for body in &bodies {
        let in_place = hostile(body);
        let called = format!("{in_place}const TOP_LEVEL_CONSTANT = 1;\n");
        let results: Vec<Vec<Plan>> = [in_place, called]
            .iter()
            .map(
                |source| match builder().from_sources([("p", source.as_str())]) {
                    Ok(set) => (0..3).map(|_| set.evaluate(&finding)).collect(),
                    Err(e) => panic!("{body}: {e:?}"),
                },
            )
            .collect();
        for plans in &results {
            assert!(plans.iter().all(|p| p == &plans[0]), "{body}: {plans:?}");
        }
        // Everything but the version, which hashes the source.
        let strip = |p: &Plan| {
            let actions: Vec<_> = p
                .actions
                .iter()
                .map(|a| {
                    let sources: Vec<_> = a
                        .sources
                        .iter()
                        .map(|s| (s.policy.clone(), s.reason.clone(), s.line))
                        .collect();
                    (a.action.clone(), sources)
                })
                .collect();
            (actions, p.errors.clone())
        };
        let (in_place, called) = (strip(&results[0][0]), strip(&results[1][0]));
        assert_eq!(in_place.0, called.0, "{body}");
        assert_eq!(in_place.1.len(), called.1.len(), "{body}");
        for (a, b) in in_place.1.iter().zip(&called.1) {
            assert_eq!(
                (&a.policy, a.kind, &a.message),
                (&b.policy, b.kind, &b.message),
                "{body}"
            );
            // A too-deep recursion has no position through `call_fn`; in place it points at the
            // outermost call in `decide`.
            if b.line.is_some() {
                assert_eq!((a.line, a.column), (b.line, b.column), "{body}");
            }
        }
    }
}

/// Property values a script changes are its own copies: reading the property again gives the
/// finding's value (string properties are built once per policy run and shared).
#[test]
fn changing_a_read_property_value_does_not_change_the_finding() {
    let source = hostile(
        r#"fn decide(f) {
    let u = f.user_name; u += "-x"; u.make_upper();
    let k = f.access_key_id; k.clear();
    notify("a", `${u} ${f.user_name} ${k}|${f.access_key_id}`)
}"#,
    );
    let set = builder().from_sources([("p", source.as_str())]).unwrap();
    let finding = finding();
    let expected = format!(
        "{}-X {} |{}",
        finding.user_name().unwrap().to_uppercase(),
        finding.user_name().unwrap(),
        finding.access_key_id().unwrap()
    );
    for _ in 0..3 {
        let plan = set.evaluate(&finding);
        assert!(plan.errors.is_empty(), "{plan:?}");
        let json = serde_json::to_value(&plan.actions[0]).unwrap();
        assert_eq!(json["params"]["message"], expected.as_str());
    }
}
