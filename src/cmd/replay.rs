//! `remedy replay OLD_DIR NEW_DIR HISTORY...`: what a policy change would have done over real
//! history, before it is enabled.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use remedy::Config;
use remedy::pipeline::Assembly;
use remedy::replay::html::{Report, Row};
use remedy::replay::{Comparison, InOrder, Replay, Simulation, Summary};

use super::inert;

/// Exit status of `--fail-on-change` when something changed.
pub(crate) const CHANGED: u8 = 3;

/// How many findings the guard simulation holds to put them in `updatedAt` order.
const ORDER_WINDOW: usize = 16_384;

/// Compare two policy sets over a history of findings: one JSON line per finding whose planned
/// actions differ, then a summary line; a readable summary on stderr. Nothing is executed and no
/// AWS credential is needed.
///
/// Exit status: 0; 3 with `--fail-on-change` when a finding's actions changed or the policies'
/// failures differ; 1 when the policies or the configuration do not load or an input cannot be
/// read or parsed (what was read is still compared and reported).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The policy directory in use.
    old_dir: PathBuf,
    /// The candidate policy directory.
    new_dir: PathBuf,
    /// The history: finding files in any shape `remedy parse` reads, plainly or gzip-compressed
    /// (`.gz`); directories, searched recursively (a GuardDuty S3 export,
    /// `AWSLogs/<account>/GuardDuty/<region>/<yyyy>/<mm>/<dd>/*.jsonl.gz`); `-` for standard input.
    #[arg(required = true)]
    history: Vec<PathBuf>,
    /// Another policy directory loaded into both sets (your own next to the bundled ones, say);
    /// repeatable.
    #[arg(long = "with", value_name = "DIR")]
    more: Vec<PathBuf>,
    /// The configuration (TOML): with it, each side's actions go through its guards (protection,
    /// accounts, approval, shadow/only, rate limits, circuit breaker, ledger) on the findings'
    /// own clock, and the summary counts what would have happened.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Exit 3 when something changed (for CI).
    #[arg(long)]
    fail_on_change: bool,
}

/// What a worker hands the caller for one finding.
struct Compared {
    comparison: Comparison,
    line: Option<std::io::Result<String>>,
    row: Option<Row>,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let config = match super::load_config(args.config.as_deref()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let assembly = Assembly::new(config.clone());
    let dirs = |first: &PathBuf| -> Vec<PathBuf> {
        std::iter::once(first).chain(&args.more).cloned().collect()
    };
    let Ok(old) = super::load_policies(&assembly, &dirs(&args.old_dir)) else {
        return ExitCode::FAILURE;
    };
    let Ok(new) = super::load_policies(&assembly, &dirs(&args.new_dir)) else {
        return ExitCode::FAILURE;
    };
    let files = match remedy::replay::expand(&args.history) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {}", inert(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    let mut guards = match args.config.is_some().then(|| Guards::new(&config)) {
        None => None,
        Some(Ok(guards)) => Some(guards),
        Some(Err(code)) => return code,
    };
    let replay = Replay::new(old, new);
    let html = args.html.is_some();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut summary = Summary::new();
    let mut report = Report::new();
    let ok = super::each_finding(
        &files,
        |finding| {
            let comparison = replay.compare(&finding);
            let line = comparison.change_record().map(|record| json_line(&record));
            let row = (html && comparison.is_changed())
                .then(|| Row::new(&comparison, finding.json_checked().ok()));
            Compared {
                comparison,
                line,
                row,
            }
        },
        |done| {
            let Some(done) = done else {
                return out.flush();
            };
            if let Some(line) = done.line {
                out.write_all(line?.as_bytes())?;
            }
            summary.add(&done.comparison);
            if let Some(row) = done.row {
                report.push(row);
            }
            if let Some(guards) = &mut guards {
                guards.observe(done.comparison);
            }
            Ok(())
        },
    );
    let ok = match ok {
        Ok(all_parsed) => all_parsed,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {}", inert(&e.to_string()));
            return ExitCode::FAILURE;
        }
    };
    if let Some(guards) = guards {
        let (tallies, late) = guards.finish();
        summary.guards = Some(tallies);
        summary.out_of_order = Some(late);
    }
    if let Err(e) = json_line(&summary.record()).and_then(|line| {
        out.write_all(line.as_bytes())?;
        out.flush()
    }) {
        eprintln!("error: cannot write to stdout: {e}");
        return ExitCode::FAILURE;
    }
    eprint!("{}", summary.text());
    let mut ok = ok;
    if let Some(path) = &args.html {
        match std::fs::write(path, report.render(&summary)) {
            Ok(()) => eprintln!("  report: {}", inert(&path.display().to_string())),
            Err(e) => {
                eprintln!(
                    "error: cannot write `{}`: {e}",
                    inert(&path.display().to_string())
                );
                ok = false;
            }
        }
    }
    if !ok {
        ExitCode::FAILURE
    } else if args.fail_on_change && something_changed(&summary) {
        eprintln!("remedy: the candidate changes what remedy does (exit {CHANGED})");
        ExitCode::from(CHANGED)
    } else {
        ExitCode::SUCCESS
    }
}

/// A finding's actions changed, or a policy fails on other findings than before.
fn something_changed(summary: &Summary) -> bool {
    let counts = |failures: &BTreeMap<String, remedy::replay::FailureTally>| {
        failures
            .iter()
            .map(|(policy, tally)| (policy.clone(), tally.count))
            .collect::<BTreeMap<_, _>>()
    };
    summary.changed > 0 || counts(&summary.failures.old) != counts(&summary.failures.new)
}

/// The guard simulation of `--config`: findings put in `updatedAt` order, then run through both
/// sides' guards on a runtime of this thread.
struct Guards {
    simulation: Simulation,
    order: InOrder<Comparison>,
    runtime: tokio::runtime::Runtime,
}

impl Guards {
    fn new(config: &Config) -> Result<Self, ExitCode> {
        let simulation = Simulation::from_config(config).map_err(|e| {
            eprintln!("error: {}", inert(&e.to_string()));
            ExitCode::FAILURE
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::FAILURE
            })?;
        Ok(Self {
            simulation,
            order: InOrder::new(ORDER_WINDOW),
            runtime,
        })
    }

    /// Takes one finding's comparison (one without any action has nothing to count).
    fn observe(&mut self, comparison: Comparison) {
        if comparison.old.actions.is_empty() && comparison.new.actions.is_empty() {
            return;
        }
        let time = comparison.updated_secs();
        if let Some((time, earliest)) = self.order.push(time, comparison) {
            self.runtime
                .block_on(self.simulation.observe(time, &earliest));
        }
    }

    /// Counts what is left; what the guards did on each side, and how many findings came too
    /// late to be counted in order.
    fn finish(mut self) -> (remedy::replay::Sides<remedy::replay::GuardTally>, u64) {
        while let Some((time, comparison)) = self.order.pop() {
            self.runtime
                .block_on(self.simulation.observe(time, &comparison));
        }
        (self.simulation.tallies(), self.order.late())
    }
}

/// `value` as one inert JSON line, newline included.
fn json_line(value: &impl serde::Serialize) -> std::io::Result<String> {
    let json = serde_json::to_string(value).map_err(std::io::Error::other)?;
    let mut line = remedy::finding::inert_json(&json).into_owned();
    line.push('\n');
    Ok(line)
}
