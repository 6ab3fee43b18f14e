//! Whether an IAM policy document grants administrator rights.

use serde_json::Value;

/// Whether the AWS managed policy of `arn` is `AdministratorAccess` (known without reading it).
pub(crate) fn is_administrator_access(arn: &str) -> bool {
    arn.ends_with(":iam::aws:policy/AdministratorAccess")
}

/// Whether `document` (as IAM returns it: URL-encoded JSON, or plain JSON) grants administrator
/// rights: an allowed statement with `"Action": "*"` (or `*:*`) or `iam:*` on `"Resource": "*"`,
/// or with a `NotAction` that leaves every IAM action allowed. Conditions and explicit denies are
/// not weighed: a statement that could grant the rights counts.
pub(crate) fn grants_admin(document: &str) -> Result<bool, String> {
    let value = parse(document)?;
    let statements = match value.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    Ok(statements.into_iter().any(statement_is_admin))
}

fn parse(document: &str) -> Result<Value, String> {
    let trimmed = document.trim_start();
    if trimmed.starts_with('{')
        && let Ok(value) = serde_json::from_str(trimmed)
    {
        return Ok(value);
    }
    let decoded = percent_encoding::percent_decode_str(document)
        .decode_utf8()
        .map_err(|e| format!("the policy document is not UTF-8 once decoded: {e}"))?;
    serde_json::from_str(&decoded).map_err(|e| format!("the policy document is not JSON: {e}"))
}

/// A string or an array of strings.
fn one_or_many(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn statement_is_admin(statement: &Value) -> bool {
    let allows = statement
        .get("Effect")
        .and_then(Value::as_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("allow"));
    let everywhere = one_or_many(statement.get("Resource")).contains(&"*");
    if !allows || !everywhere {
        return false;
    }
    let all = |a: &str| a == "*" || a == "*:*" || a.eq_ignore_ascii_case("iam:*");
    if let Some(actions) = statement.get("Action") {
        return one_or_many(Some(actions)).into_iter().any(all);
    }
    if let Some(excluded) = statement.get("NotAction") {
        // Everything but the excluded actions: admin unless IAM actions are among them.
        return !one_or_many(Some(excluded))
            .into_iter()
            .any(|a| a == "*" || a.to_ascii_lowercase().starts_with("iam:"));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn administrator_statements_are_recognized() {
        let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        assert_eq!(grants_admin(admin), Ok(true));
        let iam = r#"{"Statement":{"Effect":"Allow","Action":["s3:GetObject","IAM:*"],"Resource":["*"]}}"#;
        assert_eq!(grants_admin(iam), Ok(true));
        let not_action = r#"{"Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}]}"#;
        assert_eq!(grants_admin(not_action), Ok(true));
        let power_user = r#"{"Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}]}"#;
        assert_eq!(grants_admin(power_user), Ok(false));
        let scoped =
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/*"}]}"#;
        assert_eq!(grants_admin(scoped), Ok(false));
        let denied = r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
        assert_eq!(grants_admin(denied), Ok(false));
        let read = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert_eq!(grants_admin(read), Ok(false));
    }

    #[test]
    fn url_encoded_documents_are_decoded() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        assert_eq!(grants_admin(encoded), Ok(true));
        assert!(grants_admin("not json").is_err());
        assert!(is_administrator_access(
            "arn:aws:iam::aws:policy/AdministratorAccess"
        ));
        assert!(!is_administrator_access(
            "arn:aws:iam::123456789012:policy/AdministratorAccess"
        ));
    }
}
