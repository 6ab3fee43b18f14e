//! `remedy worker --queue URL POLICY_DIR`: long-polls an SQS queue and carries out the plans of
//! the findings its messages hold (feature `sqs`).
//!
//! A message is deleted only once its plans were carried out and audited (each action executed,
//! already done or skipped). Anything that may succeed later leaves it for redelivery; a message
//! remedy cannot read is never deleted: it is logged and left for the queue's dead-letter queue.
//! While a message's actions run, its visibility timeout is extended.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use remedy::{Disposition, Pipeline};

use super::{PolicyArgs, inert};

/// Long-poll an SQS queue and carry out the plans of the findings its messages hold: a dry run
/// unless `--execute`.
///
/// A message body is an EventBridge event or any shape `remedy parse` reads. Prints one JSON
/// record per action on stdout and one line per message on stderr. SIGTERM or SIGINT: stop
/// receiving, finish the messages in flight, exit (143, 130).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The queue's URL.
    #[arg(long)]
    queue: String,
    #[command(flatten)]
    policies: PolicyArgs,
    /// Execute the actions of enforced policies (default: dry run, nothing is changed; messages
    /// are still deleted once handled).
    #[arg(long)]
    execute: bool,
    /// Exit when a receive finds the queue empty (tests, batch jobs).
    #[arg(long)]
    exit_when_empty: bool,
    /// How long each receive waits for messages (long polling), in seconds (0 to 20).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i32).range(0..=20))]
    wait_seconds: i32,
    /// How long a received message stays invisible to other workers, in seconds; extended
    /// while its actions run.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(i32).range(2..=43_200))]
    visibility_seconds: i32,
}

pub(crate) fn run(args: Args) -> ExitCode {
    super::runtime(run_async(args))
}

async fn run_async(args: Args) -> ExitCode {
    let (assembly, set) = match args.policies.load(args.execute) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let config = assembly.config();
    // `[enrich]`, as for `remedy run`.
    let engine = match super::pipeline(&assembly, set).await {
        Ok(pipeline) => pipeline,
        Err(code) => return code,
    };
    let remediator = engine.remediator().clone();
    let signal = Arc::new(AtomicI32::new(0));
    tokio::spawn(super::run::stop_on_signals(
        remediator.shutdown().clone(),
        config.shutdown_grace(),
        Arc::clone(&signal),
    ));
    let shutdown = remediator.shutdown().clone();
    if !args.execute {
        eprintln!(
            "remedy: dry run: nothing is changed, but each message is deleted once its plan is \
             recorded, as in a real run; a shadow worker needs a queue of its own"
        );
    }
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let worker = Worker {
        client: Client::new(&sdk),
        queue: args.queue.clone(),
        engine,
        visibility: args.visibility_seconds,
    };
    let mut failed = false;
    // Expired approval requests get their timeout applied once a minute (and at start).
    let expires = args.execute && config.approval.is_enabled();
    let mut last_expire: Option<std::time::Instant> = None;
    // When the last message this worker left for redelivery becomes visible again.
    let mut retry_until: Option<std::time::Instant> = None;
    while !shutdown.is_stopping() {
        if expires && last_expire.is_none_or(|t| t.elapsed() >= EXPIRE_EVERY) {
            last_expire = Some(std::time::Instant::now());
            expire(worker.engine.remediator()).await;
        }
        let received = tokio::select! {
            received = worker.receive(args.wait_seconds) => received,
            () = shutdown.stopped() => break,
        };
        let messages = match received {
            Ok(messages) => messages,
            Err(e) => {
                eprintln!("error: cannot receive from the queue: {e}");
                failed = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
                if args.exit_when_empty {
                    break;
                }
                continue;
            }
        };
        if messages.is_empty() {
            // Done when empty, unless a message this worker left for redelivery is due back.
            if args.exit_when_empty && retry_until.is_none_or(|t| std::time::Instant::now() >= t) {
                break;
            }
            continue;
        }
        // The messages of a batch are handled together; the batch is finished even when a
        // signal arrives meanwhile.
        let mut tasks = tokio::task::JoinSet::new();
        for message in messages {
            let worker = worker.clone();
            tasks.spawn(async move { worker.handle(message).await });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Handled::Done) => {}
                Ok(Handled::Retry(after)) => {
                    let due = std::time::Instant::now() + after + Duration::from_secs(2);
                    retry_until = Some(retry_until.map_or(due, |t| t.max(due)));
                }
                Ok(Handled::Failed) => failed = true,
                Err(e) => {
                    eprintln!("error: a message's task failed: {e} (the message is left)");
                    failed = true;
                }
            }
        }
    }
    match signal.load(Ordering::SeqCst) {
        0 if failed => ExitCode::FAILURE,
        0 => ExitCode::SUCCESS,
        code => {
            eprintln!("remedy: worker stopped by a signal");
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}

/// What became of one message.
enum Handled {
    /// Deleted, or left for the dead-letter queue (unreadable): nothing more to do here.
    Done,
    /// Left for redelivery; visible again after this long.
    Retry(Duration),
    /// Handled, but not deleted (an error was printed).
    Failed,
}

/// How often the worker applies the timeout of expired approval requests.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);

/// Applies the timeout of expired approval requests; records on stdout, errors on stderr.
async fn expire(remediator: &remedy::Remediator) {
    match remediator.expire().await {
        Ok(reports) => {
            if !reports.is_empty() {
                eprintln!(
                    "remedy: {} expired approval request(s) decided by their timeout",
                    reports.len()
                );
            }
            super::print_records(&reports);
        }
        Err(e) => eprintln!(
            "error: cannot apply approval timeouts: {}",
            super::inert(&e.to_string())
        ),
    }
}

#[derive(Clone)]
struct Worker {
    client: Client,
    queue: String,
    engine: Pipeline,
    visibility: i32,
}

impl Worker {
    async fn receive(&self, wait_seconds: i32) -> Result<Vec<Message>, String> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .visibility_timeout(self.visibility)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| error_text(&e))?;
        Ok(out.messages.unwrap_or_default())
    }

    /// Handles one message.
    async fn handle(&self, message: Message) -> Handled {
        let id = message.message_id().unwrap_or("?").to_owned();
        let Some(receipt) = message.receipt_handle().map(str::to_owned) else {
            eprintln!("error: message {} has no receipt handle", inert(&id));
            return Handled::Failed;
        };
        let receives = message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .map_or("?", String::as_str)
            .to_owned();
        let body = message.body().unwrap_or_default().as_bytes();
        // Keep the message invisible while its actions run.
        let heartbeat = tokio::spawn(self.clone().extend_visibility(receipt.clone()));
        let delivery = self.engine.handle_message(body, &id).await;
        heartbeat.abort();
        super::print_records(&delivery.reports);
        match delivery.disposition {
            Disposition::Done => match self.delete(&receipt).await {
                Ok(()) => {
                    eprintln!(
                        "remedy: message {}: {} finding(s) handled, deleted: {}",
                        inert(&id),
                        delivery.reports.len(),
                        what_happened(&delivery.reports)
                    );
                    Handled::Done
                }
                Err(e) => {
                    // Its work is done and recorded; the queue hands it out again (to this
                    // worker or another, whose ledger check makes the repeat a no-op). With
                    // `--exit-when-empty` this worker waits for it like any redelivery, so a
                    // message another worker then deletes is not counted as a failure.
                    eprintln!(
                        "remedy: message {} was handled but not deleted (it will be redelivered; \
                         the ledger makes the repeat a no-op): {e}",
                        inert(&id)
                    );
                    Handled::Retry(Duration::from_secs(
                        u64::try_from(self.visibility).unwrap_or(60),
                    ))
                }
            },
            Disposition::Retry(reason) => {
                let after = self.retry_after(&receipt, &receives).await;
                eprintln!(
                    "remedy: message {} left for redelivery in {} s (receive {receives}): {} ({})",
                    inert(&id),
                    after.as_secs(),
                    inert(&reason),
                    what_happened(&delivery.reports)
                );
                Handled::Retry(after)
            }
            Disposition::Unreadable(reason) => {
                eprintln!(
                    "error: message {} cannot be read and is left for the dead-letter queue \
                     (receive {receives}): {}",
                    inert(&id),
                    inert(&reason)
                );
                Handled::Done
            }
            _ => {
                eprintln!("remedy: message {} left (unknown disposition)", inert(&id));
                Handled::Done
            }
        }
    }

    /// Makes a message left for redelivery visible again soon: 5 s after its first receive, 10 s
    /// after its second, ..., at most the visibility timeout (the queue's dead-letter policy
    /// still counts every receive). Returns when it is due back.
    async fn retry_after(&self, receipt: &str, receives: &str) -> Duration {
        let n: u64 = receives.parse().unwrap_or(1);
        let visibility = u64::try_from(self.visibility).unwrap_or(30);
        let after = n.saturating_mul(5).clamp(1, visibility.max(1));
        let changed = self
            .client
            .change_message_visibility()
            .queue_url(&self.queue)
            .receipt_handle(receipt)
            .visibility_timeout(i32::try_from(after).unwrap_or(self.visibility))
            .send()
            .await;
        match changed {
            Ok(_) => Duration::from_secs(after),
            Err(e) => {
                eprintln!(
                    "warning: cannot shorten a retried message's visibility: {}",
                    error_text(&e)
                );
                Duration::from_secs(visibility)
            }
        }
    }

    /// Every half visibility timeout, makes the message invisible for another timeout.
    async fn extend_visibility(self, receipt: String) {
        let period = Duration::from_secs(u64::try_from(self.visibility / 2).unwrap_or(1).max(1));
        loop {
            tokio::time::sleep(period).await;
            let extended = self
                .client
                .change_message_visibility()
                .queue_url(&self.queue)
                .receipt_handle(&receipt)
                .visibility_timeout(self.visibility)
                .send()
                .await;
            if let Err(e) = extended {
                eprintln!(
                    "warning: cannot extend a message's visibility: {}",
                    error_text(&e)
                );
            }
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), String> {
        self.client
            .delete_message()
            .queue_url(&self.queue)
            .receipt_handle(receipt)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| error_text(&e))
    }
}

/// An SDK error in a few words: the service's code and message, inert.
fn error_text<E, R>(e: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = match e.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or("")
        ),
        None => std::error::Error::source(e).map_or_else(|| e.to_string(), ToString::to_string),
    };
    inert(&text).into_owned()
}

/// What happened to each action of a message's findings, for its line on stderr:
/// ``disable_access_key access_key:u/AKIA… executed; notify channel:security skipped (dry_run)``,
/// then the policies that failed.
fn what_happened(reports: &[remedy::Report]) -> String {
    let actions = reports
        .iter()
        .flat_map(|r| &r.actions)
        .map(|a| (a.kind.as_str(), a.target.as_str(), &a.outcome));
    let failed = reports
        .iter()
        .flat_map(|r| &r.policy_errors)
        .map(|f| f.policy.as_str());
    actions_text(actions, failed)
}

fn actions_text<'a>(
    actions: impl Iterator<Item = (&'a str, &'a str, &'a remedy::action::Outcome)>,
    failed_policies: impl Iterator<Item = &'a str>,
) -> String {
    let mut parts: Vec<String> = actions
        .map(|(kind, target, outcome)| {
            let why = if let Some(reason) = outcome.skip_reason() {
                format!(" ({})", reason.kind())
            } else if let Some(error) = outcome.error() {
                format!(" ({})", error.kind())
            } else {
                String::new()
            };
            format!("{kind} {target} {}{why}", outcome.status())
        })
        .collect();
    if parts.is_empty() {
        parts.push("no action".to_owned());
    }
    let failed: Vec<&str> = failed_policies.collect();
    if !failed.is_empty() {
        parts.push(format!("policy failed: {}", failed.join(", ")));
    }
    inert(&parts.join("; ")).into_owned()
}

#[cfg(test)]
mod tests {
    use remedy::action::{ErrorKind, Outcome, SkipReason};

    use super::actions_text;

    #[test]
    fn the_message_line_says_what_happened_to_each_action() {
        let done = Outcome::executed("disabled");
        let dry = Outcome::Skipped(SkipReason::DryRun {
            would: "notify".into(),
        });
        let failed = Outcome::failed(ErrorKind::PermissionDenied, "no");
        let actions = [
            ("disable_access_key", "access_key:u/K", &done),
            ("notify", "channel:security", &dry),
            ("run_command", "instances:i-1\u{1b}", &failed),
        ];
        assert_eq!(
            actions_text(actions.into_iter(), ["broken"].into_iter()),
            "disable_access_key access_key:u/K executed; notify channel:security skipped \
             (dry_run); run_command instances:i-1\\u{1b} failed (permission denied); policy \
             failed: broken"
        );
        assert_eq!(actions_text([].into_iter(), [].into_iter()), "no action");
    }
}
