//! The findings of a policy directory's decision tests, as one labelled corpus: what
//! `remedy check` and `remedy test` compare policies on ([`crate::policy::PolicySet::conflicts`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::case::CaseFile;
use super::runner::TESTS_DIR;
use super::{base_dir, json_from_file};
use crate::finding::Finding;

/// The subdirectory of a policy directory's `tests/` that holds its finding files.
const FINDINGS_DIR: &str = "findings";

/// Every finding the decision tests of `dirs` use, each once, labelled: the files of
/// `DIR/tests/findings/*.json` (`policies/tests/findings/x.json`), then the finding of every case
/// of `DIR/tests/*.toml` with its `set`, `add` and `unset` applied and its context
/// (`policies/tests/x.toml: "the case's name"`). Files and cases that do not load are left out
/// (`remedy test` reports them).
pub fn test_findings(dirs: &[PathBuf]) -> Vec<(String, Finding)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for dir in dirs {
        let tests = dir.join(TESTS_DIR);
        for path in files_with(&tests.join(FINDINGS_DIR), "json") {
            if let Ok(doc) = json_from_file(&path)
                && seen.insert(doc.to_string())
                && let Ok(finding) = Finding::from_json_value(doc)
            {
                out.push((path.display().to_string(), finding));
            }
        }
        for path in files_with(&tests, "toml") {
            let Ok(file) = CaseFile::from_path(&path) else {
                continue;
            };
            let base = base_dir(&path);
            for case in &file.cases {
                let Ok(doc) = case.patched_document(&base) else {
                    continue;
                };
                let key = match &case.context {
                    Some(context) => format!(
                        "{doc}{}",
                        serde_json::to_string(context).unwrap_or_default()
                    ),
                    None => doc.to_string(),
                };
                if !seen.insert(key) {
                    continue;
                }
                if let Ok(finding) = Finding::from_json_value(doc) {
                    let finding = match &case.context {
                        Some(context) => finding.with_context(context.clone()),
                        None => finding,
                    };
                    out.push((format!("{}: {:?}", path.display(), case.name), finding));
                }
            }
        }
    }
    out
}

/// The regular files of `dir` ending in `.ext`, sorted; none when `dir` cannot be read.
fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == ext) && p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    found
}
