//! Writing back to a finding's source: `update_finding` (Security Hub `BatchUpdateFindings`, or
//! `BatchUpdateFindingsV2` for OCSF findings), `archive_finding` (GuardDuty `ArchiveFindings`)
//! and `suppress_similar` (a GuardDuty filter archiving findings like it), and their undo.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_guardduty::types::{Condition as GdCondition, FilterAction, FindingCriteria};
use aws_sdk_securityhub::types::{
    AwsSecurityFindingFilters, AwsSecurityFindingIdentifier, CompositeFilter, NoteUpdate,
    OcsfFindingFilters, OcsfStringField, OcsfStringFilter, StringFilter, StringFilterComparison,
    WorkflowStatus as ShStatus, WorkflowUpdate,
};
use aws_smithy_types::{Document, Number};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AwsClients;
use super::error::map_sdk_error;
use crate::action::{ActionRequest, ErrorKind, Executor, Outcome};
use crate::config::WritebackConfig;
use crate::finding::FindingSource;
use crate::plan::{
    Action, FindingContext, Reversal, SuppressSimilar, UpdateFinding, WorkflowStatus,
};

/// The tag that records when a suppression filter expires (RFC 3339): `remedy expire` reads it.
pub const EXPIRES_TAG: &str = "remedy-expires";

/// Who Security Hub says updated a finding.
const UPDATED_BY: &str = "remedy";

/// A client in remedy's own account: fixed (tests), or made for the finding's region.
#[derive(Debug, Clone)]
enum Own<C> {
    #[cfg_attr(not(test), allow(dead_code))]
    Fixed(C),
    Regional(Box<SdkConfig>),
}

impl<C: Clone> Own<C> {
    fn client(&self, region: &str, make: impl FnOnce(&SdkConfig) -> C) -> C {
        match self {
            Own::Fixed(c) => c.clone(),
            Own::Regional(base) => {
                let mut config = base.to_builder();
                if !region.is_empty() {
                    config.set_region(Some(aws_config::Region::new(region.to_owned())));
                }
                make(&config.build())
            }
        }
    }
}

/// Writes back to the finding's source, in remedy's own account and the finding's region.
///
/// - `update_finding`: reads the finding's workflow status first (`GetFindings`; for the undo),
///   then `BatchUpdateFindings` with `Workflow.Status` and a `Note` (`UpdatedBy` = `remedy`). A
///   GuardDuty finding is named by its ARN and the GuardDuty product ARN of its region; a
///   Security Hub finding by its `Id` and `ProductArn`; an OCSF finding by its `metadata.uid`
///   (`GetFindingsV2` reads its `status_id` first, then `BatchUpdateFindingsV2`). An unprocessed
///   identifier is a failed action.
/// - `archive_finding`: `ArchiveFindings` on the detector of `[writeback] detectors` for the
///   region, or the one `ListDetectors` finds. Only the GuardDuty administrator account may
///   archive a member's findings: from a member account the call fails, and the outcome says so.
/// - `suppress_similar`: `CreateFilter` with action `ARCHIVE`, named from the finding, tagged
///   [`EXPIRES_TAG`] with its expiry; undone (and expired) by `DeleteFilter`.
#[derive(Debug, Clone)]
pub struct WritebackExecutor {
    guardduty: Own<aws_sdk_guardduty::Client>,
    securityhub: Own<aws_sdk_securityhub::Client>,
    config: WritebackConfig,
}

impl WritebackExecutor {
    /// An executor with clients made from `settings` and the AWS environment.
    pub async fn new(settings: &super::AwsSettings, config: WritebackConfig) -> Self {
        Self::from_clients(&settings.load().await, config)
    }

    pub(crate) fn from_clients(clients: &AwsClients, config: WritebackConfig) -> Self {
        Self {
            guardduty: Own::Regional(Box::new(clients.sdk.clone())),
            securityhub: Own::Regional(Box::new(clients.sdk.clone())),
            config,
        }
    }

    #[cfg(test)]
    pub(crate) fn from_client(
        guardduty: aws_sdk_guardduty::Client,
        securityhub: aws_sdk_securityhub::Client,
        config: WritebackConfig,
    ) -> Self {
        Self {
            guardduty: Own::Fixed(guardduty),
            securityhub: Own::Fixed(securityhub),
            config,
        }
    }

    fn gd(&self, region: &str) -> aws_sdk_guardduty::Client {
        self.guardduty
            .client(region, aws_sdk_guardduty::Client::new)
    }

    fn sh(&self, region: &str) -> aws_sdk_securityhub::Client {
        self.securityhub
            .client(region, aws_sdk_securityhub::Client::new)
    }

    /// The detector of remedy's account in `region`: configured, or found.
    async fn detector(&self, region: &str) -> Result<String, Outcome> {
        if let Some(id) = self.config.detector(region) {
            return Ok(id.to_owned());
        }
        let out = self
            .gd(region)
            .list_detectors()
            .send()
            .await
            .map_err(|e| Outcome::Failed(map_sdk_error("ListDetectors", &e)))?;
        out.detector_ids().first().cloned().ok_or_else(|| {
            Outcome::failed(
                ErrorKind::NotFound,
                format!(
                    "remedy's account has no GuardDuty detector in `{region}` (set `[writeback] \
                     detectors`)"
                ),
            )
        })
    }

    async fn archive(&self, finding: &FindingContext) -> Outcome {
        if finding.source != FindingSource::GuardDuty {
            return Outcome::failed(
                ErrorKind::InvalidInput,
                format!(
                    "only GuardDuty findings can be archived in GuardDuty (this one came from {})",
                    finding.source
                ),
            );
        }
        let detector = match self.detector(&finding.region).await {
            Ok(d) => d,
            Err(outcome) => return outcome,
        };
        match self
            .gd(&finding.region)
            .archive_findings()
            .detector_id(&detector)
            .finding_ids(finding.id.as_ref())
            .send()
            .await
        {
            Ok(_) => Outcome::executed(format!(
                "archived finding `{}` on detector `{detector}` in {}",
                finding.id, finding.region
            )),
            Err(e) => {
                let error = map_sdk_error("ArchiveFindings", &e);
                Outcome::failed(
                    error.kind(),
                    format!(
                        "{}; only the GuardDuty administrator account can archive its members' \
                         findings, and remedy archives from its own account (the finding is of \
                         account {})",
                        error.message(),
                        finding.account_id
                    ),
                )
            }
        }
    }

    /// The Security Hub identifier of `finding`: its id and product ARN.
    fn identifier(finding: &FindingContext) -> Result<(String, String), Outcome> {
        let (id, product) = match finding.source {
            FindingSource::GuardDuty => {
                let arn = finding.finding_arn.as_deref().ok_or_else(|| {
                    Outcome::failed(
                        ErrorKind::InvalidInput,
                        "the finding has no ARN: Security Hub names GuardDuty findings by theirs",
                    )
                })?;
                let partition = arn.split(':').nth(1).unwrap_or("aws");
                (
                    arn.to_owned(),
                    format!(
                        "arn:{partition}:securityhub:{}::product/aws/guardduty",
                        finding.region
                    ),
                )
            }
            FindingSource::SecurityHub => {
                let product = finding.product_arn.as_deref().ok_or_else(|| {
                    Outcome::failed(
                        ErrorKind::InvalidInput,
                        "the finding has no `ProductArn`: Security Hub names findings by it",
                    )
                })?;
                (finding.id.to_string(), product.to_owned())
            }
            other => {
                return Err(Outcome::failed(
                    ErrorKind::Unsupported,
                    format!("findings from {other} have no Security Hub workflow"),
                ));
            }
        };
        Ok((id, product))
    }

    /// The workflow status Security Hub has for `id` now (`NEW` when it says none).
    async fn current_status(
        &self,
        finding: &FindingContext,
        (id, product): (&str, &str),
    ) -> Result<WorkflowStatus, Outcome> {
        let eq = |v: &str| {
            StringFilter::builder()
                .comparison(StringFilterComparison::Equals)
                .value(v)
                .build()
        };
        let out = self
            .sh(&finding.region)
            .get_findings()
            .filters(
                AwsSecurityFindingFilters::builder()
                    .id(eq(id))
                    .product_arn(eq(product))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Outcome::Failed(map_sdk_error("GetFindings", &e)))?;
        Ok(out
            .findings()
            .first()
            .and_then(|f| f.workflow())
            .and_then(|w| w.status())
            .and_then(|s| WorkflowStatus::parse(s.as_str()))
            .unwrap_or(WorkflowStatus::New))
    }

    async fn update(&self, finding: &FindingContext, u: &UpdateFinding) -> Outcome {
        if finding.source == FindingSource::Ocsf {
            return self.update_ocsf(finding, u).await;
        }
        let (id, product) = match Self::identifier(finding) {
            Ok(id) => id,
            Err(outcome) => return outcome,
        };
        let previous = match self.current_status(finding, (&id, &product)).await {
            Ok(s) => s,
            Err(outcome) => return outcome,
        };
        let sent = self
            .sh(&finding.region)
            .batch_update_findings()
            .finding_identifiers(
                AwsSecurityFindingIdentifier::builder()
                    .id(&id)
                    .product_arn(&product)
                    .build(),
            )
            .workflow(
                WorkflowUpdate::builder()
                    .status(ShStatus::from(u.status.as_str()))
                    .build(),
            )
            .note(
                NoteUpdate::builder()
                    .text(&u.note)
                    .updated_by(UPDATED_BY)
                    .build(),
            )
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => return Outcome::Failed(map_sdk_error("BatchUpdateFindings", &e)),
        };
        if let Some(bad) = out.unprocessed_findings().first() {
            return Outcome::failed(
                ErrorKind::InvalidInput,
                format!(
                    "Security Hub did not update finding `{}`: {} ({})",
                    id,
                    bad.error_message().unwrap_or("no reason given"),
                    bad.error_code().unwrap_or("no code")
                ),
            );
        }
        Outcome::reversible(
            format!(
                "set Security Hub workflow status of `{}` to {} (was {previous}) with note \"{}\"",
                id,
                u.status,
                u.note.escape_default()
            ),
            Reversal::SetWorkflowStatus { status: previous },
        )
    }

    /// The OCSF `status_id` Security Hub has for `uid` now (`GetFindingsV2`; `None` when it
    /// has no such finding or no status).
    async fn current_ocsf_status(
        &self,
        finding: &FindingContext,
        uid: &str,
    ) -> Result<Option<i64>, Outcome> {
        let filter = OcsfStringFilter::builder()
            .field_name(OcsfStringField::MetadataUid)
            .filter(
                StringFilter::builder()
                    .comparison(StringFilterComparison::Equals)
                    .value(uid)
                    .build(),
            )
            .build();
        let out = self
            .sh(&finding.region)
            .get_findings_v2()
            .filters(
                OcsfFindingFilters::builder()
                    .composite_filters(CompositeFilter::builder().string_filters(filter).build())
                    .build(),
            )
            .max_results(1)
            .send()
            .await
            .map_err(|e| Outcome::Failed(map_sdk_error("GetFindingsV2", &e)))?;
        Ok(out.findings().first().and_then(|doc| match doc {
            Document::Object(fields) => match fields.get("status_id") {
                Some(Document::Number(Number::PosInt(n))) => i64::try_from(*n).ok(),
                Some(Document::Number(Number::NegInt(n))) => Some(*n),
                _ => None,
            },
            _ => None,
        }))
    }

    async fn update_ocsf(&self, finding: &FindingContext, u: &UpdateFinding) -> Outcome {
        let Some(uid) = finding.metadata_uid.as_deref() else {
            return Outcome::failed(
                ErrorKind::InvalidInput,
                "the OCSF finding has no `metadata.uid`: Security Hub names OCSF findings by it",
            );
        };
        // What to restore on undo: the status before (a finding Security Hub does not know yet
        // is new); a status outside the four (archived, deleted, other) cannot be set back.
        let previous = match self.current_ocsf_status(finding, uid).await {
            Ok(None) => Ok(WorkflowStatus::New),
            Ok(Some(id)) => WorkflowStatus::from_ocsf_status_id(id).ok_or(id),
            Err(outcome) => return outcome,
        };
        let sent = self
            .sh(&finding.region)
            .batch_update_findings_v2()
            .metadata_uids(uid)
            .status_id(u.status.ocsf_status_id())
            .comment(&u.note)
            .send()
            .await;
        match sent {
            Err(e) => Outcome::Failed(map_sdk_error("BatchUpdateFindingsV2", &e)),
            Ok(out) => match out.unprocessed_findings().first() {
                Some(bad) => Outcome::failed(
                    ErrorKind::InvalidInput,
                    format!(
                        "Security Hub did not update finding `{uid}`: {} ({})",
                        bad.error_message().unwrap_or("no reason given"),
                        bad.error_code().map_or("", |c| c.as_str())
                    ),
                ),
                None => {
                    let (was, reversal) = match previous {
                        Ok(status) => (status.to_string(), Reversal::SetWorkflowStatus { status }),
                        Err(id) => (
                            format!("status_id {id}"),
                            Reversal::Irreversible {
                                reason: format!(
                                    "the OCSF status before remedy's update (status_id {id}) is \
                                     not one remedy sets; set it in Security Hub"
                                ),
                            },
                        ),
                    };
                    Outcome::reversible(
                        format!(
                            "set the OCSF status of `{uid}` to {} (was {was}) with comment \"{}\"",
                            u.status,
                            u.note.escape_default()
                        ),
                        reversal,
                    )
                }
            },
        }
    }

    async fn restore(&self, finding: &FindingContext, status: WorkflowStatus) -> Outcome {
        let undo = UpdateFinding {
            status,
            note: format!("remedy undo: workflow status set back to {status}"),
        };
        match self.update(finding, &undo).await {
            Outcome::Executed { details, .. } => Outcome::executed(details),
            other => other,
        }
    }

    async fn suppress(&self, finding: &FindingContext, s: &SuppressSimilar) -> Outcome {
        if let Some(why) = s.invalid() {
            return Outcome::failed(ErrorKind::InvalidInput, why);
        }
        let conditions = match s.conditions(finding) {
            Ok(c) => c,
            Err(why) => return Outcome::failed(ErrorKind::InvalidInput, why),
        };
        let detector = match self.detector(&finding.region).await {
            Ok(d) => d,
            Err(outcome) => return outcome,
        };
        let name = s.filter_name(finding);
        let expires = OffsetDateTime::now_utc() + time::Duration::days(i64::from(s.days));
        let expires = expires.format(&Rfc3339).unwrap_or_default();
        let criteria = conditions
            .iter()
            .fold(FindingCriteria::builder(), |b, c| {
                b.criterion(&c.field, GdCondition::builder().equals(&c.value).build())
            })
            .build();
        let sent = self
            .gd(&finding.region)
            .create_filter()
            .detector_id(&detector)
            .name(&name)
            .action(FilterAction::Archive)
            .description(format!(
                "remedy: archives findings like {} until {expires}",
                finding.id
            ))
            .finding_criteria(criteria)
            .client_token(&name)
            .tags(EXPIRES_TAG, &expires)
            .send()
            .await;
        let listed: Vec<String> = conditions
            .iter()
            .map(|c| format!("{} = {}", c.field, c.value))
            .collect();
        match sent {
            Ok(_) => Outcome::reversible(
                format!(
                    "created GuardDuty filter `{name}` (ARCHIVE where {}) until {expires}",
                    listed.join(" and ")
                ),
                Reversal::DeleteFilter {
                    region: finding.region.to_string(),
                    filter_name: name,
                },
            ),
            Err(e) => Outcome::Failed(map_sdk_error("CreateFilter", &e)),
        }
    }

    /// Deletes filter `name` in `region`; already done when it is gone.
    pub(crate) async fn delete_filter(&self, region: &str, name: &str) -> Outcome {
        let detector = match self.detector(region).await {
            Ok(d) => d,
            Err(outcome) => return outcome,
        };
        match self
            .gd(region)
            .delete_filter()
            .detector_id(&detector)
            .filter_name(name)
            .send()
            .await
        {
            Ok(_) => Outcome::executed(format!("deleted GuardDuty filter `{name}` in {region}")),
            Err(e) => {
                let error = map_sdk_error("DeleteFilter", &e);
                if error.kind() == ErrorKind::NotFound {
                    Outcome::already_done(format!("no GuardDuty filter `{name}` in {region}"))
                } else {
                    Outcome::Failed(error)
                }
            }
        }
    }

    /// Deletes the suppression filters of remedy in `region` whose expiry is before `now`:
    /// the names of those deleted, or why they could not be listed.
    pub async fn expire_filters(
        &self,
        region: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, String> {
        let detector = self.detector(region).await.map_err(|o| o.to_string())?;
        let client = self.gd(region);
        // Every page: GuardDuty lists 50 filters at a time by default.
        let mut names = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = client
                .list_filters()
                .detector_id(&detector)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| map_sdk_error("ListFilters", &e).to_string())?;
            names.extend_from_slice(page.filter_names());
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        let mut deleted = Vec::new();
        for name in names
            .iter()
            .filter(|n| n.starts_with(crate::plan::SUPPRESSION_PREFIX))
        {
            let filter = client
                .get_filter()
                .detector_id(&detector)
                .filter_name(name)
                .send()
                .await
                .map_err(|e| map_sdk_error("GetFilter", &e).to_string())?;
            let expired = filter
                .tags()
                .and_then(|t| t.get(EXPIRES_TAG))
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                .is_some_and(|t| t <= now);
            if expired {
                match self.delete_filter(region, name).await {
                    Outcome::Failed(e) => return Err(e.to_string()),
                    _ => deleted.push(name.clone()),
                }
            }
        }
        Ok(deleted)
    }
}

#[async_trait]
impl Executor for WritebackExecutor {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let finding = request.finding;
        match request.action {
            Action::UpdateFinding(u) => self.update(finding, u).await,
            Action::ArchiveFinding(_) => self.archive(finding).await,
            Action::SuppressSimilar(s) => self.suppress(finding, s).await,
            Action::Undo(u) => match &u.reversal {
                Reversal::SetWorkflowStatus { status } => self.restore(finding, *status).await,
                Reversal::DeleteFilter {
                    region,
                    filter_name,
                } => self.delete_filter(region, filter_name).await,
                _ => request.unsupported("the write-back executor"),
            },
            _ => request.unsupported("the write-back executor"),
        }
    }
}

#[cfg(test)]
mod tests;
