//! A site's own booking policy: the values a supervisor set for one site,
//! each replacing the configured default (`[booking]`) for the slots of
//! that site. A value not set follows the configuration, also when the
//! configuration changes later.

use std::ops::RangeInclusive;

use chrono::Duration;
use serde::Serialize;

use super::booking_policy::BookingPolicy;
use super::fields::{FieldErrors, Invalid};

/// Minutes a notice, cut-off or arrival margin may be: up to a week.
const MINUTES: RangeInclusive<i64> = 0..=10080;
/// Days ahead bookings may be taken: a day to a (leap) year.
const HORIZON_DAYS: RangeInclusive<i64> = 1..=366;
/// Share of one slot an enterprise may hold, percent.
const SHARE_PERCENT: RangeInclusive<i64> = 1..=100;

/// The policy keys, their ranges and what they mean, in answer order.
pub const KEYS: [(&str, RangeInclusive<i64>, &str); 7] = [
    ("min_notice_minutes", MINUTES, "minutes"),
    ("min_notice_minutes_advanced", MINUTES, "minutes"),
    ("horizon_days", HORIZON_DAYS, "days"),
    ("cancel_cutoff_minutes", MINUTES, "minutes"),
    ("max_share_percent", SHARE_PERCENT, "percent"),
    ("arrival_early_minutes", MINUTES, "minutes"),
    ("arrival_late_minutes", MINUTES, "minutes"),
];

/// The values a site sets; `None` = the configured default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    pub min_notice_minutes: Option<i64>,
    pub min_notice_minutes_advanced: Option<i64>,
    pub horizon_days: Option<i64>,
    pub cancel_cutoff_minutes: Option<i64>,
    pub max_share_percent: Option<i64>,
    pub arrival_early_minutes: Option<i64>,
    pub arrival_late_minutes: Option<i64>,
}

impl PolicyOverrides {
    /// The seven values in [`KEYS`] order.
    fn values(&self) -> [Option<i64>; 7] {
        [
            self.min_notice_minutes,
            self.min_notice_minutes_advanced,
            self.horizon_days,
            self.cancel_cutoff_minutes,
            self.max_share_percent,
            self.arrival_early_minutes,
            self.arrival_late_minutes,
        ]
    }

    fn from_values(v: [Option<i64>; 7]) -> Self {
        Self {
            min_notice_minutes: v[0],
            min_notice_minutes_advanced: v[1],
            horizon_days: v[2],
            cancel_cutoff_minutes: v[3],
            max_share_percent: v[4],
            arrival_early_minutes: v[5],
            arrival_late_minutes: v[6],
        }
    }

    /// These values with a change applied: a key given a value takes it, a
    /// key given `null` goes back to the default, the others stay.
    pub fn patched(&self, patch: &PolicyPatch) -> Self {
        let mut v = self.values();
        for (slot, change) in v.iter_mut().zip(patch.values()) {
            if let Some(new) = change {
                *slot = new;
            }
        }
        Self::from_values(v)
    }

    /// The keys set, as `key=value` in [`KEYS`] order (`default` when none
    /// is): what the audit trail records.
    pub fn summary(&self) -> String {
        let set: Vec<String> =
            KEYS.iter().zip(self.values()).filter_map(|((key, _, _), v)| v.map(|v| format!("{key}={v}"))).collect();
        if set.is_empty() {
            "default".to_owned()
        } else {
            set.join(" ")
        }
    }
}

/// A change to a site's policy: per key, `None` leaves it, `Some(None)`
/// resets it to the default, `Some(Some(v))` sets it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyPatch {
    pub min_notice_minutes: Option<Option<i64>>,
    pub min_notice_minutes_advanced: Option<Option<i64>>,
    pub horizon_days: Option<Option<i64>>,
    pub cancel_cutoff_minutes: Option<Option<i64>>,
    pub max_share_percent: Option<Option<i64>>,
    pub arrival_early_minutes: Option<Option<i64>>,
    pub arrival_late_minutes: Option<Option<i64>>,
}

impl PolicyPatch {
    fn values(&self) -> [Option<Option<i64>>; 7] {
        [
            self.min_notice_minutes,
            self.min_notice_minutes_advanced,
            self.horizon_days,
            self.cancel_cutoff_minutes,
            self.max_share_percent,
            self.arrival_early_minutes,
            self.arrival_late_minutes,
        ]
    }

    /// Whether it changes nothing (`{}`).
    pub fn is_empty(&self) -> bool {
        self.values().iter().all(Option::is_none)
    }

    /// Every value given is in its key's range; errors name `policy.<key>`.
    pub fn check(&self) -> Result<(), Invalid> {
        let mut errors = FieldErrors::new();
        for ((key, range, unit), change) in KEYS.iter().zip(self.values()) {
            if let Some(Some(v)) = change {
                if !range.contains(&v) {
                    errors.add(
                        format!("policy.{key}"),
                        "range",
                        format!(
                            "{key} must be from {} to {} {unit} (null: back to the default)",
                            range.start(),
                            range.end()
                        ),
                    );
                }
            }
        }
        errors.into_result()
    }
}

/// A site's policy in effect: every value, the site's own or the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = SitePolicy)]
pub struct PolicyValues {
    /// Bookings close this many minutes before the slot starts.
    #[schema(example = 120, minimum = 0, maximum = 10080)]
    pub min_notice_minutes: i64,
    /// The same for `advanced_certified` enterprises.
    #[schema(example = 30, minimum = 0, maximum = 10080)]
    pub min_notice_minutes_advanced: i64,
    /// Slots are booked at most this many days ahead.
    #[schema(example = 30, minimum = 1, maximum = 366)]
    pub horizon_days: i64,
    /// A company cancels or moves a booking until this many minutes before the slot starts.
    #[schema(example = 60, minimum = 0, maximum = 10080)]
    pub cancel_cutoff_minutes: i64,
    /// Largest share of one slot's capacity one enterprise may hold (at least one place).
    #[schema(example = 50, minimum = 1, maximum = 100)]
    pub max_share_percent: i64,
    /// The arrival window opens this many minutes before the slot starts.
    #[schema(example = 30, minimum = 0, maximum = 10080)]
    pub arrival_early_minutes: i64,
    /// The arrival window closes this many minutes after the slot ends; a
    /// booking still `confirmed` then becomes `no_show`.
    #[schema(example = 30, minimum = 0, maximum = 10080)]
    pub arrival_late_minutes: i64,
}

impl BookingPolicy {
    /// This policy (the configured defaults) with a site's own values.
    pub fn with(&self, site: &PolicyOverrides) -> BookingPolicy {
        let minutes = |v: Option<i64>, default: Duration| v.map_or(default, Duration::minutes);
        BookingPolicy {
            min_notice: minutes(site.min_notice_minutes, self.min_notice),
            min_notice_advanced: minutes(site.min_notice_minutes_advanced, self.min_notice_advanced),
            horizon: site.horizon_days.map_or(self.horizon, Duration::days),
            cancel_cutoff: minutes(site.cancel_cutoff_minutes, self.cancel_cutoff),
            max_share_percent: site.max_share_percent.unwrap_or(self.max_share_percent),
            arrival_early: minutes(site.arrival_early_minutes, self.arrival_early),
            arrival_late: minutes(site.arrival_late_minutes, self.arrival_late),
            // Deployment-wide: how far customs may move a displaced booking.
            rebook_window: self.rebook_window,
        }
    }

    /// The seven values as the API shows them.
    pub fn values(&self) -> PolicyValues {
        PolicyValues {
            min_notice_minutes: self.min_notice.num_minutes(),
            min_notice_minutes_advanced: self.min_notice_advanced.num_minutes(),
            horizon_days: self.horizon.num_days(),
            cancel_cutoff_minutes: self.cancel_cutoff.num_minutes(),
            max_share_percent: self.max_share_percent,
            arrival_early_minutes: self.arrival_early.num_minutes(),
            arrival_late_minutes: self.arrival_late.num_minutes(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_site_value_replaces_the_default_and_the_others_follow_it() {
        let defaults = BookingPolicy::default();
        assert_eq!(defaults.with(&PolicyOverrides::default()).values(), defaults.values());
        let site = PolicyOverrides { min_notice_minutes: Some(0), max_share_percent: Some(100), ..Default::default() };
        let p = defaults.with(&site).values();
        assert_eq!((p.min_notice_minutes, p.max_share_percent), (0, 100));
        assert_eq!(p.min_notice_minutes_advanced, 30);
        assert_eq!(p.horizon_days, 30);
        assert_eq!((p.cancel_cutoff_minutes, p.arrival_early_minutes, p.arrival_late_minutes), (60, 30, 30));
        let days = PolicyOverrides { horizon_days: Some(366), arrival_late_minutes: Some(5), ..Default::default() };
        let p = defaults.with(&days);
        assert_eq!((p.horizon, p.arrival_late), (Duration::days(366), Duration::minutes(5)));
    }

    #[test]
    fn a_patch_sets_resets_and_leaves() {
        let before = PolicyOverrides { min_notice_minutes: Some(10), horizon_days: Some(5), ..Default::default() };
        let patch =
            PolicyPatch { min_notice_minutes: Some(None), max_share_percent: Some(Some(100)), ..Default::default() };
        let after = before.patched(&patch);
        assert_eq!(
            after,
            PolicyOverrides { horizon_days: Some(5), max_share_percent: Some(100), ..Default::default() }
        );
        assert_eq!(after.summary(), "horizon_days=5 max_share_percent=100");
        assert_eq!(PolicyOverrides::default().summary(), "default");
        assert!(PolicyPatch::default().is_empty() && !patch.is_empty());
        assert_eq!(before.patched(&PolicyPatch::default()), before);
    }

    #[test]
    fn ranges_are_checked_and_named_by_path() {
        let ok = PolicyPatch {
            min_notice_minutes: Some(Some(0)),
            cancel_cutoff_minutes: Some(Some(10080)),
            horizon_days: Some(Some(366)),
            max_share_percent: Some(Some(1)),
            arrival_late_minutes: Some(None),
            ..Default::default()
        };
        assert!(ok.check().is_ok());
        let bad = PolicyPatch {
            min_notice_minutes: Some(Some(-1)),
            min_notice_minutes_advanced: Some(Some(10081)),
            horizon_days: Some(Some(0)),
            max_share_percent: Some(Some(101)),
            arrival_early_minutes: Some(Some(20000)),
            ..Default::default()
        };
        let Invalid(errors) = bad.check().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "policy.min_notice_minutes",
                "policy.min_notice_minutes_advanced",
                "policy.horizon_days",
                "policy.max_share_percent",
                "policy.arrival_early_minutes",
            ]
        );
        assert!(errors.iter().all(|e| e.code == "range"));
        let share = PolicyPatch { max_share_percent: Some(Some(0)), ..Default::default() };
        assert!(share.check().is_err());
    }
}
