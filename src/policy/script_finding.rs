//! The finding as scripts see it: a registered type with read-only getters over the shared
//! [`Finding`] handle (no conversion to a map), plus `get("$.json.path")` and `type_matches`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, NativeCallContext};
use serde_json::Value;

use super::sandbox::ScriptError;
use super::script_sources;
use crate::finding::{Finding, FindingSource};
use crate::plan::FailureKind;

/// The finding handed to `decide`: a cheap clone of the shared handle, with the values of the
/// most read string properties kept once built (a script reading `finding.user_name` twice gets
/// the same immutable string instead of a second allocation).
#[derive(Debug, Clone)]
pub(crate) struct ScriptFinding {
    finding: Finding,
    cache: [Option<Dynamic>; CACHED],
}

/// How many property values a [`ScriptFinding`] keeps.
const CACHED: usize = 9;

impl ScriptFinding {
    pub(crate) fn new(finding: Finding) -> Self {
        Self {
            finding,
            cache: Default::default(),
        }
    }

    /// The value of the property in `slot`, built by `make` the first time.
    fn cached(&mut self, slot: usize, make: fn(&Finding) -> Dynamic) -> Dynamic {
        match self.cache.get_mut(slot) {
            Some(Some(value)) => value.clone(),
            Some(empty) => empty.insert(make(&self.finding)).clone(),
            None => make(&self.finding),
        }
    }
}

/// Compiled JSONPath expressions, keyed by their text; bounded so a script cannot grow it forever.
#[derive(Debug, Default)]
pub(crate) struct PathCache {
    paths: RwLock<HashMap<String, Arc<JpQuery>>>,
}

/// How many compiled paths a policy set keeps.
const PATH_CACHE_SIZE: usize = 512;

impl PathCache {
    fn get(&self, path: &str) -> Result<Arc<JpQuery>, String> {
        if let Some(query) = self.paths.read().ok().and_then(|p| p.get(path).cloned()) {
            return Ok(query);
        }
        let query = Arc::new(parse_json_path(path).map_err(|e| e.to_string())?);
        if let Ok(mut paths) = self.paths.write() {
            if paths.len() >= PATH_CACHE_SIZE {
                paths.clear();
            }
            paths.insert(path.to_owned(), Arc::clone(&query));
        }
        Ok(query)
    }

    /// Compiles `path` ahead of time (used for string literals found at load time).
    pub(crate) fn warm(&self, path: &str) -> Result<(), String> {
        self.get(path).map(|_| ())
    }
}

/// The most JSON values one `get` (or `parse_json`) turns into script values.
pub(crate) const MAX_JSON_NODES: usize = 100_000;

/// A finding larger than this many values refuses recursive descent (`..`) in `get`.
const MAX_DESCENT_NODES: usize = 20_000;

/// Converts JSON into a script value, spending one unit of `budget` per value; `None` once the
/// budget is spent.
pub(crate) fn from_json_bounded(value: &Value, budget: &mut usize) -> Option<Dynamic> {
    *budget = budget.checked_sub(1)?;
    Some(match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(*b),
        Value::Number(n) => n
            .as_i64()
            .map(Dynamic::from)
            .or_else(|| n.as_f64().map(Dynamic::from))
            .unwrap_or(Dynamic::UNIT),
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => Dynamic::from_array(
            items
                .iter()
                .map(|v| from_json_bounded(v, budget))
                .collect::<Option<_>>()?,
        ),
        Value::Object(map) => Dynamic::from_map(
            map.iter()
                .map(|(k, v)| Some((k.as_str().into(), from_json_bounded(v, budget)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

/// The values `path` selects in the finding, bounded in time and size.
fn query<'a>(
    paths: &PathCache,
    finding: &'a Finding,
    path: &str,
    max_results: usize,
) -> Result<Vec<&'a Value>, String> {
    let query = paths
        .get(path)
        .map_err(|e| format!("`{path}` is not a JSONPath expression: {e}"))?;
    let json = finding.json_checked()?;
    if path.contains("..") && finding.json_size() > MAX_DESCENT_NODES {
        return Err(format!(
            "`{path}`: recursive descent (`..`) is refused on a finding of more than \
             {MAX_DESCENT_NODES} values; name the path"
        ));
    }
    let found = js_path_process(&query, json).map_err(|e| format!("`{path}`: {e}"))?;
    if found.len() > max_results {
        return Err(format!("`{path}` selects more than {max_results} values"));
    }
    Ok(found.into_iter().map(|r| r.val).collect())
}

/// The selected values as script values.
fn convert(values: &[&Value]) -> Result<Vec<Dynamic>, String> {
    let mut budget = MAX_JSON_NODES;
    values
        .iter()
        .map(|v| from_json_bounded(v, &mut budget))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("the values selected are more than {MAX_JSON_NODES} in all"))
}

fn opt(value: Option<&str>) -> Dynamic {
    value.map_or(Dynamic::UNIT, |s| Dynamic::from(ImmutableString::from(s)))
}

fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> Dynamic {
    Dynamic::from_array(
        values
            .into_iter()
            .map(|s| Dynamic::from(ImmutableString::from(s)))
            .collect(),
    )
}

fn rfc3339(at: Option<time::OffsetDateTime>) -> Dynamic {
    at.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .map_or(Dynamic::UNIT, Dynamic::from)
}

macro_rules! cached_getters {
    ($engine:ident; $($slot:literal $name:literal => |$f:ident| $body:expr;)*) => {
        $(
            $engine.register_get($name, |s: &mut ScriptFinding| -> Dynamic {
                s.cached($slot, |$f| $body)
            });
        )*
    };
}

macro_rules! getters {
    ($engine:ident; $($name:literal => |$f:ident| $body:expr;)*) => {
        $(
            $engine.register_get($name, |s: &mut ScriptFinding| -> Dynamic {
                let $f = &s.finding;
                $body
            });
        )*
    };
}

/// The properties scripts can read on a finding: name, script type, meaning (absent values are `()`).
pub(crate) const PROPERTIES: &[(&str, &str, &str)] = &[
    ("id", "string", "the finding id"),
    ("arn", "string", "the finding ARN"),
    (
        "account_id",
        "string",
        "the AWS account the finding is about",
    ),
    ("region", "string", "the AWS region"),
    ("partition", "string", "the AWS partition, e.g. `aws`"),
    (
        "schema_version",
        "string or ()",
        "the finding schema version",
    ),
    ("title", "string", "the finding title"),
    ("description", "string", "the finding description"),
    (
        "type",
        "string",
        "the whole finding type, e.g. `UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom`",
    ),
    (
        "threat_purpose",
        "string",
        "the first part of the type, e.g. `UnauthorizedAccess`",
    ),
    (
        "resource_type_affected",
        "string",
        "the resource part of the type, e.g. `IAMUser`",
    ),
    (
        "threat_family",
        "string",
        "the threat family of the type, e.g. `MaliciousIPCaller`",
    ),
    (
        "detection_mechanism",
        "string or ()",
        "the detection mechanism of the type, e.g. `Custom`",
    ),
    (
        "artifact",
        "string or ()",
        "the artifact of the type, e.g. `DNS`",
    ),
    ("severity", "float", "the severity, 0 to 10"),
    (
        "severity_band",
        "string",
        "`Low`, `Medium`, `High` or `Critical`",
    ),
    (
        "created_at",
        "string or ()",
        "when the finding was created (RFC 3339)",
    ),
    (
        "updated_at",
        "string or ()",
        "when the finding was last updated (RFC 3339)",
    ),
    (
        "resource_type",
        "string",
        "the affected resource type, e.g. `AccessKey`, `Instance`, `S3Bucket`",
    ),
    (
        "action_type",
        "string or ()",
        "the observed action, e.g. `AWS_API_CALL`, `NETWORK_CONNECTION`",
    ),
    ("count", "int or ()", "how many times the activity was seen"),
    ("archived", "bool", "whether the finding is archived"),
    ("resource_role", "string or ()", "`TARGET` or `ACTOR`"),
    ("detector_id", "string or ()", "the GuardDuty detector id"),
    (
        "user_name",
        "string or ()",
        "the IAM user name of the access key details",
    ),
    (
        "user_type",
        "string or ()",
        "the principal type, e.g. `IAMUser`, `AssumedRole`, `Root`",
    ),
    ("access_key_id", "string or ()", "the access key id"),
    ("principal_id", "string or ()", "the principal id"),
    ("instance_id", "string or ()", "the (first) EC2 instance id"),
    (
        "instance_ids",
        "array of strings",
        "every EC2 instance id in the finding",
    ),
    ("instance_tags", "map", "the instance tags, key to value"),
    (
        "remote_ip",
        "string or ()",
        "the remote IP address of the action",
    ),
    (
        "remote_country",
        "string or ()",
        "the remote IP's country name",
    ),
    (
        "remote_organization",
        "string or ()",
        "the remote IP's organization (or ASN organization)",
    ),
    (
        "api",
        "string or ()",
        "the API called, e.g. `GetParameters`",
    ),
    (
        "api_service",
        "string or ()",
        "the service of the API, e.g. `ssm.amazonaws.com`",
    ),
    (
        "bucket_names",
        "array of strings",
        "the S3 buckets in the finding",
    ),
    (
        "threat_list",
        "string or ()",
        "the threat list that matched",
    ),
    (
        "sample",
        "bool",
        "whether this is a sample (generated) finding",
    ),
    (
        "shape",
        "string",
        "the input shape: `eventbridge`, `raw`, `cli`, `asff` or `ocsf`",
    ),
    (
        "source",
        "string",
        "where the finding came from: `guardduty`, `guardduty-malware-scan`, `securityhub` (another product's finding through Security Hub), `ocsf` or `other` (read generically)",
    ),
    (
        "product",
        "string or ()",
        "the product that made the finding, e.g. `GuardDuty`, `Inspector`, `Security Hub`, `Macie`",
    ),
    (
        "sequence",
        "map or ()",
        "guardduty `AttackSequence:*`: the attack sequence, `uid`, `description`, `actors` (`user_name`, `user_type`, `principal_id`, `access_key_id`, `account_id`, `session_id`, `mfa_status`, `issuer`, `process_name`, `process_path`, `process_sha256`), `resources` (`uid`, `name`, `type`, `account_id`, `region`, `service`, `user_name`, `user_type`, `principal_id`, `object_key`, `tags`), `endpoints` (`ip`, `domain`, `country`, `city`, `asn`, `asn_org`), `signals` (`uid`, `type`, `name`, `description`, `severity`, `count`, `actor_ids`, `resource_uids`, `endpoint_ids`), `indicators` (`key`, `values`, `title`); its actors and resources count as named by the finding",
    ),
    (
        "vulnerabilities",
        "array of maps",
        "securityhub, ocsf (Inspector, OCSF 2002): `id` (the CVE), `packages` (`name`, `version`, `fixed_in_version`, `package_manager`, `remediation`), `fix_available` and `exploit_available` (`YES`, `NO`, `PARTIAL`), `cvss_score`, `epss_score`, `vendor_severity`",
    ),
    (
        "compliance",
        "map or ()",
        "securityhub, ocsf (controls, OCSF 2003): `status` (`PASSED`, `WARNING`, `FAILED`, `NOT_AVAILABLE`), `control_id`, `standards`, `related_requirements`",
    ),
    (
        "sensitive_data",
        "array of maps",
        "securityhub (Macie): each detection of sensitive data, `resource` (the object's ARN), `category` (`PERSONAL_INFORMATION`, `FINANCIAL_INFORMATION`, `CREDENTIALS`, ...), `type` (`USA_SOCIAL_SECURITY_NUMBER`, `AWS_CREDENTIALS`, ...), `count`",
    ),
    (
        "malware_scan",
        "map or ()",
        "guardduty-malware-scan: `scan_status`, `result` (`THREATS_FOUND`, `NO_THREATS_FOUND`, ...), `bucket`, `key`, `version_id`, `e_tag`, `threats` (their names)",
    ),
    (
        "process",
        "map or ()",
        "guardduty Runtime Monitoring: the process, `name`, `executable_path`, `executable_sha256`, `pid`, `user`",
    ),
    (
        "kubernetes",
        "map or ()",
        "guardduty EKS: `workload_name`, `workload_type`, `namespace`, `user_name`, `user_groups`",
    ),
    (
        "container",
        "map or ()",
        "the container, `name`, `image`, `id`",
    ),
    (
        "cluster_name",
        "string or ()",
        "the EKS or ECS cluster's name",
    ),
    (
        "function_name",
        "string or ()",
        "the Lambda function's name",
    ),
    (
        "db_instance_id",
        "string or ()",
        "the RDS database instance's identifier",
    ),
    (
        "product_resources",
        "array of maps",
        "securityhub, ocsf: the resources as the product names them, `type` (`AwsEc2Instance`, `AwsEcrContainerImage`), `id`, `region`",
    ),
    (
        "context",
        "map",
        "what enrichment found before deciding: `principal` and `activity` (each `()` when missing) and `errors`; see [The context](#the-context)",
    ),
];

/// The properties only some sources fill, with those sources (their meaning in [`PROPERTIES`]
/// starts with the same names): `remedy check` warns when a policy reads one that no source it
/// sees (`const SOURCES`) fills.
pub(crate) const SOURCE_PROPERTIES: &[(&str, &[FindingSource])] = &[
    ("sequence", &[FindingSource::GuardDuty]),
    (
        "vulnerabilities",
        &[FindingSource::SecurityHub, FindingSource::Ocsf],
    ),
    (
        "compliance",
        &[FindingSource::SecurityHub, FindingSource::Ocsf],
    ),
    ("sensitive_data", &[FindingSource::SecurityHub]),
    ("malware_scan", &[FindingSource::GuardDutyMalwareScan]),
    (
        "product_resources",
        &[FindingSource::SecurityHub, FindingSource::Ocsf],
    ),
];

/// Registers the `Finding` type, its getters, `get` and `type_matches`.
pub(crate) fn register(engine: &mut Engine, paths: Arc<PathCache>, max_results: usize) {
    engine.register_type_with_name::<ScriptFinding>("Finding");
    cached_getters! { engine;
        0 "id" => |f| Dynamic::from(ImmutableString::from(f.id()));
        1 "type" => |f| Dynamic::from(ImmutableString::from(f.finding_type().as_str()));
        2 "user_name" => |f| opt(f.user_name());
        3 "access_key_id" => |f| opt(f.access_key_id());
        4 "principal_id" => |f| opt(f.principal_id());
        5 "instance_id" => |f| opt(f.instance_id());
        6 "remote_ip" => |f| f.remote_ip().map_or(Dynamic::UNIT, |ip| Dynamic::from(ip.to_string()));
        7 "api" => |f| opt(f.api());
        8 "context" => |f| super::script_context::to_dynamic(f.context());
    }
    getters! { engine;
        "arn" => |f| Dynamic::from(ImmutableString::from(f.arn()));
        "account_id" => |f| Dynamic::from(ImmutableString::from(f.account_id()));
        "region" => |f| Dynamic::from(ImmutableString::from(f.region()));
        "partition" => |f| Dynamic::from(ImmutableString::from(f.partition()));
        "schema_version" => |f| opt(f.schema_version());
        "title" => |f| Dynamic::from(ImmutableString::from(f.title()));
        "description" => |f| Dynamic::from(ImmutableString::from(f.description()));
        "threat_purpose" => |f| Dynamic::from(ImmutableString::from(f.finding_type().threat_purpose()));
        "resource_type_affected" => |f| Dynamic::from(ImmutableString::from(f.finding_type().resource_type_affected()));
        "threat_family" => |f| Dynamic::from(ImmutableString::from(f.finding_type().threat_family()));
        "detection_mechanism" => |f| opt(f.finding_type().detection_mechanism());
        "artifact" => |f| opt(f.finding_type().artifact());
        "severity" => |f| Dynamic::from(f.severity().value());
        "severity_band" => |f| Dynamic::from(f.severity().band().to_string());
        "created_at" => |f| rfc3339(f.created_at());
        "updated_at" => |f| rfc3339(f.updated_at());
        "resource_type" => |f| Dynamic::from(ImmutableString::from(f.resource_type()));
        "action_type" => |f| opt(f.action_type());
        "count" => |f| f.count().and_then(|c| i64::try_from(c).ok()).map_or(Dynamic::UNIT, Dynamic::from);
        "archived" => |f| Dynamic::from(f.archived());
        "resource_role" => |f| opt(f.resource_role());
        "detector_id" => |f| opt(f.detector_id());
        "user_type" => |f| opt(f.user_type());
        "instance_ids" => |f| strings(f.instance_ids());
        "instance_tags" => |f| Dynamic::from_map(
            f.instance_tags()
                .iter()
                .map(|t| (t.key.as_str().into(), Dynamic::from(ImmutableString::from(t.value.as_str()))))
                .collect(),
        );
        "remote_country" => |f| opt(f.remote_country());
        "remote_organization" => |f| opt(f.remote_organization());
        "api_service" => |f| opt(f.api_service());
        "bucket_names" => |f| strings(f.bucket_names());
        "threat_list" => |f| opt(f.threat_list_name());
        "sample" => |f| Dynamic::from(f.is_sample());
        "shape" => |f| Dynamic::from(f.shape().to_string());
        "source" => |f| Dynamic::from(ImmutableString::from(f.source().as_str()));
        "product" => |f| opt(f.product());
        "sequence" => |f| script_sources::sequence(f.sequence());
        "vulnerabilities" => |f| script_sources::vulnerabilities(f);
        "compliance" => |f| script_sources::compliance(f.compliance());
        "sensitive_data" => |f| script_sources::sensitive_data(f);
        "malware_scan" => |f| script_sources::malware_scan(f.malware_scan());
        "product_resources" => |f| script_sources::product_resources(f);
        "process" => |f| script_sources::process(f.process());
        "kubernetes" => |f| script_sources::kubernetes(f.kubernetes());
        "container" => |f| script_sources::container(f.container());
        "cluster_name" => |f| opt(f.cluster_name());
        "function_name" => |f| opt(f.function_name());
        "db_instance_id" => |f| opt(f.db_instance_id());
    }
    engine.register_fn("to_string", |s: &mut ScriptFinding| {
        format!(
            "Finding({} {})",
            s.finding.finding_type().as_str(),
            s.finding.id()
        )
    });
    engine.register_fn("to_debug", |s: &mut ScriptFinding| {
        format!(
            "Finding({} {})",
            s.finding.finding_type().as_str(),
            s.finding.id()
        )
    });
    let limit = max_results;
    let cache = Arc::clone(&paths);
    engine.register_fn(
        "get",
        move |ctx: NativeCallContext,
              s: &mut ScriptFinding,
              path: &str|
              -> Result<Dynamic, Box<EvalAltResult>> {
            let fail = |m: String| {
                ScriptError::raise(
                    FailureKind::Runtime,
                    format!("get: {m}"),
                    ctx.call_position(),
                )
            };
            let found = query(&cache, &s.finding, path, limit).map_err(fail)?;
            let mut values = convert(&found).map_err(fail)?;
            Ok(match values.len() {
                0 => Dynamic::UNIT,
                1 => values.pop().unwrap_or(Dynamic::UNIT),
                _ => Dynamic::from_array(values),
            })
        },
    );
    engine.register_fn(
        "get_all",
        move |ctx: NativeCallContext,
              s: &mut ScriptFinding,
              path: &str|
              -> Result<rhai::Array, Box<EvalAltResult>> {
            let fail = |m: String| {
                ScriptError::raise(
                    FailureKind::Runtime,
                    format!("get_all: {m}"),
                    ctx.call_position(),
                )
            };
            let found = query(&paths, &s.finding, path, limit).map_err(fail)?;
            convert(&found).map_err(fail)
        },
    );
    engine.register_fn("type_matches", |s: &mut ScriptFinding, pattern: &str| {
        crate::glob::glob_match(pattern, s.finding.finding_type().as_str())
    });
}
