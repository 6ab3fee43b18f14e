//! The replay report: one self-contained HTML file (no network fetch: styles, the chart and the
//! script are inline) with the totals, a chart of changed actions per day and kind, and the table
//! of changed findings, sortable, each row opening its finding and both plans.
//!
//! Every text of a finding or a policy is escaped: the report is safe to open whatever the
//! findings hold.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::summary::{GuardTally, Sides, Summary};
use super::{Comparison, Side};

/// The most changed findings the table lists; the totals count every one.
pub const MAX_ROWS: usize = 500;

/// One changed finding as the table shows it, its details rendered already.
#[derive(Debug, Clone)]
pub struct Row {
    finding_id: String,
    finding_type: String,
    account_id: String,
    updated_at: String,
    severity: f64,
    added: String,
    removed: String,
    finding: String,
    old: String,
    new: String,
}

impl Row {
    /// The row of a changed finding: `finding` is its canonical JSON, when it could be built.
    pub fn new(comparison: &Comparison, finding: Option<&serde_json::Value>) -> Self {
        let context = &comparison.new.finding;
        let kinds = |side: Side| {
            let actions = match side {
                Side::New => &comparison.added,
                Side::Old => &comparison.removed,
            };
            actions
                .iter()
                .map(|a| a.action.kind().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Self {
            finding_id: context.id.to_string(),
            finding_type: context.finding_type.as_str().to_owned(),
            account_id: context.account_id.as_str().to_owned(),
            updated_at: context
                .updated_at
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default(),
            severity: context.severity.value(),
            added: kinds(Side::New),
            removed: kinds(Side::Old),
            finding: finding.map_or_else(|| "(not available)".to_owned(), pretty),
            old: pretty(&comparison.old),
            new: pretty(&comparison.new),
        }
    }
}

/// Pretty JSON of `value`.
fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("(cannot show: {e})"))
}

/// The report being built: the rows of the first [`MAX_ROWS`] changed findings.
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<Row>,
    omitted: u64,
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a changed finding's row (counted only, past [`MAX_ROWS`]).
    pub fn push(&mut self, row: Row) {
        if self.rows.len() < MAX_ROWS {
            self.rows.push(row);
        } else {
            self.omitted += 1;
        }
    }

    /// Whether the table is full (a caller may skip building rows).
    pub fn is_full(&self) -> bool {
        self.rows.len() >= MAX_ROWS
    }

    /// The HTML document for `summary`.
    pub fn render(&self, summary: &Summary) -> String {
        let mut h = String::with_capacity(64 * 1024);
        h.push_str(HEAD);
        let _ = write!(
            h,
            "<h1>remedy replay</h1>\n<p class=\"sets\">set in use <code>{}</code> &rarr; candidate \
             <code>{}</code></p>\n",
            esc(&summary.policy_set_versions.old),
            esc(&summary.policy_set_versions.new)
        );
        totals(&mut h, summary);
        failures(&mut h, summary);
        if let Some(guards) = &summary.guards {
            guard_table(&mut h, guards);
        }
        h.push_str("<h2>Changed actions per day, by kind</h2>\n");
        h.push_str(&chart(&summary.days));
        self.table(&mut h, summary);
        h.push_str(SCRIPT);
        h.push_str("</body>\n</html>\n");
        h
    }

    fn table(&self, h: &mut String, summary: &Summary) {
        let _ = writeln!(
            h,
            "<h2>Changed findings</h2>\n<p>{} changed finding{}{}. Click a column to sort, a row \
             to open its finding and both plans.</p>",
            summary.changed,
            if summary.changed == 1 { "" } else { "s" },
            if self.omitted > 0 {
                format!("; the first {} are listed", self.rows.len())
            } else {
                String::new()
            }
        );
        h.push_str(
            "<table id=\"changes\"><thead><tr><th data-type=\"text\">updated</th>\
             <th data-type=\"text\">finding</th><th data-type=\"text\">type</th>\
             <th data-type=\"text\">account</th><th data-type=\"num\">severity</th>\
             <th data-type=\"text\">added</th><th data-type=\"text\">removed</th></tr></thead>\n<tbody>\n",
        );
        for row in &self.rows {
            let _ = writeln!(
                h,
                "<tr class=\"row\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td>\
                 <td class=\"add\">{}</td><td class=\"del\">{}</td></tr>\n<tr class=\"detail\" \
                 hidden><td colspan=\"7\"><div class=\"cols\"><div><h3>finding</h3><pre>{}</pre>\
                 </div><div><h3>plan of the set in use</h3><pre>{}</pre></div><div><h3>plan of \
                 the candidate</h3><pre>{}</pre></div></div></td></tr>",
                esc(&row.updated_at),
                esc(&row.finding_id),
                esc(&row.finding_type),
                esc(&row.account_id),
                row.severity,
                esc(&row.added),
                esc(&row.removed),
                esc(&row.finding),
                esc(&row.old),
                esc(&row.new)
            );
        }
        h.push_str("</tbody></table>\n");
    }
}

fn totals(h: &mut String, s: &Summary) {
    let sum = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
    let _ = writeln!(
        h,
        "<div class=\"totals\">\
         <div><b id=\"t-findings\">{}</b>findings</div>\
         <div><b id=\"t-changed\">{}</b>changed</div>\
         <div><b id=\"t-added\" class=\"add\">{}</b>actions added</div>\
         <div><b id=\"t-removed\" class=\"del\">{}</b>actions removed</div>\
         <div><b id=\"t-failed\">{} &rarr; {}</b>findings with a policy failure</div></div>",
        s.findings,
        s.changed,
        sum(&s.added),
        sum(&s.removed),
        s.failed_findings.old,
        s.failed_findings.new
    );
    let kinds: Vec<&String> = s.added.keys().chain(s.removed.keys()).collect();
    let mut seen = std::collections::BTreeSet::new();
    h.push_str("<table class=\"small\"><tr><th>kind</th><th>added</th><th>removed</th></tr>");
    for kind in kinds {
        if seen.insert(kind) {
            let n = |m: &BTreeMap<String, u64>| m.get(kind).copied().unwrap_or(0);
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"add\">{}</td><td class=\"del\">{}</td></tr>",
                esc(kind),
                n(&s.added),
                n(&s.removed)
            );
        }
    }
    h.push_str("</table>\n");
}

fn failures(h: &mut String, s: &Summary) {
    if s.failures.old.is_empty() && s.failures.new.is_empty() {
        return;
    }
    h.push_str(
        "<h2>Policy failures</h2>\n<table class=\"small\"><tr><th>side</th><th>policy</th>\
         <th>findings</th><th>first failure</th></tr>",
    );
    for (side, name) in [(Side::Old, "set in use"), (Side::New, "candidate")] {
        for (policy, tally) in s.failures.get(side) {
            let _ = write!(
                h,
                "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(policy),
                tally.count,
                esc(&tally.first)
            );
        }
    }
    h.push_str("</table>\n");
}

fn guard_table(h: &mut String, guards: &Sides<GuardTally>) {
    h.push_str(
        "<h2>What the guards would have done</h2>\n<table class=\"small\"><tr><th>fate</th>\
         <th>set in use</th><th>candidate</th></tr>",
    );
    let mut seen = std::collections::BTreeSet::new();
    for fate in guards.old.actions.keys().chain(guards.new.actions.keys()) {
        if seen.insert(fate) {
            let n = |t: &GuardTally| t.actions.get(fate).copied().unwrap_or(0);
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(fate),
                n(&guards.old),
                n(&guards.new)
            );
        }
    }
    let _ = writeln!(
        h,
        "<tr><td>breaker trips</td><td>{}</td><td>{}</td></tr></table>",
        guards.old.breaker_trips, guards.new.breaker_trips
    );
}

/// Colours of the kinds, in order.
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f",
];

/// Stacked bars: for each day, the changed actions (added and removed) by kind; inline SVG.
fn chart(days: &BTreeMap<String, Sides<BTreeMap<String, u64>>>) -> String {
    if days.is_empty() {
        return "<p>No change.</p>\n".to_owned();
    }
    let mut kinds: Vec<&String> = days
        .values()
        .flat_map(|d| d.old.keys().chain(d.new.keys()))
        .collect();
    kinds.sort();
    kinds.dedup();
    let per_day = |d: &Sides<BTreeMap<String, u64>>, kind: &str| {
        d.old.get(kind).copied().unwrap_or(0) + d.new.get(kind).copied().unwrap_or(0)
    };
    let max = days
        .values()
        .map(|d| kinds.iter().map(|k| per_day(d, k)).sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (bar, gap, plot_h, left, top) = (16.0_f64, 4.0, 180.0, 40.0, 10.0);
    let width = left + (bar + gap) * days.len() as f64 + 10.0;
    let height = top + plot_h + 70.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" \
         height=\"{height:.0}\" role=\"img\" aria-label=\"changed actions per day\">"
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.0}\" y=\"{:.0}\" class=\"axis\" text-anchor=\"end\">{max}</text>\
         <text x=\"{:.0}\" y=\"{:.0}\" class=\"axis\" text-anchor=\"end\">0</text>\
         <line x1=\"{left}\" y1=\"{:.0}\" x2=\"{width:.0}\" y2=\"{:.0}\" stroke=\"#999\"/>",
        left - 4.0,
        top + 10.0,
        left - 4.0,
        top + plot_h,
        top + plot_h,
        top + plot_h
    );
    let label_every = (days.len() / 12).max(1);
    for (i, (day, counts)) in days.iter().enumerate() {
        let x = left + (bar + gap) * i as f64;
        let mut y = top + plot_h;
        for (k, kind) in kinds.iter().enumerate() {
            let n = per_day(counts, kind);
            if n == 0 {
                continue;
            }
            let h = plot_h * n as f64 / max as f64;
            y -= h;
            let colour = PALETTE.get(k % PALETTE.len()).copied().unwrap_or("#888");
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar}\" height=\"{h:.1}\" \
                 fill=\"{colour}\"><title>{} {}: {n} (added {}, removed {})</title></rect>",
                esc(day),
                esc(kind),
                counts.new.get(kind.as_str()).copied().unwrap_or(0),
                counts.old.get(kind.as_str()).copied().unwrap_or(0)
            );
        }
        if i % label_every == 0 {
            let _ = writeln!(
                s,
                "<text class=\"axis\" transform=\"translate({:.1},{:.0}) rotate(-45)\" \
                 text-anchor=\"end\">{}</text>",
                x + bar / 2.0,
                top + plot_h + 12.0,
                esc(day)
            );
        }
    }
    s.push_str("</svg>\n<p class=\"legend\">");
    for (k, kind) in kinds.iter().enumerate() {
        let colour = PALETTE.get(k % PALETTE.len()).copied().unwrap_or("#888");
        let _ = write!(
            s,
            "<span><i style=\"background:{colour}\"></i>{}</span> ",
            esc(kind)
        );
    }
    s.push_str("</p>\n");
    s
}

/// `text` escaped for HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>remedy replay</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin: 0 0 .2em; } h2 { margin-top: 1.5em; font-size: 1.15em; }
code, pre { font: 12px/1.35 ui-monospace, monospace; }
.totals { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.totals div { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 8em; }
.totals b { display: block; font-size: 1.8em; }
.add { color: #1a7f37; } .del { color: #cf222e; }
table { border-collapse: collapse; } th, td { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left; }
table.small { margin: .5em 0; }
#changes th { cursor: pointer; background: #f6f8fa; position: sticky; top: 0; }
#changes tr.row { cursor: pointer; } #changes tr.row:hover { background: #f3f7ff; }
.cols { display: flex; gap: 1em; } .cols > div { flex: 1; min-width: 0; }
.cols pre { max-height: 28em; overflow: auto; background: #f6f8fa; padding: .5em; margin: 0; }
.axis { font-size: 10px; fill: #555; }
.legend span { margin-right: 1em; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
</style>
</head>
<body>
"#;

const SCRIPT: &str = r#"<script>
(function () {
  var table = document.getElementById('changes');
  if (!table) return;
  var body = table.tBodies[0];
  body.addEventListener('click', function (e) {
    var row = e.target.closest('tr.row');
    if (row && row.nextElementSibling) row.nextElementSibling.hidden = !row.nextElementSibling.hidden;
  });
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener('click', function () {
      var up = th.getAttribute('data-dir') !== 'up';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('data-dir'); });
      th.setAttribute('data-dir', up ? 'up' : 'down');
      var num = th.getAttribute('data-type') === 'num';
      var pairs = [];
      for (var r = body.rows[0]; r; r = r.nextElementSibling ? r.nextElementSibling.nextElementSibling : null) {
        pairs.push([r, r.nextElementSibling]);
      }
      pairs.sort(function (a, b) {
        var x = a[0].cells[col].textContent, y = b[0].cells[col].textContent;
        var c = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return up ? c : -c;
      });
      pairs.forEach(function (p) { body.appendChild(p[0]); if (p[1]) body.appendChild(p[1]); });
    });
  });
  document.body.setAttribute('data-ready', 'yes');
})();
</script>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>\u{1b}"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;\\u{1b}"
        );
    }

    #[test]
    fn an_empty_report_still_shows_its_totals() {
        let html = Report::new().render(&Summary::new());
        assert!(html.contains("<b id=\"t-findings\">0</b>"), "{html}");
        assert!(html.contains("No change."));
        assert!(!html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    }
}
