//! The author's guide (`policies/README.md`) stays true to the code: its tables of finding
//! properties and of `finding.context` properties are generated from
//! `PolicySet::finding_properties()` and `PolicySet::context_properties()`, and it lists every
//! bundled policy. `REMEDY_UPDATE_GUIDE=1 cargo test --test it author_guide` rewrites the tables.

use remedy::PolicySet;

const GUIDE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/README.md");

fn table(properties: &[(&str, &str, &str)], prefix: &str) -> String {
    let mut s = String::from("| property | type | meaning |\n| --- | --- | --- |\n");
    for (name, ty, meaning) in properties {
        s.push_str(&format!("| `{prefix}{name}` | {ty} | {meaning} |\n"));
    }
    s
}

#[test]
fn the_finding_properties_table_is_generated_from_the_code() {
    check_table(
        "finding-properties",
        &table(PolicySet::finding_properties(), ""),
    );
}

#[test]
fn the_context_properties_table_is_generated_from_the_code() {
    check_table(
        "context-properties",
        &table(PolicySet::context_properties(), "context."),
    );
}

/// Both tables live in one file: one test at a time reads and rewrites it.
static GUIDE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn check_table(name: &str, wanted: &str) {
    let _one_at_a_time = GUIDE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let begin = format!("<!-- BEGIN {name} -->\n");
    let end_marker = format!("<!-- END {name} -->");
    let guide = std::fs::read_to_string(GUIDE).unwrap();
    let start = guide.find(&begin).expect("the BEGIN marker is missing") + begin.len();
    let end = guide.find(&end_marker).expect("the END marker is missing");
    let current = &guide[start..end];
    if current == wanted {
        return;
    }
    if std::env::var_os("REMEDY_UPDATE_GUIDE").is_some() {
        let updated = format!("{}{wanted}{}", &guide[..start], &guide[end..]);
        std::fs::write(GUIDE, updated).unwrap();
        return;
    }
    panic!(
        "the {name} table in policies/README.md differs from the code; run \
         `REMEDY_UPDATE_GUIDE=1 cargo test --test it author_guide` to regenerate it\n\
         --- in the guide\n{current}\n--- generated\n{wanted}"
    );
}

#[test]
fn the_guide_lists_every_bundled_policy_and_documents_fallback() {
    let guide = std::fs::read_to_string(GUIDE).unwrap();
    let set = PolicySet::from_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/policies")).unwrap();
    for policy in set.policies() {
        assert!(
            guide.contains(&format!("| `{}` |", policy.name())),
            "policies/README.md does not list `{}` in its table of bundled policies",
            policy.name()
        );
    }
    assert!(guide.contains("| `FALLBACK` |"));
    assert!(guide.contains("remedy test"));
}
