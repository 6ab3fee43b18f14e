//! Reading and validating a policy's metadata constants, and finding positions in its source.

use std::sync::Arc;

use rhai::{AST, ASTFlags, Dynamic, Module, Stmt};

use super::error::{DiagnosticKind, PolicyDiagnostic};

mod position;

use crate::finding::{FindingSource, SeverityBand};
pub(crate) use position::{
    ReturnAt, const_position, exported_const_position, fn_position, imports, literal_paths,
    return_position, string_position,
};

/// A policy's validated metadata.
#[derive(Debug)]
pub(crate) struct Meta {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) applies_to: Vec<String>,
    pub(crate) min_severity: Option<f64>,
    pub(crate) fallback: bool,
    pub(crate) reach_account: bool,
    /// The sources the policy applies to (`const SOURCES`; GuardDuty's findings only by default).
    pub(crate) sources: Vec<FindingSource>,
}

/// The metadata constants a policy may declare.
const KNOWN: &[&str] = &[
    "NAME",
    "DESCRIPTION",
    "APPLIES_TO",
    "MIN_SEVERITY",
    "FALLBACK",
    "REACH",
    "SOURCES",
];

/// Reads and validates the metadata of the policy in `file`; pushes every problem found.
pub(crate) fn read(
    file: &str,
    source: &Arc<str>,
    ast: &AST,
    problems: &mut Vec<PolicyDiagnostic>,
) -> Option<Meta> {
    let mut consts: Vec<(String, Dynamic)> = Vec::new();
    for (name, _, value) in ast.iter_literal_variables(true, false) {
        if KNOWN.contains(&name) {
            consts.push((name.to_owned(), value));
        }
    }
    let get = |name: &str| {
        consts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let before = problems.len();
    let problem =
        |problems: &mut Vec<PolicyDiagnostic>, name: &str, message: String, help: &str| {
            let d = PolicyDiagnostic::new(DiagnosticKind::Metadata, file, message)
                .with_help(help.to_owned());
            let d = match const_position(source, name) {
                Some((line, column)) => d.at(source, line, column),
                None => d.at(source, 1, 1),
            };
            problems.push(d);
        };
    let declared_but_not_literal = |name: &str| const_position(source, name).is_some();

    let stem = file.rsplit('/').next().unwrap_or(file);
    let stem = stem.strip_suffix(".rhai").unwrap_or(stem);
    let name = match get("NAME") {
        None if declared_but_not_literal("NAME") => {
            problem(
                problems,
                "NAME",
                "`NAME` must be a literal string".into(),
                "write `const NAME = \"my-policy\";`",
            );
            String::new()
        }
        None => stem.to_owned(),
        Some(v) => match v.into_string() {
            Ok(s) if valid_name(&s) => s,
            Ok(s) => {
                problem(
                    problems,
                    "NAME",
                    format!("`{s}` is not a valid policy name"),
                    "use 1 to 64 letters, digits and `-_.`",
                );
                s
            }
            Err(t) => {
                problem(
                    problems,
                    "NAME",
                    format!("`NAME` must be a string, not {t}"),
                    "write `const NAME = \"my-policy\";`",
                );
                String::new()
            }
        },
    };
    if get("NAME").is_none() && !declared_but_not_literal("NAME") && !valid_name(&name) {
        problem(
            problems,
            "NAME",
            format!("the file stem `{name}` is not a valid policy name"),
            "rename the file or declare `const NAME = \"my-policy\";` (1 to 64 letters, digits and `-_.`)",
        );
    }

    let description = match get("DESCRIPTION").map(Dynamic::into_string) {
        Some(Ok(s)) if !s.trim().is_empty() => s,
        Some(Ok(_)) => {
            problem(
                problems,
                "DESCRIPTION",
                "`DESCRIPTION` must not be empty".into(),
                "say in one sentence what the policy does",
            );
            String::new()
        }
        Some(Err(t)) => {
            problem(
                problems,
                "DESCRIPTION",
                format!("`DESCRIPTION` must be a string, not {t}"),
                "write `const DESCRIPTION = \"…\";`",
            );
            String::new()
        }
        None if declared_but_not_literal("DESCRIPTION") => {
            problem(
                problems,
                "DESCRIPTION",
                "`DESCRIPTION` must be a literal string".into(),
                "write `const DESCRIPTION = \"…\";`",
            );
            String::new()
        }
        None => {
            problem(
                problems,
                "DESCRIPTION",
                "missing `const DESCRIPTION`".into(),
                "every policy says what it does: `const DESCRIPTION = \"…\";`",
            );
            String::new()
        }
    };

    let applies_help = "write `const APPLIES_TO = \"Recon:IAMUser/*\";` or an array of finding-type globs (`\"*\"` for every finding)";
    let applies_to = match get("APPLIES_TO") {
        None => {
            let message = if declared_but_not_literal("APPLIES_TO") {
                "`APPLIES_TO` must be a literal string or array of strings"
            } else {
                "missing `const APPLIES_TO`"
            };
            problem(problems, "APPLIES_TO", message.into(), applies_help);
            Vec::new()
        }
        Some(v) => {
            let globs: Option<Vec<String>> = if v.is_array() {
                v.into_array()
                    .ok()
                    .and_then(|items| items.into_iter().map(|i| i.into_string().ok()).collect())
            } else {
                v.into_string().ok().map(|s| vec![s])
            };
            match globs {
                Some(globs) if globs.is_empty() => {
                    problem(
                        problems,
                        "APPLIES_TO",
                        "`APPLIES_TO` must name at least one finding type".into(),
                        applies_help,
                    );
                    globs
                }
                Some(globs) => {
                    for glob in &globs {
                        if let Some(why) = invalid_glob(glob) {
                            problem(
                                problems,
                                "APPLIES_TO",
                                format!("`{glob}` is not a finding-type glob: {why}"),
                                applies_help,
                            );
                        }
                    }
                    globs
                }
                None => {
                    problem(
                        problems,
                        "APPLIES_TO",
                        "`APPLIES_TO` must be a string or an array of strings".into(),
                        applies_help,
                    );
                    Vec::new()
                }
            }
        }
    };

    let severity_help = "write a number from 0 to 10 (`5.0`) or a band: `\"low\"`, `\"medium\"`, `\"high\"`, `\"critical\"`";
    let min_severity = match get("MIN_SEVERITY") {
        None if declared_but_not_literal("MIN_SEVERITY") => {
            problem(
                problems,
                "MIN_SEVERITY",
                "`MIN_SEVERITY` must be a literal".into(),
                severity_help,
            );
            None
        }
        None => None,
        Some(v) => {
            let value = v
                .as_float()
                .ok()
                .or_else(|| v.as_int().ok().map(|i| i as f64))
                .or_else(|| v.clone().into_string().ok().and_then(|s| band_floor(&s)));
            match value {
                Some(x) if (0.0..=10.0).contains(&x) => Some(x),
                _ => {
                    problem(
                        problems,
                        "MIN_SEVERITY",
                        format!("`{v}` is not a severity"),
                        severity_help,
                    );
                    None
                }
            }
        }
    };

    let fallback_help = "write `const FALLBACK = true;` (the policy runs only when no other policy chose an action) or leave it out";
    let fallback = match get("FALLBACK") {
        None if declared_but_not_literal("FALLBACK") => {
            problem(
                problems,
                "FALLBACK",
                "`FALLBACK` must be a literal `true` or `false`".into(),
                fallback_help,
            );
            false
        }
        None => false,
        Some(v) => match v.as_bool() {
            Ok(b) => b,
            Err(t) => {
                problem(
                    problems,
                    "FALLBACK",
                    format!("`FALLBACK` must be `true` or `false`, not {t}"),
                    fallback_help,
                );
                false
            }
        },
    };

    let reach_help = "write `const REACH = \"account\";` to act beyond what the finding names (the configuration must allow it too: `[reach] account = [\"<policy name>\"]`), or leave it out";
    let reach_account = match get("REACH").map(Dynamic::into_string) {
        None if declared_but_not_literal("REACH") => {
            problem(
                problems,
                "REACH",
                "`REACH` must be a literal string".into(),
                reach_help,
            );
            false
        }
        None => false,
        Some(Ok(s)) if s == "finding" => false,
        Some(Ok(s)) if s == "account" => true,
        Some(Ok(s)) => {
            problem(
                problems,
                "REACH",
                format!("`REACH` must be `\"finding\"` or `\"account\"`, not `\"{s}\"`"),
                reach_help,
            );
            false
        }
        Some(Err(t)) => {
            problem(
                problems,
                "REACH",
                format!("`REACH` must be a string, not {t}"),
                reach_help,
            );
            false
        }
    };

    let sources_help = "write `const SOURCES = [\"securityhub\", \"ocsf\"];` (sources: guardduty, guardduty-malware-scan, securityhub, ocsf, other; `\"*\"` for all), or leave it out for GuardDuty's findings only";
    let sources = match get("SOURCES") {
        None if declared_but_not_literal("SOURCES") => {
            problem(
                problems,
                "SOURCES",
                "`SOURCES` must be a literal string or array of strings".into(),
                sources_help,
            );
            Vec::new()
        }
        None => vec![FindingSource::GuardDuty],
        Some(v) => match read_sources(v) {
            Ok(sources) => sources,
            Err(why) => {
                problem(problems, "SOURCES", why, sources_help);
                Vec::new()
            }
        },
    };

    let decide = ast
        .iter_functions()
        .find(|f| f.name == "decide")
        .map(|f| f.params.len());
    match decide {
        Some(1) => {}
        Some(n) => {
            let (line, column) = fn_position(source, "decide").unwrap_or((1, 1));
            problems.push(
                PolicyDiagnostic::new(
                    DiagnosticKind::MissingDecide,
                    file,
                    format!("`decide` takes {n} parameters; it must take one (the finding)"),
                )
                .at(source, line, column)
                .with_help("write `fn decide(finding) { … }`"),
            );
        }
        None => problems.push(
            PolicyDiagnostic::new(
                DiagnosticKind::MissingDecide,
                file,
                "missing `fn decide(finding)`",
            )
            .at(source, 1, 1)
            .with_help("a policy returns its actions from `fn decide(finding) { … }`"),
        ),
    }

    (problems.len() == before).then_some(Meta {
        name,
        description,
        applies_to,
        min_severity,
        fallback,
        reach_account,
        sources,
    })
}

/// The sources a policy sees: its `SOURCES`, GuardDuty's alone when its metadata did not read.
pub(crate) fn sources_of(meta: Option<&Meta>) -> &[FindingSource] {
    meta.map_or(&[FindingSource::GuardDuty], |m| m.sources.as_slice())
}

/// The sources `const SOURCES` names: a string or an array of strings, `"*"` for every source.
fn read_sources(value: Dynamic) -> Result<Vec<FindingSource>, String> {
    let names: Vec<String> =
        if value.is_array() {
            value
                .into_array()
                .ok()
                .and_then(|items| items.into_iter().map(|i| i.into_string().ok()).collect())
                .ok_or("`SOURCES` must be a string or an array of strings")?
        } else {
            vec![value.into_string().map_err(|t| {
                format!("`SOURCES` must be a string or an array of strings, not {t}")
            })?]
        };
    if names.is_empty() {
        return Err("`SOURCES` must name at least one source".to_owned());
    }
    let mut sources = Vec::new();
    for name in &names {
        if name == "*" {
            return Ok(FindingSource::all().collect());
        }
        let source = name.parse::<FindingSource>().map_err(|e| e.to_string())?;
        if !sources.contains(&source) {
            sources.push(source);
        }
    }
    Ok(sources)
}

/// The AST `decide` runs with: the compiled policy without the top-level `const` statements whose
/// value is a literal and whose name appears nowhere else in the source.
///
/// rhai runs a script's top level before every call of one of its functions. For most policies
/// the top level is only metadata (`DESCRIPTION`, `APPLIES_TO`, …), read once at load; running it
/// again for each finding costs time (an array literal allocates) and changes nothing: functions see
/// top-level constants only as `global::NAME`, which mentions the name again, and so does any other
/// statement that reads the constant. Imports and every other statement stay.
pub(crate) fn runtime_ast(ast: &AST, source: &str) -> AST {
    let statements = ast.statements();
    let kept: Vec<Stmt> = statements
        .iter()
        .filter(|stmt| match stmt {
            Stmt::Var(decl, flags, _) if flags.contains(ASTFlags::CONSTANT) => {
                let (name, value, _) = &**decl;
                value.get_literal_value(None).is_none() || word_count(source, name.as_str()) != 1
            }
            _ => true,
        })
        .cloned()
        .collect();
    if kept.len() == statements.len() {
        return ast.clone();
    }
    let mut run = ast.clone();
    run.clear_statements();
    run.combine(AST::new(kept, Module::new()));
    run
}

/// How often `word` occurs in `text` as a whole identifier (comments and strings included).
fn word_count(text: &str, word: &str) -> usize {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word)
        .filter(|&(at, _)| {
            let before = text.get(..at).and_then(|t| t.chars().next_back());
            let after = text.get(at + word.len()..).and_then(|t| t.chars().next());
            !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        })
        .count()
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn invalid_glob(glob: &str) -> Option<&'static str> {
    if glob.trim().is_empty() {
        Some("it is empty")
    } else if glob.trim() != glob {
        Some("it starts or ends with whitespace")
    } else if glob
        .chars()
        .any(|c| c.is_whitespace() && c != ' ' || c.is_control())
    {
        // Other sources' types hold spaces (`Software and Configuration Checks/…`); none holds a
        // tab or a line break.
        Some("it holds a tab, a line break or another control character")
    } else {
        None
    }
}

/// The lowest severity of a band named `name` (case-insensitive).
fn band_floor(name: &str) -> Option<f64> {
    name.parse::<SeverityBand>()
        .ok()
        .map(|band| band.min_severity().value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands() {
        assert_eq!(band_floor("High"), Some(7.0));
        assert_eq!(band_floor("severe"), None);
    }

    #[test]
    fn runtime_ast_drops_only_unread_literal_constants() {
        let engine = rhai::Engine::new();
        let source = "const DESCRIPTION = \"d\";\nconst APPLIES_TO = [\"*\"];\nconst A = 1;\nconst B = A + 1;\nconst C = \"c\";\nlet x = 2;\nfn decide(f) { global::C }";
        let ast = engine.compile(source).unwrap();
        let run = runtime_ast(&ast, source);
        let kept: Vec<_> = run
            .statements()
            .iter()
            .filter_map(|s| match s {
                Stmt::Var(decl, ..) => Some(decl.0.as_str()),
                _ => None,
            })
            .collect();
        // `A` is read by `B`; `B` (folded to a literal) and the metadata are read by nothing.
        assert_eq!(kept, ["A", "C", "x"]);
        assert!(run.has_functions());
        assert_eq!(word_count("a_B B Bb B", "B"), 2);
        let plain = engine.compile("fn decide(f) { () }").unwrap();
        assert!(
            runtime_ast(&plain, "fn decide(f) { () }")
                .statements()
                .is_empty()
        );
    }
}
