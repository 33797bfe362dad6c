//! The one error type of `amiforge-aws`: which call failed, what AWS said (code and message), and
//! the [`ErrorKind`] derived from AWS's error code, so callers decide on kinds
//! (`NotFound`, `DependencyViolation`, …), never on the text. Credentials never appear: only the
//! operation, the service's error code and its message are kept.

use std::fmt;

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// What kind of failure a call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The resource does not exist (or no longer does): `InvalidAMIID.NotFound`,
    /// `InvalidInstanceID.NotFound`, `ParameterNotFound`, KMS `NotFoundException`, …
    NotFound,
    /// Another resource still uses it (a security group of a terminating instance, a snapshot of
    /// a registered AMI).
    DependencyViolation,
    /// It exists already (duplicate key pair or group name).
    AlreadyExists,
    /// AWS throttled the call beyond the SDK's retries.
    Throttled,
    /// The credentials may not do this (or are missing/expired).
    Unauthorized,
    /// AWS refused the request's values.
    InvalidInput,
    /// A server-side or network failure that outlived the SDK's retries.
    Transient,
    /// The call worked but the resource is not usable: a disabled KMS key, a copy that ended
    /// `failed`, a snapshot in `error`.
    Unusable,
    /// Waited longer than allowed.
    Timeout,
    /// AWS answered without what the call must return (no id, no key material).
    BadAnswer,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The kind an AWS error code stands for.
    pub fn from_code(code: &str) -> ErrorKind {
        match code {
            "DependencyViolation" | "InvalidSnapshot.InUse" | "ResourceInUse" => {
                ErrorKind::DependencyViolation
            }
            "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown" => ErrorKind::Throttled,
            "UnauthorizedOperation"
            | "AccessDenied"
            | "AccessDeniedException"
            | "AuthFailure"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "OptInRequired" => ErrorKind::Unauthorized,
            "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable"
            | "InternalServerError"
            | "KMSInternalException" => ErrorKind::Transient,
            "InvalidParameterValue"
            | "InvalidParameter"
            | "InvalidParameterCombination"
            | "MissingParameter"
            | "ValidationException"
            | "ValidationError" => ErrorKind::InvalidInput,
            "ParameterNotFound" | "NotFoundException" | "InvocationDoesNotExist" => {
                ErrorKind::NotFound
            }
            c if c.ends_with(".NotFound") || c == "InvalidAMIID.Unavailable" => ErrorKind::NotFound,
            c if c.ends_with(".Duplicate") || c == "ParameterAlreadyExists" => {
                ErrorKind::AlreadyExists
            }
            c if c.ends_with(".Malformed") => ErrorKind::InvalidInput,
            _ => ErrorKind::Other,
        }
    }
}

/// A failed AWS call, or an answer amiforge cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The API operation (`CopyImage`), or what was being done.
    pub op: String,
    pub kind: ErrorKind,
    /// The service's error code, when it sent one.
    pub code: Option<String>,
    /// The service's message, or ours.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(c) if !self.message.is_empty() => write!(f, "{}: {c}: {}", self.op, self.message),
            Some(c) => write!(f, "{}: {c}", self.op),
            None => write!(f, "{}: {}", self.op, self.message),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The error of an SDK call `op` (any AWS service).
    pub fn sdk<E, R>(op: &str, e: &SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let code = e.code().map(str::to_string);
        let kind = match (&code, e) {
            (Some(c), _) => ErrorKind::from_code(c),
            (None, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)) => {
                ErrorKind::Transient
            }
            (None, SdkError::ResponseError(_)) => ErrorKind::Transient,
            (None, _) => ErrorKind::Other,
        };
        let message = match (e.message(), &code) {
            (Some(m), _) => m.to_string(),
            (None, Some(_)) => String::new(),
            (None, None) => DisplayErrorContext(e).to_string(),
        };
        Error {
            op: op.to_string(),
            kind,
            code,
            message,
        }
    }

    /// An error of our own making (no AWS code).
    pub fn new(op: impl Into<String>, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            op: op.into(),
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// AWS answered `op` without something it must return.
    pub fn bad_answer(op: &str, what: &str) -> Error {
        Error::new(op, ErrorKind::BadAnswer, format!("no {what} in the answer"))
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// Whether a create that failed so may still have made its resource: the answer was lost or
    /// unusable, AWS failed midway, or a retry found the name taken (by the lost first attempt).
    /// Only refusals (bad input, missing dependency, no permission, in use, unusable) say that
    /// nothing was made.
    pub fn may_have_happened(&self) -> bool {
        !matches!(
            self.kind,
            ErrorKind::InvalidInput
                | ErrorKind::NotFound
                | ErrorKind::Unauthorized
                | ErrorKind::DependencyViolation
                | ErrorKind::Unusable
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_give_kinds() {
        use ErrorKind::*;
        for (code, kind) in [
            ("InvalidAMIID.NotFound", NotFound),
            ("InvalidAMIID.Unavailable", NotFound),
            ("InvalidGroup.NotFound", NotFound),
            ("ParameterNotFound", NotFound),
            ("NotFoundException", NotFound),
            ("DependencyViolation", DependencyViolation),
            ("InvalidSnapshot.InUse", DependencyViolation),
            ("InvalidKeyPair.Duplicate", AlreadyExists),
            ("RequestLimitExceeded", Throttled),
            ("ThrottlingException", Throttled),
            ("UnauthorizedOperation", Unauthorized),
            ("AccessDeniedException", Unauthorized),
            ("InternalError", Transient),
            ("InvalidParameterValue", InvalidInput),
            ("InvalidAMIID.Malformed", InvalidInput),
            ("Gibberish", Other),
        ] {
            assert_eq!(ErrorKind::from_code(code), kind, "{code}");
        }
    }

    #[test]
    fn errors_read_as_operation_code_message() {
        let e = Error {
            op: "CopyImage".into(),
            kind: ErrorKind::Throttled,
            code: Some("RequestLimitExceeded".into()),
            message: "Request limit exceeded.".into(),
        };
        assert_eq!(
            e.to_string(),
            "CopyImage: RequestLimitExceeded: Request limit exceeded."
        );
        let e = Error::bad_answer("RunInstances", "instance");
        assert_eq!(e.to_string(), "RunInstances: no instance in the answer");
        assert!(e.is(ErrorKind::BadAnswer) && !e.is_not_found());
        assert!(e.may_have_happened(), "no answer: the instance may exist");
        let refused = Error::new("RunInstances", ErrorKind::InvalidInput, "bad type");
        assert!(!refused.may_have_happened());
    }
}
