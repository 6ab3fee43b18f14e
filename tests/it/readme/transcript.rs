//! The README's command transcripts, run again and compared (shared by the `it` and `moto` test
//! binaries).
//!
//! A fenced block that shows commands and what they print is preceded by a marker:
//!
//! - `<!-- output -->`: run by `tests/it/readme.rs` in a temporary directory holding links to
//!   the repository's `policies/` and `examples/`, without AWS;
//! - `<!-- output: moto NAME -->`: run by `tests/moto/readme.rs` against moto, after the setup
//!   `NAME` prepared the directory;
//! - `<!-- output: illustrative -->`: not run (its text says why).
//!
//! In the block, a line `$ COMMAND` is run with `bash` in that directory (`remedy` is the built
//! binary; the quick start's `cargo run … --` means the same), and the lines after it, up to the
//! next `$ ` line, are what it prints: stdout and stderr as a terminal shows them (commands that
//! print on both redirect one). A line `…` stands for any number of lines. Before comparing, both
//! sides are masked: times, hexadecimal ids and digests, access key ids, UUIDs, `line N` and
//! temporary paths. An id the README shows in a command is replaced by the one the run printed
//! in the same place of an earlier line. `REMEDY_BLESS=1` rewrites the blocks with what the run
//! printed (keeping the `…` lines where the run still matches around them).
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Held while a test reads and rewrites README.md, so blessings do not overwrite each other.
pub static README_LOCK: Mutex<()> = Mutex::new(());

/// The README's path.
pub fn readme_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")
}

/// Whether the run rewrites the README instead of comparing (`REMEDY_BLESS=1`).
pub fn blessing() -> bool {
    std::env::var_os("REMEDY_BLESS").is_some()
}

/// The line `…`: any number of lines.
pub const ELISION: &str = "…";

/// One fenced block of the README.
#[derive(Debug, Clone)]
pub struct Block {
    /// The marker's text after `output` (`""`, `moto NAME`, `illustrative`), or `None` without
    /// a marker.
    pub marker: Option<String>,
    /// The 1-based line of the opening fence.
    pub line: usize,
    /// The byte range of the block's content (after the opening fence's line, up to the closing
    /// fence).
    pub content: std::ops::Range<usize>,
}

impl Block {
    /// The block's content.
    pub fn text<'a>(&self, readme: &'a str) -> &'a str {
        &readme[self.content.clone()]
    }

    /// Whether the block shows a command transcript (a line starting with `$ `).
    pub fn is_transcript(&self, readme: &str) -> bool {
        self.text(readme).lines().any(|l| l.starts_with("$ "))
    }
}

/// Every fenced block of `readme`, with the `<!-- output… -->` marker on the line before it.
pub fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut open: Option<(usize, usize, Option<String>)> = None; // (line, content start, marker)
    let mut previous: Option<&str> = None;
    for (n, line) in readme.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        let fence = trimmed.starts_with("```");
        match &open {
            None if fence => {
                let marker = previous.and_then(|p| {
                    let inner = p.trim().strip_prefix("<!--")?.strip_suffix("-->")?.trim();
                    let rest = inner.strip_prefix("output")?;
                    Some(rest.trim_start_matches(':').trim().to_owned())
                });
                open = Some((n + 1, offset + line.len(), marker));
            }
            Some((start_line, start, marker)) if fence && trimmed == "```" => {
                out.push(Block {
                    marker: marker.clone(),
                    line: *start_line,
                    content: *start..offset,
                });
                open = None;
            }
            _ => {}
        }
        previous = Some(trimmed);
        offset += line.len();
    }
    out
}

/// One command of a transcript and what the README says it prints.
#[derive(Debug, Clone)]
pub struct Step {
    /// The command, as the README shows it (after `$ `).
    pub command: String,
    /// The lines the README shows after it.
    pub expected: Vec<String>,
}

/// The steps of a transcript block.
pub fn steps(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in text.lines() {
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_owned(),
                expected: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.to_owned());
        }
    }
    steps
}

/// Where and how the commands of a block run.
#[derive(Debug, Clone)]
pub struct Shell {
    /// The working directory.
    pub dir: PathBuf,
    /// Variables set for every command (the environment is otherwise this process's, without
    /// `RUST_LOG` and, unless given here, the AWS settings).
    pub env: Vec<(String, String)>,
}

impl Shell {
    /// A shell in `dir` that finds the built `remedy` first on its `PATH`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            env: Vec::new(),
        }
    }

    /// Adds a variable.
    pub fn with_env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// Runs `command` (the quick start's `cargo run … --` is the built binary): what a terminal
    /// shows, stdout and stderr as they were written.
    pub fn run(&self, command: &str) -> String {
        let command = as_built(command);
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_remedy"));
        let bin_dir = bin.parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(format!("exec 2>&1\n{command}"))
            .current_dir(&self.dir)
            .env("PATH", path)
            .env_remove("RUST_LOG")
            .env_remove("REMEDY_THREADS");
        for key in [
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
            "AWS_PROFILE",
            "REMEDY_MOTO",
        ] {
            c.env_remove(key);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// `command` with the README's `cargo run` prefixes replaced by `remedy`.
fn as_built(command: &str) -> String {
    let mut command = command.to_owned();
    for prefix in [
        "cargo run --no-default-features --features cli --bin remedy -- ",
        "cargo run --release --bin remedy -- ",
        "cargo run --bin remedy -- ",
    ] {
        command = command.replace(prefix, "remedy ");
    }
    command
}

/// A mismatch between a block and its run.
#[derive(Debug)]
pub struct Stale {
    /// The README line of the block.
    pub line: usize,
    /// The command whose output differed.
    pub command: String,
    /// What the README shows.
    pub expected: Vec<String>,
    /// What the run printed.
    pub actual: Vec<String>,
}

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "README.md block at line {}: `$ {}` printed something else",
            self.line, self.command
        )?;
        writeln!(f, "--- README (masked)")?;
        for l in &self.expected {
            writeln!(f, "  {}", mask(l).0)?;
        }
        writeln!(f, "+++ run (masked)")?;
        for l in &self.actual {
            writeln!(f, "  {}", mask(l).0)?;
        }
        Ok(())
    }
}

/// Runs the transcript `block` of `readme` in `shell`: the block's text as the run printed it
/// (for blessing), and what differed.
pub fn run_block(readme: &str, block: &Block, shell: &Shell) -> (String, Vec<Stale>) {
    let mut substitutions: BTreeMap<String, String> = BTreeMap::new();
    let mut text = String::new();
    let mut stale = Vec::new();
    for step in steps(block.text(readme)) {
        let mut command = step.command.clone();
        for (from, to) in &substitutions {
            command = command.replace(from, to);
        }
        let output = shell.run(&command);
        let actual: Vec<String> = output.lines().map(str::to_owned).collect();
        text.push_str("$ ");
        text.push_str(&step.command);
        text.push('\n');
        match align(&step.expected, &actual) {
            Some(pairs) => {
                for (e, a) in &pairs {
                    for (from, to) in mask(&step.expected[*e])
                        .1
                        .into_iter()
                        .zip(mask(&actual[*a]).1)
                    {
                        if from != to {
                            substitutions.insert(from, to);
                        }
                    }
                }
                for line in &step.expected {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            None => {
                for mut line in blessed(&step.expected, &actual) {
                    // The ids this run printed for ones the README shows stay the README's.
                    for (readme_id, run_id) in &substitutions {
                        line = line.replace(run_id, readme_id);
                    }
                    text.push_str(&line);
                    text.push('\n');
                }
                stale.push(Stale {
                    line: block.line,
                    command: step.command.clone(),
                    expected: step.expected.clone(),
                    actual,
                });
            }
        }
    }
    (text, stale)
}

/// Pairs each line of `expected` that is not `…` with a line of `actual` equal to it once both
/// are masked, in order, every line of `actual` covered by a pair or an elision; `None` when
/// they do not match.
pub fn align(expected: &[String], actual: &[String]) -> Option<Vec<(usize, usize)>> {
    let e: Vec<String> = expected.iter().map(|l| mask(l).0).collect();
    let a: Vec<String> = actual.iter().map(|l| mask(l).0).collect();
    // reachable[i][j]: expected[i..] matches actual[j..]
    let (n, m) = (e.len(), a.len());
    let mut ok = vec![vec![false; m + 1]; n + 1];
    ok[n][m] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            ok[i][j] = if e[i] == ELISION {
                ok[i + 1][j] || (j < m && ok[i][j + 1])
            } else {
                j < m && e[i] == a[j] && ok[i + 1][j + 1]
            };
        }
    }
    if !ok[0][0] {
        return None;
    }
    let (mut i, mut j, mut pairs) = (0, 0, Vec::new());
    while i < n {
        if e[i] == ELISION {
            if ok[i + 1][j] {
                i += 1;
            } else {
                j += 1;
            }
        } else {
            pairs.push((i, j));
            i += 1;
            j += 1;
        }
    }
    Some(pairs)
}

/// The lines to write for a step whose output changed: all of `actual`, or, when the README
/// abridged it with one `…`, as many lines before and after it as the README showed.
fn blessed(expected: &[String], actual: &[String]) -> Vec<String> {
    let elisions: Vec<usize> = (0..expected.len())
        .filter(|&i| expected[i] == ELISION)
        .collect();
    if let [at] = elisions[..] {
        let (head, tail) = (at, expected.len() - at - 1);
        if head + tail < actual.len() {
            let mut out = actual[..head].to_vec();
            out.push(ELISION.to_owned());
            out.extend_from_slice(&actual[actual.len() - tail..]);
            return out;
        }
    }
    actual.to_vec()
}

/// `line` with what changes from run to run replaced by placeholders, and the replaced values in
/// order.
pub fn mask(line: &str) -> (String, Vec<String>) {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let found = if boundary {
            time_len(&chars[i..])
                .map(|n| (n, "<time>"))
                .or_else(|| uuid_len(&chars[i..]).map(|n| (n, "<uuid>")))
                .or_else(|| key_len(&chars[i..]).map(|n| (n, "<key>")))
                .or_else(|| {
                    // Instance ids (`i-0abc…`) are the finding's, and stable.
                    let instance = i >= 2 && chars[i - 2] == 'i' && chars[i - 1] == '-';
                    hex_len(&chars[i..])
                        .filter(|_| !instance)
                        .map(|n| (n, "<hex>"))
                })
                .or_else(|| tmp_len(&chars[i..]).map(|n| (n, "<tmp>")))
                .or_else(|| line_number_len(&chars[i..]).map(|n| (n, "line <n>")))
        } else {
            None
        };
        let found = found.or_else(|| {
            ["\"line\":", "\"duration_ms\":"]
                .into_iter()
                .find_map(|key| {
                    let n = json_number_len(&chars[i..], key)?;
                    Some((
                        n,
                        if key.contains("line") {
                            "\"line\":<n>"
                        } else {
                            "\"duration_ms\":<n>"
                        },
                    ))
                })
        });
        match found {
            Some((n, placeholder)) => {
                tokens.push(chars[i..i + n].iter().collect());
                out.push_str(placeholder);
                i += n;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    // `remedy audit summary` says `at T` for a trail of one second and `T to T` otherwise.
    let out = out.replace("<time> to <time>", "at <time>");
    (out, tokens)
}

fn ends_word(chars: &[char], n: usize) -> bool {
    chars.get(n).is_none_or(|c| !c.is_ascii_alphanumeric())
}

/// `2026-12-07T23:06:53.123Z`, `2026-12-07 23:06:53Z`, `2026-12-07T23:06:53+00:00`.
fn time_len(c: &[char]) -> Option<usize> {
    let shape = "dddd-dd-dd?dd:dd:dd";
    if c.len() < shape.len() {
        return None;
    }
    for (k, s) in shape.chars().enumerate() {
        let ok = match s {
            'd' => c[k].is_ascii_digit(),
            '?' => c[k] == 'T' || c[k] == ' ',
            _ => c[k] == s,
        };
        if !ok {
            return None;
        }
    }
    let mut n = shape.len();
    if c.get(n) == Some(&'.') {
        n += 1;
        while c.get(n).is_some_and(char::is_ascii_digit) {
            n += 1;
        }
    }
    if c.get(n) == Some(&'Z') {
        n += 1;
    } else if c.len() >= n + 6 && c[n] == '+' && c[n + 3] == ':' {
        n += 6;
    }
    Some(n)
}

fn hex_run(c: &[char]) -> usize {
    c.iter()
        .take_while(|ch| ch.is_ascii_digit() || ('a'..='f').contains(*ch))
        .count()
}

/// A lowercase hexadecimal id or digest of 12 or more digits (with a digit and a letter among
/// them: an account id is not one).
fn hex_len(c: &[char]) -> Option<usize> {
    let n = hex_run(c);
    let mixed =
        c[..n].iter().any(char::is_ascii_digit) && c[..n].iter().any(char::is_ascii_lowercase);
    (n >= 12 && ends_word(c, n) && mixed).then_some(n)
}

fn uuid_len(c: &[char]) -> Option<usize> {
    let mut n = 0;
    for (k, want) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if k > 0 {
            if c.get(n) != Some(&'-') {
                return None;
            }
            n += 1;
        }
        if hex_run(&c[n..]) != want {
            return None;
        }
        n += want;
    }
    ends_word(c, n).then_some(n)
}

/// An access key id: `AKIA` or `ASIA` and 16 more characters.
fn key_len(c: &[char]) -> Option<usize> {
    let prefix: String = c.iter().take(4).collect();
    let ok = (prefix == "AKIA" || prefix == "ASIA")
        && c.len() >= 20
        && c[4..20]
            .iter()
            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit())
        && ends_word(c, 20);
    ok.then_some(20)
}

/// A temporary path, up to the next space or quote.
fn tmp_len(c: &[char]) -> Option<usize> {
    let prefix: String = c.iter().take(5).collect();
    (prefix == "/tmp/").then(|| {
        c.iter()
            .take_while(|ch| !ch.is_whitespace() && !matches!(ch, '"' | '\'' | '`' | ')'))
            .count()
    })
}

/// `"key":43` for a JSON key `"key":` (given with its colon).
fn json_number_len(c: &[char], key: &str) -> Option<usize> {
    let k = key.chars().count();
    if c.len() <= k || c[..k].iter().copied().ne(key.chars()) {
        return None;
    }
    let digits = c[k..].iter().take_while(|ch| ch.is_ascii_digit()).count();
    (digits > 0).then_some(k + digits)
}

/// `line 43`.
fn line_number_len(c: &[char]) -> Option<usize> {
    let prefix: String = c.iter().take(5).collect();
    if prefix != "line " {
        return None;
    }
    let digits = c[5..].iter().take_while(|ch| ch.is_ascii_digit()).count();
    (digits > 0 && ends_word(c, 5 + digits)).then_some(5 + digits)
}

/// Rewrites `block`'s content in the README file with `text` (the README must not have changed
/// since `readme` was read; hold [`README_LOCK`]).
pub fn bless(readme: &mut String, block: &Block, text: &str) {
    readme.replace_range(block.content.clone(), text);
}

/// A temporary directory with links to the repository's `policies/` and `examples/`, as the
/// README's commands expect to find them.
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["policies", "examples", "scripts"] {
        std::os::unix::fs::symlink(root.join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Runs every block of the README whose marker satisfies `take` (given the marker), each in the
/// shell `shell` makes for it (`None`: a marker this binary does not know, which fails the test);
/// compares, or rewrites the README with `REMEDY_BLESS=1`. Returns how many blocks ran.
pub fn check_readme(
    mut take: impl FnMut(&str) -> bool,
    mut shell: impl FnMut(&str) -> Option<(Shell, Box<dyn std::any::Any>)>,
) -> usize {
    let _lock = README_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = readme_path();
    let readme = std::fs::read_to_string(&path).unwrap();
    let mut rewritten = readme.clone();
    let mut stale = Vec::new();
    let mut ran = 0;
    // From the last block to the first, so earlier byte ranges stay valid while rewriting.
    let blocks = blocks(&readme);
    let mut results = Vec::new();
    for block in &blocks {
        let Some(marker) = block.marker.as_deref() else {
            continue;
        };
        if !take(marker) {
            continue;
        }
        let (sh, _guard) = shell(marker)
            .unwrap_or_else(|| panic!("README.md line {}: unknown marker `{marker}`", block.line));
        let (text, mut differs) = run_block(&readme, block, &sh);
        ran += 1;
        stale.append(&mut differs);
        results.push((block.clone(), text));
    }
    if blessing() {
        for (block, text) in results.iter().rev() {
            bless(&mut rewritten, block, text);
        }
        if rewritten != readme {
            std::fs::write(&path, rewritten).unwrap();
        }
        return ran;
    }
    assert!(
        stale.is_empty(),
        "{}\nthe README's output is stale: run with REMEDY_BLESS=1 (see README, Tests)",
        stale
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    ran
}
