//! What scripts see of the details only some sources or families carry: an attack sequence
//! (`finding.sequence`), vulnerabilities, compliance, a malware scan, a product's resources, a
//! runtime process, a Kubernetes workload, a container, as plain maps built from the typed model
//! (`()` when absent).

use rhai::{Array, Dynamic, ImmutableString, Map};

use crate::finding::{
    Actor, Compliance, ContainerDetails, Endpoint, Finding, Indicator, KubernetesDetails,
    MalwareScan, ProductResource, RuntimeProcess, SensitiveData, Sequence, SequenceResource,
    Signal, Text, Vulnerability,
};

fn text(value: Option<&str>) -> Dynamic {
    value.map_or(Dynamic::UNIT, |s| Dynamic::from(ImmutableString::from(s)))
}

fn texts<'a>(values: impl IntoIterator<Item = &'a Text>) -> Dynamic {
    Dynamic::from_array(
        values
            .into_iter()
            .map(|s| Dynamic::from(ImmutableString::from(s.as_str())))
            .collect(),
    )
}

fn number(value: Option<f64>) -> Dynamic {
    value.map_or(Dynamic::UNIT, Dynamic::from)
}

fn map<const N: usize>(entries: [(&str, Dynamic); N]) -> Dynamic {
    Dynamic::from_map(
        entries
            .into_iter()
            .map(|(k, v)| (k.into(), v))
            .collect::<Map>(),
    )
}

fn array<T>(items: &[T], one: fn(&T) -> Dynamic) -> Dynamic {
    Dynamic::from_array(items.iter().map(one).collect::<Array>())
}

fn actor(a: &Actor) -> Dynamic {
    let user = a.user.as_ref();
    let session = a.session.as_ref();
    let process = a.process.as_ref();
    map([
        ("id", text(a.id.as_deref())),
        ("user_name", text(user.and_then(|u| u.name.as_deref()))),
        ("user_type", text(user.and_then(|u| u.user_type.as_deref()))),
        ("principal_id", text(user.and_then(|u| u.uid.as_deref()))),
        (
            "access_key_id",
            text(user.and_then(|u| u.credential_uid.as_deref())),
        ),
        (
            "account_id",
            text(user.and_then(|u| u.account.as_ref()?.uid.as_deref())),
        ),
        ("session_id", text(session.and_then(|s| s.uid.as_deref()))),
        (
            "mfa_status",
            text(session.and_then(|s| s.mfa_status.as_deref())),
        ),
        ("issuer", text(session.and_then(|s| s.issuer.as_deref()))),
        (
            "process_name",
            text(process.and_then(|p| p.name.as_deref())),
        ),
        (
            "process_path",
            text(process.and_then(|p| p.path.as_deref())),
        ),
        (
            "process_sha256",
            text(process.and_then(|p| p.sha256.as_deref())),
        ),
    ])
}

fn resource(r: &SequenceResource) -> Dynamic {
    let data = r.data.as_ref();
    let key = data.and_then(|d| d.access_key.as_ref());
    let object = data.and_then(|d| d.s3_object.as_ref());
    map([
        ("uid", text(r.uid.as_deref())),
        ("name", text(r.name.as_deref())),
        ("type", text(r.resource_type.as_deref())),
        ("account_id", text(r.account_id.as_deref())),
        ("region", text(r.region.as_deref())),
        ("service", text(r.service.as_deref())),
        ("user_name", text(key.and_then(|k| k.user_name.as_deref()))),
        ("user_type", text(key.and_then(|k| k.user_type.as_deref()))),
        (
            "principal_id",
            text(key.and_then(|k| k.principal_id.as_deref())),
        ),
        ("object_key", text(object.and_then(|o| o.key.as_deref()))),
        (
            "tags",
            Dynamic::from_map(
                r.tags
                    .iter()
                    .map(|t| {
                        (
                            t.key.as_str().into(),
                            Dynamic::from(ImmutableString::from(t.value.as_str())),
                        )
                    })
                    .collect(),
            ),
        ),
    ])
}

fn endpoint(e: &Endpoint) -> Dynamic {
    let location = e.location.as_ref();
    let asn = e.autonomous_system.as_ref();
    map([
        ("id", text(e.id.as_deref())),
        ("ip", text(e.ip.as_deref())),
        ("domain", text(e.domain.as_deref())),
        ("country", text(location.and_then(|l| l.country.as_deref()))),
        ("city", text(location.and_then(|l| l.city.as_deref()))),
        ("asn", text(asn.and_then(|a| a.number.as_deref()))),
        ("asn_org", text(asn.and_then(|a| a.name.as_deref()))),
    ])
}

fn signal(s: &Signal) -> Dynamic {
    map([
        ("uid", text(s.uid.as_deref())),
        ("type", text(s.signal_type.as_deref())),
        ("name", text(s.name.as_deref())),
        ("description", text(s.description.as_deref())),
        ("severity", number(s.severity)),
        ("count", number(s.count)),
        ("actor_ids", texts(&s.actor_ids)),
        ("resource_uids", texts(&s.resource_uids)),
        ("endpoint_ids", texts(&s.endpoint_ids)),
    ])
}

fn indicator(i: &Indicator) -> Dynamic {
    map([
        ("key", text(i.key.as_deref())),
        ("values", texts(&i.values)),
        ("title", text(i.title.as_deref())),
    ])
}

/// `finding.sequence`.
pub(crate) fn sequence(s: Option<&Sequence>) -> Dynamic {
    let Some(s) = s else {
        return Dynamic::UNIT;
    };
    map([
        ("uid", text(s.uid.as_deref())),
        ("description", text(s.description.as_deref())),
        ("actors", array(&s.actors, actor)),
        ("resources", array(&s.resources, resource)),
        ("endpoints", array(&s.endpoints, endpoint)),
        ("signals", array(&s.signals, signal)),
        ("indicators", array(&s.sequence_indicators, indicator)),
    ])
}

fn vulnerability(v: &Vulnerability) -> Dynamic {
    let packages = v
        .packages
        .iter()
        .map(|p| {
            map([
                ("name", text(p.name.as_deref())),
                ("version", text(p.version.as_deref())),
                ("fixed_in_version", text(p.fixed_in_version.as_deref())),
                ("package_manager", text(p.package_manager.as_deref())),
                ("remediation", text(p.remediation.as_deref())),
            ])
        })
        .collect::<Array>();
    map([
        ("id", text(v.id.as_deref())),
        ("packages", Dynamic::from_array(packages)),
        ("fix_available", text(v.fix_available.as_deref())),
        ("exploit_available", text(v.exploit_available.as_deref())),
        ("cvss_score", number(v.cvss_score)),
        ("epss_score", number(v.epss_score)),
        ("vendor_severity", text(v.vendor_severity.as_deref())),
    ])
}

/// `finding.vulnerabilities`.
pub(crate) fn vulnerabilities(f: &Finding) -> Dynamic {
    array(f.vulnerabilities(), vulnerability)
}

/// `finding.compliance`.
pub(crate) fn compliance(c: Option<&Compliance>) -> Dynamic {
    let Some(c) = c else {
        return Dynamic::UNIT;
    };
    map([
        ("status", text(c.status.as_deref())),
        ("control_id", text(c.control_id.as_deref())),
        ("standards", texts(&c.standards)),
        ("related_requirements", texts(&c.related_requirements)),
    ])
}

/// `finding.malware_scan`.
pub(crate) fn malware_scan(m: Option<&MalwareScan>) -> Dynamic {
    let Some(m) = m else {
        return Dynamic::UNIT;
    };
    map([
        ("scan_status", text(m.scan_status.as_deref())),
        ("result", text(m.result_status.as_deref())),
        ("bucket", text(m.bucket.as_deref())),
        ("key", text(m.key.as_deref())),
        ("version_id", text(m.version_id.as_deref())),
        ("e_tag", text(m.e_tag.as_deref())),
        ("threats", texts(&m.threats)),
    ])
}

fn product_resource(r: &ProductResource) -> Dynamic {
    map([
        ("type", text(r.resource_type.as_deref())),
        ("id", text(r.id.as_deref())),
        ("region", text(r.region.as_deref())),
    ])
}

/// `finding.product_resources`.
pub(crate) fn product_resources(f: &Finding) -> Dynamic {
    array(f.product_resources(), product_resource)
}

/// `finding.process`.
pub(crate) fn process(p: Option<&RuntimeProcess>) -> Dynamic {
    let Some(p) = p else {
        return Dynamic::UNIT;
    };
    map([
        ("name", text(p.name.as_deref())),
        ("executable_path", text(p.executable_path.as_deref())),
        ("executable_sha256", text(p.executable_sha256.as_deref())),
        ("pid", text(p.pid.as_deref())),
        ("user", text(p.user.as_deref())),
    ])
}

/// `finding.kubernetes`.
pub(crate) fn kubernetes(k: Option<&KubernetesDetails>) -> Dynamic {
    let Some(k) = k else {
        return Dynamic::UNIT;
    };
    let workload = k.kubernetes_workload_details.as_ref();
    let user = k.kubernetes_user_details.as_ref();
    map([
        (
            "workload_name",
            text(workload.and_then(|w| w.name.as_deref())),
        ),
        (
            "workload_type",
            text(workload.and_then(|w| w.workload_type.as_deref())),
        ),
        (
            "namespace",
            text(workload.and_then(|w| w.namespace.as_deref())),
        ),
        ("user_name", text(user.and_then(|u| u.username.as_deref()))),
        (
            "user_groups",
            user.map_or_else(|| Dynamic::from_array(Array::new()), |u| texts(&u.groups)),
        ),
    ])
}

/// `finding.container`.
pub(crate) fn container(c: Option<&ContainerDetails>) -> Dynamic {
    let Some(c) = c else {
        return Dynamic::UNIT;
    };
    map([
        ("name", text(c.name.as_deref())),
        ("image", text(c.image.as_deref())),
        ("id", text(c.id.as_deref())),
    ])
}

fn sensitive(d: &SensitiveData) -> Dynamic {
    map([
        ("resource", text(d.resource.as_deref())),
        ("category", text(d.category.as_deref())),
        ("type", text(d.detection_type.as_deref())),
        (
            "count",
            d.count
                .and_then(|c| i64::try_from(c).ok())
                .map_or(Dynamic::UNIT, Dynamic::from),
        ),
    ])
}

/// `finding.sensitive_data`.
pub(crate) fn sensitive_data(f: &Finding) -> Dynamic {
    array(f.sensitive_data(), sensitive)
}
