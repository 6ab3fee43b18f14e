//! An executor that runs a program per action: the way to carry out a host action kind from the
//! CLI (`[host_kinds] NAME = { ..., command = ["./isolate.sh"] }`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{ActionError, ActionRequest, ErrorKind, Executor, Outcome};
use crate::plan::{Action, FindingContext, Source};

/// The exit status a program uses to say "already done" (nothing needed changing).
pub const EXIT_ALREADY_DONE: i32 = 3;

/// At most this much of a program's stdout and stderr is kept; the rest is read and discarded,
/// so a talkative program is never stopped by a full pipe and its exit status decides.
const MAX_OUTPUT: usize = 64 * 1024;

/// At most this many characters of the program's output are kept in the outcome.
const MAX_DETAILS: usize = 1000;

/// Runs a program for each action it is given.
///
/// The program gets the request as one JSON object on stdin (`kind`, `target`, `params`,
/// `destructive`, `finding`, `sources`) and no arguments beyond the configured ones; it is not
/// run through a shell. Exit 0 is `executed` with the first line of stdout as details,
/// [`EXIT_ALREADY_DONE`] is `already_done`, any other status or a signal is `failed` with the
/// last line of stderr. The program runs in a process group of its own: when it is still running
/// after the timeout (or the call is dropped), the whole group is killed (the programs it started
/// too) and the action fails with [`ErrorKind::Timeout`]. Output past 64 KiB per stream is read and
/// discarded. The program may be run again for an action whose earlier attempt was interrupted:
/// make it idempotent.
#[derive(Debug, Clone)]
pub struct CommandExecutor {
    program: PathBuf,
    args: Vec<String>,
    timeout: Duration,
}

impl CommandExecutor {
    /// Runs `program` with `args`; 30 s timeout.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        Self {
            program: program.into(),
            args,
            timeout: Duration::from_secs(30),
        }
    }

    /// Sets how long the program may run.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// What the program reads on stdin.
#[derive(Serialize)]
struct Input<'a> {
    kind: &'a str,
    target: String,
    params: serde_json::Value,
    destructive: bool,
    finding: &'a FindingContext,
    sources: &'a [Source],
}

#[async_trait]
impl Executor for CommandExecutor {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let kind = request.action.kind();
        let input = Input {
            kind: kind.as_str(),
            target: match request.action {
                Action::Custom(custom) => custom.target.clone(),
                other => other.target(),
            },
            params: request.action.params(),
            destructive: request.action.is_destructive(),
            finding: request.finding,
            sources: request.sources,
        };
        // One line: a program may read it with `read` or `readline`.
        let input = match serde_json::to_vec(&input) {
            Ok(mut input) => {
                input.push(b'\n');
                input
            }
            Err(e) => return Outcome::failed(ErrorKind::Other, format!("request to JSON: {e}")),
        };
        let name = self.program.display().to_string();
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let spawned = command.spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                return Outcome::failed(
                    ErrorKind::Unavailable,
                    format!("cannot run `{name}`: {e}"),
                );
            }
        };
        // Ends the program's whole group unless it finished: on timeout, and when this call is
        // dropped (a cancelled caller) while the program runs.
        let mut group = Group(child.id());
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Outcome::failed(
                ErrorKind::Other,
                format!("`{name}` has no standard streams"),
            );
        };
        let run = async {
            // A program that does not read its input is not an error.
            let _ = stdin.write_all(&input).await;
            drop(stdin);
            let (out, err) = tokio::join!(read_capped(stdout), read_capped(stderr));
            (child.wait().await, out, err)
        };
        let (status, out, err) = match tokio::time::timeout(self.timeout, run).await {
            Ok(done) => {
                group.0 = None;
                done
            }
            Err(_) => {
                return Outcome::Failed(ActionError::new(
                    ErrorKind::Timeout,
                    format!(
                        "`{name}` did not finish within {} s and was killed; its effect is unknown",
                        self.timeout.as_secs()
                    ),
                ));
            }
        };
        let status = match status {
            Ok(status) => status,
            Err(e) => return Outcome::failed(ErrorKind::Other, format!("`{name}`: {e}")),
        };
        let first_out = first_line(&out);
        match status.code() {
            Some(0) => Outcome::executed(if first_out.is_empty() {
                format!("`{name}` carried out `{kind}`")
            } else {
                first_out
            }),
            Some(EXIT_ALREADY_DONE) => Outcome::already_done(if first_out.is_empty() {
                format!("`{name}`: `{kind}` was already in place")
            } else {
                first_out
            }),
            code => {
                let why = last_line(&err);
                let status = code.map_or_else(|| "a signal".to_owned(), |c| format!("status {c}"));
                Outcome::failed(
                    ErrorKind::Other,
                    if why.is_empty() {
                        format!("`{name}` ended with {status}")
                    } else {
                        format!("`{name}` ended with {status}: {why}")
                    },
                )
            }
        }
    }
}

/// The first [`MAX_OUTPUT`] bytes of `stream`; the rest is read to its end and discarded.
async fn read_capped(mut stream: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return bytes,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(bytes.len());
                bytes.extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
            }
        }
    }
}

/// A running program's process group (its pid: the program leads its own group), killed on drop
/// unless cleared.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.0.and_then(|pid| i32::try_from(pid).ok()) {
            // The group may be gone already; nothing else to do then.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    line.unwrap_or_default().chars().take(MAX_DETAILS).collect()
}

fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().map(str::trim).rfind(|l| !l.is_empty());
    line.unwrap_or_default().chars().take(MAX_DETAILS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Status;
    use crate::plan::{ActionKind, CustomAction};

    fn isolate() -> Action {
        Action::Custom(CustomAction {
            kind: ActionKind::new("quarantine_instance").unwrap(),
            params: serde_json::json!({"instance_id": "i-0abc"})
                .as_object()
                .cloned()
                .unwrap(),
            target: "i-0abc".into(),
            destructive: true,
        })
    }

    async fn run(script: &str, timeout: Duration) -> Outcome {
        let exec =
            CommandExecutor::new("/bin/sh", vec!["-c".into(), script.into()]).with_timeout(timeout);
        let finding = crate::testing::context("f-1", "Backdoor:EC2/C&CActivity.B").unwrap();
        let action = isolate();
        exec.execute(&ActionRequest::new(&action, &finding)).await
    }

    #[tokio::test]
    async fn the_program_reads_the_request_and_its_status_is_the_outcome() {
        let done = run(
            r#"read -r line; case "$line" in *'"target":"i-0abc"'*'"finding_id":"f-1"'*) echo "isolated i-0abc";; *) exit 9;; esac"#,
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(done.status(), Status::Executed, "{done}");
        assert!(done.to_string().contains("isolated i-0abc"));

        let already = run("exit 3", Duration::from_secs(10)).await;
        assert_eq!(already.status(), Status::AlreadyDone);

        let failed = run(
            "echo 'no such instance' >&2; exit 1",
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(failed.status(), Status::Failed);
        assert!(failed.to_string().contains("no such instance"), "{failed}");
    }

    #[tokio::test]
    async fn a_program_past_its_timeout_is_killed_and_fails() {
        let slow = run("sleep 30", Duration::from_millis(200)).await;
        assert_eq!(slow.status(), Status::Failed);
        assert!(slow.to_string().contains("timeout"), "{slow}");
    }

    #[tokio::test]
    async fn output_past_the_cap_is_drained_and_the_status_decides() {
        // 1 MiB on stdout and on stderr, far past the pipe's buffer and the 64 KiB kept.
        let done = run(
            "head -c 1048576 /dev/zero | tr '\\0' 'x'; head -c 1048576 /dev/zero >&2; echo; exit 0",
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(done.status(), Status::Executed, "{done}");
    }

    /// Whether process `pid` is gone (or a zombie waiting for its parent).
    fn gone(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|s| s.trim_start().starts_with('Z'))
        })
    }

    #[tokio::test]
    async fn a_timed_out_program_leaves_no_process_behind() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let script = format!(
            "sleep 60 & echo $! > {p}; (sleep 60 & echo $! >> {p}; wait) & wait",
            p = pids.display()
        );
        let slow = run(&script, Duration::from_millis(500)).await;
        assert_eq!(slow.status(), Status::Failed, "{slow}");
        let text = std::fs::read_to_string(&pids).unwrap();
        let started: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(started.len(), 2, "{text}");
        // The kill is sent at once; give the kernel a moment to finish the processes.
        for _ in 0..50 {
            if started.iter().all(|pid| gone(pid)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("still running after the timeout: {started:?}");
    }

    #[tokio::test]
    async fn a_missing_program_fails_unavailable() {
        let exec = CommandExecutor::new("/nonexistent/isolate", Vec::new());
        let finding = crate::testing::context("f-1", "Backdoor:EC2/C&CActivity.B").unwrap();
        let action = isolate();
        let outcome = exec.execute(&ActionRequest::new(&action, &finding)).await;
        assert!(outcome.to_string().contains("unavailable"), "{outcome}");
    }
}
