//! Security Hub (ASFF) findings produced by GuardDuty, mapped back to the GuardDuty model.
//!
//! - type: the last segment of a `Types` entry, `A:B-C` → `A:B/C`
//!   (`TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce` → `UnauthorizedAccess:EC2/SSHBruteForce`);
//! - id and arn: from `Id` (the GuardDuty finding ARN; the id is its last segment);
//! - severity: `Severity.Product` (GuardDuty's own number), else `Normalized / 10`, else `Label`;
//! - service: `ProductFields` keys `aws/guardduty/service/a/b` (or legacy `a/b`) become
//!   `service.a.b`; `"true"`/`"false"` become booleans and numeric fields numbers;
//! - resource: `Resources[]` (`AwsIamAccessKey`, `AwsEc2Instance`, `AwsS3Bucket`, ...);
//! - sample: `Sample`.

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{FindingError, describe};
use super::lenient::opt_string;
use super::model::{Envelope, ResourceDetails, Service, Shape};
use super::parse::{Doc, SeverityRaw, arn_parts, value_says_sample};
use super::{Finding, FindingData, FindingType, JsonSource, Resource, Severity, has_placeholders};

/// One entry of `Resources[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AsffResource {
    #[serde(rename = "Type", deserialize_with = "opt_string")]
    resource_type: Option<String>,
    #[serde(rename = "Id", deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(rename = "Partition", deserialize_with = "opt_string")]
    partition: Option<String>,
    #[serde(rename = "Region", deserialize_with = "opt_string")]
    region: Option<String>,
    #[serde(rename = "Tags")]
    tags: Option<Map<String, Value>>,
    #[serde(rename = "Details")]
    details: Option<Map<String, Value>>,
}

/// Leaf keys of `ProductFields` whose values GuardDuty gives as numbers.
const NUMERIC_KEYS: &[&str] = &["count", "port", "lat", "lon", "severity", "itemCount"];

/// Maps one ASFF finding. `Ok(Err(reason))`: not from GuardDuty (to be skipped in a batch).
pub(super) fn to_finding(
    doc: Doc,
    path: &str,
    envelope: Option<Envelope>,
) -> Result<Result<Finding, String>, FindingError> {
    let fields = doc.product_fields.unwrap_or_default();
    if let Err(reason) = check_product(
        doc.product_arn.as_deref(),
        doc.product_name.as_deref(),
        &fields,
    ) {
        return Ok(Err(reason));
    }
    let finding_type = asff_type(doc.types.as_deref().unwrap_or(&[]), path)?;
    let asff_id = doc.id.unwrap_or_default();
    let arn = guardduty_arn(&asff_id, &fields).unwrap_or_default();
    let id = arn
        .rsplit_once("/finding/")
        .map(|(_, id)| id.to_owned())
        .or_else(|| (!asff_id.is_empty()).then(|| asff_id.clone()))
        .ok_or_else(|| {
            FindingError::invalid(format!("{path}.Id"), "the GuardDuty finding ARN", "nothing")
        })?;
    let resources = doc.resources.unwrap_or_default();
    let (arn_partition, arn_region) = arn_parts(&arn);
    let first = resources.first();
    let region = doc
        .region
        .or_else(|| first.and_then(|r| r.region.clone()))
        .or_else(|| arn_region.map(str::to_owned))
        .unwrap_or_default();
    let partition = first
        .and_then(|r| r.partition.clone())
        .or_else(|| arn_partition.map(str::to_owned))
        .unwrap_or_default();
    let severity = asff_severity(doc.severity, path)?;
    let created_at = doc.created_at_pascal.or(doc.created_at_camel);
    let updated_at = doc.updated_at_pascal.or(doc.updated_at_camel);

    let mut service = Map::new();
    let mut resource = Map::new();
    for (key, value) in &fields {
        let (target, rel) = if let Some(rel) = key.strip_prefix("aws/guardduty/service/") {
            (&mut service, rel)
        } else if let Some(rel) = key.strip_prefix("aws/guardduty/resource/") {
            (&mut resource, rel)
        } else if key.starts_with("aws/") {
            continue;
        } else {
            (&mut service, key.as_str())
        };
        if let Some(v) = convert(rel, value) {
            insert_path(target, rel, v);
        }
    }
    if let Some(t) = doc.first_observed_at.and_then(rfc3339) {
        service.entry("eventFirstSeen").or_insert(Value::String(t));
    }
    if let Some(t) = doc.last_observed_at.and_then(rfc3339) {
        service.entry("eventLastSeen").or_insert(Value::String(t));
    }
    map_resources(&resources, &mut resource);
    let mut service = Value::Object(service);
    arrayify(&mut service);
    let Value::Object(service) = service else {
        return Err(FindingError::invalid(
            format!("{path}.ProductFields"),
            "an object",
            "another value",
        ));
    };

    let service_value = Value::Object(service);
    let resource_value = Value::Object(resource);
    let service_typed = Service::deserialize(&service_value).map_err(|e| {
        FindingError::invalid(
            format!("{path}.ProductFields"),
            "GuardDuty service fields",
            e.to_string(),
        )
    })?;
    let resource_typed = ResourceDetails::deserialize(&resource_value).map_err(|e| {
        FindingError::invalid(
            format!("{path}.Resources"),
            "GuardDuty resources",
            e.to_string(),
        )
    })?;
    let sample = doc.sample == Some(true)
        || service_typed.additional_info.sample == Some(true)
        || value_says_sample(service_typed.additional_info.value.as_deref())
        || has_placeholders(&resource_typed, &service_typed);

    let mut canonical = Map::new();
    canonical.insert(
        "accountId".into(),
        json!(doc.aws_account_id.clone().unwrap_or_default()),
    );
    canonical.insert("arn".into(), json!(arn));
    if let Some(t) = created_at.and_then(rfc3339) {
        canonical.insert("createdAt".into(), json!(t));
    }
    canonical.insert(
        "description".into(),
        json!(doc.description.clone().unwrap_or_default()),
    );
    canonical.insert("id".into(), json!(id));
    canonical.insert("partition".into(), json!(partition));
    canonical.insert("region".into(), json!(region));
    canonical.insert("resource".into(), resource_value);
    canonical.insert("service".into(), service_value);
    canonical.insert("severity".into(), json!(severity.value()));
    canonical.insert("title".into(), json!(doc.title.clone().unwrap_or_default()));
    canonical.insert("type".into(), json!(finding_type.as_str()));
    if let Some(t) = updated_at.and_then(rfc3339) {
        canonical.insert("updatedAt".into(), json!(t));
    }
    if sample {
        canonical.insert("sample".into(), json!(true));
    }

    Ok(Ok(Finding::from_data(FindingData {
        id,
        arn,
        account_id: doc.aws_account_id.unwrap_or_default(),
        region,
        partition,
        schema_version: None,
        title: doc.title.unwrap_or_default(),
        description: doc.description.unwrap_or_default(),
        finding_type,
        severity,
        created_at,
        updated_at,
        resource: Resource::from_details(resource_typed),
        service: Box::new(service_typed),
        shape: Shape::Asff,
        envelope,
        sample,
        json_source: JsonSource::Ready,
        json: OnceLock::from(Value::Object(canonical)),
    })))
}

fn rfc3339(t: OffsetDateTime) -> Option<String> {
    t.format(&Rfc3339).ok()
}

fn check_product(
    product_arn: Option<&str>,
    product_name: Option<&str>,
    fields: &Map<String, Value>,
) -> Result<(), String> {
    let field_name = fields
        .get("aws/securityhub/ProductName")
        .and_then(Value::as_str);
    let is_gd = product_arn.is_some_and(|a| a.ends_with("/aws/guardduty"))
        || product_name.is_some_and(|n| n.eq_ignore_ascii_case("GuardDuty"))
        || field_name.is_some_and(|n| n.eq_ignore_ascii_case("GuardDuty"));
    if is_gd {
        Ok(())
    } else {
        let product = product_arn
            .or(product_name)
            .or(field_name)
            .unwrap_or("unknown");
        Err(format!("its product is `{product}`, not GuardDuty"))
    }
}

/// `TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce` → `UnauthorizedAccess:EC2/SSHBruteForce`.
fn asff_type(types: &[String], path: &str) -> Result<FindingType, FindingError> {
    for t in types {
        let last = t.rsplit('/').next().unwrap_or(t);
        let Some(colon) = last.find(':') else {
            continue;
        };
        let Some(dash) = last.get(colon..).and_then(|rest| rest.find('-')) else {
            continue;
        };
        let at = colon + dash;
        let converted = format!(
            "{}/{}",
            last.get(..at).unwrap_or(""),
            last.get(at + 1..).unwrap_or("")
        );
        if let Ok(ft) = FindingType::new(converted) {
            return Ok(ft);
        }
    }
    Err(FindingError::invalid(
        format!("{path}.Types"),
        "a GuardDuty type such as `TTPs/Discovery/Recon:IAMUser-UserPermissions`",
        match types.first() {
            Some(t) => format!("`{t}`"),
            None => "nothing".to_owned(),
        },
    ))
}

/// The GuardDuty finding ARN: `Id`, or the tail of `aws/securityhub/FindingId`.
fn guardduty_arn(asff_id: &str, fields: &Map<String, Value>) -> Option<String> {
    if asff_id.contains(":guardduty:") && asff_id.contains("/finding/") {
        return Some(asff_id.to_owned());
    }
    let fid = fields.get("aws/securityhub/FindingId")?.as_str()?;
    let at = fid.find("/guardduty/arn:")?;
    fid.get(at + "/guardduty/".len()..).map(str::to_owned)
}

fn asff_severity(raw: Option<SeverityRaw>, path: &str) -> Result<Severity, FindingError> {
    let p = format!("{path}.Severity");
    let from_label = |label: &str| match label.to_ascii_uppercase().as_str() {
        "INFORMATIONAL" => Some(0.0),
        "LOW" => Some(2.0),
        "MEDIUM" => Some(5.0),
        "HIGH" => Some(8.0),
        "CRITICAL" => Some(9.0),
        _ => None,
    };
    let n = match raw {
        Some(SeverityRaw::Object {
            product,
            normalized,
            label,
        }) => product
            .filter(|p| (0.0..=10.0).contains(p))
            .or_else(|| {
                normalized
                    .filter(|n| (0.0..=100.0).contains(n))
                    .map(|n| n / 10.0)
            })
            .or_else(|| label.as_deref().and_then(from_label)),
        Some(SeverityRaw::Number(n)) => Some(n),
        Some(SeverityRaw::Text(s)) => s.trim().parse().ok().or_else(|| from_label(&s)),
        Some(SeverityRaw::Other(_)) | None => None,
    };
    n.and_then(Severity::new).ok_or_else(|| {
        FindingError::invalid(
            p,
            "an object with `Product`, `Normalized` or `Label`",
            "no usable severity",
        )
    })
}

/// A `ProductFields` string back to the JSON value GuardDuty had.
fn convert(rel: &str, value: &Value) -> Option<Value> {
    let Value::String(s) = value else {
        return Some(value.clone());
    };
    let leaf = rel.rsplit('/').next().unwrap_or(rel);
    if s.is_empty() && matches!(leaf, "evidence" | "additionalInfo") {
        return None;
    }
    if leaf == "additionalInfo" && s.trim_start().starts_with('{') {
        return serde_json::from_str(s).ok();
    }
    match s.as_str() {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    if NUMERIC_KEYS.contains(&leaf) || leaf.ends_with("Count") {
        if let Ok(n) = s.parse::<u64>() {
            return Some(json!(n));
        }
        if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Some(Value::Number(n));
        }
    }
    Some(Value::String(s.clone()))
}

/// Inserts `value` at the `/`-separated path, creating objects; conflicting paths are dropped.
fn insert_path(map: &mut Map<String, Value>, rel: &str, value: Value) {
    let mut segments = rel.split('/').filter(|s| !s.is_empty()).peekable();
    let mut node = map;
    while let Some(seg) = segments.next() {
        if segments.peek().is_none() {
            node.entry(seg.to_owned()).or_insert(value);
            return;
        }
        let entry = node
            .entry(seg.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        match entry {
            Value::Object(next) => node = next,
            _ => return,
        }
    }
}

/// Turns objects whose keys are all indices (`0`, `1_`) into arrays, as GuardDuty had them
/// (`evidence/threatIntelligenceDetails/0_/threatListName`).
fn arrayify(value: &mut Value) {
    let index = |k: &str| k.strip_suffix('_').unwrap_or(k).parse::<usize>().ok();
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(arrayify);
            if !map.is_empty() && map.keys().all(|k| index(k).is_some()) {
                let mut items: Vec<(usize, Value)> = std::mem::take(map)
                    .into_iter()
                    .filter_map(|(k, v)| index(&k).map(|i| (i, v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                *value = Value::Array(items.into_iter().map(|(_, v)| v).collect());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(arrayify),
        _ => {}
    }
}

fn details<'a>(r: &'a AsffResource, key: &str) -> Option<&'a Map<String, Value>> {
    r.details.as_ref()?.get(key)?.as_object()
}

fn text<'a>(m: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a str> {
    m?.get(key)?.as_str()
}

fn tags(r: &AsffResource) -> Value {
    Value::Array(
        r.tags
            .iter()
            .flatten()
            .map(|(k, v)| json!({"key": k, "value": v.as_str().map_or_else(|| describe(v), str::to_owned)}))
            .collect(),
    )
}

/// `Resources[]` → `resource` (`accessKeyDetails`, `instanceDetails`, `s3BucketDetails`, ...).
fn map_resources(resources: &[AsffResource], out: &mut Map<String, Value>) {
    let mut kinds: Vec<&str> = Vec::new();
    let mut buckets = Vec::new();
    for r in resources {
        let id = r.id.as_deref().unwrap_or("");
        match r.resource_type.as_deref().unwrap_or("") {
            "AwsIamAccessKey" => {
                let d = details(r, "AwsIamAccessKey");
                let key_id = text(d, "AccessKeyId").map(str::to_owned).or_else(|| {
                    id.rsplit_once(':')
                        .map(|(_, k)| k)
                        .filter(|k| !k.is_empty() && *k != "null")
                        .map(str::to_owned)
                });
                let mut ak = Map::new();
                if let Some(k) = key_id {
                    ak.insert("accessKeyId".into(), json!(k));
                }
                if let Some(p) = text(d, "PrincipalId") {
                    ak.insert("principalId".into(), json!(p));
                }
                if let Some(u) = text(d, "UserName").or_else(|| text(d, "PrincipalName")) {
                    ak.insert("userName".into(), json!(u));
                }
                if let Some(t) = text(d, "PrincipalType") {
                    ak.insert("userType".into(), json!(t));
                }
                out.entry("accessKeyDetails").or_insert(Value::Object(ak));
                kinds.push("AccessKey");
            }
            "AwsEc2Instance" => {
                let d = details(r, "AwsEc2Instance");
                let instance_id = id.rsplit_once("instance/").map_or(id, |(_, i)| i);
                let mut inst = Map::new();
                inst.insert("instanceId".into(), json!(instance_id));
                for (from, to) in [
                    ("Type", "instanceType"),
                    ("ImageId", "imageId"),
                    ("LaunchedAt", "launchTime"),
                ] {
                    if let Some(v) = text(d, from) {
                        inst.insert(to.into(), json!(v));
                    }
                }
                inst.insert("tags".into(), tags(r));
                out.entry("instanceDetails").or_insert(Value::Object(inst));
                kinds.push("Instance");
            }
            "AwsS3Bucket" => {
                let name = id
                    .strip_prefix("arn:aws:s3:::")
                    .or_else(|| id.rsplit(':').next())
                    .unwrap_or(id);
                buckets.push(json!({"name": name, "arn": id, "tags": tags(r)}));
                kinds.push("S3Bucket");
            }
            "AwsEksCluster" => {
                let name = text(details(r, "AwsEksCluster"), "Name")
                    .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id));
                out.entry("eksClusterDetails")
                    .or_insert(json!({"name": name, "arn": id, "tags": tags(r)}));
                kinds.push("EKSCluster");
            }
            "AwsEcsCluster" => {
                let name = text(details(r, "AwsEcsCluster"), "ClusterName")
                    .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id));
                out.entry("ecsClusterDetails")
                    .or_insert(json!({"name": name, "arn": id, "tags": tags(r)}));
                kinds.push("ECSCluster");
            }
            "AwsLambdaFunction" => {
                let name = text(details(r, "AwsLambdaFunction"), "FunctionName")
                    .unwrap_or_else(|| id.rsplit(':').next().unwrap_or(id));
                out.entry("lambdaDetails")
                    .or_insert(json!({"functionName": name, "functionArn": id, "tags": tags(r)}));
                kinds.push("Lambda");
            }
            "AwsRdsDbInstance" => {
                let name = text(details(r, "AwsRdsDbInstance"), "DBInstanceIdentifier")
                    .unwrap_or_else(|| id.rsplit(':').next().unwrap_or(id));
                out.entry("rdsDbInstanceDetails").or_insert(
                    json!({"dbInstanceIdentifier": name, "dbInstanceArn": id, "tags": tags(r)}),
                );
                kinds.push("RDSDBInstance");
            }
            "Container" => {
                let d = details(r, "Container");
                out.entry("containerDetails").or_insert(json!({
                    "name": text(d, "Name"), "image": text(d, "ImageName"), "id": text(d, "ContainerRuntime").map(|_| id),
                }));
                kinds.push("Container");
            }
            _ => {}
        }
    }
    if !buckets.is_empty() {
        out.entry("s3BucketDetails")
            .or_insert(Value::Array(buckets));
    }
    let order = [
        "S3Bucket",
        "EKSCluster",
        "ECSCluster",
        "Lambda",
        "RDSDBInstance",
        "Container",
        "Instance",
        "AccessKey",
    ];
    if let Some(kind) = order.iter().find(|k| kinds.contains(k)) {
        out.entry("resourceType").or_insert(json!(kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_map_back() {
        let t = |s: &str| asff_type(&[s.to_owned()], "$").unwrap().to_string();
        assert_eq!(
            t("TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce"),
            "UnauthorizedAccess:EC2/SSHBruteForce"
        );
        assert_eq!(
            t("TTPs/Command and Control/Backdoor:EC2-C&CActivity.B!DNS"),
            "Backdoor:EC2/C&CActivity.B!DNS"
        );
        assert_eq!(
            t("Unusual Behaviors/User/UnauthorizedAccess:IAMUser-ConsoleLogin"),
            "UnauthorizedAccess:IAMUser/ConsoleLogin"
        );
        assert!(
            asff_type(
                &["Software and Configuration Checks/Vulnerabilities/CVE".to_owned()],
                "$"
            )
            .is_err()
        );
    }

    #[test]
    fn product_fields_convert() {
        assert_eq!(convert("count", &json!("74")), Some(json!(74)));
        assert_eq!(convert("archived", &json!("false")), Some(json!(false)));
        assert_eq!(
            convert("action/x/remoteIpDetails/organization/asn", &json!("209")),
            Some(json!("209"))
        );
        assert_eq!(
            convert("action/x/remoteIpDetails/geoLocation/lat", &json!("42.5")),
            Some(json!(42.5))
        );
        assert_eq!(convert("evidence", &json!("")), None);
        assert_eq!(
            convert("additionalInfo", &json!("{\"a\":1}")),
            Some(json!({"a": 1}))
        );
    }

    #[test]
    fn index_objects_become_arrays() {
        let mut v = json!({"e": {"t": {"1_": {"n": "b"}, "0_": {"n": "a"}}}, "k": {"x": 1}});
        arrayify(&mut v);
        assert_eq!(
            v,
            json!({"e": {"t": [{"n": "a"}, {"n": "b"}]}, "k": {"x": 1}})
        );
    }

    #[test]
    fn insert_path_builds_objects() {
        let mut m = Map::new();
        insert_path(&mut m, "action/actionType", json!("X"));
        insert_path(&mut m, "action/awsApiCallAction/api", json!("Y"));
        insert_path(&mut m, "action/actionType/oops", json!("Z"));
        assert_eq!(
            Value::Object(m),
            json!({"action": {"actionType": "X", "awsApiCallAction": {"api": "Y"}}})
        );
    }
}
