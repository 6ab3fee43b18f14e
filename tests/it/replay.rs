//! `remedy replay` over the shared corpus (`../shared/findings`, read in place) turned into a
//! history: every GuardDuty finding of the corpus, repeated and updated, spread over days and
//! written gzipped in GuardDuty's S3 export layout in a temporary directory.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_remedy");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// 2026-01-05T00:00:00Z.
const BASE: i64 = 1_767_571_200;

/// The shared corpus, or `None` after saying on the terminal that the replay test did not run.
fn corpus_dir() -> Option<PathBuf> {
    super::corpus::corpus_dir()
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// The canonical JSON (GuardDuty API shape, as the S3 export writes it) of every GuardDuty
/// finding of the corpus; `None` without the corpus (said on the terminal).
fn corpus() -> Option<Vec<Value>> {
    let dir = corpus_dir()?;
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    files.sort();
    let mut findings = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let batch = remedy::parse_documents(&bytes, &file.display().to_string());
        findings.extend(
            batch
                .findings()
                .filter(|f| f.source() == remedy::finding::FindingSource::GuardDuty)
                .map(|f| f.json().clone()),
        );
    }
    assert_eq!(findings.len(), 81, "the corpus holds 81 GuardDuty findings");
    Some(findings)
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// One finding of the history, as written.
struct Written {
    json: Value,
    path: PathBuf,
}

/// The history: each corpus finding on one of 6 days, every third one delivered twice (a
/// repeat), every fourth one updated a day later (`updatedAt` and `count` moved on); gzipped
/// JSON Lines in `AWSLogs/<account>/GuardDuty/<region>/<yyyy>/<mm>/<dd>/`. Returns the findings
/// in the order `remedy replay` reads them (files by day then path, lines in order); `None`
/// without the corpus.
fn history(root: &Path) -> Option<Vec<Value>> {
    let mut written: Vec<Written> = Vec::new();
    for (i, finding) in corpus()?.into_iter().enumerate() {
        let i = i as i64;
        let at = BASE + (i % 6) * 86_400 + i * 60;
        let mut original = finding.clone();
        original["updatedAt"] = Value::from(rfc3339(at));
        let mut deliveries = vec![(at, original.clone())];
        if i % 3 == 0 {
            deliveries.push((at, original.clone()));
        }
        if i % 4 == 0 {
            let mut update = original.clone();
            let later = at + 86_400;
            update["updatedAt"] = Value::from(rfc3339(later));
            let count = update["service"]["count"].as_u64().unwrap_or(1);
            update["service"]["count"] = Value::from(count + 1);
            deliveries.push((later, update));
        }
        for (at, json) in deliveries {
            let t = time::OffsetDateTime::from_unix_timestamp(at).unwrap();
            let path = root.join(format!(
                "AWSLogs/{}/GuardDuty/{}/{:04}/{:02}/{:02}/findings.jsonl.gz",
                json["accountId"].as_str().unwrap(),
                json["region"].as_str().unwrap(),
                t.year(),
                u8::from(t.month()),
                t.day()
            ));
            written.push(Written { json, path });
        }
    }
    let mut by_file: BTreeMap<PathBuf, Vec<&Value>> = BTreeMap::new();
    for w in &written {
        by_file.entry(w.path.clone()).or_default().push(&w.json);
    }
    for (path, lines) in &by_file {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        for line in lines {
            writeln!(gz, "{}", serde_json::to_string(line).unwrap()).unwrap();
        }
        gz.finish().unwrap();
    }
    // Reading order: by day, then by path (the date is in the path: the path's own order, with
    // the account first, is not the day's).
    let mut files: Vec<&PathBuf> = by_file.keys().collect();
    files.sort_by_key(|p| {
        let s = p.to_string_lossy();
        let date: String = s.rsplit('/').skip(1).take(3).collect::<Vec<_>>().join("/");
        let mut parts: Vec<&str> = date.split('/').collect();
        parts.reverse();
        (parts.join("/"), s.into_owned())
    });
    Some(
        files
            .into_iter()
            .flat_map(|p| by_file[p].iter().map(|v| (*v).clone()))
            .collect(),
    )
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .env("REMEDY_THREADS", "2")
        .output()
        .unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The change records and the summary of a replay.
fn replay(args: &[&str]) -> (Vec<Value>, Value, Output) {
    let out = run(&[&["replay"], args].concat());
    let mut records = lines(&out);
    let summary = records.pop().expect("a summary line");
    assert_eq!(summary["record"], "summary", "{summary}");
    assert!(records.iter().all(|r| r["record"] == "change"));
    (records, summary, out)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy of the bundled policies to change.
fn bundled_copy(dir: &Path) -> PathBuf {
    let to = dir.join("candidate");
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(Path::new(ROOT).join("policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rhai") {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
    to
}

/// Replays `dir/export` from a set that decides nothing to one holding `candidate` (its name and
/// source) under the configuration `config`: the summary and the command's output.
fn replay_candidate(dir: &Path, candidate: (&str, &str), config: &str) -> (Value, Output) {
    let old = dir.join("old");
    let new = dir.join("new");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::create_dir_all(&new).unwrap();
    std::fs::write(
        old.join("nothing.rhai"),
        "const DESCRIPTION = \"n\";\nconst APPLIES_TO = \"No:Such/Type\";\n\
         fn decide(finding) { notify(\"security\", finding.id) }\n",
    )
    .unwrap();
    std::fs::write(new.join(format!("{}.rhai", candidate.0)), candidate.1).unwrap();
    let path = dir.join("remedy.toml");
    std::fs::write(&path, config).unwrap();
    let history_dir = dir.join("export");
    let (_, summary, out) = replay(&[s(&old), s(&new), s(&history_dir), "--config", s(&path)]);
    (summary, out)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An action as compared: kind, target and parameters.
fn key(action: &Value) -> String {
    format!(
        "{}|{}|{}",
        action["kind"], action["target"], action["params"]
    )
}

#[test]
fn a_set_replayed_against_itself_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let history_dir = dir.path().join("export");
    let Some(findings) = history(&history_dir) else {
        return;
    };
    let (records, summary, out) =
        replay(&["policies", "policies", s(&history_dir), "--fail-on-change"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(records.is_empty(), "{records:?}");
    assert_eq!(summary["findings"], findings.len() as u64);
    assert_eq!(summary["changed"], 0);
    assert!(summary["actions"]["old"].as_u64().unwrap() > 0);
    assert_eq!(summary["actions"]["old"], summary["actions"]["new"]);
    assert!(stderr(&out).contains("0 changed"), "{}", stderr(&out));
}

#[test]
fn each_change_shows_up_exactly_where_two_evals_differ() {
    let dir = tempfile::tempdir().unwrap();
    let history_dir = dir.path().join("export");
    let Some(findings) = history(&history_dir) else {
        return;
    };
    let candidate = bundled_copy(dir.path());
    // A changed threshold: the fallback notification from medium severity on.
    let fallback = candidate.join("high-severity-notify.rhai");
    let text = std::fs::read_to_string(&fallback).unwrap();
    std::fs::write(
        &fallback,
        text.replace("MIN_SEVERITY = \"high\"", "MIN_SEVERITY = \"medium\""),
    )
    .unwrap();
    // A removed policy.
    std::fs::remove_file(candidate.join("recon-notify.rhai")).unwrap();
    // A new policy.
    std::fs::write(
        candidate.join("crypto-page.rhai"),
        "const DESCRIPTION = \"page on crypto mining\";\nconst APPLIES_TO = \"CryptoCurrency:*\";\n\
         fn decide(finding) { notify(\"pager\", `mining: ${finding.id}`) }\n",
    )
    .unwrap();

    let (records, summary, out) = replay(&[
        "policies",
        s(&candidate),
        s(&history_dir),
        "--fail-on-change",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(summary["findings"], findings.len() as u64);
    assert_eq!(summary["changed"], records.len() as u64);

    // The same history through two `remedy eval` runs (eval reads the .gz files too), in the
    // same order.
    let files = remedy::replay::expand(&[&history_dir]).unwrap();
    let files: Vec<&str> = files.iter().map(|p| p.to_str().unwrap()).collect();
    let eval = |set: &str| {
        let out = run(&[&["eval", set], files.as_slice()].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        lines(&out)
    };
    let (old, new) = (eval("policies"), eval(s(&candidate)));
    assert_eq!(old.len(), findings.len());
    let mut expected = Vec::new();
    for (o, n) in old.iter().zip(&new) {
        let keys = |p: &Value| -> BTreeSet<String> {
            p["actions"].as_array().unwrap().iter().map(key).collect()
        };
        let (ko, kn) = (keys(o), keys(n));
        let added: BTreeSet<String> = kn.difference(&ko).cloned().collect();
        let removed: BTreeSet<String> = ko.difference(&kn).cloned().collect();
        if !added.is_empty() || !removed.is_empty() {
            expected.push((o["finding_id"].clone(), added, removed));
        }
    }
    let got: Vec<_> = records
        .iter()
        .map(|r| {
            let keys = |side: &str| -> BTreeSet<String> {
                r[side].as_array().unwrap().iter().map(key).collect()
            };
            (r["finding_id"].clone(), keys("added"), keys("removed"))
        })
        .collect();
    assert_eq!(got, expected);

    // Each change is on the findings it concerns, and each of the three occurs.
    let mut seen = BTreeSet::new();
    for r in &records {
        let finding_type = r["finding_type"].as_str().unwrap();
        for action in r["added"].as_array().unwrap() {
            let policy = action["sources"][0]["policy"].as_str().unwrap();
            match policy {
                "crypto-page" => assert!(finding_type.starts_with("CryptoCurrency:"), "{r}"),
                // The fallback now from medium severity on, and where recon-notify acted before.
                "high-severity-notify" => {
                    let severity = r["severity"].as_f64().unwrap();
                    assert!(
                        (4.0..7.0).contains(&severity)
                            || finding_type.starts_with("Recon:IAMUser/"),
                        "{r}"
                    );
                }
                other => panic!("unexpected added policy {other}: {r}"),
            }
            seen.insert(policy.to_owned());
        }
        for action in r["removed"].as_array().unwrap() {
            let policy = action["sources"][0]["policy"].as_str().unwrap();
            match policy {
                "recon-notify" => assert!(finding_type.starts_with("Recon:IAMUser/"), "{r}"),
                // The fallback no longer runs where the new policy acts.
                "high-severity-notify" => {
                    assert!(finding_type.starts_with("CryptoCurrency:"), "{r}")
                }
                other => panic!("unexpected removed policy {other}: {r}"),
            }
            seen.insert(format!("-{policy}"));
        }
    }
    for want in ["crypto-page", "high-severity-notify", "-recon-notify"] {
        assert!(seen.contains(want), "no change by {want}: {seen:?}");
    }
    let added: u64 = summary["added"]["notify"].as_u64().unwrap();
    let listed: usize = records
        .iter()
        .map(|r| r["added"].as_array().unwrap().len())
        .sum();
    assert_eq!(added, listed as u64);
}

#[test]
fn a_rate_limit_shows_the_excess_as_rate_limited_on_the_findings_clock() {
    let dir = tempfile::tempdir().unwrap();
    let history_dir = dir.path().join("export");
    let Some(findings) = history(&history_dir) else {
        return;
    };
    let (summary, out) = replay_candidate(
        dir.path(),
        (
            "everything",
            "const DESCRIPTION = \"e\";\nconst APPLIES_TO = \"*\";\n\
         fn decide(finding) { notify(\"security\", finding.id) }\n",
        ),
        "[rate_limits.notify]\nmax = 2\nper_secs = 86400\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The rule, modelled independently: in `updatedAt` order, a delivery already done is a
    // repeat; otherwise at most 2 per UTC day, the rest rate limited (and not recorded as done).
    let mut ordered: Vec<(i64, usize, &Value)> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let t = time::OffsetDateTime::parse(
                f["updatedAt"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            (t.unix_timestamp(), i, f)
        })
        .collect();
    ordered.sort_by_key(|(t, i, _)| (*t, *i));
    let (mut executed, mut limited, mut repeat) = (0u64, 0u64, 0u64);
    let mut done = HashSet::new();
    let mut per_day: BTreeMap<i64, u32> = BTreeMap::new();
    for (t, _, f) in ordered {
        let key = (
            f["id"].as_str().unwrap().to_owned(),
            f["updatedAt"].as_str().unwrap().to_owned(),
            f["service"]["count"].as_u64(),
        );
        if done.contains(&key) {
            repeat += 1;
            continue;
        }
        let day = per_day.entry(t - t.rem_euclid(86_400)).or_default();
        if *day < 2 {
            *day += 1;
            executed += 1;
            done.insert(key);
        } else {
            limited += 1;
        }
    }
    assert!(limited > 0 && repeat > 0);
    let guards = &summary["guards"];
    assert_eq!(guards["new"]["actions"]["executed"], executed, "{guards}");
    assert_eq!(
        guards["new"]["actions"]["rate_limited"], limited,
        "{guards}"
    );
    assert_eq!(guards["new"]["actions"]["repeat"], repeat, "{guards}");
    assert_eq!(guards["old"]["actions"]["executed"], 0, "{guards}");
    assert_eq!(
        guards["new"]["breaker_trips"], 0,
        "notify is not destructive"
    );
    assert_eq!(summary["out_of_order"], 0);
    assert!(stderr(&out).contains("rate_limited"), "{}", stderr(&out));
}

#[test]
fn a_policy_that_throws_is_counted_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let history_dir = dir.path().join("export");
    let Some(findings) = history(&history_dir) else {
        return;
    };
    let candidate = bundled_copy(dir.path());
    std::fs::write(
        candidate.join("fragile.rhai"),
        "const DESCRIPTION = \"f\";\nconst APPLIES_TO = \"*\";\n\
         fn decide(finding) { if finding.severity >= 7.0 { throw \"too severe\"; } }\n",
    )
    .unwrap();
    let (_, summary, out) = replay(&["policies", s(&candidate), s(&history_dir)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let severe = findings
        .iter()
        .filter(|f| f["severity"].as_f64().unwrap() >= 7.0)
        .count() as u64;
    assert!(severe > 0);
    let fragile = &summary["failures"]["new"]["fragile"];
    assert_eq!(fragile["count"], severe, "{summary}");
    assert!(fragile["first"].as_str().unwrap().contains("too severe"));
    assert_eq!(summary["failed_findings"]["new"], severe);
    assert_eq!(summary["failed_findings"]["old"], 0);
    let text = stderr(&out);
    assert!(
        text.contains(&format!("policy `fragile` failed on {severe} findings")),
        "{text}"
    );
    // A new failure is a change for CI even where no action changed.
    let (_, _, out) = replay(&[
        "policies",
        s(&candidate),
        s(&history_dir),
        "--fail-on-change",
    ]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn the_html_report_opens_in_a_headless_browser_and_shows_the_totals() {
    let dir = tempfile::tempdir().unwrap();
    let history_dir = dir.path().join("export");
    if history(&history_dir).is_none() {
        return;
    }
    let candidate = bundled_copy(dir.path());
    std::fs::remove_file(candidate.join("recon-notify.rhai")).unwrap();
    let report = dir.path().join("report.html");
    let (records, summary, out) = replay(&[
        "policies",
        s(&candidate),
        s(&history_dir),
        "--html",
        s(&report),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!records.is_empty());
    let html = std::fs::read_to_string(&report).unwrap();
    let findings = format!("<b id=\"t-findings\">{}</b>", summary["findings"]);
    let changed = format!("<b id=\"t-changed\">{}</b>", summary["changed"]);
    assert!(html.contains(&findings) && html.contains(&changed));
    assert!(html.contains("<svg id=\"chart\""));
    assert_eq!(html.matches("<tr class=\"row\">").count(), records.len());
    // Self-contained: nothing is fetched.
    for fetch in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!html.contains(fetch), "{fetch}");
    }

    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
    else {
        eprintln!(
            "skipped: chromium not installed (the HTML report was checked as text only; \
             `apt-get install chromium` to check it in a browser)"
        );
        return;
    };
    let url = format!("file://{}", report.display());
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=2000",
            "--dump-dom",
            &url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains(&findings), "{dom}");
    assert!(dom.contains(&changed), "{dom}");
    assert!(
        dom.contains("data-ready=\"yes\""),
        "the report's script ran: {dom}"
    );
}

#[test]
fn the_simulation_turns_on_the_write_back_kinds_of_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let history_dir = dir.path().join("export");
    let Some(findings) = history(&history_dir) else {
        return;
    };
    let (summary, out) = replay_candidate(
        dir.path(),
        (
            "close",
            "const DESCRIPTION = \"c\";\nconst APPLIES_TO = \"*\";\n\
         fn decide(finding) { [update_finding(\"RESOLVED\", \"seen\"), archive_finding()] }\n",
        ),
        "[writeback]\nkinds = [\"update_finding\"]\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let actions = &summary["guards"]["new"]["actions"];
    // Every delivery's archive is off (before any other guard); every delivery's update is
    // carried out, a repeat, or stopped by the sample guard.
    let n = findings.len() as u64;
    assert_eq!(actions["not_enabled"], n, "{actions}");
    let count = |fate: &str| actions[fate].as_u64().unwrap();
    assert!(count("executed") > 0, "{actions}");
    assert_eq!(
        count("executed") + count("repeat") + count("sample"),
        n,
        "{actions}"
    );
}

#[test]
fn a_suppression_waits_for_a_person_as_the_configured_run_would() {
    let dir = tempfile::tempdir().unwrap();
    let history_dir = dir.path().join("export");
    if history(&history_dir).is_none() {
        return;
    }
    // A configuration file keeps approval requests (`approvals` next to it), so the run it
    // configures asks a person for each suppression: the simulation does the same rather than
    // refusing them as if nothing were kept.
    let (summary, out) = replay_candidate(
        dir.path(),
        (
            "quiet",
            "const DESCRIPTION = \"q\";\nconst APPLIES_TO = \"*\";\n\
         fn decide(finding) {\n\
         if finding.sample || finding.user_name == () { return []; }\n\
         suppress_similar([\"principal\"], 7, \"known\")\n}\n",
        ),
        "[writeback]\nkinds = [\"suppress_similar\"]\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let actions = &summary["guards"]["new"]["actions"];
    assert!(
        actions["pending_approval"].as_u64().unwrap() > 0,
        "{actions}"
    );
    assert_eq!(actions["failed"].as_u64().unwrap_or(0), 0, "{actions}");
    assert!(
        !dir.path().join("approvals").exists(),
        "nothing of the configuration's files is opened"
    );
}
