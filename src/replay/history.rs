//! The inputs of a replay: files, directories searched recursively, or `-` (standard input),
//! plainly or gzip-compressed.
//!
//! GuardDuty's S3 export writes `AWSLogs/<account>/GuardDuty/<region>/<yyyy>/<mm>/<dd>/*.jsonl.gz`:
//! [`expand`] lists a directory's files in path order, so such an export is read day by day (per
//! account and region), and [`open_input`] decompresses a `.gz` file while it is read, so no
//! history is ever held whole.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// An input that cannot be listed or opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{path}`: {message}")]
pub struct HistoryError {
    path: String,
    message: String,
}

impl HistoryError {
    fn new(path: &Path, e: &io::Error) -> Self {
        Self {
            path: path.display().to_string(),
            message: e.to_string().to_lowercase(),
        }
    }

    /// The input.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The files of `inputs` in reading order: a file or `-` as given; a directory's finding files
/// (searched recursively, see [`is_finding_file`]) sorted by the day their path names
/// (`<yyyy>/<mm>/<dd>`, as GuardDuty's S3 export lays them out), then by path, so that the days of
/// every account and region are read together. An input that does not exist
/// is an error, and so is a directory holding no finding file.
pub fn expand(inputs: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, HistoryError> {
    let mut files = Vec::new();
    for input in inputs {
        let input = input.as_ref();
        if input == Path::new("-") {
            files.push(input.to_path_buf());
            continue;
        }
        let meta = std::fs::metadata(input).map_err(|e| HistoryError::new(input, &e))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found)?;
            // Day by day across accounts and regions, then by path.
            found.sort_by_cached_key(|path| (day_of(path), path.clone()));
            if found.is_empty() {
                return Err(HistoryError {
                    path: input.display().to_string(),
                    message: "the directory holds no finding file (`.json`, `.jsonl`, `.ndjson`, \
                              `.gz`)"
                        .to_owned(),
                });
            }
            files.extend(found);
        } else {
            files.push(input.to_path_buf());
        }
    }
    Ok(files)
}

/// The files under `dir`, sorted by path.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), HistoryError> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| HistoryError::new(dir, &e))? {
        let entry = entry.map_err(|e| HistoryError::new(dir, &e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        // Follows links, like reading a named file does.
        let meta = std::fs::metadata(&path).map_err(|e| HistoryError::new(&path, &e))?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if is_finding_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// The day a path names as `.../<yyyy>/<mm>/<dd>/...` (the S3 export's layout; the last such
/// triple), if it names one.
fn day_of(path: &Path) -> Option<(u16, u8, u8)> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    parts.windows(3).rev().find_map(|w| match w {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
        }
        _ => None,
    })
}

/// Whether a directory's file is read as findings: `.json`, `.jsonl`, `.ndjson` or `.gz`, and not
/// hidden (a README or a manifest next to an export is not).
pub fn is_finding_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
    let known = path.extension().is_some_and(|e| {
        ["json", "jsonl", "ndjson", "gz"]
            .iter()
            .any(|k| e.eq_ignore_ascii_case(k))
    });
    known && !hidden
}

/// Whether `path` names a gzip-compressed file (`.gz`).
pub fn is_gzip(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Opens one input for reading: `-` is standard input, a `.gz` file is decompressed as it is
/// read (every gzip member, as `gzip -d` does).
pub fn open_input(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    if path == Path::new("-") {
        return Ok(Box::new(io::stdin()));
    }
    let file = File::open(path)?;
    if is_gzip(path) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            BufReader::with_capacity(64 * 1024, file),
        )))
    } else {
        Ok(Box::new(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn directories_are_listed_in_path_order_and_gzip_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let day = |d: &str| {
            dir.path()
                .join(format!("AWSLogs/{d}/GuardDuty/r/2026/01/{d}"))
        };
        for d in ["10", "02"] {
            std::fs::create_dir_all(day(d)).unwrap();
            let file = File::create(day(d).join("a.jsonl.gz")).unwrap();
            let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            gz.write_all(format!("{{\"day\": \"{d}\"}}\n").as_bytes())
                .unwrap();
            gz.finish().unwrap();
        }
        std::fs::write(dir.path().join(".hidden.json"), "x").unwrap();
        std::fs::write(dir.path().join("README.md"), "x").unwrap();
        let files = expand(&[dir.path()]).unwrap();
        assert_eq!(files.len(), 2);
        assert!(
            files[0].to_string_lossy().ends_with("/02/a.jsonl.gz"),
            "{files:?}"
        );
        assert_eq!(day_of(&files[1]), Some((2026, 1, 10)));
        let mut text = String::new();
        open_input(&files[1])
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"day\": \"10\"}\n");
        let missing = expand(&[dir.path().join("nope")]).unwrap_err();
        assert!(
            missing.to_string().starts_with("cannot read `"),
            "{missing}"
        );
    }
}
