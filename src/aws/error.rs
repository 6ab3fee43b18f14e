//! SDK errors mapped to semantic error kinds.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::action::{ActionError, ErrorKind};

/// An AWS call's error, as the SDK returns it.
pub(crate) type CallError<E> = SdkError<E, Response>;

/// What a service error of the SDK is: what every mapping of [`CallError`] reads.
pub(crate) trait ServiceError:
    ProvideErrorMetadata + std::error::Error + Send + Sync + 'static
{
}

impl<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static> ServiceError for E {}

/// The kind of a service error from its code, then its HTTP status.
fn kind_of(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    match code.unwrap_or_default() {
        "NoSuchEntity"
        | "NotFound"
        | "NotFoundException"
        | "InvalidInstanceId"
        | "InvalidDocument"
        | "InvocationDoesNotExist"
        | "ResourceNotFoundException" => {
            return ErrorKind::NotFound;
        }
        "AccessDenied"
        | "AccessDeniedException"
        | "AuthorizationError"
        | "UnauthorizedOperation"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "UnmodifiableEntity" => {
            return ErrorKind::PermissionDenied;
        }
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "TooManyUpdates"
        | "RequestThrottled"
        | "ProvisionedThroughputExceededException" => {
            return ErrorKind::Throttled;
        }
        "ValidationError"
        | "ValidationException"
        | "InvalidInput"
        | "InvalidParameter"
        | "InvalidParameterValue"
        | "InvalidParameterException"
        | "InvalidParameters"
        | "MalformedPolicyDocument"
        | "InvalidOutputFolder"
        | "InvalidRole" => {
            return ErrorKind::InvalidInput;
        }
        "ConcurrentModification"
        | "EntityAlreadyExists"
        | "DuplicateInstanceId"
        | "EntityTemporarilyUnmodifiable"
        | "LimitExceeded"
        | "TransactionConflictException" => {
            return ErrorKind::Conflict;
        }
        "ServiceFailure"
        | "InternalFailure"
        | "InternalError"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "KMSThrottlingException" => {
            return ErrorKind::Unavailable;
        }
        _ => {}
    }
    match status {
        Some(429) => ErrorKind::Throttled,
        Some(401 | 403) => ErrorKind::PermissionDenied,
        Some(404) => ErrorKind::NotFound,
        Some(409) => ErrorKind::Conflict,
        Some(400..=499) => ErrorKind::InvalidInput,
        Some(500..=599) => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    }
}

/// Maps an SDK error to an [`ActionError`] whose message says which call failed.
pub(crate) fn map_sdk_error<E: ServiceError>(call: &str, err: &CallError<E>) -> ActionError {
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let status = service.raw().status().as_u16();
            let kind = kind_of(e.code(), Some(status));
            let code = e.code().unwrap_or("unknown error");
            let message = e.message().unwrap_or("no message");
            ActionError::new(
                kind,
                format!("{call} failed ({code}, HTTP {status}): {message}"),
            )
        }
        SdkError::TimeoutError(_) => ActionError::new(
            ErrorKind::Timeout,
            format!("{call} timed out; its effect is unknown"),
        ),
        SdkError::DispatchFailure(d) => {
            let kind = if d.is_timeout() {
                ErrorKind::Timeout
            } else if d.is_io() {
                ErrorKind::Unavailable
            } else {
                ErrorKind::Other
            };
            ActionError::new(
                kind,
                format!("{call} could not be sent: {}", error_chain(err)),
            )
        }
        SdkError::ResponseError(r) => {
            let status = r.raw().status().as_u16();
            let kind = match kind_of(None, Some(status)) {
                ErrorKind::Other => ErrorKind::Unavailable,
                kind => kind,
            };
            ActionError::new(
                kind,
                format!("{call} got an unreadable response (HTTP {status})"),
            )
        }
        _ => ActionError::new(
            ErrorKind::Other,
            format!("{call} failed: {}", error_chain(err)),
        ),
    }
}

/// The messages of an error and its sources joined with `: `, each once and without the `Debug`
/// dumps the SDK's own display helper appends (they can be kilobytes long); at most 600 characters.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    let joined = parts.join(": ");
    match joined.char_indices().nth(600) {
        Some((cut, _)) => format!("{}…", joined.get(..cut).unwrap_or_default()),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_then_statuses() {
        assert_eq!(
            kind_of(Some("NoSuchEntity"), Some(404)),
            ErrorKind::NotFound
        );
        assert_eq!(kind_of(Some("Throttling"), Some(400)), ErrorKind::Throttled);
        assert_eq!(
            kind_of(Some("AccessDenied"), Some(403)),
            ErrorKind::PermissionDenied
        );
        assert_eq!(kind_of(None, Some(503)), ErrorKind::Unavailable);
        assert_eq!(
            kind_of(Some("UnmodifiableEntity"), Some(400)),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            kind_of(Some("LimitExceeded"), Some(409)),
            ErrorKind::Conflict
        );
        assert_eq!(kind_of(Some("Weird"), Some(400)), ErrorKind::InvalidInput);
        assert_eq!(kind_of(None, None), ErrorKind::Other);
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn error_chains_are_short_and_say_each_thing_once() {
        let e = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "other",
                Some(Box::new(Layer("no credentials in the environment", None))),
            ))),
        );
        assert_eq!(
            error_chain(&e),
            "dispatch failure: other: no credentials in the environment"
        );
        let repeated = Layer("io error: refused", Some(Box::new(Layer("refused", None))));
        assert_eq!(error_chain(&repeated), "io error: refused");
    }
}
