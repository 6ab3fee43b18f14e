//! `remedy parse [FILE...|-]`: read findings of any shape, print one normalized JSON object per
//! finding and line.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use remedy::Finding;
use serde::Serialize;

/// Arguments of `remedy parse`.
#[derive(Debug, clap::Args)]
pub(crate) struct ParseArgs {
    /// Files to read (JSON, JSON arrays or JSON Lines); `-` or nothing reads stdin.
    files: Vec<PathBuf>,
    /// Print each finding's canonical JSON instead (camelCase, GuardDuty API shape): the document
    /// `finding.get("$...")` in policies reads.
    #[arg(long)]
    canonical: bool,
}

/// One output line.
#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    finding_type: &'a str,
    severity: f64,
    severity_label: &'static str,
    account_id: &'a str,
    region: &'a str,
    resource_type: Option<&'a str>,
    user_name: Option<&'a str>,
    user_type: Option<&'a str>,
    access_key_id: Option<&'a str>,
    instance_id: Option<&'a str>,
    remote_ip: Option<String>,
    api: Option<&'a str>,
    sample: bool,
    count: Option<u64>,
    archived: bool,
    updated_at: Option<String>,
    shape: &'static str,
    source: &'static str,
    product: Option<&'a str>,
}

impl<'a> Line<'a> {
    fn new(f: &'a Finding) -> Self {
        Self {
            id: f.id(),
            finding_type: f.finding_type().as_str(),
            severity: f.severity().value(),
            severity_label: f.severity().band().as_str(),
            account_id: f.account_id(),
            region: f.region(),
            resource_type: Some(f.resource_type()).filter(|s| !s.is_empty()),
            user_name: f.user_name(),
            user_type: f.user_type(),
            access_key_id: f.access_key_id(),
            instance_id: f.instance_id(),
            remote_ip: f.remote_ip().map(|ip| ip.to_string()),
            api: f.api(),
            sample: f.is_sample(),
            count: f.count(),
            archived: f.archived(),
            updated_at: f.updated_at().and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            }),
            shape: f.shape().as_str(),
            source: f.source().as_str(),
            product: f.product(),
        }
    }
}

/// Runs `remedy parse`: exit 0 when every input parsed, 1 otherwise.
pub(crate) fn run(args: &ParseArgs) -> ExitCode {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut canonical_failed = false;
    let all_parsed = super::each_finding(
        &args.files,
        |finding| {
            if args.canonical {
                finding.json_checked().map_or_else(
                    |e| {
                        Err(format!(
                            "finding {}: {}",
                            super::inert(finding.id()),
                            super::inert(&e)
                        ))
                    },
                    inert_line,
                )
            } else {
                inert_line(&Line::new(&finding))
            }
        },
        |line| match line {
            None => out.flush(),
            Some(Ok(line)) => out.write_all(line.as_bytes()),
            Some(Err(message)) => {
                eprintln!("error: {message}");
                canonical_failed = true;
                Ok(())
            }
        },
    );
    let failed = match all_parsed {
        Ok(all_parsed) => !all_parsed || canonical_failed,
        Err(e) => return stdout_failed(&e),
    };
    if let Err(e) = out.flush() {
        return stdout_failed(&e);
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn stdout_failed(e: &io::Error) -> ExitCode {
    if e.kind() != io::ErrorKind::BrokenPipe {
        eprintln!("error: cannot write to stdout: {e}");
    }
    ExitCode::FAILURE
}

/// `value` as one line of JSON (newline included), with no active character (see
/// [`remedy::finding::inert_json`]).
fn inert_line(value: &impl serde::Serialize) -> Result<String, String> {
    let json = serde_json::to_string(value).map_err(|e| format!("cannot write JSON: {e}"))?;
    let mut line = remedy::finding::inert_json(&json).into_owned();
    line.push('\n');
    Ok(line)
}
