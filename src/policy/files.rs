//! Reading a policy directory: regular files of bounded size only, links that stay inside the
//! directory, UTF-8 text (a byte-order mark dropped, UTF-16 named).

use std::path::Path;
use std::sync::Arc;

use super::error::{DiagnosticKind, PolicyDiagnostic};

/// The largest policy or helper file read (1 MiB): a policy is a short script.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The text of a policy file: UTF-8 (a byte-order mark is dropped); UTF-16 and other encodings
/// are refused with what to do.
pub(crate) fn policy_text(bytes: Vec<u8>) -> Result<String, String> {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err("the file is UTF-16; save it as UTF-8".to_owned());
    }
    if bytes.contains(&0) {
        return Err(
            "the file holds NUL bytes: it is not UTF-8 text (UTF-16 or binary?)".to_owned(),
        );
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("the file is not UTF-8 text ({e}); save it as UTF-8"))
}

/// How deep `from_dir` looks into subdirectories for helper modules.
const MAX_DIR_DEPTH: usize = 8;

pub(crate) fn collect_files(
    root: &Path,
    dir: &Path,
    depth: usize,
    files: &mut Vec<(String, Arc<str>)>,
    problems: &mut Vec<PolicyDiagnostic>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(PolicyDiagnostic::new(
                DiagnosticKind::Io,
                dir.display().to_string(),
                format!("cannot read the policy directory: {e}"),
            ));
            return;
        }
    };
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let problem = |message: String| {
            PolicyDiagnostic::new(DiagnosticKind::Encoding, relative.clone(), message)
        };
        // Links are followed only when they stay inside the directory.
        let Ok(link) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if link.file_type().is_symlink() {
            let inside = path
                .canonicalize()
                .is_ok_and(|target| target.starts_with(&canonical_root));
            if !inside {
                if name.ends_with(".rhai") {
                    problems.push(problem(
                        "a link that leaves the policy directory (or points nowhere) is not read"
                            .to_owned(),
                    ));
                }
                continue;
            }
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if depth < MAX_DIR_DEPTH {
                collect_files(root, &path, depth + 1, files, problems);
            }
            continue;
        }
        if !name.ends_with(".rhai") {
            continue;
        }
        if !meta.is_file() {
            problems.push(problem(
                "not a regular file (a pipe, a device or a socket) is not read".to_owned(),
            ));
            continue;
        }
        if meta.len() > MAX_FILE_BYTES {
            problems.push(problem(format!(
                "the file is larger than {MAX_FILE_BYTES} bytes; a policy is a short script"
            )));
            continue;
        }
        let read = std::fs::File::open(&path).and_then(|f| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_FILE_BYTES + 1), &mut bytes)
                .map(|_| bytes)
        });
        match read {
            Ok(bytes) if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_FILE_BYTES => {
                problems.push(problem(format!(
                    "the file is larger than {MAX_FILE_BYTES} bytes"
                )));
            }
            Ok(bytes) => match policy_text(bytes) {
                Ok(source) => files.push((relative, Arc::from(source))),
                Err(e) => problems.push(problem(e)),
            },
            Err(e) => problems.push(PolicyDiagnostic::new(
                DiagnosticKind::Io,
                relative,
                format!("cannot read the file: {e}"),
            )),
        }
    }
}
