//! Operations that span tables, each in one transaction.

pub mod background;
pub mod demo;
pub mod displacement;
pub mod identity;
pub mod schedules;
