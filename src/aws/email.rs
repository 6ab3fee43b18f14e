//! `notify` by email, through SES v2.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{EmailContent, RawMessage};

use super::AwsClients;
use super::error::map_sdk_error;
use crate::action::{ActionRequest, Executor, Outcome};
use crate::notify::Message;
use crate::notify::email::{is_message_id, render};
use crate::store::thread::{MemoryThreads, ThreadKey, ThreadStore};

/// Sends notifications by email with SES v2 `SendEmail` (a raw MIME message with a text and an
/// HTML part). The first message about a finding starts the thread; later ones carry
/// `In-Reply-To` and `References` with its `Message-ID` (SES's id, kept in a [`ThreadStore`]).
/// `SendEmail` is tried once by the SDK so a message is not sent twice.
#[derive(Debug, Clone)]
pub struct EmailNotifier {
    client: Client,
    from: String,
    to: Vec<String>,
    region: String,
    threads: Arc<dyn ThreadStore>,
}

impl EmailNotifier {
    /// The client is in `region` (or remedy's own), with remedy's own credentials.
    pub(crate) fn from_clients(
        clients: &AwsClients,
        from: &str,
        to: &[String],
        region: Option<&str>,
    ) -> Self {
        let mut sdk = clients.sdk.to_builder();
        if let Some(region) = region {
            sdk.set_region(Some(aws_config::Region::new(region.to_owned())));
        }
        let sdk = sdk.build();
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_else(|| "us-east-1".to_owned());
        Self::from_client(Client::new(&sdk), from, to, &region)
    }

    /// A notifier with `client` (in `region`).
    pub(crate) fn from_client(client: Client, from: &str, to: &[String], region: &str) -> Self {
        Self {
            client,
            from: from.to_owned(),
            to: to.to_vec(),
            region: region.to_owned(),
            threads: Arc::new(MemoryThreads::new()),
        }
    }

    /// Where the threads' first `Message-ID`s are kept.
    pub fn with_threads(mut self, threads: Arc<dyn ThreadStore>) -> Self {
        self.threads = threads;
        self
    }

    /// The `Message-ID` header SES gives a message of id `id`.
    fn message_id(&self, id: &str) -> String {
        let host = if self.region == "us-east-1" {
            "email.amazonses.com".to_owned()
        } else {
            format!("{}.amazonses.com", self.region)
        };
        format!("<{id}@{host}>")
    }
}

#[async_trait]
impl Executor for EmailNotifier {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let message = match Message::from_request(request, "the email notifier") {
            Ok(m) => m,
            Err(unsupported) => return unsupported,
        };
        let key = ThreadKey::new(format!("email:{}", self.to.join(",")), &message.finding_id);
        let mut notes = Vec::new();
        let parent = match self.threads.parent(&key).await {
            Ok(parent) => parent.filter(|p| is_message_id(p)),
            Err(e) => {
                notes.push(format!("sent as a new thread: {e}"));
                None
            }
        };
        let raw = render(&message, &self.from, &self.to, parent.as_deref());
        let content = match RawMessage::builder()
            .data(Blob::new(raw.into_bytes()))
            .build()
        {
            Ok(raw) => EmailContent::builder().raw(raw).build(),
            Err(e) => {
                return Outcome::failed(
                    crate::action::ErrorKind::InvalidInput,
                    format!("cannot build the email: {e}"),
                );
            }
        };
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                aws_sdk_sesv2::types::Destination::builder()
                    .set_to_addresses(Some(self.to.clone()))
                    .build(),
            )
            .content(content)
            .customize()
            .config_override(
                aws_sdk_sesv2::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await;
        let id = match sent {
            Ok(out) => out.message_id().unwrap_or_default().to_owned(),
            Err(e) => return Outcome::Failed(map_sdk_error("SendEmail", &e)),
        };
        let place = match &parent {
            Some(parent) => format!("a reply to {parent}"),
            None => {
                let header = self.message_id(&id);
                if !id.is_empty()
                    && let Err(e) = self.threads.set_parent(&key, &header).await
                {
                    notes.push(format!("its thread was not kept: {e}"));
                }
                "a new thread".to_owned()
            }
        };
        let mut summary = format!(
            "emailed {} for channel `{}` (message {id}, {place})",
            self.to.join(", "),
            message.channel
        );
        for note in notes {
            summary.push_str("; ");
            summary.push_str(&note);
        }
        Outcome::executed(summary)
    }
}
