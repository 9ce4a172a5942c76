//! The audit trail's hash chain: each event of an entity holds the hash of
//! the entity's previous event, so that an edited, removed or reordered
//! event breaks the chain. One chain per entity needs no global lock.

use sha2::{Digest, Sha256};

/// Hash that the first event of every chain points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an event that its hash covers.
#[derive(Debug, Clone)]
pub struct EventFields<'a> {
    pub id: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub seq: i64,
    /// RFC 3339 UTC with microseconds, as stored.
    pub occurred_at: &'a str,
    pub actor_id: Option<&'a str>,
    pub actor_role: Option<&'a str>,
    pub action: &'a str,
    pub from_state: Option<&'a str>,
    pub to_state: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// SHA-256 over the previous hash and every field, each length-prefixed so
/// that no two different events serialise alike.
pub fn event_hash(prev_hash: &str, e: &EventFields<'_>) -> String {
    let mut h = Sha256::new();
    let mut put = |s: Option<&str>| match s {
        Some(s) => {
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
        None => h.update(u64::MAX.to_be_bytes()),
    };
    put(Some(prev_hash));
    put(Some(e.id));
    put(Some(e.entity_type));
    put(Some(e.entity_id));
    put(Some(&e.seq.to_string()));
    put(Some(e.occurred_at));
    put(e.actor_id);
    put(e.actor_role);
    put(Some(e.action));
    put(e.from_state);
    put(e.to_state);
    put(e.reason);
    put(e.request_id);
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(reason: Option<&'a str>) -> EventFields<'a> {
        EventFields {
            id: "e1",
            entity_type: "enterprise",
            entity_id: "x",
            seq: 1,
            occurred_at: "2026-11-29T00:00:00.000000Z",
            actor_id: None,
            actor_role: None,
            action: "verify",
            from_state: Some("pending"),
            to_state: Some("verified"),
            reason,
            request_id: None,
        }
    }

    #[test]
    fn any_change_changes_the_hash() {
        let a = event_hash(GENESIS, &fields(None));
        assert_eq!(a, event_hash(GENESIS, &fields(None)));
        assert_ne!(a, event_hash(GENESIS, &fields(Some(""))));
        assert_ne!(a, event_hash(&a, &fields(None)));
    }
}
