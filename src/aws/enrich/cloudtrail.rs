//! The CloudTrail enricher: what the finding's access key did over the last hours.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::DateTime;
use serde::Deserialize;
use tokio::time::Instant;

use super::{fail, to_time};
use crate::aws::accounts::{Place, Scoped};
use crate::aws::{AwsClients, AwsSettings};
use crate::enrich::{
    ActivityEvent, ActivitySummary, Context, ContextError, ContextErrorKind, Enricher,
};
use crate::finding::Finding;

const NAME: &str = "cloudtrail";

/// CloudTrail's `LookupEvents` allows 2 requests per second per account and region.
const LOOKUP_INTERVAL: Duration = Duration::from_millis(500);

/// The most events one `LookupEvents` page holds.
const PAGE: u32 = 50;

/// Reads the finding's access key's CloudTrail events of the last `hours` (`LookupEvents` by
/// `AccessKeyId` in the finding's region, paged, at most `max_events`) and summarizes them: calls
/// by name, distinct source addresses, first and last time, and the write calls (anything but
/// `Get*`, `List*`, `Describe*`).
///
/// Calls are paced to CloudTrail's 2 requests per second per account and region across all the
/// findings of the run; throttling is retried by the SDK (the `[aws]` attempts). When the first
/// page fails the activity part is left out; when a later one fails, what was read is kept
/// (marked truncated). Either way the error is an entry of the context.
#[derive(Debug)]
pub struct CloudTrailEnricher {
    clients: Clients,
    hours: u32,
    max_events: u32,
    pace: Pace,
}

/// Where the clients come from: one for every finding (tests), or the finding's account and
/// region.
type Clients = Scoped<Client>;

impl CloudTrailEnricher {
    /// An enricher reading the last `hours` of events, at most `max_events`, with clients made
    /// from `settings` and the AWS environment.
    pub async fn new(settings: &AwsSettings, hours: u32, max_events: u32) -> Self {
        Self::from_clients(&settings.load().await, hours, max_events)
    }

    pub(crate) fn from_clients(clients: &AwsClients, hours: u32, max_events: u32) -> Self {
        Self::with(
            Scoped::PerAccount(clients.accounts.clone()),
            hours,
            max_events,
        )
    }

    #[cfg(test)]
    pub(crate) fn from_client(client: Client, hours: u32, max_events: u32) -> Self {
        Self::with(Scoped::Fixed(client), hours, max_events)
    }

    fn with(clients: Clients, hours: u32, max_events: u32) -> Self {
        Self {
            clients,
            hours,
            max_events: max_events.max(1),
            pace: Pace::new(LOOKUP_INTERVAL),
        }
    }

    /// The client for `finding`: its account (as the executors get theirs) and, CloudTrail being
    /// regional, its region (else the configured one).
    async fn client_for(&self, finding: &Finding) -> Result<Client, ContextError> {
        self.clients
            .client_in(&Place::of(finding), None, Client::new)
            .await
            .map_err(|refused| super::refused(NAME, &refused))
    }

    async fn activity(&self, finding: &Finding, key: &str) -> Context {
        let client = match self.client_for(finding).await {
            Ok(client) => client,
            Err(e) => return Context::failed(e),
        };
        let attribute = match LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::AccessKeyId)
            .attribute_value(key)
            .build()
        {
            Ok(a) => a,
            Err(e) => {
                return Context::failed(ContextError::new(
                    NAME,
                    ContextErrorKind::Failed,
                    e.to_string(),
                ));
            }
        };
        let end = SystemTime::now();
        let start = end
            .checked_sub(Duration::from_secs(u64::from(self.hours) * 3600))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let pace_key = format!("{}\u{1f}{}", finding.account_id(), finding.region());
        let max = usize::try_from(self.max_events).unwrap_or(usize::MAX);
        let mut events: Vec<ActivityEvent> = Vec::new();
        let mut token: Option<String> = None;
        let mut truncated = false;
        let mut errors = Vec::new();
        loop {
            self.pace.wait(&pace_key).await;
            let left = u32::try_from(max.saturating_sub(events.len())).unwrap_or(PAGE);
            let page = client
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .start_time(DateTime::from(start))
                .end_time(DateTime::from(end))
                .max_results(i32::try_from(left.min(PAGE)).unwrap_or(50))
                .set_next_token(token.take())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    let error = fail(NAME, "LookupEvents", &e);
                    if events.is_empty() {
                        return Context::failed(error);
                    }
                    errors.push(error);
                    truncated = true;
                    break;
                }
            };
            for event in page.events() {
                if events.len() >= max {
                    truncated = true;
                    break;
                }
                events.push(activity_event(event));
            }
            match page.next_token() {
                Some(next) if events.len() < max && !next.is_empty() => {
                    token = Some(next.to_owned());
                }
                Some(next) if !next.is_empty() => {
                    truncated = true;
                    break;
                }
                _ => break,
            }
        }
        Context {
            principal: None,
            activity: Some(ActivitySummary::from_events(self.hours, events, truncated)),
            errors,
        }
    }
}

/// The parts of a CloudTrail record (`CloudTrailEvent`, a JSON string) a summary needs.
#[derive(Deserialize)]
struct Record {
    #[serde(rename = "sourceIPAddress", default)]
    source_ip: Option<String>,
}

fn activity_event(event: &aws_sdk_cloudtrail::types::Event) -> ActivityEvent {
    let source_ip = event
        .cloud_trail_event()
        .and_then(|json| serde_json::from_str::<Record>(json).ok())
        .and_then(|r| r.source_ip);
    ActivityEvent {
        name: event.event_name().unwrap_or("unknown").to_owned(),
        time: event.event_time().and_then(to_time),
        source_ip,
    }
}

#[async_trait]
impl Enricher for CloudTrailEnricher {
    async fn enrich(&self, finding: &Finding) -> Context {
        match finding.access_key_id() {
            Some(key) => self.activity(finding, key).await,
            None => Context::default(),
        }
    }

    fn name(&self) -> &str {
        NAME
    }
}

/// Spaces calls of the same key (account and region) at least `interval` apart, across every
/// task of the run: each caller takes the next free slot and sleeps until it.
#[derive(Debug)]
pub(crate) struct Pace {
    interval: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl Pace {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the next slot of `key`.
    pub(crate) async fn wait(&self, key: &str) {
        let now = Instant::now();
        let at = match self.next.lock() {
            Ok(mut next) => {
                let slot = next.entry(key.to_owned()).or_insert(now);
                let at = (*slot).max(now);
                *slot = at + self.interval;
                at
            }
            Err(_) => now,
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_of_one_account_and_region_are_spaced() {
        let pace = Pace::new(Duration::from_millis(500));
        let start = Instant::now();
        for _ in 0..3 {
            pace.wait("a").await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
        // Another account and region has its own slots.
        let other = Instant::now();
        pace.wait("b").await;
        assert_eq!(other.elapsed(), Duration::ZERO);
        // Concurrent callers each get their own slot.
        let t = Instant::now();
        tokio::join!(pace.wait("c"), pace.wait("c"), pace.wait("c"));
        assert_eq!(t.elapsed(), Duration::from_millis(1000));
    }
}
