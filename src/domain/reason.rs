//! Why someone changed something: the free text recorded with a
//! cancellation, a rejection, a suspension or a slot change.

use super::fields::Invalid;

/// Most characters a reason may have once trimmed.
pub const MAX_REASON_CHARS: usize = 1000;

/// A reason: trimmed, not blank, at most [`MAX_REASON_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    /// An optional reason: absent or blank text is none.
    pub fn optional(raw: Option<&str>) -> Result<Option<Reason>, Invalid> {
        let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if text.chars().count() > MAX_REASON_CHARS {
            return Err(Invalid::field(
                "reason",
                "length",
                format!("reason must have at most {MAX_REASON_CHARS} characters"),
            ));
        }
        Ok(Some(Reason(text.to_owned())))
    }

    /// A reason the action cannot go without; `missing` says so when it is
    /// absent or blank.
    pub fn required(raw: Option<&str>, missing: &str) -> Result<Reason, Invalid> {
        Self::optional(raw)?.ok_or_else(|| Invalid::field("reason", "required", missing))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn code(e: Invalid) -> String {
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].field, "reason");
        e.0[0].code.clone()
    }

    #[test]
    fn an_optional_reason_is_trimmed_and_blank_is_none() {
        assert_eq!(Reason::optional(None).unwrap(), None);
        assert_eq!(Reason::optional(Some(" \t\n")).unwrap(), None);
        assert_eq!(Reason::optional(Some("  truck late ")).unwrap().unwrap().as_str(), "truck late");
    }

    #[test]
    fn a_reason_has_at_most_1000_characters_once_trimmed() {
        let most = "é".repeat(MAX_REASON_CHARS);
        assert_eq!(Reason::optional(Some(&format!("  {most}  "))).unwrap().unwrap().into_string(), most);
        assert_eq!(code(Reason::optional(Some(&format!("{most}x"))).unwrap_err()), "length");
        assert_eq!(code(Reason::required(Some(&format!("{most}x")), "needed").unwrap_err()), "length");
    }

    #[test]
    fn a_required_reason_is_not_blank() {
        for raw in [None, Some(""), Some("   ")] {
            let e = Reason::required(raw, "a reason is required").unwrap_err();
            assert_eq!(e.0[0].message, "a reason is required");
            assert_eq!(code(e), "required");
        }
        assert_eq!(Reason::required(Some(" audit "), "x").unwrap().as_str(), "audit");
    }
}
