//! Collecting the field errors of several parsed values, so that one answer
//! names every broken field. (An inherent `FieldErrors` method would be the
//! natural home; `fields.rs` is being reshaped in parallel, so this stays
//! a trait until the two meet.)

use super::fields::{FieldErrors, Invalid};

/// Keeps a parsed value, or records why it was refused.
pub trait Gather {
    /// The value when it parsed; else `None`, its errors kept.
    fn gather<T>(&mut self, parsed: Result<T, Invalid>) -> Option<T>;
}

impl Gather for FieldErrors {
    fn gather<T>(&mut self, parsed: Result<T, Invalid>) -> Option<T> {
        parsed.map_err(|Invalid(errors)| self.0.extend(errors)).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gathering_keeps_values_and_every_error() {
        let mut errors = FieldErrors::new();
        assert_eq!(errors.gather(Ok::<_, Invalid>(1)), Some(1));
        assert_eq!(errors.gather::<i32>(Err(Invalid::field("a", "x", "a"))), None);
        assert_eq!(errors.gather::<i32>(Err(Invalid::field("b", "y", "b"))), None);
        let Invalid(all) = errors.into_result().unwrap_err();
        assert_eq!(all.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    }
}
