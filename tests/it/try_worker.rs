//! `scripts/try-worker.sh` run twice at once: the runs share the IAM user the findings name and
//! the files of their directory, so a second run stops at once, saying which run holds what,
//! before it touches anything.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/try-worker.sh");

/// A process holding an exclusive `flock` on `file` until it is dropped.
struct Held(Child);

impl Held {
    fn on(file: &Path) -> Self {
        // `-o`: the lock stays with flock itself, so killing it lets go.
        let mut child = Command::new("flock")
            .arg("-o")
            .arg(file)
            .args(["-c", "echo held; exec sleep 60"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("flock (util-linux) runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "held");
        Self(child)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the script with `try_dir`, an endpoint nothing answers on and locks under `tmp`: what
/// it printed on stderr and its exit code.
fn try_worker(try_dir: &Path, tmp: &Path) -> (Option<i32>, String) {
    let out = Command::new("bash")
        .arg(SCRIPT)
        .env("TRY_DIR", try_dir)
        .env("TMPDIR", tmp)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("REMEDY", "false")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_second_run_stops_at_once_naming_what_the_first_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let try_dir = tmp.path().join("try");
    std::fs::create_dir_all(&try_dir).unwrap();
    std::fs::write(try_dir.join("remedy.toml"), "# the first run's\n").unwrap();

    // The directory is in use.
    {
        let _first = Held::on(&try_dir.join(".lock"));
        let (code, stderr) = try_worker(&try_dir, tmp.path());
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("another run uses {}", try_dir.display())),
            "{stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(try_dir.join("remedy.toml")).unwrap(),
            "# the first run's\n",
            "the first run's files are left alone"
        );
    }

    // The endpoint is in use by a run in another directory.
    let _first = Held::on(&tmp.path().join("remedy-try-worker-http___127_0_0_1_9.lock"));
    let (code, stderr) = try_worker(&try_dir, tmp.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("another run uses http://127.0.0.1:9"),
        "{stderr}"
    );
    assert!(stderr.contains("own TRY_DIR and MOTO_PORT"), "{stderr}");
}
