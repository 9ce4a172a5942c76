//! Users, roles and enterprises: the value types and their rules.

use crate::text_enum::text_enum;

text_enum!(
    /// What a user may do.
    Role {
        CompanyAdmin => "company_admin",
        CompanyClerk => "company_clerk",
        Officer => "officer",
        Supervisor => "supervisor",
    }
);

impl Role {
    /// Company roles belong to one enterprise.
    pub fn is_company(self) -> bool {
        matches!(self, Role::CompanyAdmin | Role::CompanyClerk)
    }
    /// Customs roles: officers and supervisors.
    pub fn is_customs(self) -> bool {
        !self.is_company()
    }
    /// Whose view may be limited to some clearance sites: officers only.
    /// Supervisors run every site and always see all of them; company
    /// users see what their enterprise owns, wherever it is.
    pub fn may_be_limited_to_sites(self) -> bool {
        self == Role::Officer
    }
}

text_enum!(
    /// Where an enterprise stands with customs.
    EnterpriseStatus {
        Pending => "pending",
        Verified => "verified",
        Suspended => "suspended",
        Rejected => "rejected",
    }
);

text_enum!(
    /// Customs credit rating (China Customs' enterprise credit classes).
    CreditClass {
        AdvancedCertified => "advanced_certified",
        General => "general",
        Discredited => "discredited",
    }
);

/// An action an officer takes on an enterprise's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnterpriseAction {
    Verify,
    Suspend,
    Reinstate,
    /// A pending registration refused: its code and email are freed.
    Reject,
}

impl EnterpriseAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EnterpriseAction::Verify => "verify",
            EnterpriseAction::Suspend => "suspend",
            EnterpriseAction::Reinstate => "reinstate",
            EnterpriseAction::Reject => "reject",
        }
    }

    /// The status this action leads to from `from`, or `None` when the
    /// action is not allowed there.
    pub fn apply(self, from: EnterpriseStatus) -> Option<EnterpriseStatus> {
        use EnterpriseStatus::*;
        match (self, from) {
            (EnterpriseAction::Verify, Pending) => Some(Verified),
            (EnterpriseAction::Suspend, Pending | Verified) => Some(Suspended),
            (EnterpriseAction::Reinstate, Suspended) => Some(Verified),
            (EnterpriseAction::Reject, Pending) => Some(Rejected),
            _ => None,
        }
    }
}

impl EnterpriseStatus {
    /// Only a verified enterprise may file, submit and book; a suspended one
    /// may read only; a pending one may prepare drafts and manage its users.
    pub fn may_trade(self) -> bool {
        self == EnterpriseStatus::Verified
    }
    /// Whether the enterprise may change anything at all.
    pub fn may_write(self) -> bool {
        !matches!(self, EnterpriseStatus::Suspended | EnterpriseStatus::Rejected)
    }
}

/// A normalised email address (trimmed, lower-case, one `@`, a dotted domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("email is required");
        }
        if email.len() > 254 {
            return Err("email is longer than 254 characters");
        }
        let (local, domain) = email.split_once('@').ok_or("email needs an @")?;
        let valid_local = !local.is_empty() && local.len() <= 64 && !local.contains(char::is_whitespace);
        let valid_domain = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if !valid_local || !valid_domain || domain.contains('@') {
            return Err("email is not a valid address");
        }
        Ok(Email(email))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted (bounds hashing work per request).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks a new password against the policy; the error says what is wrong.
pub fn check_password(password: &str, email: &str, display_name: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err("password must have at least 12 characters");
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err("password must have at most 256 characters");
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if local.len() >= 3 && lower.contains(&local) {
        return Err("password must not contain your email address");
    }
    let name = display_name.trim().to_lowercase();
    if name.len() >= 3 && lower.contains(&name) {
        return Err("password must not contain your name");
    }
    for part in name.split_whitespace().filter(|p| p.len() >= 4) {
        if lower.contains(part) {
            return Err("password must not contain your name");
        }
    }
    if password.chars().all(|c| c == password.chars().next().unwrap_or(' ')) {
        return Err("password must not be one repeated character");
    }
    if is_common_password(&lower) {
        return Err("password is too common: it is on the lists attackers try first; choose another");
    }
    Ok(())
}

/// The 10,000 most common passwords of leaked lists, one a line, lower-case
/// (the frequency list of zxcvbn, MIT licence, Copyright (c) 2016 Joshua
/// Holmer; taken from the crate `zxcvbn` 2.2.2, not a dependency).
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Whether a (lower-cased) password is on the common list, as it is or
/// with the digits and punctuation people append removed (`password2024!`).
fn is_common_password(lower: &str) -> bool {
    static SET: std::sync::OnceLock<std::collections::HashSet<&'static str>> = std::sync::OnceLock::new();
    let set = SET.get_or_init(|| COMMON_PASSWORDS.lines().filter(|l| !l.is_empty()).collect());
    let base = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    set.contains(lower) || (base.chars().count() >= 6 && set.contains(base))
}

/// ISO 3166-1 alpha-2 country code, upper-case.
pub fn parse_country(raw: &str) -> Result<String, &'static str> {
    let code = raw.trim();
    if code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()) {
        return Err("country must be an ISO 3166-1 alpha-2 code in capitals, e.g. CN");
    }
    isocountry::CountryCode::for_alpha2(code).map_err(|_| "country is not an ISO 3166-1 alpha-2 code")?;
    Ok(code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_with_or_without_a_suffix() {
        for weak in ["qwertyuiop123", "Password2024!", "1qaz2wsx3edc", "iloveyou1234", "Superman123456"] {
            assert!(check_password(weak, "a@b.example", "Someone Else").is_err(), "{weak}");
        }
        assert!(check_password("Correct-Horse-Battery-9271", "a@b.example", "Someone Else").is_ok());
    }

    #[test]
    fn enterprise_actions_follow_the_lifecycle() {
        use EnterpriseAction::*;
        use EnterpriseStatus::*;
        assert_eq!(Verify.apply(Pending), Some(Verified));
        assert_eq!(Verify.apply(Verified), None);
        assert_eq!(Verify.apply(Suspended), None);
        assert_eq!(Suspend.apply(Verified), Some(Suspended));
        assert_eq!(Suspend.apply(Pending), Some(Suspended));
        assert_eq!(Suspend.apply(Suspended), None);
        assert_eq!(Reinstate.apply(Suspended), Some(Verified));
        assert_eq!(Reinstate.apply(Verified), None);
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ops@Example.COM ").map(Email::into_inner), Ok("ops@example.com".into()));
        for bad in ["", "no-at", "a@b", "a@@b.cn", "@x.cn", "a@.cn", "a b@x.cn", "a@x..cn"] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn password_policy() {
        assert!(check_password("short", "a@x.cn", "A").is_err());
        assert!(check_password("correct horse battery", "ops@x.cn", "Li Wei").is_ok());
        assert!(check_password("operator-ops@x.cn-1", "ops@x.cn", "Li Wei").is_err());
        assert!(check_password("my name is Li Wei 2026", "z@x.cn", "Li Wei").is_err());
        assert!(check_password("aaaaaaaaaaaaaa", "z@x.cn", "Li").is_err());
    }

    #[test]
    fn countries_use_iso_codes() {
        assert_eq!(parse_country("CN"), Ok("CN".into()));
        assert!(parse_country("cn").is_err());
        assert!(parse_country("XX").is_err());
        assert!(parse_country("CHN").is_err());
    }

    #[test]
    fn only_officers_may_be_limited_to_sites() {
        let limited: Vec<Role> = Role::ALL.iter().copied().filter(|r| r.may_be_limited_to_sites()).collect();
        assert_eq!(limited, vec![Role::Officer]);
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
