//! The booking rules: when a company may book, cancel or be marked absent,
//! how much of one slot it may hold, and the booking lifecycle. Pure: the
//! booking service asks, the database enforces the counts atomically.

use chrono::{DateTime, Duration, Utc};

use crate::domain::declaration::{DeclarationStatus, Party};
use crate::domain::identity::{CreditClass, EnterpriseStatus};
use crate::text_enum::text_enum;

text_enum!(
    /// Where a booking stands.
    BookingStatus {
        Confirmed => "confirmed",
        CheckedIn => "checked_in",
        Completed => "completed",
        Cancelled => "cancelled",
        NoShow => "no_show",
    }
);

impl BookingStatus {
    /// The states in which a booking holds a place in its slot.
    pub const ACTIVE: &'static [BookingStatus] = &[BookingStatus::Confirmed, BookingStatus::CheckedIn];

    /// Holds a place in its slot.
    pub fn is_active(self) -> bool {
        BookingStatus::ACTIVE.contains(&self)
    }
}

/// An action on a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingAction {
    Cancel,
    Reschedule,
    CheckIn,
    Complete,
    NoShow,
    /// Set or replace the vehicle, driver and containers.
    Edit,
}

impl BookingAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingAction::Cancel => "cancel",
            BookingAction::Reschedule => "reschedule",
            BookingAction::Edit => "edit",
            BookingAction::CheckIn => "check-in",
            BookingAction::Complete => "complete",
            BookingAction::NoShow => "no-show",
        }
    }
}

impl BookingAction {
    /// Every action, in declaration order.
    pub const ALL: &'static [BookingAction] = &[
        BookingAction::Cancel,
        BookingAction::Reschedule,
        BookingAction::Edit,
        BookingAction::CheckIn,
        BookingAction::Complete,
        BookingAction::NoShow,
    ];

    /// Whether `party` may take this action at all: a company cancels and
    /// moves its bookings, customs cancel and run the gate.
    pub fn open_to(self, party: Party) -> bool {
        match self {
            BookingAction::Cancel => true,
            BookingAction::Reschedule | BookingAction::Edit => party == Party::Company,
            BookingAction::CheckIn | BookingAction::Complete | BookingAction::NoShow => party == Party::Customs,
        }
    }
}

/// The actions `party` may take on a booking in state `from` (a no-show
/// also waits for the slot's end): what the console offers.
pub fn allowed_actions(from: BookingStatus, party: Party) -> Vec<BookingAction> {
    BookingAction::ALL.iter().copied().filter(|a| a.open_to(party) && booking_transition(from, *a).is_ok()).collect()
}

/// The status an action leads to from `from`, or why not.
pub fn booking_transition(from: BookingStatus, action: BookingAction) -> Result<BookingStatus, Refusal> {
    use BookingAction as A;
    use BookingStatus as S;
    match (action, from) {
        (A::Cancel, S::Confirmed) => Ok(S::Cancelled),
        (A::Reschedule | A::Edit, S::Confirmed) => Ok(S::Confirmed),
        (A::CheckIn, S::Confirmed) => Ok(S::CheckedIn),
        (A::Complete, S::CheckedIn) => Ok(S::Completed),
        (A::NoShow, S::Confirmed) => Ok(S::NoShow),
        _ => Err(Refusal::BookingState { action: action.as_str(), status: from }),
    }
}

/// The limits of one site: the configured defaults (`[booking]` in
/// config) with the site's own values (`domain::site_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingPolicy {
    pub min_notice: Duration,
    pub min_notice_advanced: Duration,
    pub horizon: Duration,
    pub cancel_cutoff: Duration,
    /// Largest share of one slot's capacity one enterprise may hold, percent.
    pub max_share_percent: i64,
    /// How long before its slot starts a truck may arrive.
    pub arrival_early: Duration,
    /// How long after its slot ends a truck may still arrive.
    pub arrival_late: Duration,
    /// How far after its old start a displaced booking may be moved.
    pub rebook_window: Duration,
}

/// When a truck may be checked in at the gate: [opens_at, closes_at].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ArrivalWindow {
    /// The slot's start minus its site's `arrival_early_minutes`.
    pub opens_at: DateTime<Utc>,
    /// The slot's end plus its site's `arrival_late_minutes`; a booking
    /// still `confirmed` after this becomes `no_show`.
    pub closes_at: DateTime<Utc>,
}

impl Default for BookingPolicy {
    fn default() -> Self {
        Self {
            min_notice: Duration::minutes(120),
            min_notice_advanced: Duration::minutes(30),
            horizon: Duration::days(30),
            cancel_cutoff: Duration::minutes(60),
            max_share_percent: 50,
            arrival_early: Duration::minutes(30),
            arrival_late: Duration::minutes(30),
            rebook_window: Duration::hours(24),
        }
    }
}

text_enum!(
    /// Why a company may not book a slot now (`GET /slots`), in the order
    /// they are decided: `closed` (customs closed it), `started`, `notice`
    /// (bookings closed: too little notice for the caller's enterprise),
    /// `horizon` (too far ahead), `full`, `share` (the caller's enterprise
    /// holds its share of the slot already), `reserved` (the free places
    /// are reserved for advanced_certified enterprises).
    Unbookable {
        Closed => "closed",
        Started => "started",
        Notice => "notice",
        Horizon => "horizon",
        Full => "full",
        Share => "share",
        Reserved => "reserved",
    }
);

/// What the booking rules need to know of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotFacts {
    pub open: bool,
    pub starts_at: DateTime<Utc>,
    pub capacity: i64,
    pub booked: i64,
}

/// Why a booking request was refused. Each has its own problem type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    SlotFull,
    /// The slot's free places are all reserved for advanced-certified
    /// enterprises until `reserved_until` (see `domain::reserve`).
    Reserved {
        slot_id: String,
        reserved_until: DateTime<Utc>,
    },
    ShareExceeded {
        limit: i64,
    },
    TooLate {
        notice_minutes: i64,
    },
    BeyondHorizon {
        days: i64,
    },
    SlotStarted,
    SlotClosed,
    DeclarationState {
        status: DeclarationStatus,
    },
    /// The declaration is already on an active booking.
    AlreadyBooked {
        declaration_id: String,
    },
    /// The vehicle already holds an active booking whose slot overlaps.
    VehicleAlreadyBooked {
        plate: String,
        country: String,
    },
    WrongSiteOrMode,
    Discredited,
    NotVerified {
        status: EnterpriseStatus,
    },
    CancelCutoff {
        minutes: i64,
    },
    SlotNotEnded,
    SameSlot,
    BookingState {
        action: &'static str,
        status: BookingStatus,
    },
}

impl Refusal {
    /// Problem type slug.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::SlotFull => "slot-full",
            Refusal::Reserved { .. } => "reserved",
            Refusal::ShareExceeded { .. } => "share-exceeded",
            Refusal::TooLate { .. } => "too-late",
            Refusal::BeyondHorizon { .. } => "beyond-horizon",
            Refusal::SlotStarted => "slot-started",
            Refusal::SlotClosed => "slot-closed",
            Refusal::DeclarationState { .. } => "declaration-state",
            Refusal::AlreadyBooked { .. } => "already-booked",
            Refusal::VehicleAlreadyBooked { .. } => "vehicle-already-booked",
            Refusal::WrongSiteOrMode => "wrong-site-or-mode",
            Refusal::Discredited => "discredited",
            Refusal::NotVerified { .. } => "enterprise-not-verified",
            Refusal::CancelCutoff { .. } => "cancel-cutoff",
            Refusal::SlotNotEnded => "slot-not-ended",
            Refusal::SameSlot => "same-slot",
            Refusal::BookingState { .. } => "booking-state",
        }
    }

    /// The reason a slot shows as not bookable for this refusal of it
    /// (`None`: a refusal about something other than the slot).
    pub fn unbookable(&self) -> Option<Unbookable> {
        match self {
            Refusal::SlotClosed => Some(Unbookable::Closed),
            Refusal::SlotStarted => Some(Unbookable::Started),
            Refusal::TooLate { .. } => Some(Unbookable::Notice),
            Refusal::BeyondHorizon { .. } => Some(Unbookable::Horizon),
            Refusal::SlotFull => Some(Unbookable::Full),
            Refusal::ShareExceeded { .. } => Some(Unbookable::Share),
            _ => None,
        }
    }

    /// What the client is told.
    pub fn message(&self) -> String {
        match self {
            Refusal::SlotFull => "the slot is fully booked".into(),
            Refusal::Reserved { reserved_until, .. } => format!(
                "the remaining places of this slot are reserved for advanced-certified enterprises until {}",
                reserved_until.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
            Refusal::ShareExceeded { limit } => {
                format!("your enterprise already holds its share of this slot ({limit} place(s))")
            }
            Refusal::TooLate { notice_minutes } => {
                format!("bookings close {notice_minutes} minutes before the slot starts")
            }
            Refusal::BeyondHorizon { days } => format!("slots can be booked at most {days} days ahead"),
            Refusal::SlotStarted => "the slot has already started".into(),
            Refusal::SlotClosed => "the slot is closed".into(),
            Refusal::DeclarationState { status } => {
                format!(
                    "a declaration that is {status} cannot be booked (it must be submitted, under_review or approved)"
                )
            }
            Refusal::AlreadyBooked { declaration_id } => format!(
                "declaration {declaration_id} already has an active booking: reschedule that booking, \
                 or leave this declaration out"
            ),
            Refusal::VehicleAlreadyBooked { plate, country } => format!(
                "vehicle {plate} ({country}) already holds a booking whose slot overlaps this one: \
                 one vehicle can be at one gate at a time; choose another slot or vehicle"
            ),
            Refusal::WrongSiteOrMode => "the slot is not at the declaration's site and transport mode".into(),
            Refusal::Discredited => "discredited enterprises may not book clearance slots".into(),
            Refusal::NotVerified { status } => {
                format!("the enterprise is {status}: customs must verify it before it may book")
            }
            Refusal::CancelCutoff { minutes } => {
                format!("bookings can be cancelled or moved until {minutes} minutes before the slot starts")
            }
            Refusal::SlotNotEnded => "a no-show can only be recorded after the slot has ended".into(),
            Refusal::SameSlot => "the booking is already on this slot".into(),
            Refusal::BookingState { action, status } => format!("cannot {action} a booking that is {status}"),
        }
    }
}

impl BookingPolicy {
    /// Minimum notice for an enterprise of this credit class.
    pub fn notice_for(&self, credit: CreditClass) -> Duration {
        match credit {
            CreditClass::AdvancedCertified => self.min_notice_advanced,
            _ => self.min_notice,
        }
    }

    /// May this enterprise book at all?
    pub fn check_credit(&self, credit: CreditClass) -> Result<(), Refusal> {
        if credit == CreditClass::Discredited {
            Err(Refusal::Discredited)
        } else {
            Ok(())
        }
    }

    /// Is a slot starting at `starts_at` bookable at `now`?
    pub fn check_timing(
        &self,
        credit: CreditClass,
        now: DateTime<Utc>,
        starts_at: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        if starts_at <= now {
            return Err(Refusal::SlotStarted);
        }
        let notice = self.notice_for(credit);
        if starts_at - now < notice {
            return Err(Refusal::TooLate { notice_minutes: notice.num_minutes() });
        }
        if starts_at - now > self.horizon {
            return Err(Refusal::BeyondHorizon { days: self.horizon.num_days() });
        }
        Ok(())
    }

    /// The slot's own rules, in the order a booking is refused by them:
    /// closed, then timing (started, notice, horizon), then full. What
    /// grants the place is still the guarded UPDATE; this reads the slot
    /// as last committed.
    pub fn check_slot(&self, slot: &SlotFacts, credit: CreditClass, now: DateTime<Utc>) -> Result<(), Refusal> {
        if !slot.open {
            return Err(Refusal::SlotClosed);
        }
        self.check_timing(credit, now, slot.starts_at)?;
        if slot.booked >= slot.capacity {
            return Err(Refusal::SlotFull);
        }
        Ok(())
    }

    /// May an enterprise that holds `held` places of a slot of this
    /// capacity take one more?
    pub fn check_share(&self, capacity: i64, held: i64) -> Result<(), Refusal> {
        let limit = self.share_limit(capacity);
        if held >= limit {
            Err(Refusal::ShareExceeded { limit })
        } else {
            Ok(())
        }
    }

    /// Whether an enterprise of this credit class holding `held` places of
    /// the slot may book it now, or the first reason not: the slot's rules,
    /// then the share. `GET /slots` shows it as `bookable`/`reason` (every
    /// refusal of these two checks has its [`Refusal::unbookable`]); a
    /// booking is refused by the same two checks.
    pub fn bookability(
        &self,
        slot: &SlotFacts,
        credit: CreditClass,
        now: DateTime<Utc>,
        held: i64,
    ) -> Result<(), Unbookable> {
        self.check_slot(slot, credit, now)
            .and_then(|()| self.check_share(slot.capacity, held))
            .map_err(|r| r.unbookable().unwrap_or(Unbookable::Closed))
    }

    /// Most places one enterprise may hold in a slot of this capacity: the
    /// configured share of the current capacity, at least one.
    pub fn share_limit(&self, capacity: i64) -> i64 {
        (capacity * self.max_share_percent / 100).max(1)
    }

    /// May a company still cancel or move a booking of a slot starting at `starts_at`?
    pub fn check_company_cancel(&self, now: DateTime<Utc>, starts_at: DateTime<Utc>) -> Result<(), Refusal> {
        if starts_at - now < self.cancel_cutoff {
            Err(Refusal::CancelCutoff { minutes: self.cancel_cutoff.num_minutes() })
        } else {
            Ok(())
        }
    }

    /// When a truck booked on a slot of [starts_at, ends_at) may arrive.
    pub fn arrival_window(&self, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> ArrivalWindow {
        ArrivalWindow { opens_at: starts_at - self.arrival_early, closes_at: ends_at + self.arrival_late }
    }

    /// A no-show is a fact only once the slot is over.
    pub fn check_no_show(&self, now: DateTime<Utc>, ends_at: DateTime<Utc>) -> Result<(), Refusal> {
        if now < ends_at {
            Err(Refusal::SlotNotEnded)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-12-01T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn notice_depends_on_credit_class() {
        let p = BookingPolicy::default();
        let start = t0() + Duration::minutes(60);
        assert_eq!(p.check_timing(CreditClass::General, t0(), start), Err(Refusal::TooLate { notice_minutes: 120 }));
        assert_eq!(p.check_timing(CreditClass::AdvancedCertified, t0(), start), Ok(()));
        assert_eq!(
            p.check_timing(CreditClass::AdvancedCertified, t0(), t0() + Duration::minutes(29)),
            Err(Refusal::TooLate { notice_minutes: 30 })
        );
        assert_eq!(p.check_timing(CreditClass::General, t0(), t0() + Duration::minutes(120)), Ok(()));
        assert_eq!(p.check_timing(CreditClass::General, t0(), t0()), Err(Refusal::SlotStarted));
    }

    #[test]
    fn horizon_is_thirty_days() {
        let p = BookingPolicy::default();
        assert_eq!(p.check_timing(CreditClass::General, t0(), t0() + Duration::days(30)), Ok(()));
        assert_eq!(
            p.check_timing(CreditClass::General, t0(), t0() + Duration::days(30) + Duration::minutes(1)),
            Err(Refusal::BeyondHorizon { days: 30 })
        );
    }

    #[test]
    fn share_is_half_the_capacity_and_at_least_one() {
        let p = BookingPolicy::default();
        assert_eq!(p.share_limit(10), 5);
        assert_eq!(p.share_limit(9), 4);
        assert_eq!(p.share_limit(1), 1);
        assert_eq!(p.share_limit(0), 1);
        assert_eq!(BookingPolicy { max_share_percent: 100, ..p }.share_limit(7), 7);
    }

    #[test]
    fn cancel_cutoff_and_no_show() {
        let p = BookingPolicy::default();
        assert!(p.check_company_cancel(t0(), t0() + Duration::minutes(61)).is_ok());
        assert_eq!(
            p.check_company_cancel(t0(), t0() + Duration::minutes(59)),
            Err(Refusal::CancelCutoff { minutes: 60 })
        );
        assert_eq!(p.check_no_show(t0(), t0() + Duration::minutes(1)), Err(Refusal::SlotNotEnded));
        assert!(p.check_no_show(t0(), t0()).is_ok());
    }

    fn slot(starts_in: Duration, capacity: i64, booked: i64) -> SlotFacts {
        SlotFacts { open: true, starts_at: t0() + starts_in, capacity, booked }
    }

    #[test]
    fn bookability_gives_the_first_reason_in_order() {
        let p = BookingPolicy::default();
        let g = CreditClass::General;
        let day = Duration::days(1);
        assert_eq!(p.bookability(&slot(day, 10, 0), g, t0(), 0), Ok(()));
        let closed = SlotFacts { open: false, ..slot(-day, 0, 0) };
        assert_eq!(p.bookability(&closed, g, t0(), 9), Err(Unbookable::Closed));
        assert_eq!(p.bookability(&slot(Duration::zero(), 0, 0), g, t0(), 9), Err(Unbookable::Started));
        assert_eq!(p.bookability(&slot(Duration::minutes(119), 0, 0), g, t0(), 9), Err(Unbookable::Notice));
        // The notice is the credit class's.
        let advanced = CreditClass::AdvancedCertified;
        assert_eq!(p.bookability(&slot(Duration::minutes(119), 10, 0), advanced, t0(), 0), Ok(()));
        assert_eq!(p.bookability(&slot(Duration::days(31), 0, 0), g, t0(), 9), Err(Unbookable::Horizon));
        assert_eq!(p.bookability(&slot(day, 10, 10), g, t0(), 9), Err(Unbookable::Full));
        assert_eq!(p.bookability(&slot(day, 10, 5), g, t0(), 5), Err(Unbookable::Share));
        assert_eq!(p.bookability(&slot(day, 10, 5), g, t0(), 4), Ok(()));
        // A site's own values move every limit.
        let site = BookingPolicy { min_notice: Duration::zero(), max_share_percent: 100, ..p };
        assert_eq!(site.bookability(&slot(Duration::minutes(10), 10, 9), g, t0(), 9), Ok(()));
    }

    #[test]
    fn bookability_and_the_booking_refusals_agree() {
        let p = BookingPolicy::default();
        let day = Duration::days(1);
        let cases = [
            (SlotFacts { open: false, ..slot(day, 10, 0) }, 0),
            (slot(-Duration::minutes(1), 10, 0), 0),
            (slot(Duration::minutes(5), 10, 0), 0),
            (slot(Duration::days(40), 10, 0), 0),
            (slot(day, 4, 4), 0),
            (slot(day, 4, 2), 2),
            (slot(day, 4, 1), 1),
        ];
        for (facts, held) in cases {
            let refused = p
                .check_slot(&facts, CreditClass::General, t0())
                .and_then(|()| p.check_share(facts.capacity, held))
                .map_err(|r| r.unbookable().unwrap());
            assert_eq!(p.bookability(&facts, CreditClass::General, t0(), held), refused, "{facts:?} {held}");
        }
        for r in [Refusal::SlotNotEnded, Refusal::Discredited, Refusal::WrongSiteOrMode] {
            assert_eq!(r.unbookable(), None);
        }
    }

    #[test]
    fn discredited_may_not_book() {
        let p = BookingPolicy::default();
        assert_eq!(p.check_credit(CreditClass::Discredited), Err(Refusal::Discredited));
        assert!(p.check_credit(CreditClass::General).is_ok());
    }

    #[test]
    fn lifecycle_over_every_pair() {
        use BookingAction as A;
        use BookingStatus as S;
        let allowed = [
            (A::Cancel, S::Confirmed, S::Cancelled),
            (A::Reschedule, S::Confirmed, S::Confirmed),
            (A::Edit, S::Confirmed, S::Confirmed),
            (A::CheckIn, S::Confirmed, S::CheckedIn),
            (A::Complete, S::CheckedIn, S::Completed),
            (A::NoShow, S::Confirmed, S::NoShow),
        ];
        for action in BookingAction::ALL.iter().copied() {
            for from in S::ALL {
                let expected = allowed.iter().find(|(a, f, _)| *a == action && f == from).map(|(_, _, to)| *to);
                match expected {
                    Some(to) => assert_eq!(booking_transition(*from, action), Ok(to)),
                    None => assert!(matches!(booking_transition(*from, action), Err(Refusal::BookingState { .. }))),
                }
            }
        }
        assert!(S::Confirmed.is_active() && S::CheckedIn.is_active() && !S::Cancelled.is_active());
        assert_eq!(allowed_actions(S::Confirmed, Party::Company), [A::Cancel, A::Reschedule, A::Edit]);
        assert_eq!(allowed_actions(S::Confirmed, Party::Customs), [A::Cancel, A::CheckIn, A::NoShow]);
        assert_eq!(allowed_actions(S::CheckedIn, Party::Customs), [A::Complete]);
        assert!(allowed_actions(S::CheckedIn, Party::Company).is_empty());
        assert!(allowed_actions(S::Cancelled, Party::Customs).is_empty());
    }

    #[test]
    fn refusals_have_distinct_kinds() {
        let all = [
            Refusal::SlotFull,
            Refusal::ShareExceeded { limit: 1 },
            Refusal::TooLate { notice_minutes: 1 },
            Refusal::BeyondHorizon { days: 1 },
            Refusal::SlotStarted,
            Refusal::SlotClosed,
            Refusal::DeclarationState { status: DeclarationStatus::Draft },
            Refusal::AlreadyBooked { declaration_id: "d".into() },
            Refusal::VehicleAlreadyBooked { plate: "P".into(), country: "KZ".into() },
            Refusal::WrongSiteOrMode,
            Refusal::Discredited,
            Refusal::NotVerified { status: EnterpriseStatus::Pending },
            Refusal::CancelCutoff { minutes: 1 },
            Refusal::SlotNotEnded,
            Refusal::SameSlot,
            Refusal::BookingState { action: "cancel", status: BookingStatus::Cancelled },
        ];
        let kinds: std::collections::HashSet<_> = all.iter().map(Refusal::kind).collect();
        assert_eq!(kinds.len(), all.len());
    }
}
