//! List filters read from the query string: each value is parsed into its
//! domain type once, and a bad one is a field error naming the parameter.

use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::error::Invalid;

/// An optional value of a domain value set (`status=open`): its `FromStr`
/// message says which values there are.
pub fn one_of<T: FromStr<Err = String>>(field: &str, raw: Option<&str>) -> Result<Option<T>, Invalid> {
    raw.map(|s| s.parse::<T>().map_err(|m| Invalid::field(field, "enum", m))).transpose()
}

/// An optional RFC 3339 time with offset, as UTC.
pub fn time(field: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, Invalid> {
    raw.map(|r| {
        DateTime::parse_from_rfc3339(r).map(|t| t.with_timezone(&Utc)).map_err(|_| {
            Invalid::field(
                field,
                "datetime",
                format!("{field} must be an RFC 3339 time with offset, e.g. 2026-12-01T08:00:00+06:00"),
            )
        })
    })
    .transpose()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::slot::SlotStatus;

    #[test]
    fn an_absent_value_is_none_and_a_bad_one_names_its_parameter() {
        assert_eq!(one_of::<SlotStatus>("status", None).unwrap(), None);
        assert_eq!(one_of::<SlotStatus>("status", Some("open")).unwrap(), Some(SlotStatus::Open));
        let e = one_of::<SlotStatus>("status", Some("ajar")).unwrap_err();
        assert_eq!((e.0[0].field.as_str(), e.0[0].code.as_str()), ("status", "enum"));
        assert!(time("from", Some("2026-12-01T08:00:00+06:00")).unwrap().is_some());
        let e = time("from", Some("2026-12-01")).unwrap_err();
        assert_eq!((e.0[0].field.as_str(), e.0[0].code.as_str()), ("from", "datetime"));
    }
}
