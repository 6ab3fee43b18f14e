//! The IAM calls the containment executor makes on a user or a role, the same way for both: does
//! it exist, its inline policies, its attached managed policies.

use aws_sdk_iam::Client;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::action::ActionError;
use crate::aws::error::{CallError, ServiceError, map_sdk_error};
use crate::plan::IamPrincipal;

/// `Ok(None)` for IAM's `NoSuchEntity`; other errors mapped.
fn absent<T, E: ServiceError>(
    result: Result<T, CallError<E>>,
    call: &str,
) -> Result<Option<T>, ActionError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(map_sdk_error(call, &e)),
    }
}

/// IAM returns policy documents URL-encoded (RFC 3986); a document that is not is returned as is.
fn decode(document: &str) -> String {
    if document.trim_start().starts_with('{') {
        return document.to_owned();
    }
    percent_encoding::percent_decode_str(document)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether the user or role exists.
pub(super) async fn exists(client: &Client, principal: &IamPrincipal) -> Result<bool, ActionError> {
    let found = match principal {
        IamPrincipal::User(u) => absent(
            client.get_user().user_name(u.as_str()).send().await,
            "GetUser",
        )?
        .is_some(),
        IamPrincipal::Role(r) => absent(
            client.get_role().role_name(r.as_str()).send().await,
            "GetRole",
        )?
        .is_some(),
    };
    Ok(found)
}

/// The document of the principal's inline policy `name`, decoded; `None` when it has none of that
/// name (or the principal does not exist: ask [`exists`] first).
pub(super) async fn inline_policy(
    client: &Client,
    principal: &IamPrincipal,
    name: &str,
) -> Result<Option<String>, ActionError> {
    let document = match principal {
        IamPrincipal::User(u) => absent(
            client
                .get_user_policy()
                .user_name(u.as_str())
                .policy_name(name)
                .send()
                .await,
            "GetUserPolicy",
        )?
        .map(|o| decode(o.policy_document())),
        IamPrincipal::Role(r) => absent(
            client
                .get_role_policy()
                .role_name(r.as_str())
                .policy_name(name)
                .send()
                .await,
            "GetRolePolicy",
        )?
        .map(|o| decode(o.policy_document())),
    };
    Ok(document)
}

/// Puts (creates or replaces) the principal's inline policy `name`.
pub(super) async fn put_inline(
    client: &Client,
    principal: &IamPrincipal,
    name: &str,
    document: &str,
) -> Result<(), ActionError> {
    match principal {
        IamPrincipal::User(u) => client
            .put_user_policy()
            .user_name(u.as_str())
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| map_sdk_error("PutUserPolicy", &e)),
        IamPrincipal::Role(r) => client
            .put_role_policy()
            .role_name(r.as_str())
            .policy_name(name)
            .policy_document(document)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| map_sdk_error("PutRolePolicy", &e)),
    }
}

/// Deletes the principal's inline policy `name`; `false` when there was none.
pub(super) async fn delete_inline(
    client: &Client,
    principal: &IamPrincipal,
    name: &str,
) -> Result<bool, ActionError> {
    let deleted = match principal {
        IamPrincipal::User(u) => absent(
            client
                .delete_user_policy()
                .user_name(u.as_str())
                .policy_name(name)
                .send()
                .await,
            "DeleteUserPolicy",
        )?
        .is_some(),
        IamPrincipal::Role(r) => absent(
            client
                .delete_role_policy()
                .role_name(r.as_str())
                .policy_name(name)
                .send()
                .await,
            "DeleteRolePolicy",
        )?
        .is_some(),
    };
    Ok(deleted)
}

/// The ARNs of the managed policies attached to the principal (every page).
pub(super) async fn attached(
    client: &Client,
    principal: &IamPrincipal,
) -> Result<Vec<String>, ActionError> {
    let mut arns = Vec::new();
    let mut marker = None;
    loop {
        let (page, truncated, next) = match principal {
            IamPrincipal::User(u) => {
                let out = client
                    .list_attached_user_policies()
                    .user_name(u.as_str())
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|e| map_sdk_error("ListAttachedUserPolicies", &e))?;
                let arns: Vec<String> = out
                    .attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_owned))
                    .collect();
                (arns, out.is_truncated(), out.marker().map(str::to_owned))
            }
            IamPrincipal::Role(r) => {
                let out = client
                    .list_attached_role_policies()
                    .role_name(r.as_str())
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|e| map_sdk_error("ListAttachedRolePolicies", &e))?;
                let arns: Vec<String> = out
                    .attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_owned))
                    .collect();
                (arns, out.is_truncated(), out.marker().map(str::to_owned))
            }
        };
        arns.extend(page);
        match (truncated, next) {
            (true, Some(next)) => marker = Some(next),
            _ => return Ok(arns),
        }
    }
}

/// Attaches the managed policy `arn`; `false` when IAM says it does not exist (`NoSuchEntity`:
/// the principal was seen to exist just before).
pub(super) async fn attach(
    client: &Client,
    principal: &IamPrincipal,
    arn: &str,
) -> Result<bool, ActionError> {
    let attached = match principal {
        IamPrincipal::User(u) => absent(
            client
                .attach_user_policy()
                .user_name(u.as_str())
                .policy_arn(arn)
                .send()
                .await,
            "AttachUserPolicy",
        )?
        .is_some(),
        IamPrincipal::Role(r) => absent(
            client
                .attach_role_policy()
                .role_name(r.as_str())
                .policy_arn(arn)
                .send()
                .await,
            "AttachRolePolicy",
        )?
        .is_some(),
    };
    Ok(attached)
}

/// Detaches the managed policy `arn`; `false` when it was not attached.
pub(super) async fn detach(
    client: &Client,
    principal: &IamPrincipal,
    arn: &str,
) -> Result<bool, ActionError> {
    let detached = match principal {
        IamPrincipal::User(u) => absent(
            client
                .detach_user_policy()
                .user_name(u.as_str())
                .policy_arn(arn)
                .send()
                .await,
            "DetachUserPolicy",
        )?
        .is_some(),
        IamPrincipal::Role(r) => absent(
            client
                .detach_role_policy()
                .role_name(r.as_str())
                .policy_arn(arn)
                .send()
                .await,
            "DetachRolePolicy",
        )?
        .is_some(),
    };
    Ok(detached)
}

/// Whether the user has a console password (`GetLoginProfile`); ask [`exists`] first.
pub(super) async fn has_login_profile(client: &Client, user: &str) -> Result<bool, ActionError> {
    Ok(absent(
        client.get_login_profile().user_name(user).send().await,
        "GetLoginProfile",
    )?
    .is_some())
}

/// Deletes the user's console password; `false` when there was none.
pub(super) async fn delete_login_profile(client: &Client, user: &str) -> Result<bool, ActionError> {
    Ok(absent(
        client.delete_login_profile().user_name(user).send().await,
        "DeleteLoginProfile",
    )?
    .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_decoded_when_url_encoded() {
        assert_eq!(decode("%7B%22a%22%3A%22%2A%22%7D"), r#"{"a":"*"}"#);
        assert_eq!(decode(r#"{"a": "%2A"}"#), r#"{"a": "%2A"}"#);
    }
}
