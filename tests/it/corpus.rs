//! Conformance over the shared corpus of real findings (`../shared/findings`, read in place).
//!
//! For each file the expected type, id, account and severity are read from the file itself by a
//! small extraction written independently of the library's parser.
//!
//! Without `../shared/findings` (a clone of this repository alone) the test says on the terminal
//! that it did not run and why, and passes; `REMEDY_SHARED_FINDINGS` names another directory, and
//! then a missing directory fails the test.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;

use remedy::finding::Shape;
use remedy::parse_documents;
use serde_json::Value;

/// The corpus directory, or `None` after saying why the corpus test does not run.
pub(crate) fn corpus_dir() -> Option<PathBuf> {
    let default = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/findings"));
    match locate(std::env::var_os("REMEDY_SHARED_FINDINGS"), default) {
        Ok(dir) => Some(dir),
        Err(note) => {
            not_run(&note);
            None
        }
    }
}

/// The directory `REMEDY_SHARED_FINDINGS` names (which must exist: asking for it and not finding it
/// is a failure), else `default` when it exists, else the note saying what did not run and why.
fn locate(named: Option<OsString>, default: PathBuf) -> Result<PathBuf, String> {
    if let Some(d) = named {
        let dir = PathBuf::from(d);
        assert!(
            dir.is_dir(),
            "REMEDY_SHARED_FINDINGS names `{}`, which is not a directory",
            dir.display()
        );
        return Ok(dir);
    }
    if default.is_dir() {
        return Ok(default);
    }
    Err(format!(
        "corpus test not run: no directory `{}` (the shared corpus of 81 real findings; \
         set REMEDY_SHARED_FINDINGS to run it)",
        default.display()
    ))
}

#[test]
fn an_absent_corpus_is_named_in_the_note() {
    let absent = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/no-such-corpus"));
    let note = locate(None, absent.clone()).unwrap_err();
    assert!(note.starts_with("corpus test not run: "), "{note}");
    assert!(note.contains(&format!("`{}`", absent.display())), "{note}");
    assert!(note.contains("REMEDY_SHARED_FINDINGS"), "{note}");
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(locate(None, here.clone()), Ok(here.clone()));
    assert_eq!(locate(Some(here.clone().into()), absent), Ok(here));
}

#[test]
#[should_panic(expected = "REMEDY_SHARED_FINDINGS names")]
fn a_named_corpus_that_is_absent_fails() {
    let absent = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/no-such-corpus"));
    let _ = locate(Some(absent.clone().into()), absent);
}

/// Says on the terminal that a test did not run. libtest captures `eprintln!` of a passing test
/// (the note would show only with `--nocapture`); a write to the stderr handle is not captured.
fn not_run(note: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{note}");
}

struct Expected {
    finding_type: String,
    id: String,
    account: String,
    severity: f64,
    shape: Shape,
}

fn get<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| v.get(*k))
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("not a number: {other}"),
    }
}

/// The GuardDuty fields of one finding object, independent of the library.
fn expected_guardduty(f: &Value, shape: Shape) -> Expected {
    Expected {
        finding_type: get(f, &["type", "Type"])
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned(),
        id: get(f, &["id", "Id"]).unwrap().as_str().unwrap().to_owned(),
        account: get(f, &["accountId", "AccountId"])
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned(),
        severity: number(get(f, &["severity", "Severity"]).unwrap()),
        shape,
    }
}

fn expected_asff(f: &Value) -> Expected {
    // `TTPs/Discovery/Recon:IAMUser-UserPermissions` -> `Recon:IAMUser/UserPermissions`
    let types = f["Types"].as_array().unwrap();
    let t = types
        .iter()
        .filter_map(Value::as_str)
        .map(|t| t.rsplit('/').next().unwrap())
        .find(|t| t.contains(':'))
        .unwrap();
    let (purpose, rest) = t.split_once(':').unwrap();
    let (resource, family) = rest.split_once('-').unwrap();
    let sev = &f["Severity"];
    let severity = sev
        .get("Product")
        .map(number)
        .unwrap_or_else(|| number(&sev["Normalized"]) / 10.0);
    Expected {
        finding_type: format!("{purpose}:{resource}/{family}"),
        id: f["Id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned(),
        account: f["AwsAccountId"].as_str().unwrap().to_owned(),
        severity,
        shape: Shape::Asff,
    }
}

fn expected(doc: &Value) -> Vec<Expected> {
    if let Some(detail) = doc.get("detail") {
        if let Some(list) = detail.get("findings") {
            return list.as_array().unwrap().iter().map(expected_asff).collect();
        }
        return vec![expected_guardduty(detail, Shape::Eventbridge)];
    }
    if let Some(list) = doc.get("Findings") {
        return list
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                if f.get("Types").is_some() {
                    expected_asff(f)
                } else {
                    expected_guardduty(f, Shape::Cli)
                }
            })
            .collect();
    }
    if doc.get("Types").is_some() {
        return vec![expected_asff(doc)];
    }
    let shape = if doc.get("type").is_some() {
        Shape::Raw
    } else {
        Shape::Cli
    };
    vec![expected_guardduty(doc, shape)]
}

#[test]
fn every_corpus_file_parses_with_the_right_fields() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    let mut files = 0;
    let mut findings = 0;
    for shape_dir in ["eventbridge", "raw", "cli", "asff"] {
        for entry in std::fs::read_dir(dir.join(shape_dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            let name = path.display().to_string();
            let batch = parse_documents(&bytes, &name);
            if let Some(e) = batch.errors().next() {
                panic!("{e}");
            }
            let doc: Value = serde_json::from_slice(&bytes).unwrap();
            let want = expected(&doc);
            let got: Vec<_> = batch.findings().collect();
            assert_eq!(got.len(), want.len(), "{name}");
            for (f, w) in got.iter().zip(&want) {
                assert_eq!(f.finding_type().as_str(), w.finding_type, "{name}");
                assert_eq!(f.id(), w.id, "{name}");
                assert_eq!(f.account_id(), w.account, "{name}");
                assert_eq!(f.severity().value(), w.severity, "{name}");
                assert_eq!(f.shape(), w.shape, "{name}");
                // The canonical JSON agrees with the typed fields.
                assert_eq!(
                    f.json()["type"].as_str(),
                    Some(w.finding_type.as_str()),
                    "{name}"
                );
                assert_eq!(
                    f.json()["accountId"].as_str(),
                    Some(w.account.as_str()),
                    "{name}"
                );
                findings += 1;
            }
        }
    }
    assert_eq!(files, 81, "the corpus holds 81 files");
    assert!(findings >= 81);
}
