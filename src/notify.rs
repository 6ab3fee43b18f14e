//! Channels where the team works: Slack, Microsoft Teams, email (SES) and AWS Chatbot, one
//! thread per finding.
//!
//! Every channel renders the same [`Message`] (what was found, what remedy did or would do and
//! why, how often the finding was seen, how to decide a pending action, a link to the console)
//! in its own format, with the finding's text made inert for that format: it cannot mention
//! anyone, link anywhere or add a block, an element or a tag.
//!
//! | channel | executor | threads by |
//! | --- | --- | --- |
//! | Slack `chat.postMessage` | [`Slack`] (feature `chat`) | the parent's `ts`, kept in a [`crate::store::ThreadStore`] |
//! | Teams Workflows webhook | [`Teams`] (feature `chat`) | (webhooks cannot reply; one card each) |
//! | email, SES v2 | `aws::EmailNotifier` (feature `aws`) | `In-Reply-To`/`References` to the first `Message-ID`, kept like Slack's |
//! | AWS Chatbot over SNS | `aws::SnsNotifier` with the Chatbot format | `metadata.threadId`, the same for every message of a finding |
//!
//! A notification that cannot be delivered is a failed action with its reason (the worker
//! leaves the message for redelivery); a 429 says nothing was delivered, so
//! [`crate::action::Retry`] sends it once after the wait asked for.

pub mod chatbot;
pub mod email;
mod escape;
#[cfg(feature = "chat")]
mod http;
mod message;
#[cfg(feature = "chat")]
mod slack;
#[cfg(feature = "chat")]
mod teams;

pub use message::Message;
#[cfg(feature = "chat")]
pub use slack::{APPROVE, DENY, Slack, blocks as slack_blocks, fallback as slack_fallback};
#[cfg(feature = "chat")]
pub use teams::{Teams, card as teams_card};
