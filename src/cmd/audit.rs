//! `remedy audit verify [FILE] [--config F]`: check the audit trail's hash chain and HMAC;
//! `remedy audit show|summary [FILE]`: what happened, for people.

use std::path::PathBuf;
use std::process::ExitCode;

use remedy::store::audit::{verify, verify_head};
use remedy::store::state::ChainHead;

mod show;
mod summary;
mod trail;

/// What `remedy audit` does.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Check the trail's chain (every line names the hash of the line before it) and, with
    /// `[audit] key_env`, every line's HMAC; names the first line that breaks it (exit 1).
    Verify(VerifyArgs),
    /// Per finding, in trail order: what was decided and by which policies, what came of each
    /// action (and which guard stopped it), who approved, which policies failed. Lines that are
    /// not records (a torn last line) are skipped and counted.
    Show(trail::ViewArgs),
    /// The trail's totals: records, findings, time span, actions per kind and status, why actions
    /// were not carried out, approvals and who decided, policy failures, modes.
    Summary(trail::ViewArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The trail (default: the configuration's `[audit] path`, else `remedy-audit.jsonl`).
    file: Option<PathBuf>,
    /// The configuration file: its `[audit] path` and `key_env`.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub(crate) fn run(command: Command) -> ExitCode {
    match command {
        Command::Verify(args) => verify_trail(&args),
        Command::Show(args) => show::show(&args),
        Command::Summary(args) => summary::summary(&args),
    }
}

fn verify_trail(args: &VerifyArgs) -> ExitCode {
    let Ok(mut config) = super::load_config(args.config.as_deref()) else {
        return ExitCode::FAILURE;
    };
    super::default_audit_quiet(&mut config);
    let Some(path) = args.file.clone().or(config.audit.path.clone()) else {
        eprintln!("error: no audit trail to verify");
        return ExitCode::FAILURE;
    };
    let Ok(key) = super::audit_key_blocking(&config) else {
        return ExitCode::FAILURE;
    };
    let shown = super::inert(&path.display().to_string()).into_owned();
    // With `[state]`, the head recorded in the table shows lines removed from the trail's end.
    let head_problem = match recorded_head(&config, &path) {
        Ok(Some(head)) => match verify_head(&path, &head) {
            Ok(result) => result.err(),
            Err(e) => Some(format!("cannot read: {e}")),
        },
        Ok(None) => None,
        Err(code) => return code,
    };
    if let Some(why) = head_problem {
        println!("{shown}: {}", super::inert(&why));
        eprintln!("error: the audit trail does not end where the state table says it did");
        return ExitCode::FAILURE;
    }
    match verify(&path, key.as_ref(), None) {
        Ok(verified) => match &verified.first_bad {
            None => {
                if verified.legacy > 0 {
                    println!(
                        "{shown}: lines 1 to {} were written before the chain began and are not \
                         covered by it",
                        verified.legacy
                    );
                }
                let covered = verified.lines - verified.legacy;
                println!(
                    "{shown}: {covered} line{} verified ({}), head {}",
                    if covered == 1 { "" } else { "s" },
                    if verified.hmac {
                        "hash chain and HMAC"
                    } else {
                        "hash chain only: set `[audit] key_env` to check an HMAC"
                    },
                    verified.head
                );
                ExitCode::SUCCESS
            }
            Some((line, why)) => {
                println!("{shown}:{line}: {}", super::inert(why));
                eprintln!(
                    "error: the audit trail does not verify at line {line} ({} line{} before it verified)",
                    line.saturating_sub(1),
                    if *line == 2 { "" } else { "s" }
                );
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: cannot read `{shown}`: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The head the `[state]` table recorded for the trail at `path`, if the configuration names a
/// table (and this build has AWS); errors printed.
fn recorded_head(
    config: &remedy::Config,
    path: &std::path::Path,
) -> Result<Option<ChainHead>, ExitCode> {
    if config.state.dynamodb_table.is_none() {
        return Ok(None);
    }
    #[cfg(feature = "aws")]
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::FAILURE
            })?;
        runtime.block_on(async {
            let settings = remedy::aws::AwsSettings::from_config(&config.aws);
            let Some((_, state, _)) = remedy::aws::state_backends(config, &settings).await else {
                return Ok(None);
            };
            state
                .chain_head(&path.display().to_string())
                .await
                .map_err(|e| {
                    eprintln!("error: cannot read the trail's head from the state table: {e}");
                    ExitCode::FAILURE
                })
        })
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = path;
        Ok(None)
    }
}
