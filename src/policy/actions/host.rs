//! [`HostActionKind`]: action kinds a host registers, callable from scripts like the built-ins.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use rhai::{Dynamic, EvalAltResult, NativeCallContext};
use serde_json::{Map, Value};

use super::ScriptAction;
use super::args::{invalid, reason_arg};
use super::to_json;
use crate::id::InvalidId;
use crate::plan::{Action, ActionKind, CustomAction, FailureKind};
use crate::policy::sandbox::ScriptError;

/// The checks a host runs on the parameters of its action kind; returns the action's target (what it
/// acts on, e.g. an instance id) or a message saying what is wrong.
pub type ActionCheck = dyn Fn(&Map<String, Value>) -> Result<String, String> + Send + Sync;

/// How a host kind names what an action acts on.
#[derive(Clone)]
enum Target {
    /// Not said: allowed only for kinds that are not destructive.
    None,
    /// The value of this parameter, a non-empty string.
    Param(String),
    /// What the check returns.
    Check,
}

/// An action kind registered by the host, callable from scripts like the built-ins.
///
/// A script calls it with the declared parameters in order, optionally followed by a reason:
/// `quarantine_instance(finding.instance_id, "talks to a mining pool")`. The arguments become the
/// parameters of a [`CustomAction`] (`{"instance_id": "i-…"}`).
///
/// **A destructive kind must name its target**, what an action acts on: a parameter
/// ([`HostActionKind::with_target_param`]) or the value a check returns
/// ([`HostActionKind::with_check`]); building a policy set with a destructive kind that names
/// none is an error. The target is what protection checks (against every rule of `[protect]`:
/// users, roles, access keys, instances and, for the finding's own instance, its tags), what the
/// idempotency ledger keys the action by, what records show, and what must be named by the
/// finding (a policy acts only on what its finding names). A check that panics is caught and
/// reported as a failure of the policy.
///
/// ```
/// use remedy::HostActionKind;
///
/// let isolate = HostActionKind::new("quarantine_instance")?
///     .with_params(["instance_id"])
///     .with_target_param("instance_id");
/// assert_eq!(isolate.kind().as_str(), "quarantine_instance");
///
/// let tag = HostActionKind::new("tag_instance")?
///     .with_params(["instance_id", "tag"])
///     .with_check(|params| match params.get("instance_id").and_then(|v| v.as_str()) {
///         Some(id) if id.starts_with("i-") => Ok(id.to_owned()),
///         _ => Err("`instance_id` must be an instance id".to_owned()),
///     });
/// assert!(tag.is_destructive());
/// # Ok::<(), remedy::id::InvalidId>(())
/// ```
#[derive(Clone)]
pub struct HostActionKind {
    kind: ActionKind,
    destructive: bool,
    params: Vec<String>,
    target: Target,
    check: Option<Arc<ActionCheck>>,
}

impl HostActionKind {
    /// A kind named `name` (a lower-case identifier that is not a built-in kind), destructive, with
    /// no parameters and no target yet.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidId> {
        let kind = ActionKind::new(name)?;
        if kind.is_builtin() {
            return Err(InvalidId {
                what: "host action kind",
                value: kind.to_string(),
                expected: "a name that is not a built-in action",
            });
        }
        Ok(Self {
            kind,
            destructive: true,
            params: Vec::new(),
            target: Target::None,
            check: None,
        })
    }

    /// Whether actions of this kind change something (default: true). Destructive actions are
    /// guarded, made idempotent and must name their target.
    pub fn destructive(mut self, destructive: bool) -> Self {
        self.destructive = destructive;
        self
    }

    /// The parameter names, in the order scripts pass them.
    pub fn with_params<I, S>(mut self, params: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.params = params.into_iter().map(Into::into).collect();
        self
    }

    /// The action's target is the value of parameter `name` (which must be declared and be a
    /// non-empty string in every call).
    pub fn with_target_param(mut self, name: impl Into<String>) -> Self {
        self.target = Target::Param(name.into());
        self
    }

    /// The check run on every call: gets the parameters, returns the target or what is wrong.
    /// With a target parameter too, the check validates and the parameter names the target.
    pub fn with_check(
        mut self,
        check: impl Fn(&Map<String, Value>) -> Result<String, String> + Send + Sync + 'static,
    ) -> Self {
        self.check = Some(Arc::new(check));
        if matches!(self.target, Target::None) {
            self.target = Target::Check;
        }
        self
    }

    /// The kind.
    pub fn kind(&self) -> &ActionKind {
        &self.kind
    }

    /// The parameter names.
    pub fn params(&self) -> &[String] {
        &self.params
    }

    /// Whether actions of this kind are destructive.
    pub fn is_destructive(&self) -> bool {
        self.destructive
    }

    /// The parameter that names the target, if the target is a parameter.
    pub fn target_param(&self) -> Option<&str> {
        match &self.target {
            Target::Param(name) => Some(name),
            _ => None,
        }
    }

    /// What is wrong with the kind's registration, if anything: a destructive kind that names no
    /// target, or a target parameter that is not declared.
    pub fn problem(&self) -> Option<String> {
        match &self.target {
            Target::None if self.destructive => Some(format!(
                "host action kind `{}` is destructive but names no target: declare one with \
                 `with_target_param` or `with_check` (protection, the ledger and the records \
                 depend on it)",
                self.kind
            )),
            Target::Param(name) if !self.params.contains(name) => Some(format!(
                "host action kind `{}`: the target parameter `{name}` is not one of its \
                 parameters ({})",
                self.kind,
                self.params.join(", ")
            )),
            _ => None,
        }
    }

    pub(super) fn build(
        &self,
        ctx: &NativeCallContext,
        args: &[&mut Dynamic],
    ) -> Result<ScriptAction, Box<EvalAltResult>> {
        let kind = &self.kind;
        let pos = ctx.call_position();
        let mut params = Map::new();
        for (name, value) in self.params.iter().zip(args.iter()) {
            let value =
                to_json(value, 0).map_err(|m| invalid(pos, format!("{kind}: `{name}` {m}")))?;
            params.insert(name.clone(), value);
        }
        let reason = match args.get(self.params.len()) {
            Some(reason) => reason_arg(kind.as_str(), reason, pos)?,
            None => None,
        };
        let checked = match &self.check {
            Some(check) => {
                let run = AssertUnwindSafe(|| check(&params));
                match catch_unwind(run) {
                    Ok(Ok(target)) => Some(target),
                    Ok(Err(message)) => return Err(invalid(pos, format!("{kind}: {message}"))),
                    Err(payload) => {
                        let what = payload
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| payload.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "no message".to_owned());
                        return Err(ScriptError::raise(
                            FailureKind::HostPanic,
                            format!(
                                "host action `{kind}` panicked while checking its arguments: {what}"
                            ),
                            pos,
                        ));
                    }
                }
            }
            None => None,
        };
        let target = match &self.target {
            Target::Param(name) => match params.get(name).and_then(Value::as_str) {
                Some(t) if !t.trim().is_empty() => t.to_owned(),
                _ => {
                    return Err(invalid(
                        pos,
                        format!("{kind}: `{name}` (the target) must be a non-empty string"),
                    ));
                }
            },
            Target::Check => checked.unwrap_or_default(),
            Target::None => String::new(),
        };
        if self.destructive && target.trim().is_empty() {
            return Err(invalid(pos, format!("{kind}: the action names no target")));
        }
        Ok(ScriptAction {
            action: Action::Custom(CustomAction {
                kind: kind.clone(),
                params,
                target,
                destructive: self.destructive,
            }),
            reason,
            line: pos.line(),
            column: pos.position(),
            repeat: false,
            ask_first: false,
        })
    }
}

impl fmt::Debug for HostActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostActionKind")
            .field("kind", &self.kind)
            .field("destructive", &self.destructive)
            .field("params", &self.params)
            .field("target_param", &self.target_param())
            .finish_non_exhaustive()
    }
}
