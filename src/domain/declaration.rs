//! Customs declarations: the one state machine, the status sets the rest of
//! the code asks about, and the number format. What a company files and how
//! it is validated is `declaration_form`.

use std::fmt;

use crate::text_enum::text_enum;

text_enum!(
    /// Where a declaration stands in its review.
    DeclarationStatus {
        Draft => "draft",
        Submitted => "submitted",
        UnderReview => "under_review",
        Approved => "approved",
        Released => "released",
        Rejected => "rejected",
        AmendmentRequested => "amendment_requested",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// Direction of the goods across the border.
    DeclarationKind {
        Import => "import",
        Export => "export",
        Transit => "transit",
    }
);

impl DeclarationKind {
    /// The letter that marks the kind inside a declaration number.
    pub fn letter(self) -> char {
        match self {
            DeclarationKind::Import => 'I',
            DeclarationKind::Export => 'E',
            DeclarationKind::Transit => 'T',
        }
    }
}

text_enum!(
    /// Inspection channel assigned on approval.
    RiskLane {
        Green => "green",
        Yellow => "yellow",
        Red => "red",
    }
);

/// Something a company or an officer does to a declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclarationAction {
    /// Change the content (company).
    Edit,
    /// Hand the declaration to customs (company).
    Submit,
    /// Take the declaration into review (customs).
    Claim,
    /// Accept the declaration (customs).
    Approve,
    /// Refuse the declaration for good (customs).
    Reject,
    /// Send it back to the company for changes (customs).
    RequestAmendment,
    /// Let the goods go (customs).
    Release,
    /// Withdraw the declaration (company).
    Cancel,
}

impl DeclarationAction {
    /// Every action, in declaration order.
    pub const ALL: &'static [DeclarationAction] = &[
        DeclarationAction::Edit,
        DeclarationAction::Submit,
        DeclarationAction::Claim,
        DeclarationAction::Approve,
        DeclarationAction::Reject,
        DeclarationAction::RequestAmendment,
        DeclarationAction::Release,
        DeclarationAction::Cancel,
    ];

    /// The name used in URLs and the audit trail (`Claim` is the `review` endpoint).
    pub fn as_str(self) -> &'static str {
        match self {
            DeclarationAction::Edit => "edit",
            DeclarationAction::Submit => "submit",
            DeclarationAction::Claim => "review",
            DeclarationAction::Approve => "approve",
            DeclarationAction::Reject => "reject",
            DeclarationAction::RequestAmendment => "request-amendment",
            DeclarationAction::Release => "release",
            DeclarationAction::Cancel => "cancel",
        }
    }

    /// The side that may take this action at all.
    pub fn party(self) -> Party {
        match self {
            DeclarationAction::Edit | DeclarationAction::Submit | DeclarationAction::Cancel => Party::Company,
            DeclarationAction::Claim
            | DeclarationAction::Approve
            | DeclarationAction::Reject
            | DeclarationAction::RequestAmendment
            | DeclarationAction::Release => Party::Customs,
        }
    }

    /// The verb phrase that reads well in "cannot … a declaration".
    fn verb(self) -> &'static str {
        match self {
            DeclarationAction::RequestAmendment => "request an amendment to",
            // Every other name is already a verb.
            other => other.as_str(),
        }
    }
}

impl fmt::Display for DeclarationAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of the border a user acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The declaring enterprise.
    Company,
    /// Customs officers and supervisors.
    Customs,
}

/// Why a transition was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionError {
    /// The action belongs to the other party, whatever the state.
    WrongParty,
    /// The party may take the action, but not in the current state.
    Illegal {
        /// The state the declaration is in.
        from: DeclarationStatus,
        /// What was attempted.
        action: DeclarationAction,
    },
}

impl TransitionError {
    /// A sentence for the problem detail; an illegal one names the current state.
    pub fn message(&self) -> String {
        match self {
            TransitionError::WrongParty => "this action is reserved for the other party".to_owned(),
            TransitionError::Illegal { from, action } => {
                format!("cannot {} a declaration that is {}", action.verb(), from)
            }
        }
    }
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for TransitionError {}

/// The state `action` by `by` leads to from `from`: the only place the rules live.
pub fn transition(
    from: DeclarationStatus,
    action: DeclarationAction,
    by: Party,
) -> Result<DeclarationStatus, TransitionError> {
    use DeclarationAction as A;
    use DeclarationStatus as S;
    // Party first, so that the answer to the wrong side never depends on (and never reveals) the state.
    if action.party() != by {
        return Err(TransitionError::WrongParty);
    }
    let to = match (action, from) {
        (A::Edit, S::Draft) => S::Draft,
        (A::Edit, S::AmendmentRequested) => S::AmendmentRequested,
        (A::Submit, S::Draft | S::AmendmentRequested) => S::Submitted,
        (A::Cancel, S::Draft | S::Submitted | S::UnderReview | S::AmendmentRequested) => S::Cancelled,
        (A::Claim, S::Submitted) => S::UnderReview,
        (A::Approve, S::Submitted | S::UnderReview) => S::Approved,
        (A::Reject, S::Submitted | S::UnderReview) => S::Rejected,
        (A::RequestAmendment, S::Submitted | S::UnderReview) => S::AmendmentRequested,
        (A::Release, S::Approved) => S::Released,
        _ => return Err(TransitionError::Illegal { from, action }),
    };
    Ok(to)
}

/// The actions `by` may take on a declaration in state `from`, in the
/// order of [`DeclarationAction::ALL`]: what the console offers.
pub fn allowed_actions(from: DeclarationStatus, by: Party) -> Vec<DeclarationAction> {
    DeclarationAction::ALL.iter().copied().filter(|a| transition(from, *a, by).is_ok()).collect()
}

/// No action leads anywhere from here.
pub fn is_final(s: DeclarationStatus) -> bool {
    matches!(s, DeclarationStatus::Released | DeclarationStatus::Rejected | DeclarationStatus::Cancelled)
}

impl DeclarationStatus {
    /// The states in which a clearance slot may be booked for a declaration.
    pub const BOOKABLE: &'static [DeclarationStatus] =
        &[DeclarationStatus::Submitted, DeclarationStatus::UnderReview, DeclarationStatus::Approved];
    /// The states in which a truck carrying the goods may pass the gate.
    pub const CLEARED: &'static [DeclarationStatus] = &[DeclarationStatus::Approved, DeclarationStatus::Released];
    /// The states in which the company may change the content.
    pub const EDITABLE: &'static [DeclarationStatus] =
        &[DeclarationStatus::Draft, DeclarationStatus::AmendmentRequested];
}

/// A clearance slot may be booked for a declaration in this state.
pub fn is_bookable(s: DeclarationStatus) -> bool {
    DeclarationStatus::BOOKABLE.contains(&s)
}

/// Entering this state cancels the declaration's active booking and frees its capacity.
pub fn ends_booking(s: DeclarationStatus) -> bool {
    matches!(s, DeclarationStatus::Rejected | DeclarationStatus::Cancelled)
}

/// The company may change the content in this state.
pub fn is_editable(s: DeclarationStatus) -> bool {
    DeclarationStatus::EDITABLE.contains(&s)
}

/// The human-readable number given at submission, e.g. `CNKHG2026I000042`.
///
/// The serial is padded to six digits and simply grows wider past 999999.
pub fn declaration_number(site_code: &str, year: i32, kind: DeclarationKind, serial: i64) -> String {
    format!("{site_code}{year}{}{serial:06}", kind.letter())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use DeclarationAction as A;
    use DeclarationStatus as S;

    // ---- state machine -------------------------------------------------

    /// Expected outcome of every (party, state, action): a target state, `W` for
    /// WrongParty, `x` for Illegal. Columns follow `DeclarationAction::ALL`.
    const TABLE: &str = "
        #                    edit                 submit     review        approve   reject    request-amendment    release   cancel
        company draft                draft                submitted  W             W         W         W                    W         cancelled
        company submitted            x                    x          W             W         W         W                    W         cancelled
        company under_review         x                    x          W             W         W         W                    W         cancelled
        company approved             x                    x          W             W         W         W                    W         x
        company released             x                    x          W             W         W         W                    W         x
        company rejected             x                    x          W             W         W         W                    W         x
        company amendment_requested  amendment_requested  submitted  W             W         W         W                    W         cancelled
        company cancelled            x                    x          W             W         W         W                    W         x
        customs draft                W                    W          x             x         x         x                    x         W
        customs submitted            W                    W          under_review  approved  rejected  amendment_requested  x         W
        customs under_review         W                    W          x             approved  rejected  amendment_requested  x         W
        customs approved             W                    W          x             x         x         x                    released  W
        customs released             W                    W          x             x         x         x                    x         W
        customs rejected             W                    W          x             x         x         x                    x         W
        customs amendment_requested  W                    W          x             x         x         x                    x         W
        customs cancelled            W                    W          x             x         x         x                    x         W
    ";

    #[test]
    fn every_transition_matches_the_table() {
        let mut seen = std::collections::HashSet::new();
        for line in TABLE.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols.len(), 2 + A::ALL.len(), "bad row {line}");
            let party = match cols[0] {
                "company" => Party::Company,
                "customs" => Party::Customs,
                p => panic!("bad party {p}"),
            };
            let from: S = cols[1].parse().unwrap();
            for (action, cell) in A::ALL.iter().zip(&cols[2..]) {
                let expected = match *cell {
                    "W" => Err(TransitionError::WrongParty),
                    "x" => Err(TransitionError::Illegal { from, action: *action }),
                    to => Ok(to.parse::<S>().unwrap()),
                };
                assert_eq!(transition(from, *action, party), expected, "{party:?} {action:?} from {from}");
                assert!(seen.insert((format!("{party:?}"), from, action.as_str())));
            }
        }
        assert_eq!(seen.len(), 2 * S::ALL.len() * A::ALL.len());
        assert_eq!(seen.len(), 128);
    }

    #[test]
    fn happy_path_to_release() {
        let mut s = S::Draft;
        for (action, by, to) in [
            (A::Edit, Party::Company, S::Draft),
            (A::Submit, Party::Company, S::Submitted),
            (A::Claim, Party::Customs, S::UnderReview),
            (A::Approve, Party::Customs, S::Approved),
            (A::Release, Party::Customs, S::Released),
        ] {
            s = transition(s, action, by).unwrap();
            assert_eq!(s, to);
        }
        assert!(is_final(s));
    }

    #[test]
    fn amendment_round_trip_and_direct_decisions() {
        let s = transition(S::Submitted, A::RequestAmendment, Party::Customs).unwrap();
        assert_eq!(s, S::AmendmentRequested);
        let s = transition(s, A::Edit, Party::Company).unwrap();
        let s = transition(s, A::Submit, Party::Company).unwrap();
        assert_eq!(s, S::Submitted);
        assert_eq!(transition(s, A::Approve, Party::Customs), Ok(S::Approved));
        assert_eq!(transition(S::UnderReview, A::Reject, Party::Customs), Ok(S::Rejected));
        assert_eq!(transition(S::UnderReview, A::Cancel, Party::Company), Ok(S::Cancelled));
    }

    #[test]
    fn errors_name_the_state() {
        let e = transition(S::Draft, A::Approve, Party::Customs).unwrap_err();
        assert_eq!(e.message(), "cannot approve a declaration that is draft");
        let e = transition(S::Approved, A::Cancel, Party::Company).unwrap_err();
        assert_eq!(e.to_string(), "cannot cancel a declaration that is approved");
        let e = transition(S::Draft, A::RequestAmendment, Party::Customs).unwrap_err();
        assert_eq!(e.message(), "cannot request an amendment to a declaration that is draft");
        // The wrong party learns nothing about the state.
        assert_eq!(
            transition(S::Draft, A::Approve, Party::Company),
            transition(S::Submitted, A::Approve, Party::Company)
        );
    }

    #[test]
    fn status_helpers() {
        let finals: Vec<S> = S::ALL.iter().copied().filter(|s| is_final(*s)).collect();
        assert_eq!(finals, [S::Released, S::Rejected, S::Cancelled]);
        let bookable: Vec<S> = S::ALL.iter().copied().filter(|s| is_bookable(*s)).collect();
        assert_eq!(bookable, [S::Submitted, S::UnderReview, S::Approved]);
        let ending: Vec<S> = S::ALL.iter().copied().filter(|s| ends_booking(*s)).collect();
        assert_eq!(ending, [S::Rejected, S::Cancelled]);
        let editable: Vec<S> = S::ALL.iter().copied().filter(|s| is_editable(*s)).collect();
        assert_eq!(editable, [S::Draft, S::AmendmentRequested]);
        // A final state accepts no action from anyone.
        for s in S::ALL.iter().filter(|s| is_final(**s)) {
            for a in A::ALL {
                assert!(transition(*s, *a, Party::Company).is_err());
                assert!(transition(*s, *a, Party::Customs).is_err());
            }
        }
    }

    #[test]
    fn action_names() {
        let names: Vec<&str> = A::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, ["edit", "submit", "review", "approve", "reject", "request-amendment", "release", "cancel"]);
        assert_eq!(A::Claim.party(), Party::Customs);
        assert_eq!(A::Cancel.party(), Party::Company);
    }

    #[test]
    fn enums_round_trip() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>(), Ok(*s));
        }
        for k in DeclarationKind::ALL {
            assert_eq!(k.as_str().parse::<DeclarationKind>(), Ok(*k));
        }
        for r in RiskLane::ALL {
            assert_eq!(r.as_str().parse::<RiskLane>(), Ok(*r));
        }
        assert!("blue".parse::<RiskLane>().is_err());
        assert_eq!(serde_json::to_string(&S::AmendmentRequested).unwrap(), "\"amendment_requested\"");
    }

    #[test]
    fn numbers_join_site_year_letter_and_serial() {
        assert_eq!(declaration_number("CNKHG", 2026, DeclarationKind::Import, 42), "CNKHG2026I000042");
        assert_eq!(declaration_number("CNHGS", 2027, DeclarationKind::Export, 1), "CNHGS2027E000001");
        assert_eq!(declaration_number("CNAKA", 2026, DeclarationKind::Transit, 999_999), "CNAKA2026T999999");
        assert_eq!(declaration_number("CNURC", 2026, DeclarationKind::Import, 1_000_000), "CNURC2026I1000000");
    }
}
