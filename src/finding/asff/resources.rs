//! `Resources[]` as read from the document, and their mapping to GuardDuty's `resource`
//! (`accessKeyDetails`, `instanceDetails`, `s3BucketDetails`, ...).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::super::error::describe;
use super::super::lenient::opt_string;
use super::super::text::Text;
use super::fields::Entries;
use super::tree::{Tree, TreeMap, entry_or_insert, null_tree};

/// One block of `Resources[].Details`: its string fields if it is an object (the mapping reads
/// nothing else), `None` otherwise.
#[derive(Debug, Default)]
struct DetailBlock(Option<Vec<(String, String)>>);
impl<'de> Deserialize<'de> for DetailBlock {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A string, or `None` for any other value (skipped).
        struct OnlyStr(Option<String>);
        impl<'de> Deserialize<'de> for OnlyStr {
            fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = OnlyStr;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("any value")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(Some(v.to_owned())))
                    }
                    fn visit_string<E: de::Error>(self, v: String) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(Some(v)))
                    }
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_i64<E: de::Error>(self, _: i64) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_u64<E: de::Error>(self, _: u64) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<OnlyStr, E> {
                        Ok(OnlyStr(None))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<OnlyStr, A::Error> {
                        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                        Ok(OnlyStr(None))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<OnlyStr, A::Error> {
                        while s.next_element::<IgnoredAny>()?.is_some() {}
                        Ok(OnlyStr(None))
                    }
                }
                d.deserialize_any(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DetailBlock;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DetailBlock, A::Error> {
                let mut out = Vec::new();
                while let Some((k, OnlyStr(v))) = map.next_entry::<String, OnlyStr>()? {
                    if let Some(v) = v {
                        out.push((k, v));
                    }
                }
                Ok(DetailBlock(Some(out)))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<DetailBlock, E> {
                Ok(DetailBlock(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<DetailBlock, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(DetailBlock(None))
            }
        }
        d.deserialize_any(V)
    }
}
/// One entry of `Resources[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AsffResource {
    #[serde(rename = "Type", deserialize_with = "opt_string")]
    resource_type: Option<String>,
    #[serde(rename = "Id", deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(rename = "Partition", deserialize_with = "opt_string")]
    pub(crate) partition: Option<Text>,
    #[serde(rename = "Region", deserialize_with = "opt_string")]
    pub(crate) region: Option<Text>,
    #[serde(rename = "Tags")]
    tags: Option<Entries<Value>>,
    #[serde(rename = "Details")]
    details: Option<Entries<DetailBlock>>,
}

impl AsffResource {
    /// `Type`.
    pub(crate) fn resource_type(&self) -> Option<&str> {
        self.resource_type.as_deref()
    }

    /// `Id`.
    pub(crate) fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

type Block = [(String, String)];

fn details<'a>(r: &'a AsffResource, key: &str) -> Option<&'a Block> {
    r.details.as_ref()?.get(key)?.0.as_deref()
}

fn text<'a>(m: Option<&'a Block>, key: &str) -> Option<&'a str> {
    m?.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn opt_str(s: Option<&str>) -> Tree<'_> {
    s.map_or(null_tree(), |s| Tree::Str(Cow::Borrowed(s)))
}

fn tags(r: &AsffResource) -> Tree<'_> {
    Tree::Seq(
        r.tags
            .iter()
            .flat_map(|t| t.0.iter())
            .map(|(k, v)| {
                let value = v
                    .as_str()
                    .map_or_else(|| Cow::Owned(describe(v)), Cow::Borrowed);
                Tree::Map(vec![
                    ("key", Tree::Str(Cow::Borrowed(k))),
                    ("value", Tree::Str(value)),
                ])
            })
            .collect(),
    )
}

fn named<'a>(
    name_key: &'static str,
    name: &'a str,
    arn_key: &'static str,
    arn: &'a str,
    r: &'a AsffResource,
) -> Tree<'a> {
    Tree::Map(vec![
        (name_key, Tree::Str(Cow::Borrowed(name))),
        (arn_key, Tree::Str(Cow::Borrowed(arn))),
        ("tags", tags(r)),
    ])
}

/// `Resources[]` → `resource` (`accessKeyDetails`, `instanceDetails`, `s3BucketDetails`, ...).
pub(super) fn map_resources<'a>(resources: &'a [AsffResource], out: &mut TreeMap<'a>) {
    let mut kinds: Vec<&str> = Vec::new();
    let mut buckets = Vec::new();
    for r in resources {
        let id = r.id.as_deref().unwrap_or("");
        match r.resource_type.as_deref().unwrap_or("") {
            "AwsIamAccessKey" => {
                let d = details(r, "AwsIamAccessKey");
                let key_id = text(d, "AccessKeyId").or_else(|| {
                    id.rsplit_once(':')
                        .map(|(_, k)| k)
                        .filter(|k| !k.is_empty() && *k != "null")
                });
                let mut ak = Vec::new();
                if let Some(k) = key_id {
                    ak.push(("accessKeyId", Tree::Str(Cow::Borrowed(k))));
                }
                if let Some(p) = text(d, "PrincipalId") {
                    ak.push(("principalId", Tree::Str(Cow::Borrowed(p))));
                }
                if let Some(u) = text(d, "UserName").or_else(|| text(d, "PrincipalName")) {
                    ak.push(("userName", Tree::Str(Cow::Borrowed(u))));
                }
                if let Some(t) = text(d, "PrincipalType") {
                    ak.push(("userType", Tree::Str(Cow::Borrowed(t))));
                }
                entry_or_insert(out, "accessKeyDetails", Tree::Map(ak));
                kinds.push("AccessKey");
            }
            "AwsEc2Instance" => {
                let d = details(r, "AwsEc2Instance");
                let instance_id = id.rsplit_once("instance/").map_or(id, |(_, i)| i);
                let mut inst = vec![("instanceId", Tree::Str(Cow::Borrowed(instance_id)))];
                for (from, to) in [
                    ("Type", "instanceType"),
                    ("ImageId", "imageId"),
                    ("LaunchedAt", "launchTime"),
                ] {
                    if let Some(v) = text(d, from) {
                        inst.push((to, Tree::Str(Cow::Borrowed(v))));
                    }
                }
                inst.push(("tags", tags(r)));
                entry_or_insert(out, "instanceDetails", Tree::Map(inst));
                kinds.push("Instance");
            }
            "AwsS3Bucket" => {
                let name = id
                    .strip_prefix("arn:aws:s3:::")
                    .or_else(|| id.rsplit(':').next())
                    .unwrap_or(id);
                buckets.push(named("name", name, "arn", id, r));
                kinds.push("S3Bucket");
            }
            "AwsEksCluster" => {
                let name = text(details(r, "AwsEksCluster"), "Name")
                    .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id));
                entry_or_insert(out, "eksClusterDetails", named("name", name, "arn", id, r));
                kinds.push("EKSCluster");
            }
            "AwsEcsCluster" => {
                let name = text(details(r, "AwsEcsCluster"), "ClusterName")
                    .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id));
                entry_or_insert(out, "ecsClusterDetails", named("name", name, "arn", id, r));
                kinds.push("ECSCluster");
            }
            "AwsLambdaFunction" => {
                let name = text(details(r, "AwsLambdaFunction"), "FunctionName")
                    .unwrap_or_else(|| id.rsplit(':').next().unwrap_or(id));
                entry_or_insert(
                    out,
                    "lambdaDetails",
                    named("functionName", name, "functionArn", id, r),
                );
                kinds.push("Lambda");
            }
            "AwsRdsDbInstance" => {
                let name = text(details(r, "AwsRdsDbInstance"), "DBInstanceIdentifier")
                    .unwrap_or_else(|| id.rsplit(':').next().unwrap_or(id));
                entry_or_insert(
                    out,
                    "rdsDbInstanceDetails",
                    named("dbInstanceIdentifier", name, "dbInstanceArn", id, r),
                );
                kinds.push("RDSDBInstance");
            }
            "Container" => {
                let d = details(r, "Container");
                entry_or_insert(
                    out,
                    "containerDetails",
                    Tree::Map(vec![
                        ("name", opt_str(text(d, "Name"))),
                        ("image", opt_str(text(d, "ImageName"))),
                        ("id", opt_str(text(d, "ContainerRuntime").map(|_| id))),
                    ]),
                );
                kinds.push("Container");
            }
            _ => {}
        }
    }
    if !buckets.is_empty() {
        entry_or_insert(out, "s3BucketDetails", Tree::Seq(buckets));
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
        entry_or_insert(out, "resourceType", Tree::Str(Cow::Borrowed(kind)));
    }
}
