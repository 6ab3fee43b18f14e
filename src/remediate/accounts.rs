//! The `account` guard: the finding's account, and only an allowed one (`[accounts]`, see
//! [`AccountsConfig`]).

use crate::action::SkipReason;
use crate::config::AccountsConfig;
use crate::plan::FindingContext;

/// The `account` guard: refuses a finding of an account that is not allowed (or that names
/// none), and otherwise says as what the action runs.
pub(crate) fn check_account(
    accounts: &AccountsConfig,
    finding: &FindingContext,
) -> Result<String, SkipReason> {
    let account = finding.account_id.as_str();
    let valid = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let configured = accounts.role.is_some() || !accounts.allowed.is_empty();
    if !configured {
        // The executors that act in an account check it against their own.
        return Ok(format!(
            "account {} with remedy's own credentials (any other account is refused)",
            if account.is_empty() {
                "(none named)"
            } else {
                account
            }
        ));
    }
    if !valid {
        return Err(SkipReason::AccountNotAllowed {
            account: account.to_owned(),
            detail: "the finding names no valid account id".to_owned(),
        });
    }
    if !accounts.allows(account) {
        return Err(SkipReason::AccountNotAllowed {
            account: account.to_owned(),
            detail: format!(
                "not in `[accounts] allowed` ({})",
                accounts.allowed.join(", ")
            ),
        });
    }
    Ok(match accounts.role_for(account) {
        Some(role) => format!("account {account} as {role}"),
        None => format!(
            "account {account} (allowed) with remedy's own credentials (any other account is \
             refused)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(role: Option<&str>, allowed: &[&str]) -> AccountsConfig {
        AccountsConfig {
            role: role.map(str::to_owned),
            external_id: None,
            allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn only_allowed_accounts_pass_and_the_role_is_named() {
        let c = config(
            Some("arn:aws:iam::{account}:role/remedy-responder"),
            &["111122223333", "4444*"],
        );
        let mut finding = crate::testing::context("f-1", "Recon:IAMUser/TorIPCaller").unwrap();
        finding.account_id = "444455556666".into();
        let said = check_account(&c, &finding).unwrap();
        assert!(
            said.contains("arn:aws:iam::444455556666:role/remedy-responder"),
            "{said}"
        );
        finding.account_id = "999988887777".into();
        let refused = check_account(&c, &finding).unwrap_err();
        assert_eq!(refused.kind(), "account_not_allowed");
        assert!(refused.to_string().contains("999988887777"), "{refused}");
        finding.account_id = "".into();
        assert!(check_account(&c, &finding).is_err());
        // Unconfigured, the guard leaves the account to the executors, and says so.
        let said = check_account(&AccountsConfig::default(), &finding).unwrap();
        assert!(said.contains("own credentials"), "{said}");
    }
}
