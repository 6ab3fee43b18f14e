//! What `remedy audit show` and `summary` share: which trail, which records, and small helpers to
//! print record fields.

use std::path::PathBuf;
use std::process::ExitCode;

use remedy::store::audit::{TrailFilter, TrailReader};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::super::inert;

/// The trail to read and the records to read from it.
#[derive(Debug, clap::Args)]
pub(crate) struct ViewArgs {
    /// The trail (default: the configuration's `[audit] path`, else `remedy-audit.jsonl`).
    file: Option<PathBuf>,
    /// The configuration file: its `[audit] path`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Only records written at or after this time (RFC 3339, e.g. `2026-05-01T00:00:00Z`).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only the records about this finding (its id).
    #[arg(long, value_name = "ID")]
    finding: Option<String>,
    /// One JSON object (per finding, for `show`) instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// An open trail: its reader and its name as printed (inert).
pub(crate) type Trail = (TrailReader<std::io::BufReader<std::fs::File>>, String);

/// Opens the trail `args` name with their filter; errors printed.
pub(crate) fn open(args: &ViewArgs) -> Result<Trail, ExitCode> {
    let mut config = super::super::load_config(args.config.as_deref())?;
    super::super::default_audit_quiet(&mut config);
    let Some(path) = args.file.clone().or(config.audit.path.clone()) else {
        eprintln!("error: no audit trail to read");
        return Err(ExitCode::FAILURE);
    };
    let shown = inert(&path.display().to_string()).into_owned();
    let mut filter = TrailFilter::new();
    if let Some(id) = &args.finding {
        filter = filter.with_finding(id.as_str());
    }
    if let Some(since) = &args.since {
        filter = filter.with_since(since).map_err(|e| {
            eprintln!("error: --since: {}", inert(&e));
            ExitCode::FAILURE
        })?;
    }
    match TrailReader::open(&path, filter) {
        Ok(reader) => Ok((reader, shown)),
        Err(e) => {
            eprintln!("error: cannot read `{shown}`: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Says on stderr which lines were not records (a torn last line, text that is not JSON).
pub(crate) fn report_unreadable(shown: &str, lines: &[u64]) {
    if lines.is_empty() {
        return;
    }
    let listed: Vec<String> = lines.iter().take(5).map(u64::to_string).collect();
    eprintln!(
        "remedy: {shown}: {} line{} skipped, not a record (line{} {}{})",
        lines.len(),
        plural(lines.len()),
        plural(lines.len()),
        listed.join(", "),
        if lines.len() > 5 { ", ..." } else { "" }
    );
}

/// `s` for a count other than one.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The string field `key` of `value`, inert (empty when absent).
pub(crate) fn text(value: &Value, key: &str) -> String {
    inert(value.get(key).and_then(Value::as_str).unwrap_or_default()).into_owned()
}

/// The time `at` (RFC 3339) to the second in UTC, `2026-05-01 10:00:00Z`; as written (inert) when
/// it is not RFC 3339.
pub(crate) fn short_time(at: &str) -> String {
    match OffsetDateTime::parse(at, &Rfc3339) {
        Ok(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        }
        Err(_) => inert(at).into_owned(),
    }
}

/// `at` as a time, to compare.
pub(crate) fn parse_time(at: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(at, &Rfc3339).ok()
}

/// The exit code of a command whose stdout failed: silent when the reader went away (`| head`).
pub(crate) fn stdout_failed(e: &std::io::Error) -> ExitCode {
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        eprintln!("error: cannot write to stdout: {e}");
    }
    ExitCode::FAILURE
}
