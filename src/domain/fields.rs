//! Field errors: which part of an input broke which rule. Defined here so
//! that the rules can report them without knowing how they are answered;
//! `crate::error` turns them into a 422 problem.

use serde::Serialize;

/// One field that broke a rule.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(example = json!({"field": "items[0].hs_code", "code": "format", "message": "hs_code has 6 to 10 digits"}))]
pub struct FieldError {
    /// JSON path of the field, e.g. `items[2].hs_code`.
    pub field: String,
    /// Machine-readable reason, e.g. `required`, `check_character`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// Input refused because of these fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    /// One field that broke one rule.
    pub fn field(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid(vec![FieldError::new(field, code, message)])
    }
}

/// Collects field errors while validating a whole input.
#[derive(Debug, Default)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when nothing was collected, else every error collected.
    pub fn into_result(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.0))
        }
    }
}
