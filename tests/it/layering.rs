//! The layering rules of `src/README.md`, kept true: every `crate::` path in the library's code
//! (test modules aside) names a module of a lower layer, never the crate root's re-exports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The library's modules from the bottom up; a module may use only modules of a lower layer.
/// Modules of one layer know nothing of each other (`policy` decides, `action` executes).
const LAYERS: &[&[&str]] = &[
    &["id", "glob", "clock"],
    &["finding"],
    &["plan", "enrich"],
    &["config"],
    &["policy", "action"],
    &["store"],
    &["notify"],
    &["remediate"],
    &["testing", "aws", "serve"],
    &["pipeline", "replay"],
    &["lambda"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file of `src/` belongs to (`src/policy/lint/calls.rs` -> `policy`); `None` for
/// the crate root and the binaries.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "cmd" | "bin")).then(|| name.to_owned())
}

/// The code lines of a file: comments and the trailing `#[cfg(test)] mod ...` dropped (tests may
/// use the `testing` helpers of a higher layer).
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed == "#[cfg(test)]"
            && lines
                .get(i + 1)
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let code = trimmed.split(" //").next().unwrap_or("");
        out.push((i + 1, code.to_owned()));
    }
    out
}

/// Every `crate::NAME` in `code`.
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `remedy_crate::`, not a path of this crate
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '{')
            .collect();
        found.push(name);
    }
    found
}

#[test]
fn no_module_uses_a_higher_layer_or_the_crate_root() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    let mut arrows: BTreeMap<(String, String), usize> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let Some(module) = module_of(relative) else {
            continue;
        };
        if relative.file_name().is_some_and(|n| n == "tests.rs")
            || relative.components().any(|c| c.as_os_str() == "tests")
        {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            problems.push(format!(
                "{}: module `{module}` is in no layer of this test",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, code) in code_lines(&text) {
            for target in crate_paths(&code) {
                if target == module {
                    continue;
                }
                let at = format!("{}:{line}", relative.display());
                if target.starts_with(|c: char| c.is_ascii_uppercase()) || target.starts_with('{') {
                    problems.push(format!(
                        "{at}: imports the crate root (`crate::{target}`): import from the module \
                         that defines it"
                    ));
                    continue;
                }
                match layer_of(&target) {
                    Some(layer) if layer < own => {
                        *arrows.entry((module.clone(), target)).or_default() += 1;
                    }
                    Some(_) => problems.push(format!(
                        "{at}: `{module}` uses `{target}`, which is not below it"
                    )),
                    None => {} // an external crate's macro path (`crate::` inside a macro) or a helper module
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
    // The test reads what it claims to: the arrows every layer depends on are there.
    for (from, to) in [
        ("policy", "plan"),
        ("remediate", "store"),
        ("pipeline", "remediate"),
    ] {
        assert!(
            arrows.contains_key(&(from.to_owned(), to.to_owned())),
            "no `{from}` -> `{to}` import was read: {arrows:?}"
        );
    }
}

#[test]
fn the_reader_sees_what_it_must_refuse() {
    assert_eq!(
        crate_paths("use crate::remediate::Remediator;"),
        ["remediate"]
    );
    assert_eq!(crate_paths("let x = crate::Finding::new();"), ["Finding"]);
    assert_eq!(crate_paths("use crate::{a, b};"), ["{a"]);
    let lines =
        code_lines("use crate::a;\n// crate::b\n#[cfg(test)]\nmod tests {\nuse crate::c;\n}\n");
    let read: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(read, ["use crate::a;"]);
}
