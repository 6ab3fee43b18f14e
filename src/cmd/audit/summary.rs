//! `remedy audit summary`: the totals of a trail, read as a stream: records, findings and time
//! span, actions per kind and status, why actions were not carried out, approvals, policy
//! failures and modes.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{self, Write};
use std::process::ExitCode;

use remedy::store::audit::TrailRecord;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::super::inert;
use super::trail::{self, ViewArgs, parse_time, plural, short_time, text};

/// The statuses in the order the table shows them.
const STATUSES: [&str; 6] = [
    "executed",
    "already_done",
    "in_progress",
    "pending_approval",
    "skipped",
    "failed",
];

#[derive(Debug, Default)]
struct Totals {
    records: usize,
    by_record: BTreeMap<String, usize>,
    findings: HashSet<String>,
    first: Option<(OffsetDateTime, String)>,
    last: Option<(OffsetDateTime, String)>,
    /// Kind → status → count.
    actions: BTreeMap<String, BTreeMap<String, usize>>,
    /// `skipped: reason kind` or `failed: error` → count.
    not_done: BTreeMap<String, usize>,
    /// Event → count, and (event, who) → count.
    approvals: BTreeMap<String, usize>,
    deciders: BTreeMap<(String, String), usize>,
    /// Policy → count and failure kinds.
    policy_failures: BTreeMap<String, (usize, BTreeSet<String>)>,
    /// Mode → (decisions, actions).
    modes: BTreeMap<String, (usize, usize)>,
    shadow: usize,
}

impl Totals {
    fn add(&mut self, record: &TrailRecord) {
        self.records += 1;
        *self.by_record.entry(record.kind().to_owned()).or_default() += 1;
        if let Some(id) = record.finding_id()
            && !self.findings.contains(id)
        {
            self.findings.insert(id.to_owned());
        }
        if let Some(at) = record.time()
            && let Some(t) = parse_time(at)
        {
            if self.first.as_ref().is_none_or(|(f, _)| t < *f) {
                self.first = Some((t, at.to_owned()));
            }
            if self.last.as_ref().is_none_or(|(l, _)| t > *l) {
                self.last = Some((t, at.to_owned()));
            }
        }
        let fields = Value::Object(record.fields.clone());
        let mode = record.str("mode").unwrap_or("-").to_owned();
        match record.kind() {
            "decision" => self.modes.entry(mode).or_default().0 += 1,
            "action" => {
                self.modes.entry(mode).or_default().1 += 1;
                self.add_action(&fields);
            }
            "approval" => {
                let event = text(&fields, "event");
                *self.approvals.entry(event.clone()).or_default() += 1;
                if event != "requested" {
                    let by = text(&fields, "by");
                    *self.deciders.entry((event, by)).or_default() += 1;
                }
            }
            "policy_failure" => {
                let entry = self
                    .policy_failures
                    .entry(text(&fields, "policy"))
                    .or_default();
                entry.0 += 1;
                entry.1.insert(text(&fields, "kind"));
            }
            _ => {}
        }
    }

    fn add_action(&mut self, fields: &Value) {
        let outcome = fields.get("outcome").cloned().unwrap_or_default();
        let status = text(&outcome, "status");
        *self
            .actions
            .entry(text(fields, "kind"))
            .or_default()
            .entry(status.clone())
            .or_default() += 1;
        let why = match status.as_str() {
            "skipped" => {
                let reason = outcome
                    .get("reason")
                    .map(|r| text(r, "kind"))
                    .unwrap_or_default();
                if reason == "shadow" {
                    self.shadow += 1;
                }
                Some(format!("skipped: {reason}"))
            }
            "failed" => Some(format!("failed: {}", text(&outcome, "details"))),
            _ => None,
        };
        if let Some(why) = why {
            *self.not_done.entry(why).or_default() += 1;
        }
    }
}

pub(crate) fn summary(args: &ViewArgs) -> ExitCode {
    let (mut reader, shown) = match trail::open(args) {
        Ok(open) => open,
        Err(code) => return code,
    };
    let mut totals = Totals::default();
    for record in reader.by_ref() {
        match record {
            Ok(record) => totals.add(&record),
            Err(e) => {
                eprintln!("error: cannot read `{shown}`: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    trail::report_unreadable(&shown, reader.unreadable());
    let mut out = io::stdout().lock();
    let written = if args.json {
        let line = serde_json::to_string(&to_json(&totals, reader.lines(), reader.unreadable()))
            .unwrap_or_default();
        writeln!(out, "{}", remedy::finding::inert_json(&line))
    } else {
        print_text(&mut out, &totals, &shown)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => trail::stdout_failed(&e),
    }
}

/// Counts sorted by count (largest first), then by name.
fn by_count<K: Clone + Ord>(counts: &BTreeMap<K, usize>) -> Vec<(K, usize)> {
    let mut sorted: Vec<(K, usize)> = counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sorted
}

fn print_text(out: &mut dyn Write, totals: &Totals, shown: &str) -> io::Result<()> {
    let span = match (&totals.first, &totals.last) {
        (Some((_, first)), Some((_, last))) => match (short_time(first), short_time(last)) {
            (first, last) if first == last => format!(", at {first}"),
            (first, last) => format!(", {first} to {last}"),
        },
        _ => String::new(),
    };
    writeln!(
        out,
        "{shown}: {} record{} about {} finding{}{span}",
        totals.records,
        plural(totals.records),
        totals.findings.len(),
        plural(totals.findings.len())
    )?;
    if totals.records == 0 {
        return Ok(());
    }
    let records: Vec<String> = by_count(&totals.by_record)
        .into_iter()
        .map(|(kind, n)| format!("{} {n}", inert(&kind)))
        .collect();
    writeln!(out, "records: {}", records.join(", "))?;
    let modes: Vec<String> = totals
        .modes
        .iter()
        .map(|(mode, (decisions, actions))| {
            format!(
                "{} ({decisions} decision{}, {actions} action{})",
                inert(mode),
                plural(*decisions),
                plural(*actions)
            )
        })
        .chain((totals.shadow > 0).then(|| {
            format!(
                "shadow ({} action{} of policies in shadow mode)",
                totals.shadow,
                plural(totals.shadow)
            )
        }))
        .collect();
    if !modes.is_empty() {
        writeln!(out, "modes: {}", modes.join(", "))?;
    }
    print_table(out, totals)?;
    print_counts(out, "not executed", &by_count(&totals.not_done))?;
    if totals.approvals.is_empty() {
        writeln!(out, "approvals: none")?;
    } else {
        let events: Vec<String> = STATUS_EVENTS
            .iter()
            .filter_map(|event| {
                let n = *totals.approvals.get(*event)?;
                let who: Vec<String> = totals
                    .deciders
                    .iter()
                    .filter(|((e, _), _)| e == event)
                    .map(|((_, by), n)| format!("{by} {n}"))
                    .collect();
                Some(if who.is_empty() {
                    format!("{n} {event}")
                } else {
                    format!("{n} {event} (by {})", who.join(", "))
                })
            })
            .collect();
        writeln!(out, "approvals: {}", events.join(", "))?;
    }
    let failures: BTreeMap<String, usize> = totals
        .policy_failures
        .iter()
        .map(|(policy, (n, kinds))| {
            let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
            (format!("{policy} ({})", kinds.join(", ")), *n)
        })
        .collect();
    print_counts(out, "policy failures", &by_count(&failures))?;
    Ok(())
}

/// The approval events in the order they happen.
const STATUS_EVENTS: [&str; 4] = ["requested", "approved", "denied", "refused"];

/// `title:` and one `count  what` line each, or `title: none`.
fn print_counts(out: &mut dyn Write, title: &str, counts: &[(String, usize)]) -> io::Result<()> {
    if counts.is_empty() {
        writeln!(out, "{title}: none")?;
        return Ok(());
    }
    writeln!(out, "{title}:")?;
    for (what, n) in counts {
        writeln!(out, "  {n:>5}  {what}")?;
    }
    Ok(())
}

/// Actions per kind (rows) and status (columns, those that occur), with totals.
fn print_table(out: &mut dyn Write, totals: &Totals) -> io::Result<()> {
    if totals.actions.is_empty() {
        writeln!(out, "actions: none")?;
        return Ok(());
    }
    let mut columns: Vec<String> = STATUSES
        .iter()
        .filter(|s| totals.actions.values().any(|row| row.contains_key(**s)))
        .map(|s| (*s).to_owned())
        .collect();
    let others: BTreeSet<&String> = totals
        .actions
        .values()
        .flat_map(BTreeMap::keys)
        .filter(|s| !STATUSES.contains(&s.as_str()))
        .collect();
    columns.extend(others.into_iter().cloned());
    let mut rows: Vec<(String, Vec<usize>)> = totals
        .actions
        .iter()
        .map(|(kind, row)| {
            let counts = columns
                .iter()
                .map(|c| row.get(c).copied().unwrap_or(0))
                .collect();
            (kind.clone(), counts)
        })
        .collect();
    let sums: Vec<usize> = (0..columns.len())
        .map(|i| rows.iter().filter_map(|(_, c)| c.get(i)).sum())
        .collect();
    if rows.len() > 1 {
        rows.push(("total".to_owned(), sums));
    }
    let first = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .chain(["action".len()])
        .max()
        .unwrap_or(0);
    let mut header = format!("{:<first$}", "action");
    for column in &columns {
        header.push_str(&format!("  {column}"));
    }
    writeln!(out, "{}", inert(&header))?;
    for (kind, counts) in &rows {
        let mut line = format!("{kind:<first$}");
        for (column, n) in columns.iter().zip(counts) {
            line.push_str(&format!("  {n:>width$}", width = column.chars().count()));
        }
        writeln!(out, "{}", inert(&line))?;
    }
    Ok(())
}

fn to_json(totals: &Totals, lines: u64, unreadable: &[u64]) -> Value {
    let approvals_by: Vec<Value> = totals
        .deciders
        .iter()
        .map(|((event, by), n)| json!({"event": event, "by": by, "count": n}))
        .collect();
    let not_done: Vec<Value> = by_count(&totals.not_done)
        .into_iter()
        .map(|(why, n)| json!({"reason": why, "count": n}))
        .collect();
    let failures: BTreeMap<&String, Value> = totals
        .policy_failures
        .iter()
        .map(|(policy, (n, kinds))| (policy, json!({"count": n, "kinds": kinds})))
        .collect();
    let modes: BTreeMap<&String, Value> = totals
        .modes
        .iter()
        .map(|(mode, (d, a))| (mode, json!({"decisions": d, "actions": a})))
        .collect();
    json!({
        "lines": lines,
        "unreadable_lines": unreadable,
        "records": totals.records,
        "records_by_kind": totals.by_record,
        "findings": totals.findings.len(),
        "first": totals.first.as_ref().map(|(_, t)| t),
        "last": totals.last.as_ref().map(|(_, t)| t),
        "modes": modes,
        "shadow_actions": totals.shadow,
        "actions": totals.actions,
        "not_executed": not_done,
        "approvals": totals.approvals,
        "approvals_by": approvals_by,
        "policy_failures": failures,
    })
}
