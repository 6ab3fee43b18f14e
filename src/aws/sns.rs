//! `notify` with SNS.

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_sdk_sns::Client;

use super::AwsClients;
use super::error::map_sdk_error;
use crate::action::{ActionRequest, Executor, Notification, Outcome};

/// Publishes notifications to one SNS topic (route channels to topics with a
/// [`crate::action::ChannelRouter`]).
///
/// The subject is under 100 ASCII characters and the body under SNS's 256 KiB limit (see
/// [`Notification`]). `Publish` is tried once by the SDK so a message is not sent twice.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
    chatbot: bool,
}

impl SnsNotifier {
    /// A notifier for `topic_arn` with a client made from `settings` and the AWS environment.
    pub async fn new(settings: &super::AwsSettings, topic_arn: impl Into<String>) -> Self {
        Self::from_clients(&settings.load().await, topic_arn)
    }

    /// The client is in the topic's region (from its ARN), with remedy's own credentials: the
    /// topic is the team's, whatever account the finding is of.
    pub(crate) fn from_clients(clients: &AwsClients, topic_arn: impl Into<String>) -> Self {
        let topic_arn = topic_arn.into();
        let mut sdk = clients.sdk.to_builder();
        if let Some(region) = topic_arn.split(':').nth(3).filter(|r| !r.is_empty()) {
            sdk.set_region(Some(aws_config::Region::new(region.to_owned())));
        }
        Self {
            client: Client::new(&sdk.build()),
            topic_arn,
            chatbot: false,
        }
    }

    /// Publishes AWS Chatbot's custom-notification JSON instead of plain text (see
    /// [`crate::notify::chatbot`]): Chatbot shows it in Slack or Teams, every message of one
    /// finding in one thread.
    pub fn with_chatbot_format(mut self) -> Self {
        self.chatbot = true;
        self
    }

    #[cfg(test)]
    pub(crate) fn from_client(client: Client, topic_arn: &str) -> Self {
        Self {
            client,
            topic_arn: topic_arn.to_owned(),
            chatbot: false,
        }
    }

    /// The topic.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }
}

#[async_trait]
impl Executor for SnsNotifier {
    async fn execute(&self, request: &ActionRequest<'_>) -> Outcome {
        let n = match Notification::render(request, "the SNS notifier") {
            Ok(n) => n,
            Err(unsupported) => return unsupported,
        };
        let (body, format) = if self.chatbot {
            match crate::notify::Message::from_request(request, "the SNS notifier") {
                Ok(message) => (
                    crate::notify::chatbot::render(&message),
                    " as a Chatbot notification",
                ),
                Err(unsupported) => return unsupported,
            }
        } else {
            (n.body, "")
        };
        let result = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&n.subject)
            .message(body)
            .customize()
            .config_override(
                aws_sdk_sns::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await;
        match result {
            Ok(out) => Outcome::executed(format!(
                "published to `{}`{format} for channel `{}` (message {})",
                self.topic_arn,
                n.channel,
                out.message_id().unwrap_or("without id")
            )),
            Err(e) => Outcome::Failed(map_sdk_error("Publish", &e)),
        }
    }
}
