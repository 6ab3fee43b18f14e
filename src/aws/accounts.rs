//! Credentials and region for each finding: the finding's account (assumed role, or remedy's own
//! account and no other) and the finding's region for regional services.
//!
//! With `[accounts] role`, each finding's actions run with credentials from `AssumeRole` into the
//! finding's account (session name `remedy-<finding id>`, so CloudTrail shows why), cached per
//! account and finding and refreshed before they expire. The assumed session's ARN must name the
//! finding's account, or nothing runs. Without a role, remedy learns its own account once
//! (`GetCallerIdentity`) and refuses findings of every other. An `AssumeRole` that fails is
//! remembered for a minute, so the account's other actions fail at once instead of calling STS
//! again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};

use super::error::map_sdk_error;
use crate::action::{ActionError, ErrorKind, Outcome, SkipReason};
use crate::config::AccountsConfig;
use crate::plan::FindingContext;

/// How long assumed credentials are asked for (STS's minimum; they are refreshed as needed).
const SESSION: Duration = Duration::from_secs(900);
/// Credentials this close to their expiry are refreshed.
const REFRESH_BEFORE: Duration = Duration::from_secs(120);
/// How long a failed `AssumeRole` is remembered.
const FAILURE_MEMORY: Duration = Duration::from_secs(60);
/// How many assumed sessions are kept.
const MAX_SESSIONS: usize = 1024;

/// Makes the SDK configuration each finding's actions run with.
#[derive(Debug)]
pub(crate) struct AccountClients {
    base: SdkConfig,
    accounts: AccountsConfig,
    sts: aws_sdk_sts::Client,
    own: tokio::sync::OnceCell<String>,
    sessions: Mutex<HashMap<(String, String), SharedCredentialsProvider>>,
    failed: Mutex<HashMap<String, (Instant, ActionError)>>,
}

impl AccountClients {
    /// Clients from `base` (region, endpoint, credentials of remedy itself) for `accounts`.
    pub(crate) fn new(base: SdkConfig, accounts: AccountsConfig) -> Self {
        let sts = aws_sdk_sts::Client::new(&base);
        Self::with_sts(base, accounts, sts)
    }

    /// The same, with a given STS client (tests: faults from aws-smithy-mocks).
    pub(crate) fn with_sts(
        base: SdkConfig,
        accounts: AccountsConfig,
        sts: aws_sdk_sts::Client,
    ) -> Self {
        Self {
            base,
            accounts,
            sts,
            own: tokio::sync::OnceCell::new(),
            sessions: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration for acting on `finding`: its account's credentials, and `region` (for a
    /// regional service: the finding's region; `None`: the finding's region, or remedy's own when
    /// the finding names none). A refusal or a failure is the action's outcome.
    #[cfg(test)]
    pub(crate) async fn config_for(
        &self,
        finding: &FindingContext,
        region: Option<&str>,
    ) -> Result<SdkConfig, Outcome> {
        let place = Place {
            account: &finding.account_id,
            region: &finding.region,
            finding_id: &finding.id,
        };
        self.config_in(&place, region).await
    }

    /// [`AccountClients::config_for`] for a finding given by its account, region and id (the
    /// enrichers, which read a [`crate::Finding`]).
    pub(crate) async fn config_in(
        &self,
        place: &Place<'_>,
        region: Option<&str>,
    ) -> Result<SdkConfig, Outcome> {
        let account = place.account;
        if !self.accounts.allows(account) {
            return Err(Outcome::Skipped(SkipReason::AccountNotAllowed {
                account: account.to_owned(),
                detail: format!(
                    "not in `[accounts] allowed` ({})",
                    self.accounts.allowed.join(", ")
                ),
            }));
        }
        let region = region
            .filter(|r| !r.is_empty())
            .or_else(|| Some(place.region).filter(|r| !r.is_empty()))
            .map(|r| Region::new(r.to_owned()))
            .or_else(|| self.base.region().cloned());
        let mut config = self.base.to_builder();
        config.set_region(region);
        match self.accounts.role_for(account) {
            None => {
                let own = self.own_account().await.map_err(Outcome::Failed)?;
                if own != account {
                    let detail = if account.is_empty() {
                        format!(
                            "the finding names no account, and remedy acts only in its own \
                             ({own})"
                        )
                    } else {
                        format!(
                            "remedy's credentials are of account {own}; to act in other \
                             accounts, set `[accounts] role` and `allowed`"
                        )
                    };
                    return Err(Outcome::Skipped(SkipReason::AccountNotAllowed {
                        account: account.to_owned(),
                        detail,
                    }));
                }
                Ok(config.build())
            }
            Some(role) => {
                let provider = self
                    .session(&role, account, place.finding_id)
                    .await
                    .map_err(Outcome::Failed)?;
                config.set_credentials_provider(Some(provider));
                Ok(config.build())
            }
        }
    }

    /// remedy's own account, asked once.
    async fn own_account(&self) -> Result<String, ActionError> {
        self.own
            .get_or_try_init(|| async {
                let who = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| map_sdk_error("GetCallerIdentity", &e))?;
                who.account().map(str::to_owned).ok_or_else(|| {
                    ActionError::new(ErrorKind::Unavailable, "GetCallerIdentity named no account")
                })
            })
            .await
            .cloned()
    }

    /// The assumed session for `finding` in `account`, made (and checked) on first use.
    async fn session(
        &self,
        role: &str,
        account: &str,
        finding_id: &str,
    ) -> Result<SharedCredentialsProvider, ActionError> {
        let key = (account.to_owned(), finding_id.to_owned());
        if let Some(p) = self.lock_sessions().get(&key) {
            return Ok(p.clone());
        }
        {
            let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
            failed.retain(|_, (at, _)| at.elapsed() < FAILURE_MEMORY);
            if let Some((_, e)) = failed.get(account) {
                return Err(ActionError::new(
                    e.kind(),
                    format!("{} (not tried again for a minute)", e.message()),
                ));
            }
        }
        let assumed = AssumedRole {
            sts: self.sts.clone(),
            role: role.to_owned(),
            account: account.to_owned(),
            session_name: session_name(finding_id),
            external_id: self.accounts.external_id.clone(),
            cached: Arc::new(Mutex::new(None)),
        };
        if let Err(e) = assumed.fetch().await {
            self.failed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(account.to_owned(), (Instant::now(), e.clone()));
            return Err(e);
        }
        let provider = SharedCredentialsProvider::new(assumed);
        let mut sessions = self.lock_sessions();
        if sessions.len() >= MAX_SESSIONS {
            sessions.clear();
        }
        sessions.insert(key, provider.clone());
        Ok(provider)
    }

    fn lock_sessions(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), SharedCredentialsProvider>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where a finding's actions (and lookups) run: its account and region, and its id (the session
/// name).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    /// The finding's account id.
    pub(crate) account: &'a str,
    /// The finding's region (empty: remedy's own).
    pub(crate) region: &'a str,
    /// The finding's id.
    pub(crate) finding_id: &'a str,
}

impl<'a> Place<'a> {
    /// The place of `finding`.
    pub(crate) fn of(finding: &'a crate::finding::Finding) -> Self {
        Self {
            account: finding.account_id(),
            region: finding.region(),
            finding_id: finding.id(),
        }
    }
}

/// A client of one service: fixed (tests), or made per finding from its account's credentials.
#[derive(Debug, Clone)]
pub(crate) enum Scoped<C> {
    /// Always this client, whatever the finding's account.
    #[cfg_attr(not(test), allow(dead_code))]
    Fixed(C),
    /// A client for each finding's account and region.
    PerAccount(Arc<AccountClients>),
}

impl<C: Clone> Scoped<C> {
    /// The client for `finding` (in `region` for a regional service, see
    /// [`AccountClients::config_for`]); `make` builds it from the configuration.
    pub(crate) async fn client(
        &self,
        finding: &FindingContext,
        region: Option<&str>,
        make: impl FnOnce(&SdkConfig) -> C,
    ) -> Result<C, Outcome> {
        let place = Place {
            account: &finding.account_id,
            region: &finding.region,
            finding_id: &finding.id,
        };
        self.client_in(&place, region, make).await
    }

    /// [`Scoped::client`] for a finding given by its place.
    pub(crate) async fn client_in(
        &self,
        place: &Place<'_>,
        region: Option<&str>,
        make: impl FnOnce(&SdkConfig) -> C,
    ) -> Result<C, Outcome> {
        match self {
            Scoped::Fixed(client) => Ok(client.clone()),
            Scoped::PerAccount(accounts) => Ok(make(&accounts.config_in(place, region).await?)),
        }
    }
}

/// `remedy-<finding id>` in the characters and length STS allows.
fn session_name(finding_id: &str) -> String {
    let mut name: String = format!("remedy-{finding_id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(64);
    name
}

/// Credentials of one assumed session, refreshed shortly before they expire.
#[derive(Debug, Clone)]
struct AssumedRole {
    sts: aws_sdk_sts::Client,
    role: String,
    account: String,
    session_name: String,
    external_id: Option<String>,
    cached: Arc<Mutex<Option<Credentials>>>,
}

impl AssumedRole {
    /// Valid credentials: the cached ones, or a new `AssumeRole`.
    async fn fetch(&self) -> Result<Credentials, ActionError> {
        if let Some(c) = self
            .cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && c.expiry()
                .and_then(|e| e.duration_since(SystemTime::now()).ok())
                .is_some_and(|left| left > REFRESH_BEFORE)
        {
            return Ok(c.clone());
        }
        let what = |e: &str| {
            format!(
                "cannot assume `{}` in account {}: {e}",
                self.role, self.account
            )
        };
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role)
            .role_session_name(&self.session_name)
            .set_external_id(self.external_id.clone())
            .duration_seconds(i32::try_from(SESSION.as_secs()).unwrap_or(900))
            .send()
            .await
            .map_err(|e| {
                let e = map_sdk_error("AssumeRole", &e);
                ActionError::new(e.kind(), what(e.message()))
            })?;
        // Never act in another account than the finding's, whatever the role ARN resolved to.
        let session_account = out
            .assumed_role_user()
            .map(|u| u.arn())
            .and_then(|arn| arn.split(':').nth(4))
            .unwrap_or_default();
        if session_account != self.account {
            return Err(ActionError::new(
                ErrorKind::PermissionDenied,
                what(&format!(
                    "the session is in account `{session_account}`, not the finding's"
                )),
            ));
        }
        let Some(c) = out.credentials() else {
            return Err(ActionError::new(
                ErrorKind::Unavailable,
                what("AssumeRole returned no credentials"),
            ));
        };
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        let credentials = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expiry,
            "remedy-assume-role",
        );
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some(credentials.clone());
        Ok(credentials)
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.fetch()
                .await
                .map_err(|e| CredentialsError::provider_error(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::BehaviorVersion;
    use aws_smithy_mocks::{
        MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
    };

    const DENIED: &str = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
        <Message>User is not authorized to perform: sts:AssumeRole</Message></Error>\
        <RequestId>r</RequestId></ErrorResponse>";

    fn base() -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build()
    }

    fn sts(rule: &Rule) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(
                MockResponseInterceptor::new()
                    .rule_mode(RuleMode::MatchAny)
                    .with_rule(rule),
            )
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    fn org() -> AccountsConfig {
        AccountsConfig {
            role: Some("arn:aws:iam::{account}:role/remedy-responder".into()),
            external_id: Some("ext-1".into()),
            allowed: vec!["444455556666".into()],
        }
    }

    fn finding(account: &str, id: &str) -> FindingContext {
        let mut f = crate::testing::context(id, "Recon:IAMUser/TorIPCaller").unwrap();
        f.account_id = account.into();
        f.region = "eu-west-1".into();
        f
    }

    #[tokio::test]
    async fn a_denied_assume_role_fails_once_and_names_role_and_account() {
        let denied = mock!(aws_sdk_sts::Client::assume_role)
            .match_requests(|r| {
                r.role_arn() == Some("arn:aws:iam::444455556666:role/remedy-responder")
                    && r.external_id() == Some("ext-1")
                    && r.role_session_name() == Some("remedy-f-1")
            })
            .then_http_response(|| {
                aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
                    aws_smithy_types::body::SdkBody::from(DENIED),
                )
            });
        let clients = AccountClients::with_sts(base(), org(), sts(&denied));
        let Err(Outcome::Failed(e)) = clients
            .config_for(&finding("444455556666", "f-1"), None)
            .await
        else {
            panic!("assume role was denied");
        };
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(
            e.message()
                .contains("arn:aws:iam::444455556666:role/remedy-responder")
                && e.message().contains("444455556666"),
            "{e}"
        );
        let calls = denied.num_calls();
        // The account's next action fails at once, without another call.
        let Err(Outcome::Failed(again)) = clients
            .config_for(&finding("444455556666", "f-2"), None)
            .await
        else {
            panic!("still denied");
        };
        assert_eq!(again.kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            denied.num_calls(),
            calls,
            "no second AssumeRole within the minute"
        );
    }

    #[tokio::test]
    async fn a_session_in_another_account_is_refused() {
        use aws_sdk_sts::types::{AssumedRoleUser, Credentials as StsCredentials};
        let wrong = mock!(aws_sdk_sts::Client::assume_role).then_output(|| {
            aws_sdk_sts::operation::assume_role::AssumeRoleOutput::builder()
                .assumed_role_user(
                    AssumedRoleUser::builder()
                        .arn("arn:aws:sts::111122223333:assumed-role/remedy-responder/x")
                        .assumed_role_id("AROA:x")
                        .build()
                        .unwrap(),
                )
                .credentials(
                    StsCredentials::builder()
                        .access_key_id("ASIATEST")
                        .secret_access_key("secret")
                        .session_token("token")
                        .expiration(aws_smithy_types::DateTime::from_secs(4_000_000_000))
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let clients = AccountClients::with_sts(base(), org(), sts(&wrong));
        let Err(Outcome::Failed(e)) = clients
            .config_for(&finding("444455556666", "f-1"), None)
            .await
        else {
            panic!("the session is in another account");
        };
        assert!(e.message().contains("111122223333"), "{e}");
    }

    #[tokio::test]
    async fn an_account_outside_the_list_needs_no_call() {
        let never = mock!(aws_sdk_sts::Client::assume_role).then_output(|| {
            aws_sdk_sts::operation::assume_role::AssumeRoleOutput::builder().build()
        });
        let clients = AccountClients::with_sts(base(), org(), sts(&never));
        let refused = clients
            .config_for(&finding("999988887777", "f-1"), None)
            .await;
        let Err(Outcome::Skipped(reason)) = refused else {
            panic!("not allowed");
        };
        assert_eq!(reason.kind(), "account_not_allowed");
        assert_eq!(never.num_calls(), 0);
    }

    #[test]
    fn session_names_are_what_sts_accepts() {
        assert_eq!(session_name("abc123"), "remedy-abc123");
        assert_eq!(session_name("a b/c\u{1b}"), "remedy-a-b-c-");
        assert_eq!(session_name(&"f".repeat(100)).len(), 64);
    }
}
