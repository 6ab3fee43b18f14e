//! Every command output the README shows comes from a run this test (or `tests/moto/readme.rs`)
//! repeats and compares; see `readme/transcript.rs` for the markers, the masking and
//! `REMEDY_BLESS=1`.

#[path = "readme/transcript.rs"]
pub(crate) mod transcript;

use transcript::{Block, ELISION, Shell, align, blocks, mask, steps};

fn readme() -> String {
    std::fs::read_to_string(transcript::readme_path()).unwrap()
}

/// The moto setups `tests/moto/readme.rs` knows (kept in step with it: a marker naming another
/// one fails here).
const MOTO_SETUPS: &[&str] = &["approval", "walk-through", "try-worker"];

#[test]
fn every_transcript_in_the_readme_is_marked_and_every_marker_is_known() {
    let readme = readme();
    let all: Vec<Block> = blocks(&readme);
    let mut unmarked = Vec::new();
    for block in &all {
        match block.marker.as_deref() {
            None if block.is_transcript(&readme) => unmarked.push(block.line),
            None => {}
            Some("") => {
                assert!(
                    block.is_transcript(&readme),
                    "README.md line {}: an `output` block without a `$ ` command",
                    block.line
                );
            }
            Some(m) if m.starts_with("illustrative") => {}
            Some(m) => {
                let name = m.strip_prefix("moto ").unwrap_or_else(|| {
                    panic!("README.md line {}: unknown marker `{m}`", block.line)
                });
                assert!(
                    MOTO_SETUPS.contains(&name),
                    "README.md line {}: unknown moto setup `{name}`",
                    block.line
                );
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "README.md blocks showing commands without an `<!-- output -->` marker at lines {unmarked:?}"
    );
    // The test is not vacuous: the README has blocks of each kind.
    let count = |p: &dyn Fn(&str) -> bool| {
        all.iter()
            .filter(|b| b.marker.as_deref().is_some_and(p))
            .count()
    };
    assert!(count(&|m| m.is_empty()) >= 3);
    assert!(count(&|m| m.starts_with("moto ")) >= 2);
}

#[test]
fn the_readme_shows_what_its_commands_print() {
    let ran = transcript::check_readme(str::is_empty, |_| {
        let dir = transcript::workspace();
        let shell = Shell::new(dir.path());
        Some((shell, Box::new(dir)))
    });
    assert!(ran >= 3, "only {ran} blocks ran");
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

#[test]
fn masking_hides_what_changes_between_runs_and_nothing_else() {
    let (masked, tokens) = mask(
        "pending approval: disable_access_key access_key:readme-alice/AKIARZPUZDIKOO3DGHJ3 \
         (request apr-c3af45b2c460cb8e8685, until 2026-12-01T16:28:03Z) by p@960e31d71c6cc911 \
         line 43, {\"line\":58,\"duration_ms\":12} in /tmp/.tmpAbC/x.json msg \
         0f8e3b1a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    );
    assert_eq!(
        masked,
        "pending approval: disable_access_key access_key:readme-alice/<key> (request apr-<hex>, \
         until <time>) by p@<hex> line <n>, {\"line\":<n>,\"duration_ms\":<n>} in <tmp> msg <uuid>"
    );
    assert_eq!(tokens[0], "AKIARZPUZDIKOO3DGHJ3");
    assert_eq!(tokens[1], "c3af45b2c460cb8e8685");
    // Words, short numbers, account ids and instance ids stay.
    let kept = "account 123456789012 i-0abcdef1234567890 7 finding(s) deadbeefcafe";
    assert_eq!(mask(kept).0, kept);
}

#[test]
fn an_elision_stands_for_any_lines_and_literal_lines_must_match_in_order() {
    let expected = lines("a\n…\nz");
    assert!(align(&expected, &lines("a\nz")).is_some());
    assert!(align(&expected, &lines("a\nb\nc\nz")).is_some());
    assert!(align(&expected, &lines("a\nb\nc")).is_none());
    assert!(align(&lines("a\nz"), &lines("a\nb\nz")).is_none());
    assert!(align(&lines("a\nz"), &lines("z\na")).is_none());
    let pairs = align(
        &lines("x 2026-01-01T00:00:00Z\n…"),
        &lines("x 2027-02-02T01:01:01Z\nmore"),
    );
    assert_eq!(pairs, Some(vec![(0, 0)]));
    assert_eq!(ELISION, "…");
}

#[test]
fn a_transcript_is_commands_each_followed_by_its_output() {
    let s = steps("$ remedy a > x\nout 1\nout 2\n$ head -n 1 x\n{}\n");
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].command, "remedy a > x");
    assert_eq!(s[0].expected, ["out 1", "out 2"]);
    assert_eq!(s[1].expected, ["{}"]);
}

#[test]
fn a_stale_block_fails_and_blessing_writes_what_the_run_printed() {
    let dir = transcript::workspace();
    let readme = "intro\n<!-- output -->\n```console\n$ echo one; echo two\none\nthree\n$ echo keep\n…\n```\n";
    let all = blocks(readme);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].marker.as_deref(), Some(""));
    let (text, stale) = transcript::run_block(readme, &all[0], &Shell::new(dir.path()));
    assert_eq!(
        stale.len(),
        1,
        "the first command printed `two`, not `three`"
    );
    assert!(stale[0].to_string().contains("$ echo one; echo two"));
    assert_eq!(text, "$ echo one; echo two\none\ntwo\n$ echo keep\n…\n");
    let mut blessed = readme.to_owned();
    transcript::bless(&mut blessed, &all[0], &text);
    let (_, stale) = transcript::run_block(&blessed, &blocks(&blessed)[0], &Shell::new(dir.path()));
    assert!(stale.is_empty());
}

#[test]
fn an_id_the_readme_shows_is_replaced_in_later_commands_by_the_one_the_run_printed() {
    let dir = transcript::workspace();
    let readme = "<!-- output -->\n```console\n$ echo request fedcba0987654321\nrequest 1234567890abcdef\n$ test 1234567890abcdef = fedcba0987654321 && echo replaced\nreplaced\n```\n";
    let (_, stale) = transcript::run_block(readme, &blocks(readme)[0], &Shell::new(dir.path()));
    assert!(stale.is_empty(), "{}", stale[0]);
}
