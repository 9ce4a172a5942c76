//! Background tasks started with the server.

use actix_web::web;
use tokio::task::JoinSet;

use crate::state::AppState;

/// Starts every background task; aborting the set stops them.
pub fn spawn(state: web::Data<AppState>) -> JoinSet<()> {
    let set = JoinSet::new();
    let _ = &state;
    set
}
