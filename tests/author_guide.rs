#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]
//! The author's guide (`policies/README.md`) stays true to the code: its table of finding
//! properties is generated from `PolicySet::finding_properties()`, and it lists every bundled
//! policy. `REMEDY_UPDATE_GUIDE=1 cargo test --test author_guide` rewrites the table.

use remedy::PolicySet;

const GUIDE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/README.md");
const BEGIN: &str = "<!-- BEGIN finding-properties -->\n";
const END: &str = "<!-- END finding-properties -->";

fn table() -> String {
    let mut s = String::from("| property | type | meaning |\n| --- | --- | --- |\n");
    for (name, ty, meaning) in PolicySet::finding_properties() {
        s.push_str(&format!("| `{name}` | {ty} | {meaning} |\n"));
    }
    s
}

#[test]
fn the_finding_properties_table_is_generated_from_the_code() {
    let guide = std::fs::read_to_string(GUIDE).unwrap();
    let start = guide.find(BEGIN).expect("the BEGIN marker is missing") + BEGIN.len();
    let end = guide.find(END).expect("the END marker is missing");
    let current = &guide[start..end];
    let wanted = table();
    if current == wanted {
        return;
    }
    if std::env::var_os("REMEDY_UPDATE_GUIDE").is_some() {
        let updated = format!("{}{wanted}{}", &guide[..start], &guide[end..]);
        std::fs::write(GUIDE, updated).unwrap();
        return;
    }
    panic!(
        "the finding properties table in policies/README.md differs from \
         PolicySet::finding_properties(); run `REMEDY_UPDATE_GUIDE=1 cargo test --test author_guide` \
         to regenerate it\n--- in the guide\n{current}\n--- generated\n{wanted}"
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
