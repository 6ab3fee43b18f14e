//! `remedy audit show`: per finding, in trail order, what was decided and by which policies, what
//! came of each action and why, who approved, and which policies failed.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::process::ExitCode;

use serde_json::{Map, Value, json};

use super::super::inert;
use super::trail::{self, ViewArgs, plural, short_time, text};

/// The records of one finding, kept without what the view does not print (parameters, chain).
#[derive(Debug, Default)]
struct FindingRecords {
    id: String,
    records: Vec<Map<String, Value>>,
}

impl FindingRecords {
    /// The first value any record gives for `key`: the type, account and region are on most.
    fn first(&self, key: &str) -> &str {
        self.records
            .iter()
            .find_map(|r| {
                r.get(key)
                    .or_else(|| r.get("finding").and_then(|f| f.get(key)))
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_default()
    }
}

pub(crate) fn show(args: &ViewArgs) -> ExitCode {
    let (mut reader, shown) = match trail::open(args) {
        Ok(open) => open,
        Err(code) => return code,
    };
    let mut findings: Vec<FindingRecords> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut count = 0usize;
    for record in reader.by_ref() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                eprintln!("error: cannot read `{shown}`: {e}");
                return ExitCode::FAILURE;
            }
        };
        let Some(id) = record.finding_id().map(str::to_owned) else {
            continue;
        };
        count += 1;
        let mut fields = record.fields;
        for bulky in ["prev", "mac", "params", "principal"] {
            fields.remove(bulky);
        }
        if let Some(Value::Array(actions)) = fields.get_mut("actions") {
            for action in actions.iter_mut().filter_map(Value::as_object_mut) {
                action.remove("params");
            }
        }
        let at = *index.entry(id.clone()).or_insert_with(|| {
            findings.push(FindingRecords {
                id,
                records: Vec::new(),
            });
            findings.len() - 1
        });
        if let Some(finding) = findings.get_mut(at) {
            finding.records.push(fields);
        }
    }
    trail::report_unreadable(&shown, reader.unreadable());
    let mut out = io::stdout().lock();
    match write(&mut out, &findings, &shown, count, args.json).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => trail::stdout_failed(&e),
    }
}

fn write(
    out: &mut dyn Write,
    findings: &[FindingRecords],
    shown: &str,
    count: usize,
    json: bool,
) -> io::Result<()> {
    for finding in findings {
        if json {
            let line = serde_json::to_string(&finding_json(finding)).unwrap_or_default();
            writeln!(out, "{}", remedy::finding::inert_json(&line))?;
        } else {
            print_finding(out, finding)?;
        }
    }
    if !json {
        writeln!(
            out,
            "{shown}: {} finding{}, {count} record{}",
            findings.len(),
            plural(findings.len()),
            plural(count)
        )?;
    }
    Ok(())
}

/// The intents no action record finishes: actions an interrupted run may or may not have done.
fn unfinished(finding: &FindingRecords) -> Vec<&Map<String, Value>> {
    let finished: HashSet<&str> = finding
        .records
        .iter()
        .filter(|r| r.get("record").and_then(Value::as_str) == Some("action"))
        .flat_map(|r| ["intent", "closes"].map(|k| r.get(k).and_then(Value::as_str)))
        .flatten()
        .collect();
    finding
        .records
        .iter()
        .filter(|r| r.get("record").and_then(Value::as_str) == Some("intent"))
        .filter(|r| {
            r.get("intent")
                .and_then(Value::as_str)
                .is_some_and(|id| !finished.contains(id))
        })
        .collect()
}

fn print_finding(out: &mut dyn Write, finding: &FindingRecords) -> io::Result<()> {
    let account = finding.first("account_id");
    writeln!(
        out,
        "{}  {}  account {}  {}",
        inert(&finding.id),
        inert(finding.first("finding_type")),
        inert(if account.is_empty() { "-" } else { account }),
        inert(finding.first("region"))
    )?;
    for record in &finding.records {
        let record = Value::Object(record.clone());
        match record.get("record").and_then(Value::as_str) {
            Some("decision") => print_decision(out, &record)?,
            Some("action") => print_action(out, &record)?,
            Some("approval") => print_approval(out, &record)?,
            Some("policy_failure") => writeln!(out, "  {}", failure_text(&record))?,
            _ => {}
        }
    }
    for intent in unfinished(finding) {
        let action = intent.get("action").cloned().unwrap_or_default();
        writeln!(
            out,
            "  {} {}: started {} and no outcome recorded (interrupted? `remedy ledger reconcile`)",
            text(&action, "kind"),
            text(&action, "target"),
            short_time(
                intent
                    .get("time")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            )
        )?;
    }
    writeln!(out)?;
    Ok(())
}

fn strings(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(|s| inert(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn print_decision(out: &mut dyn Write, record: &Value) -> io::Result<()> {
    let evaluated = strings(record, "evaluated");
    let actions = record
        .get("actions")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let failed: Vec<String> = record
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| errors.iter().map(|e| text(e, "policy")).collect())
        .unwrap_or_default();
    let by = if evaluated.is_empty() {
        "no policy applied".to_owned()
    } else {
        format!("by {}", evaluated.join(", "))
    };
    writeln!(
        out,
        "  decided {} ({}): {actions} action{} {by}{}",
        short_time(&text(record, "time")),
        text(record, "mode"),
        plural(actions),
        if failed.is_empty() {
            String::new()
        } else {
            format!("; failed: {}", failed.join(", "))
        }
    )?;
    Ok(())
}

/// The guards that stopped the action, each `name` or `name: detail`, but for those whose
/// detail `details` already says (`dry run`).
fn blocked(record: &Value, details: &str) -> Vec<String> {
    record
        .get("guards")
        .and_then(Value::as_array)
        .map(|guards| {
            guards
                .iter()
                .filter(|g| g.get("passed").and_then(Value::as_bool) == Some(false))
                .filter(|g| {
                    let detail = text(g, "detail");
                    detail.is_empty() || !details.contains(&detail)
                })
                .map(|g| match text(g, "detail") {
                    detail if detail.is_empty() => text(g, "guard"),
                    detail => format!("{}: {detail}", text(g, "guard")),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Each policy that chose the action, with its reason: `policy: reason`.
fn chosen_by(record: &Value) -> Vec<String> {
    record
        .get("sources")
        .and_then(Value::as_array)
        .map(|sources| {
            sources
                .iter()
                .map(|s| match text(s, "reason") {
                    reason if reason.is_empty() => text(s, "policy"),
                    reason => format!("{}: {reason}", text(s, "policy")),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn print_action(out: &mut dyn Write, record: &Value) -> io::Result<()> {
    let outcome = record.get("outcome").cloned().unwrap_or_default();
    writeln!(out, "  {} {}", text(record, "kind"), text(record, "target"))?;
    let details = text(&outcome, "details");
    let guards = blocked(record, &details);
    writeln!(
        out,
        "    {}: {details}{}",
        text(&outcome, "status"),
        if guards.is_empty() {
            String::new()
        } else {
            format!("  [guard {}]", guards.join("; "))
        }
    )?;
    for source in chosen_by(record) {
        writeln!(out, "    chosen by {source}")?;
    }
    Ok(())
}

fn print_approval(out: &mut dyn Write, record: &Value) -> io::Result<()> {
    let event = text(record, "event");
    let what = format!("{} {}", text(record, "kind"), text(record, "target"));
    let at = short_time(&text(record, "time"));
    if event == "requested" {
        writeln!(
            out,
            "  approval requested {at} for {what} on channel `{}` ({}), expires {} (then {})",
            text(record, "channel"),
            text(record, "approval_id"),
            short_time(&text(record, "expires")),
            text(record, "on_timeout")
        )?;
    } else {
        let note = text(record, "note");
        writeln!(
            out,
            "  approval {event} {at} by {} for {what}{}",
            text(record, "by"),
            if note.is_empty() {
                String::new()
            } else {
                format!(": {note}")
            }
        )?;
    }
    Ok(())
}

/// A policy failure on one line: `policy `x` failed (kind) at file:line:column: message`.
fn failure_text(record: &Value) -> String {
    let mut at = text(record, "file");
    for key in ["line", "column"] {
        if let Some(n) = record.get(key).and_then(Value::as_u64) {
            at = format!("{at}:{n}");
        }
    }
    format!(
        "policy `{}` failed ({}){}: {}",
        text(record, "policy"),
        text(record, "kind"),
        if at.is_empty() {
            String::new()
        } else {
            format!(" at {at}")
        },
        text(record, "message")
    )
}

/// Picks `keys` of `record` that it has.
fn pick(record: &Value, keys: &[&str]) -> Value {
    let mut out = Map::new();
    for key in keys {
        if let Some(v) = record.get(*key).filter(|v| !v.is_null()) {
            out.insert((*key).to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

fn finding_json(finding: &FindingRecords) -> Value {
    let of = |kind: &'static str| {
        finding
            .records
            .iter()
            .filter(move |r| r.get("record").and_then(Value::as_str) == Some(kind))
            .map(|r| Value::Object(r.clone()))
    };
    let decisions: Vec<Value> = of("decision")
        .map(|d| {
            let mut out = pick(&d, &["time", "mode", "policy_set_version", "evaluated"]);
            let actions: Vec<Value> = d
                .get("actions")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|a| pick(a, &["kind", "target", "policy", "reason"]))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(out) = out.as_object_mut() {
                out.insert("actions".into(), Value::Array(actions));
                out.insert(
                    "errors".into(),
                    d.get("errors").cloned().unwrap_or(json!([])),
                );
            }
            out
        })
        .collect();
    let actions: Vec<Value> = of("action")
        .map(|a| {
            let outcome = a.get("outcome").cloned().unwrap_or_default();
            let mut out = pick(&a, &["time", "mode", "kind", "target", "policy", "intent"]);
            if let Some(out) = out.as_object_mut() {
                out.insert("status".into(), outcome.get("status").cloned().into());
                out.insert("details".into(), outcome.get("details").cloned().into());
                for key in ["reason", "error", "approval_id"] {
                    if let Some(v) = outcome.get(key) {
                        out.insert(key.into(), v.clone());
                    }
                }
                let sources: Vec<Value> = a
                    .get("sources")
                    .and_then(Value::as_array)
                    .map(|s| s.iter().map(|s| pick(s, &["policy", "reason"])).collect())
                    .unwrap_or_default();
                out.insert("sources".into(), Value::Array(sources));
                let guards: Vec<Value> = a
                    .get("guards")
                    .and_then(Value::as_array)
                    .map(|g| {
                        g.iter()
                            .filter(|g| g.get("passed").and_then(Value::as_bool) == Some(false))
                            .map(|g| pick(g, &["guard", "detail"]))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert("blocked_by".into(), Value::Array(guards));
            }
            out
        })
        .collect();
    let approval_keys = [
        "time",
        "event",
        "approval_id",
        "kind",
        "target",
        "policy",
        "channel",
        "expires",
        "on_timeout",
        "by",
        "note",
    ];
    let approvals: Vec<Value> = of("approval").map(|a| pick(&a, &approval_keys)).collect();
    let failure_keys = [
        "time", "policy", "kind", "message", "file", "line", "column",
    ];
    let failures: Vec<Value> = of("policy_failure")
        .map(|f| pick(&f, &failure_keys))
        .collect();
    let unfinished: Vec<Value> = unfinished(finding)
        .into_iter()
        .map(|i| {
            let action = i.get("action").cloned().unwrap_or_default();
            json!({
                "time": i.get("time"),
                "intent": i.get("intent"),
                "kind": action.get("kind"),
                "target": action.get("target"),
            })
        })
        .collect();
    json!({
        "finding_id": finding.id,
        "finding_type": finding.first("finding_type"),
        "account_id": finding.first("account_id"),
        "region": finding.first("region"),
        "decisions": decisions,
        "actions": actions,
        "approvals": approvals,
        "policy_failures": failures,
        "unfinished": unfinished,
    })
}
