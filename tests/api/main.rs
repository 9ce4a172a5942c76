//! The API test suite: one binary, every test through HTTP, each on a
//! fresh database, on SQLite and (with TEST_DATABASE_URL) PostgreSQL. What
//! the benchmarks share with the tests is in `tests/support`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse_auth;
mod abuse_hooks;
mod batch;
mod board_cache;
mod bookings;
mod calendar;
mod closures;
mod console;
mod contract;
mod declarations;
mod edge;
mod gate;
mod group_commit;
mod helpers;
mod holds;
mod identity;
mod languages;
mod officer_sites;
mod openapi;
mod platform;
mod problems;
mod public_board;
mod quickstart;
mod reports;
mod reserved;
mod site_policy;
mod slots;
#[path = "../support/mod.rs"]
mod support;
mod waitlist;
mod webhooks;
