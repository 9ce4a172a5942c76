//! The per-request check of an access token's session, behind a small cache.
//!
//! Every access token names its session (`sid`). A request is let through
//! only if that session is not revoked and its user is active; the user's
//! role and enterprise come from the database, not from the token. The
//! answer is cached per process for `auth.session_cache_ms` (1 s): a warm
//! request costs one map lookup and no database round trip.
//!
//! Exactness: a revocation (logout, logout-all, password change,
//! deactivation) removes the cached entries of this process right after it
//! commits, and a load that started before that cannot put its stale answer
//! back (the generation counter). On this instance the revocation is exact
//! at once; another instance serving the same database may let the revoked
//! session through for at most `session_cache_ms` after the commit (its own
//! cache entry's age), never longer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::Principal;
use crate::db::{sessions, Db};
use crate::error::AppError;

/// Most entries kept; past it the stale ones go, then all.
const CAP: usize = 100_000;

struct Entry {
    at: Instant,
    user_id: String,
    /// `None`: the session is revoked, expired or its user inactive.
    principal: Option<Principal>,
}

/// Cached session states of this process.
pub struct SessionCache {
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
}

impl SessionCache {
    pub fn new(ttl_ms: u64) -> Self {
        Self { ttl: Duration::from_millis(ttl_ms), generation: AtomicU64::new(0), entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The caller of a token of session `sid` issued to `user_id`, or 401.
    pub async fn principal(&self, db: &Db, sid: &str, user_id: &str) -> Result<Principal, AppError> {
        let refused = || AppError::Unauthorized("the session has ended: sign in again");
        if let Some(entry) = self.lock().get(sid).filter(|e| e.at.elapsed() < self.ttl) {
            return match &entry.principal {
                Some(p) if entry.user_id == user_id => Ok(p.clone()),
                _ => Err(refused()),
            };
        }
        let generation = self.generation.load(Ordering::Acquire);
        let id = sid.to_owned();
        let state = db.read(move |conn| sessions::state(conn, &id)).await.map_err(AppError::from)?;
        let now = crate::db::now();
        let Some(state) = state else { return Err(refused()) };
        let principal = (state.revoked_at.is_none() && state.expires_at > now && state.active).then(|| Principal {
            user_id: state.user_id.clone(),
            role: state.role,
            enterprise_id: state.enterprise_id,
        });
        self.put(sid, &state.user_id, principal.clone(), generation);
        match principal {
            Some(p) if state.user_id == user_id => Ok(p),
            _ => Err(refused()),
        }
    }

    /// Caches a state read when the generation was `generation`, unless a
    /// revocation happened since (its answer may predate the revocation).
    fn put(&self, sid: &str, user_id: &str, principal: Option<Principal>, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAP {
            entries.retain(|_, e| e.at.elapsed() < self.ttl);
            if entries.len() >= CAP {
                entries.clear();
            }
        }
        entries.insert(sid.to_owned(), Entry { at: Instant::now(), user_id: user_id.to_owned(), principal });
    }

    /// Forgets one session (after its revocation committed).
    pub fn forget_session(&self, sid: &str) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(sid);
    }

    /// Forgets every session of a user (after a revocation of all of them,
    /// or a change of the user's role, enterprise or active flag, committed).
    pub fn forget_user(&self, user_id: &str) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, e| e.user_id != user_id);
    }
}
