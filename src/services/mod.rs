//! Operations that span tables, each in one transaction.

pub mod background;
pub mod bookings;
pub mod declarations;
pub mod demo;
pub mod displacement;
pub mod identity;
pub mod outbox;
pub mod schedules;
pub mod webhooks;
