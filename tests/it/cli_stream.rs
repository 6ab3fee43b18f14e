//! The streaming CLI: findings are handled as they arrive, output keeps input order, a broken
//! line loses only itself, and the library's splitter agrees with `parse_documents`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use remedy::finding::Documents;

fn example(name: &str) -> String {
    let path = format!("{}/examples/findings/{name}", env!("CARGO_MANIFEST_DIR"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    serde_json::to_string(&v).unwrap()
}

/// The example finding with its id replaced by `id`, on one line.
fn with_id(id: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&example("02-recon-iamuser.json")).unwrap();
    if v.get("detail").is_some() {
        v["detail"]["id"] = id.into();
    } else {
        v["id"] = id.into();
    }
    serde_json::to_string(&v).unwrap()
}

fn policies() -> String {
    format!("{}/policies", env!("CARGO_MANIFEST_DIR"))
}

/// Writes one line, reads the command's answer while stdin is still open, then closes it.
fn first_answer_before_eof(args: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{}", with_id("first-of-stream")).unwrap();
    stdin.flush().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().map(Result::unwrap);
        tx.send(first).unwrap();
        for _ in lines {}
    });
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("an answer before stdin closed")
        .expect("a line");
    assert!(first.contains("first-of-stream"), "{first}");
    // Only now does the input end.
    writeln!(stdin, "{}", with_id("second")).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{args:?}: {status}");
}

#[test]
fn parse_answers_the_first_finding_before_the_input_ends() {
    first_answer_before_eof(&["parse"]);
}

#[test]
fn eval_answers_the_first_finding_before_the_input_ends() {
    first_answer_before_eof(&["eval", &policies()]);
}

#[test]
fn run_acts_on_the_first_finding_before_the_input_ends() {
    first_answer_before_eof(&["run", &policies(), "--quiet", "--allow-policy-errors"]);
}

fn run_with_stdin(args: &[&str], input: &[u8], threads: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_remedy"))
        .args(args)
        .env("REMEDY_THREADS", threads)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

#[test]
fn output_keeps_input_order_on_every_thread_count() {
    let ids: Vec<String> = (0..400).map(|i| format!("finding-{i:04}")).collect();
    let input: String = ids.iter().map(|id| with_id(id) + "\n").collect();
    for threads in ["1", "2", "4"] {
        for args in [vec!["parse"], vec!["eval", &policies()]] {
            let out = run_with_stdin(&args, input.as_bytes(), threads);
            assert!(out.status.success(), "{args:?}");
            let seen: Vec<String> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    let id = v.get("id").or_else(|| v.get("finding_id"));
                    id.and_then(|id| id.as_str()).unwrap().to_owned()
                })
                .collect();
            assert_eq!(seen, ids, "{args:?} on {threads} thread(s)");
        }
    }
}

#[test]
fn a_broken_line_in_the_middle_loses_only_itself() {
    let input = format!(
        "{}\n{{\"detail-type\": \"GuardDuty Finding\", \"detail\": {{\"id\": \"cut\n{}\n",
        with_id("before"),
        with_id("after")
    );
    let out = run_with_stdin(&["parse"], input.as_bytes(), "2");
    assert_eq!(out.status.code(), Some(1), "one document failed");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = stdout
        .lines()
        .map(|l| {
            if l.contains("before") {
                "before"
            } else if l.contains("after") {
                "after"
            } else {
                l
            }
        })
        .collect();
    assert_eq!(ids, ["before", "after"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("`-` line 2"), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
}

#[test]
fn the_size_cap_applies_per_document_not_per_input() {
    // 20 MiB of small findings is more than one document may be, and is fine as a stream; one
    // line over the cap is reported and the rest still read.
    let line = with_id("many");
    let n = 20 * 1024 * 1024 / line.len() + 1;
    let mut docs = Documents::new(
        std::io::Cursor::new(format!("{line}\n").repeat(n)),
        "big.jsonl",
    );
    assert_eq!(docs.by_ref().count(), n);
    let big = format!("{{\"padding\": \"{}\"}}", "x".repeat(17 * 1024 * 1024));
    let input = format!("{line}\n{big}\n{line}\n");
    let results: Vec<_> = Documents::new(input.as_bytes(), "cap.jsonl")
        .flat_map(|d| d.parse())
        .collect();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    let e = results[1].as_ref().unwrap_err();
    assert!(e.to_string().contains("larger than the limit"), "{e}");
    assert_eq!(e.line(), Some(2));
}

#[test]
fn pretty_printed_arrays_are_streamed_element_by_element() {
    let a: serde_json::Value = serde_json::from_str(&with_id("a")).unwrap();
    let b: serde_json::Value = serde_json::from_str(&with_id("b")).unwrap();
    let text = serde_json::to_string_pretty(&serde_json::json!([a, b])).unwrap();
    let docs: Vec<_> = Documents::new(text.as_bytes(), "array.json").collect();
    assert_eq!(docs.len(), 2, "one document per element");
    let ids: Vec<String> = docs
        .iter()
        .flat_map(|d| d.parse())
        .map(|r| r.unwrap().id().to_owned())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    // A bad element costs only itself and is named by its index.
    let text = format!("[\n{},\n{{\"x\": 1}},\n{}\n]\n", with_id("a"), with_id("c"));
    let results: Vec<_> = remedy::parse_documents(text.as_bytes(), "array.json").into_results();
    assert_eq!(results.len(), 3);
    let e = results[1].as_ref().unwrap_err();
    assert!(e.path().starts_with("$[1]"), "{}", e.path());
    assert!(results[2].is_ok());
    // Concatenated pretty-printed documents (`jq .` output) are read one after the other.
    let pretty = |id| {
        serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(&with_id(id)).unwrap(),
        )
        .unwrap()
    };
    let text = format!("{}\n{}\n", pretty("p"), pretty("q"));
    let batch = remedy::parse_documents(text.as_bytes(), "jq.json");
    let ids: Vec<&str> = batch.findings().map(|f| f.id()).collect();
    assert_eq!(ids, ["p", "q"]);
}

#[test]
fn documents_arrive_before_the_reader_ends() {
    // A reader that hands out one line and then blocks (here: fails) must already have given
    // the first document.
    struct OneLineThenFail(Vec<u8>, bool);
    impl std::io::Read for OneLineThenFail {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1 {
                return Err(std::io::Error::other("no more yet"));
            }
            self.1 = true;
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            Ok(n)
        }
    }
    let line = format!("{}\n", with_id("early"));
    let reader = std::io::BufReader::new(OneLineThenFail(line.into_bytes(), false));
    let started = Instant::now();
    let mut docs = Documents::new(reader, "-");
    let first = docs.next().unwrap().parse();
    assert_eq!(first[0].as_ref().unwrap().id(), "early");
    let failed = docs.next().unwrap().parse();
    assert!(
        failed[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("no more yet")
    );
    assert!(docs.next().is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
}
