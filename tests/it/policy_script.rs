//! What a policy script can read and call: finding properties, JSONPath, helpers, constants;
//! sets shared across threads and reloaded in place.

use std::sync::Arc;

use remedy::{PolicySet, PolicyStore};

use super::policy::{ec2, eval_one, iam, policy};

#[test]
fn finding_properties_are_readable() {
    let plan = eval_one(
        "notify(\"a\", `${finding.type}|${finding.threat_purpose}|${finding.resource_type_affected}|${finding.threat_family}|${finding.detection_mechanism}|${finding.severity}|${finding.severity_band}|${finding.user_name}|${finding.access_key_id}|${finding.remote_ip}|${finding.remote_country}|${finding.api}|${finding.api_service}|${finding.threat_list}|${finding.sample}|${finding.instance_id == ()}|${finding.action_type}|${finding.count}|${finding.created_at}`)",
        &iam(),
    );
    assert!(plan.errors.is_empty(), "{plan:?}");
    let message = plan.actions[0].action.params()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        message,
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom|UnauthorizedAccess|IAMUser|MaliciousIPCaller|Custom|5.0|Medium|build-bot|AKIAI44QH8DHBEXAMPLE|198.51.100.23|Examplestan|ListBuckets|s3.amazonaws.com|team-blocklist|false|true|AWS_API_CALL|3|2024-05-02T09:21:10.512Z"
    );
    let plan = eval_one(
        "notify(\"a\", `${finding.instance_tags.team} ${finding.instance_ids.len()} ${finding.resource_role}`)",
        &ec2(),
    );
    assert_eq!(plan.actions[0].action.params()["message"], "data 1 ACTOR");
}

#[test]
fn every_documented_property_exists() {
    // The author's guide lists `PolicySet::finding_properties()`; each must be readable.
    for (name, _, _) in PolicySet::finding_properties() {
        let plan = eval_one(&format!("let v = finding.{name}; ()"), &iam());
        assert!(plan.errors.is_empty(), "`{name}`: {:?}", plan.errors);
    }
    // Read through `finding`, an unknown property fails the load (see
    // `an_unknown_finding_property_is_a_load_error_with_a_suggestion`); read through another
    // name, it is still a runtime error, never a silent `()`.
    let plan = eval_one("let f = finding; f.no_such_property", &iam());
    assert_eq!(plan.errors.len(), 1);
}

#[test]
fn jsonpath_get_returns_one_value_many_or_nothing() {
    let plan = eval_one(
        "notify(\"a\", `${finding.get(\"$.resource.accessKeyDetails.userName\")}|${finding.get(\"$.service.action.awsApiCallAction.remoteIpDetails.organization.*\").len()}|${finding.get(\"$.nope\") == ()}|${finding.get(\"$.service.count\") + 1}`)",
        &iam(),
    );
    assert!(plan.errors.is_empty(), "{plan:?}");
    assert_eq!(
        plan.actions[0].action.params()["message"],
        "build-bot|4|true|4"
    );
    // A dynamic, invalid path is a runtime error of the policy.
    let plan = eval_one("let p = \"$[\"; finding.get(p)", &iam());
    assert!(
        plan.errors[0].message.contains("JSONPath"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn helpers_for_authors() {
    let plan = eval_one(
        "notify(\"a\", `${glob_match(\"Unauth*:IAMUser/*\", finding.type)}|${finding.type_matches(\"Recon:*\")}|${ip_in_cidr(finding.remote_ip, \"198.51.100.0/24\")}|${ip_in_cidr(finding.remote_ip, \"10.0.0.0/8\")}|${ip_in_cidr((), \"10.0.0.0/8\")}|${in_list([\"build-bot\", \"ci\"], finding.user_name)}|${in_list([1, 2], 3)}`)",
        &iam(),
    );
    assert!(plan.errors.is_empty(), "{plan:?}");
    assert_eq!(
        plan.actions[0].action.params()["message"],
        "true|false|true|false|false|true|false"
    );
    let plan = eval_one("ip_in_cidr(finding.remote_ip, \"not a cidr\")", &iam());
    assert!(
        plan.errors[0].message.contains("not a CIDR"),
        "{:?}",
        plan.errors[0]
    );
}

#[test]
fn global_constants_are_visible_in_decide() {
    let source = "const DESCRIPTION = \"x\";\nconst APPLIES_TO = \"*\";\nconst CHANNEL = \"ops\";\nfn decide(f) { notify(global::CHANNEL, \"x\") }";
    let plan = PolicySet::from_sources([("p", source)])
        .unwrap()
        .evaluate(&iam());
    assert_eq!(
        plan.actions[0].action.params()["channel"],
        "ops",
        "{plan:?}"
    );
}

#[test]
fn sets_evaluate_from_many_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicySet>();
    assert_send_sync::<PolicyStore>();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let set = Arc::new(PolicySet::from_dir(dir).unwrap());
    let finding = iam();
    let expected = set.evaluate(&finding);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let set = Arc::clone(&set);
            let finding = finding.clone();
            std::thread::spawn(move || (0..50).map(|_| set.evaluate(&finding)).collect::<Vec<_>>())
        })
        .collect();
    for h in handles {
        for plan in h.join().unwrap() {
            assert_eq!(plan, expected);
        }
    }
}

#[test]
fn store_reloads_atomically_and_keeps_the_last_good_set() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.rhai");
    std::fs::write(&file, policy("\"*\"", "notify(\"security\", \"v1\")")).unwrap();
    let store = Arc::new(PolicyStore::open(dir.path()).unwrap());
    let v1 = store.current().version().to_owned();
    let message = |plan: &remedy::Plan| plan.actions[0].action.params()["message"].clone();
    assert_eq!(message(&store.evaluate(&iam())), "v1");

    // Readers keep evaluating while a writer reloads.
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let plan = store.evaluate(&iam());
                    let m = plan.actions[0].action.params()["message"].clone();
                    assert!(m == "v1" || m == "v2", "{m}");
                }
            })
        })
        .collect();
    std::fs::write(&file, policy("\"*\"", "notify(\"security\", \"v2\")")).unwrap();
    let v2 = store.reload().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    assert_ne!(v2.version(), v1);
    assert_eq!(message(&store.evaluate(&iam())), "v2");

    std::fs::write(&file, "fn decide(f) { oops").unwrap();
    let err = store.reload().unwrap_err();
    assert_eq!(err.diagnostics()[0].file(), "p.rhai");
    assert_eq!(
        store.current().version(),
        v2.version(),
        "the last good set stays"
    );
    assert_eq!(message(&store.evaluate(&iam())), "v2");
}

#[test]
fn an_unknown_finding_property_is_a_load_error_with_a_suggestion() {
    let err = PolicySet::from_sources([(
        "typo",
        "const DESCRIPTION = \"typo\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {\n    notify(\"security\", finding.acces_key_id)\n}\n",
    )])
    .unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.kind(), remedy::policy::DiagnosticKind::UnknownProperty);
    assert_eq!((d.line(), d.column()), (Some(4), Some(32)));
    assert!(d.message().contains("`acces_key_id`"), "{}", d.message());
    assert!(d.help().unwrap().contains("`access_key_id`"));
    // Known properties, chains, indexing and methods load fine.
    PolicySet::from_sources([(
        "fine",
        "const DESCRIPTION = \"fine\";\nconst APPLIES_TO = \"*\";\nfn decide(finding) {\n    let t = finding.instance_tags[\"env\"];\n    if finding.type.ends_with(\"X\") || finding.get(\"$.id\") == () { return []; }\n    notify(\"security\", finding.user_name ?? \"nobody\")\n}\n",
    )])
    .unwrap();
}
