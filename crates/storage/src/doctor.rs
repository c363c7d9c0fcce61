//! The report of `songrec doctor`: checks, each with its outcome and what to fix.

use std::fmt;

/// Outcome of one check.
///
/// ```
/// use songrec_storage::doctor::CheckStatus;
/// assert_eq!(CheckStatus::Warn.to_string(), "warn");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    /// Works, but something deserves attention (or the check could not run).
    Warn,
    /// Broken: songrec will fail until it is fixed.
    Fail,
}

/// One check: what was checked, the result, and what to do about a problem.
///
/// ```
/// use songrec_storage::doctor::{CheckStatus, DoctorCheck};
/// let c = DoctorCheck { name: "token accepted".into(), status: CheckStatus::Ok, detail: "yes".into(), fix: None };
/// assert!(c.to_string().starts_with("[ok]"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoctorCheck {
    /// What was checked.
    pub name: String,
    pub status: CheckStatus,
    /// What was observed (never contains secrets).
    pub detail: String,
    /// What to fix, for warnings and failures.
    pub fix: Option<String>,
}

impl fmt::Display for DoctorCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.status, self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n       fix: {fix}")?;
        }
        Ok(())
    }
}

/// All checks, in order.
///
/// ```
/// use songrec_storage::doctor::{CheckStatus, DoctorCheck, DoctorReport};
/// let r = DoctorReport { checks: vec![DoctorCheck { name: "x".into(), status: CheckStatus::Warn, detail: "d".into(), fix: Some("f".into()) }] };
/// assert_eq!(r.worst(), CheckStatus::Warn);
/// assert!(r.is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DoctorReport {
    pub checks: Vec<DoctorCheck>,
}

impl DoctorReport {
    /// The worst status (`Ok` for an empty report).
    pub fn worst(&self) -> CheckStatus {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(CheckStatus::Ok)
    }

    /// True if no check failed.
    pub fn is_ok(&self) -> bool {
        self.worst() != CheckStatus::Fail
    }

    /// The check called `name`, if any.
    pub fn check(&self, name: &str) -> Option<&DoctorCheck> {
        self.checks.iter().find(|c| c.name == name)
    }
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.checks.iter().try_for_each(|c| writeln!(f, "{c}"))
    }
}
