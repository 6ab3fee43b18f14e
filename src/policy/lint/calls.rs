//! Calls: functions that do not exist, and the literal arguments of action constructors.

use std::collections::BTreeSet;
use std::sync::Arc;

use rhai::{AST, ASTNode, Expr, Position, Stmt};

use super::super::error::{DiagnosticKind, PolicyDiagnostic};
use super::Context;
use crate::id::{AccessKeyId, InstanceId, RoleName, UserName};

const USER_NAMES: &str = "IAM user names are 1 to 64 of `[A-Za-z0-9+=,.@_-]`";
const ROLE_NAMES: &str = "IAM role names are 1 to 64 of `[A-Za-z0-9+=,.@_-]`, without a path";

/// What is wrong with an SSM document name, if anything: SSM's form (3 to 128 letters, digits and
/// `_-.`, or a shared document's ARN), and the configured allowlist.
pub(crate) fn document_problem(document: &str, allowed: &[String]) -> Option<String> {
    let name_ok = |n: &str| {
        (3..=128).contains(&n.len())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && !n.contains("..")
    };
    let valid = match document.strip_prefix("arn:") {
        // arn:aws:ssm:REGION:ACCOUNT:document/NAME
        Some(rest) => rest.rsplit_once(":document/").is_some_and(|(head, name)| {
            name_ok(name)
                && head
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-:".contains(&b))
        }),
        None => name_ok(document),
    };
    if !valid {
        return Some(format!(
            "`{document}` is not an SSM document name (3 to 128 letters, digits and `_-.`)"
        ));
    }
    (!allowed.iter().any(|a| a == document)).then(|| {
        format!(
            "document `{document}` is not allowed (allowed: {}; the configuration's \
             `[run_command] documents` lists them)",
            allowed.join(", ")
        )
    })
}

/// An action constructor as the checks see it.
#[derive(Debug, Clone)]
pub(crate) struct Constructor {
    /// Its name.
    pub(crate) name: String,
    /// The argument counts it accepts.
    pub(crate) arities: Vec<usize>,
    /// The arguments that name what a destructive action acts on.
    pub(crate) targets: Vec<usize>,
    /// Whether its actions are destructive.
    pub(crate) destructive: bool,
}

/// Functions rhai's parser handles itself.
const KEYWORDS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "eval",
];

/// A literal argument.
enum Literal {
    Str(String),
    Array(Vec<Literal>),
    Other(&'static str),
}

fn literal(expr: &Expr) -> Option<Literal> {
    Some(match expr {
        Expr::StringConstant(s, _) => Literal::Str(s.to_string()),
        Expr::IntegerConstant(..) => Literal::Other("an integer"),
        Expr::FloatConstant(..) => Literal::Other("a number"),
        Expr::BoolConstant(..) => Literal::Other("a boolean"),
        Expr::CharConstant(..) => Literal::Other("a character"),
        Expr::Unit(_) => Literal::Other("`()`"),
        Expr::Array(items, _) => Literal::Array(items.iter().map(literal).collect::<Option<_>>()?),
        Expr::DynamicConstant(value, _) => {
            if let Ok(s) = value.clone().into_string() {
                Literal::Str(s)
            } else if value.is_array() {
                let items = value.clone().into_array().unwrap_or_default();
                Literal::Array(
                    items
                        .into_iter()
                        .map(|v| {
                            v.into_string()
                                .map(Literal::Str)
                                .unwrap_or(Literal::Other("a value"))
                        })
                        .collect(),
                )
            } else {
                Literal::Other("a constant")
            }
        }
        _ => return None,
    })
}

/// Every checked call of the policy, with its position.
pub(crate) fn check(
    file: &str,
    source: &Arc<str>,
    ast: &AST,
    context: &Context<'_>,
    problems: &mut Vec<PolicyDiagnostic>,
) {
    let mut declared: BTreeSet<String> = BTreeSet::new();
    for f in ast.iter_functions() {
        declared.insert(f.name.to_owned());
        declared.extend(f.params.iter().map(|p| (*p).to_owned()));
    }
    let mut calls: Vec<(String, Vec<Expr>, Position)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(decl, ..))) => {
                declared.insert(decl.0.as_str().to_owned());
            }
            Some(ASTNode::Expr(Expr::FnCall(call, pos)))
            | Some(ASTNode::Stmt(Stmt::FnCall(call, pos)))
                if call.namespace.is_empty() && !call.is_operator_call() =>
            {
                calls.push((call.name.to_string(), call.args.to_vec(), *pos));
            }
            _ => {}
        }
        true
    });
    let mut report = |kind: DiagnosticKind, pos: Position, message: String, help: &str| {
        let d = PolicyDiagnostic::new(kind, file, message).with_help(help.to_owned());
        problems.push(match (pos.line(), pos.position()) {
            (Some(line), Some(column)) => d.at(source, line, column),
            _ => d.in_source(source),
        });
    };
    for (name, args, pos) in calls {
        if let Some(constructor) = context.constructors.iter().find(|c| c.name == name) {
            if !constructor.arities.contains(&args.len()) {
                let counts: Vec<String> = constructor
                    .arities
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                report(
                    DiagnosticKind::InvalidArgument,
                    pos,
                    format!(
                        "`{name}` takes {} arguments, not {}",
                        counts.join(" or "),
                        args.len()
                    ),
                    "the author's guide (policies/README.md) lists each action's arguments",
                );
                continue;
            }
            for (message, help) in arguments(constructor, &args, context) {
                let kind = if message.contains("would touch") {
                    DiagnosticKind::OutOfScope
                } else {
                    DiagnosticKind::InvalidArgument
                };
                report(kind, pos, message, help);
            }
            continue;
        }
        let known = declared.contains(&name)
            || KEYWORDS.contains(&name.as_str())
            || context.functions.contains(&name);
        if !known {
            let suggestion = super::closest(
                &name,
                context
                    .constructors
                    .iter()
                    .map(|c| c.name.as_str())
                    .chain(context.functions.iter().map(String::as_str)),
            );
            let help = match suggestion {
                Some(s) => format!("did you mean `{s}`? Is a host action kind missing?"),
                None => "is a host action kind missing? (`[host_kinds]` in the configuration, or \
                         `PolicySetBuilder::with_action_kind`)"
                    .to_owned(),
            };
            report(
                DiagnosticKind::UnknownFunction,
                pos,
                format!("no function `{name}`"),
                &help,
            );
        }
    }
}

/// What is wrong with the literal arguments of one constructor call.
fn arguments(
    constructor: &Constructor,
    args: &[Expr],
    context: &Context<'_>,
) -> Vec<(String, &'static str)> {
    let name = constructor.name.as_str();
    let mut found = Vec::new();
    let lit = |i: usize| args.get(i).and_then(literal);
    let not_string = |i: usize, what: &str, found: &mut Vec<(String, &'static str)>| {
        if let Some(Literal::Other(t)) = lit(i) {
            found.push((
                format!("`{name}`: {what} must be a string, not {t}"),
                "pass a string (or a finding property such as `finding.user_name`)",
            ));
        }
    };
    match name {
        "disable_access_key" => {
            not_string(0, "the user name", &mut found);
            not_string(1, "the access key id", &mut found);
            if let Some(Literal::Str(u)) = lit(0)
                && let Err(e) = UserName::new(u)
            {
                found.push((
                    format!("`{name}`: {e}"),
                    "IAM user names are 1 to 64 of `[A-Za-z0-9+=,.@_-]`",
                ));
            }
            if let Some(Literal::Str(k)) = lit(1)
                && let Err(e) = AccessKeyId::new(k)
            {
                found.push((format!("`{name}`: {e}"), "access key ids look like `AKIA…`"));
            }
        }
        "run_command" => {
            not_string(0, "the document", &mut found);
            if let Some(Literal::Str(d)) = lit(0)
                && let Some(why) = document_problem(&d, context.documents)
            {
                found.push((
                    format!("`{name}`: {why}"),
                    "allow the document in the configuration (`[run_command] documents`) or use an allowed one",
                ));
            }
            let ids = match lit(1) {
                Some(Literal::Str(s)) => vec![s],
                Some(Literal::Array(items)) => items
                    .into_iter()
                    .filter_map(|i| match i {
                        Literal::Str(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for id in ids {
                if let Err(e) = InstanceId::new(id) {
                    found.push((
                        format!("`{name}`: {e}"),
                        "instance ids look like `i-0123456789abcdef0`",
                    ));
                }
            }
        }
        "start_automation" | "start_execution" => {
            let (what, help) = if name == "start_automation" {
                (
                    "document",
                    "allow the document in `[runbooks] documents` or use an allowed one",
                )
            } else {
                (
                    "state machine",
                    "allow the state machine in `[runbooks] state_machines` or use an allowed one",
                )
            };
            not_string(0, &format!("the {what}"), &mut found);
            if let Some(Literal::Str(target)) = lit(0) {
                let allowed = if name == "start_automation" {
                    context.runbooks.allows_document(&target)
                } else {
                    context.runbooks.allows_state_machine(&target)
                };
                if let Some(why) =
                    crate::policy::actions::runbook::not_allowed(what, &target, allowed)
                {
                    found.push((format!("`{name}`: {why}"), help));
                }
            }
        }
        "isolate_instance" => {
            not_string(0, "the instance id", &mut found);
            if let Some(Literal::Str(i)) = lit(0)
                && let Err(e) = InstanceId::new(i)
            {
                found.push((
                    format!("`{name}`: {e}"),
                    "instance ids look like `i-0123456789abcdef0`",
                ));
            }
        }
        "notify" => {
            not_string(0, "the channel", &mut found);
            not_string(1, "the message", &mut found);
        }
        "revoke_role_sessions" => {
            not_string(0, "the role name", &mut found);
            if let Some(Literal::Str(r)) = lit(0)
                && let Err(e) = RoleName::new(r)
            {
                found.push((format!("`{name}`: {e}"), ROLE_NAMES));
            }
        }
        "disable_console_login" => {
            not_string(0, "the user name", &mut found);
            if let Some(Literal::Str(u)) = lit(0)
                && let Err(e) = UserName::new(u)
            {
                found.push((format!("`{name}`: {e}"), USER_NAMES));
            }
        }
        "quarantine_principal" => {
            not_string(0, "the kind", &mut found);
            not_string(1, "the name", &mut found);
            let kind = match lit(0) {
                Some(Literal::Str(k)) => Some(k),
                _ => None,
            };
            if let Some(k) = &kind
                && k != "user"
                && k != "role"
            {
                found.push((
                    format!("`{name}`: the kind must be \"user\" or \"role\", not `{k}`"),
                    "quarantine_principal(\"user\", finding.user_name) or (\"role\", …)",
                ));
            }
            if let Some(Literal::Str(n)) = lit(1) {
                let problem = match kind.as_deref() {
                    Some("user") => UserName::new(n).err().map(|e| (e, USER_NAMES)),
                    Some("role") => RoleName::new(n).err().map(|e| (e, ROLE_NAMES)),
                    _ => None,
                };
                if let Some((e, help)) = problem {
                    found.push((format!("`{name}`: {e}"), help));
                }
            }
        }
        _ => {}
    }
    if let Some(reason_at) = constructor
        .arities
        .iter()
        .max()
        .map(|n| n.saturating_sub(1))
        && args.len() > *constructor.arities.iter().min().unwrap_or(&0)
        && let Some(Literal::Other(t)) = lit(reason_at)
    {
        found.push((
            format!("`{name}`: the reason must be a string, not {t}"),
            "write the reason as a string",
        ));
    }
    if constructor.destructive && !context.reach {
        for &i in &constructor.targets {
            let literal_target = match lit(i) {
                Some(Literal::Str(s)) => Some(s),
                Some(Literal::Array(items)) => items.into_iter().find_map(|l| match l {
                    Literal::Str(s) => Some(s),
                    _ => None,
                }),
                _ => None,
            };
            if let Some(target) = literal_target {
                found.push((
                    format!(
                        "`{name}` would touch `{target}`, written in the policy: a policy acts only \
                         on what its finding names"
                    ),
                    "take the target from the finding (`finding.user_name`, `finding.instance_id`, \
                     ...); a policy that must reach further declares `const REACH = \"account\"` \
                     and the configuration allows it (`[reach] account`)",
                ));
            }
        }
    }
    found
}
