//! Clearway: customs declarations and 24/7 clearance slot reservations.

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod db;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod metrics;
pub mod services;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod text_enum;
