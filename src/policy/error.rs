//! Load-time errors: every problem in a policy directory, with file, line, column and source line.

use std::fmt;
use std::sync::Arc;

use crate::finding::inert;

use miette::{LabeledSpan, NamedSource, SourceSpan};

/// What kind of problem a [`PolicyDiagnostic`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The directory or a file could not be read.
    Io,
    /// The script does not parse (or breaks a compile-time limit such as expression depth).
    Syntax,
    /// A metadata constant is missing or has a wrong value.
    Metadata,
    /// The script has no `fn decide(finding)`.
    MissingDecide,
    /// Two policies have the same name.
    DuplicateName,
    /// An `import` could not be resolved inside the policy directory.
    Import,
    /// The policy reads a property the finding does not have (`finding.user_nme`).
    UnknownProperty,
    /// The policy calls a function that does not exist (`notfy(...)`, an unregistered host kind).
    UnknownFunction,
    /// A literal argument of an action constructor is wrong (a number for a user name, a document
    /// that is not allowed).
    InvalidArgument,
    /// A destructive action with literal arguments would touch something its finding cannot name.
    OutOfScope,
    /// The policy runs code at the top level, or imports more modules than the sandbox allows.
    TopLevel,
    /// A policy file is not UTF-8 text, or not a regular file of bounded size.
    Encoding,
    /// A host action kind is registered wrongly (a destructive kind with no target).
    HostKind,
    /// A warning: `APPLIES_TO` matches no known GuardDuty finding type.
    UnknownFindingType,
    /// A warning: a literal JSONPath names no field of a GuardDuty finding.
    UnknownField,
    /// A warning: the policy declares `REACH = "account"` but the configuration does not allow it.
    Reach,
    /// A warning: the policy reads a property that no source it sees fills
    /// (`finding.vulnerabilities` in a policy that sees GuardDuty's findings only).
    UnfilledProperty,
}

impl DiagnosticKind {
    /// Whether the kind is a warning: the set still loads.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            DiagnosticKind::UnknownFindingType
                | DiagnosticKind::UnknownField
                | DiagnosticKind::Reach
                | DiagnosticKind::UnfilledProperty
        )
    }

    /// A stable code for the kind, e.g. `remedy::policy::syntax`.
    pub fn code(self) -> &'static str {
        match self {
            DiagnosticKind::Io => "remedy::policy::io",
            DiagnosticKind::Syntax => "remedy::policy::syntax",
            DiagnosticKind::Metadata => "remedy::policy::metadata",
            DiagnosticKind::MissingDecide => "remedy::policy::missing_decide",
            DiagnosticKind::DuplicateName => "remedy::policy::duplicate_name",
            DiagnosticKind::Import => "remedy::policy::import",
            DiagnosticKind::UnknownProperty => "remedy::policy::unknown_property",
            DiagnosticKind::UnknownFunction => "remedy::policy::unknown_function",
            DiagnosticKind::InvalidArgument => "remedy::policy::invalid_argument",
            DiagnosticKind::OutOfScope => "remedy::policy::out_of_scope",
            DiagnosticKind::TopLevel => "remedy::policy::top_level",
            DiagnosticKind::Encoding => "remedy::policy::encoding",
            DiagnosticKind::HostKind => "remedy::policy::host_kind",
            DiagnosticKind::UnknownFindingType => "remedy::policy::unknown_finding_type",
            DiagnosticKind::UnknownField => "remedy::policy::unknown_field",
            DiagnosticKind::Reach => "remedy::policy::reach",
            DiagnosticKind::UnfilledProperty => "remedy::policy::unfilled_property",
        }
    }
}

/// One problem found while loading policies: where it is and what is wrong.
///
/// Implements [`miette::Diagnostic`]: rendered with miette's fancy handler it shows the source line
/// with the offending column underlined, like rustc.
#[derive(Clone)]
pub struct PolicyDiagnostic {
    kind: DiagnosticKind,
    file: String,
    message: String,
    line: Option<usize>,
    column: Option<usize>,
    help: Option<String>,
    source: Option<Arc<str>>,
    named_source: Option<NamedSource<Arc<str>>>,
    span: Option<SourceSpan>,
}

impl PolicyDiagnostic {
    /// A problem with no position in a file (e.g. an unreadable directory).
    pub(crate) fn new(
        kind: DiagnosticKind,
        file: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            file: file.into(),
            message: message.into(),
            line: None,
            column: None,
            help: None,
            source: None,
            named_source: None,
            span: None,
        }
    }

    /// Attaches the source text and the (1-based) line and column of the problem.
    pub(crate) fn at(mut self, source: &Arc<str>, line: usize, column: usize) -> Self {
        let line = line.max(1);
        let column = column.max(1);
        self.line = Some(line);
        self.column = Some(column);
        self.span = Some(span_at(source, line, column));
        self.in_source(source)
    }

    /// Attaches the source text without a position (the problem concerns the whole file).
    pub(crate) fn in_source(mut self, source: &Arc<str>) -> Self {
        self.source = Some(Arc::clone(source));
        self.named_source = Some(NamedSource::new(
            crate::finding::inert(&self.file),
            shown_source(source),
        ));
        self
    }

    /// Adds a hint on how to fix the problem.
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> DiagnosticKind {
        self.kind
    }

    /// The file (or source name) the problem is in.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based line, when the problem has a position.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The 1-based column, when the problem has a position.
    pub fn column(&self) -> Option<usize> {
        self.column
    }

    /// The text of the offending line, when known.
    pub fn source_line(&self) -> Option<&str> {
        let line = self.line?;
        self.source.as_deref()?.lines().nth(line - 1)
    }

    /// A hint on how to fix the problem, when there is one.
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }
}

/// `source` as a terminal may show it: every control character (but newline and tab), escape
/// sequence introducer and bidi override replaced by `?`s of the same byte length, so spans still
/// point at the same bytes. Borrowed when there is nothing to replace.
fn shown_source(source: &Arc<str>) -> Arc<str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t' && c != '\r')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
    };
    if !source.chars().any(unsafe_char) {
        return Arc::clone(source);
    }
    let mut shown = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        if unsafe_char(c) || (c == '\r' && chars.peek() != Some(&'\n')) {
            shown.extend(std::iter::repeat_n('?', c.len_utf8()));
        } else {
            shown.push(c);
        }
    }
    Arc::from(shown)
}

/// The byte span of the token starting at `line`:`column` (1-based, column counted in characters).
fn span_at(source: &str, line: usize, column: usize) -> SourceSpan {
    let mut offset = 0;
    for (i, text) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let start = text
                .char_indices()
                .nth(column - 1)
                .map_or(text.trim_end_matches(['\n', '\r']).len(), |(at, _)| at);
            let rest = text.get(start..).unwrap_or_default();
            let len = rest
                .char_indices()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
                .map_or(rest.trim_end().len(), |(at, _)| at);
            let len = if len == 0 {
                rest.chars()
                    .next()
                    .filter(|c| *c != '\n')
                    .map_or(0, char::len_utf8)
            } else {
                len
            };
            return SourceSpan::new((offset + start).into(), len);
        }
        offset += text.len();
    }
    SourceSpan::new(source.len().into(), 0)
}

impl fmt::Debug for PolicyDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyDiagnostic")
            .field("kind", &self.kind)
            .field("file", &self.file)
            .field("line", &self.line)
            .field("column", &self.column)
            .field("message", &self.message)
            .finish()
    }
}

/// Shown escaped: the file name, message and hint may carry policy text (see
/// [`crate::finding::inert`]).
impl fmt::Display for PolicyDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(
                f,
                "{}:{line}:{column}: {}",
                inert(&self.file),
                inert(&self.message)
            ),
            _ => write!(f, "{}: {}", inert(&self.file), inert(&self.message)),
        }
    }
}

impl std::error::Error for PolicyDiagnostic {}

impl miette::Diagnostic for PolicyDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.kind.is_warning() {
            miette::Severity::Warning
        } else {
            miette::Severity::Error
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_deref()
            .map(|h| Box::new(inert(h)) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.named_source
            .as_ref()
            .map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        self.named_source.as_ref()?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some("here".to_owned()),
            span,
        ))))
    }
}

/// Loading a policy set failed: every problem found, in file order.
///
/// Implements [`miette::Diagnostic`] with each [`PolicyDiagnostic`] as a related diagnostic, so a
/// renderer shows all of them at once.
#[derive(Debug, Clone)]
pub struct PolicyError {
    origin: String,
    diagnostics: Vec<PolicyDiagnostic>,
}

impl PolicyError {
    pub(crate) fn new(origin: impl Into<String>, diagnostics: Vec<PolicyDiagnostic>) -> Self {
        Self {
            origin: origin.into(),
            diagnostics,
        }
    }

    /// Where the policies were loaded from (a directory, or `sources`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Every problem found (at least one).
    pub fn diagnostics(&self) -> &[PolicyDiagnostic] {
        &self.diagnostics
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        let plural = if n == 1 { "" } else { "s" };
        write!(
            f,
            "could not load policies from `{}`: {n} error{plural}",
            self.origin
        )?;
        for d in &self.diagnostics {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

impl miette::Diagnostic for PolicyError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("remedy::policy"))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.diagnostics
                .iter()
                .map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}
