//! The `audit_events` table: append-only, hash-chained per entity; and
//! `audit_heads`, each chain's last (seq, hash), written in the transaction
//! of every event, so that a deleted or rewritten tail is detected.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audit_events, audit_heads};
use super::DbConnection;
use crate::domain::audit::{event_hash, EventFields, GENESIS};

// The API shows an event field for field, as stored and hashed: this row is
// also its answer shape (`AuditEvent`).
/// One audit event as the API shows it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
#[schema(as = AuditEvent)]
pub struct AuditEventRow {
    pub id: String,
    /// `enterprise`, `declaration`, `booking` or `slot`.
    #[schema(example = "declaration")]
    pub entity_type: String,
    pub entity_id: String,
    /// Position in the entity's chain, from 1.
    pub seq: i64,
    #[serde(serialize_with = "as_utc")]
    #[schema(value_type = DateTime<Utc>)]
    pub occurred_at: NaiveDateTime,
    /// Who; `null` for the system or a self-registration.
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    #[schema(example = "submit")]
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub reason: Option<String>,
    /// The `X-Request-Id` of the request that made the change.
    pub request_id: Option<String>,
    /// Hash of the previous event of the same entity (hex).
    pub prev_hash: String,
    /// Hash of this event (hex), chained over `prev_hash`.
    pub hash: String,
}

/// Stored times are UTC; the API writes them with their offset (`Z`).
fn as_utc<S: serde::Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&t.and_utc(), s)
}

impl AuditEventRow {
    /// The hash of this event's content chained over `prev_hash`: what `hash`
    /// must be.
    fn content_hash(&self) -> String {
        let occurred = hash_time(self.occurred_at);
        let fields = EventFields {
            id: &self.id,
            entity_type: &self.entity_type,
            entity_id: &self.entity_id,
            seq: self.seq,
            occurred_at: &occurred,
            actor_id: self.actor_id.as_deref(),
            actor_role: self.actor_role.as_deref(),
            action: &self.action,
            from_state: self.from_state.as_deref(),
            to_state: self.to_state.as_deref(),
            reason: self.reason.as_deref(),
            request_id: self.request_id.as_deref(),
        };
        event_hash(&self.prev_hash, &fields)
    }
}

/// Who did something, and in which request.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub role: Option<String>,
    pub request_id: Option<String>,
}

/// A state change to record.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub entity_type: &'a str,
    pub entity_id: &'a str,
    pub action: &'a str,
    pub from_state: Option<&'a str>,
    pub to_state: Option<&'a str>,
    pub reason: Option<&'a str>,
}

impl<'a> Change<'a> {
    /// `action` on one entity, from one state to another (either may be absent), with no reason given.
    pub fn new(
        entity_type: &'a str,
        entity_id: &'a str,
        action: &'a str,
        from_state: Option<&'a str>,
        to_state: Option<&'a str>,
    ) -> Self {
        Change { entity_type, entity_id, action, from_state, to_state, reason: None }
    }

    /// The same change, with the reason given for it.
    pub fn because(self, reason: Option<&'a str>) -> Self {
        Change { reason, ..self }
    }
}

/// The stored form of a time inside the hash: RFC 3339 UTC, microseconds.
pub fn hash_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Appends one event to its entity's chain. Call it inside the transaction
/// of the change, after the entity's own row was written (whose row lock,
/// or SQLite's single writer, orders concurrent appends; the unique
/// (entity, seq) key is the backstop).
pub fn append(conn: &mut DbConnection, actor: &Actor, change: &Change<'_>, now: NaiveDateTime) -> QueryResult<()> {
    let last: Option<(i64, String)> = audit_events::table
        .filter(audit_events::entity_type.eq(change.entity_type))
        .filter(audit_events::entity_id.eq(change.entity_id))
        .order(audit_events::seq.desc())
        .select((audit_events::seq, audit_events::hash))
        .first(conn)
        .optional()?;
    match last {
        Some((seq, prev_hash)) => write_event(conn, actor, change, seq + 1, &prev_hash, now),
        None => write_event(conn, actor, change, 1, GENESIS, now),
    }
}

/// Records the first event of an entity created in this same transaction:
/// its chain is known to be empty, so there is nothing to look up (the
/// unique (entity, seq) key would refuse a second first event).
pub fn start_chain(conn: &mut DbConnection, actor: &Actor, change: &Change<'_>, now: NaiveDateTime) -> QueryResult<()> {
    write_first(conn, &first_event(actor, change, now))
}

/// The first event of a new entity's chain, hashed, to be written by
/// [`write_first`] or with other statements (a booking's, on PostgreSQL:
/// `db::bookings::NewBooking`, with its head row [`first_head`]).
pub fn first_event(actor: &Actor, change: &Change<'_>, now: NaiveDateTime) -> AuditEventRow {
    event_row(actor, change, 1, GENESIS, now)
}

/// Writes a chain's first event (from [`first_event`]) and its head.
pub fn write_first(conn: &mut DbConnection, row: &AuditEventRow) -> QueryResult<()> {
    diesel::insert_into(audit_events::table).values(row.clone()).execute(conn)?;
    advance_head(conn, &row.entity_type, &row.entity_id, 1, &row.hash)
}

fn event_row(actor: &Actor, change: &Change<'_>, seq: i64, prev_hash: &str, now: NaiveDateTime) -> AuditEventRow {
    let mut row = AuditEventRow {
        id: uuid::Uuid::now_v7().to_string(),
        entity_type: change.entity_type.to_owned(),
        entity_id: change.entity_id.to_owned(),
        seq,
        occurred_at: now,
        actor_id: actor.user_id.clone(),
        actor_role: actor.role.clone(),
        action: change.action.to_owned(),
        from_state: change.from_state.map(str::to_owned),
        to_state: change.to_state.map(str::to_owned),
        reason: change.reason.map(str::to_owned),
        request_id: actor.request_id.clone(),
        prev_hash: prev_hash.to_owned(),
        hash: String::new(),
    };
    row.hash = row.content_hash();
    row
}

fn write_event(
    conn: &mut DbConnection,
    actor: &Actor,
    change: &Change<'_>,
    seq: i64,
    prev_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let row = event_row(actor, change, seq, prev_hash, now);
    let hash = row.hash.clone();
    diesel::insert_into(audit_events::table).values(row).execute(conn)?;
    advance_head(conn, change.entity_type, change.entity_id, seq, &hash)
}

/// Moves the chain's head to the event just written (seq follows the head's).
/// A head that does not match (the chain was altered outside the
/// application) is left as it is, so that verification reports it.
fn advance_head(conn: &mut DbConnection, entity_type: &str, entity_id: &str, seq: i64, hash: &str) -> QueryResult<()> {
    if seq == 1 {
        // A new chain has no head yet: one INSERT (not an UPDATE that finds
        // nothing, a count and then the INSERT; this runs in every booking).
        // A head already there means events were deleted outside the
        // application: it is left as it is, so that verification reports it.
        let row = (
            audit_heads::entity_type.eq(entity_type),
            audit_heads::entity_id.eq(entity_id),
            audit_heads::last_seq.eq(seq),
            audit_heads::last_hash.eq(hash),
        );
        let insert = diesel::insert_into(audit_heads::table).values(row).on_conflict_do_nothing();
        let inserted = match conn {
            DbConnection::Postgres(pg) => insert.execute(pg),
            DbConnection::Sqlite(lite) => insert.execute(lite),
        }?;
        if inserted == 0 {
            tracing::error!(
                entity_type,
                entity_id,
                "audit chain head without its events: altered outside the application"
            );
        }
        return Ok(());
    }
    let head = audit_heads::table
        .filter(audit_heads::entity_type.eq(entity_type))
        .filter(audit_heads::entity_id.eq(entity_id));
    let moved = diesel::update(head.filter(audit_heads::last_seq.eq(seq - 1)))
        .set((audit_heads::last_seq.eq(seq), audit_heads::last_hash.eq(hash)))
        .execute(conn)?;
    if moved == 0 {
        if head.count().get_result::<i64>(conn)? == 0 {
            diesel::insert_into(audit_heads::table)
                .values((
                    audit_heads::entity_type.eq(entity_type),
                    audit_heads::entity_id.eq(entity_id),
                    audit_heads::last_seq.eq(seq),
                    audit_heads::last_hash.eq(hash),
                ))
                .execute(conn)?;
        } else {
            tracing::error!(
                entity_type,
                entity_id,
                seq,
                "audit chain head does not match its tail: altered outside the application"
            );
        }
    }
    Ok(())
}

/// The entity types whose objects belong to one site, and so are left out
/// of the trail of an officer limited to other sites (see [`list`]).
pub const SITE_BOUND_ENTITIES: &[&str] = &["site", "schedule", "slot", "declaration", "booking", "closure"];

/// A page of events, newest chain order within an entity, optionally of one
/// entity type and id; `sites`: only events of objects of these sites (and
/// of objects of no site: enterprises, users), for an officer limited to sites.
pub fn list(
    conn: &mut DbConnection,
    entity_type: Option<&str>,
    entity_id: Option<&str>,
    sites: Option<&[String]>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<AuditEventRow>> {
    use super::schema::{bookings, clearance_slots, closures, declarations, schedules};
    let mut q = audit_events::table.select(AuditEventRow::as_select()).into_boxed();
    if let Some(t) = entity_type {
        q = q.filter(audit_events::entity_type.eq(t.to_owned()));
    }
    if let Some(i) = entity_id {
        q = q.filter(audit_events::entity_id.eq(i.to_owned()));
    }
    if let Some(ids) = sites {
        let ids = ids.to_vec();
        let (kind, entity) = (audit_events::entity_type, audit_events::entity_id);
        let slots =
            clearance_slots::table.filter(clearance_slots::site_id.eq_any(ids.clone())).select(clearance_slots::id);
        let visits = bookings::table
            .inner_join(clearance_slots::table)
            .filter(clearance_slots::site_id.eq_any(ids.clone()))
            .select(bookings::id);
        q = q.filter(
            diesel::dsl::not(kind.eq_any(SITE_BOUND_ENTITIES.to_vec()))
                .or(kind.eq("site").and(entity.eq_any(ids.clone())))
                .or(kind.eq("schedule").and(
                    entity
                        .eq_any(schedules::table.filter(schedules::site_id.eq_any(ids.clone())).select(schedules::id)),
                ))
                .or(kind.eq("slot").and(entity.eq_any(slots)))
                .or(kind.eq("declaration").and(entity.eq_any(
                    declarations::table.filter(declarations::site_id.eq_any(ids.clone())).select(declarations::id),
                )))
                .or(kind.eq("booking").and(entity.eq_any(visits)))
                .or(kind.eq("closure").and(
                    entity.eq_any(closures::table.filter(closures::site_id.eq_any(ids.clone())).select(closures::id)),
                )),
        );
    }
    if let Some(c) = after {
        q = q.filter(audit_events::id.gt(c.to_owned()));
    }
    q.order(audit_events::id.asc()).limit(limit).load(conn)
}

/// Events of one entity in chain order.
pub fn chain(conn: &mut DbConnection, entity_type: &str, entity_id: &str) -> QueryResult<Vec<AuditEventRow>> {
    audit_events::table
        .filter(audit_events::entity_type.eq(entity_type))
        .filter(audit_events::entity_id.eq(entity_id))
        .order(audit_events::seq.asc())
        .select(AuditEventRow::as_select())
        .load(conn)
}

/// A broken link of a hash chain: the first event that does not match.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BrokenLink {
    pub entity_type: String,
    pub entity_id: String,
    pub seq: i64,
    /// The event at fault; `null` when the events the chain's head names are gone.
    pub event_id: Option<String>,
    /// What is wrong, e.g. `event content does not match its hash`.
    pub problem: &'static str,
}

/// Events read per query while verifying (memory stays bounded by it).
const VERIFY_PAGE: i64 = 1000;

/// Walks every chain (optionally of one entity type) a page at a time and
/// reports the first broken link, plus how many events were checked; then
/// checks each chain's tail against its head (a deleted or rewritten tail,
/// or an event appended outside the application).
pub fn verify(conn: &mut DbConnection, entity_type: Option<&str>) -> QueryResult<(u64, Option<BrokenLink>)> {
    let (kind, id, seq) = (audit_events::entity_type, audit_events::entity_id, audit_events::seq);
    let mut checked = 0u64;
    let mut prev: Option<AuditEventRow> = None;
    loop {
        let mut q = audit_events::table.select(AuditEventRow::as_select()).into_boxed();
        if let Some(t) = entity_type {
            q = q.filter(kind.eq(t.to_owned()));
        }
        if let Some(p) = &prev {
            let (t, i) = (p.entity_type.clone(), p.entity_id.clone());
            q = q.filter(
                kind.gt(t.clone())
                    .or(kind.eq(t.clone()).and(id.gt(i.clone())))
                    .or(kind.eq(t).and(id.eq(i)).and(seq.gt(p.seq))),
            );
        }
        let rows = q.order((kind.asc(), id.asc(), seq.asc())).limit(VERIFY_PAGE).load(conn)?;
        let last_page = (rows.len() as i64) < VERIFY_PAGE;
        for row in rows {
            checked += 1;
            let same_chain =
                prev.as_ref().is_some_and(|p| p.entity_type == row.entity_type && p.entity_id == row.entity_id);
            let (expected_seq, expected_prev) = match (same_chain, &prev) {
                (true, Some(p)) => (p.seq + 1, p.hash.as_str()),
                _ => (1, GENESIS),
            };
            let problem = if row.seq != expected_seq {
                Some("missing or reordered event")
            } else if row.prev_hash != expected_prev {
                Some("previous-hash link does not match")
            } else if row.content_hash() != row.hash {
                Some("event content does not match its hash")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Ok((checked, Some(broken_at(&row, problem))));
            }
            prev = Some(row);
        }
        if last_page {
            break;
        }
    }
    Ok((checked, tail_mismatch(conn, entity_type)?))
}

fn broken_at(row: &AuditEventRow, problem: &'static str) -> BrokenLink {
    BrokenLink {
        entity_type: row.entity_type.clone(),
        entity_id: row.entity_id.clone(),
        seq: row.seq,
        event_id: Some(row.id.clone()),
        problem,
    }
}

/// A chain whose head names an event that is not there as it was (its tail
/// was deleted or rewritten), or an event its head does not cover.
fn tail_mismatch(conn: &mut DbConnection, entity_type: Option<&str>) -> QueryResult<Option<BrokenLink>> {
    let tail = audit_events::table
        .filter(audit_events::entity_type.eq(audit_heads::entity_type))
        .filter(audit_events::entity_id.eq(audit_heads::entity_id))
        .filter(audit_events::seq.eq(audit_heads::last_seq))
        .filter(audit_events::hash.eq(audit_heads::last_hash));
    let mut q = audit_heads::table
        .filter(diesel::dsl::not(diesel::dsl::exists(tail)))
        .select((audit_heads::entity_type, audit_heads::entity_id, audit_heads::last_seq))
        .into_boxed();
    if let Some(t) = entity_type {
        q = q.filter(audit_heads::entity_type.eq(t.to_owned()));
    }
    if let Some((entity_type, entity_id, seq)) = q.first::<(String, String, i64)>(conn).optional()? {
        return Ok(Some(BrokenLink {
            entity_type,
            entity_id,
            seq,
            event_id: None,
            problem: "the chain's last events were deleted or rewritten (its head does not match)",
        }));
    }
    let head = audit_heads::table
        .filter(audit_heads::entity_type.eq(audit_events::entity_type))
        .filter(audit_heads::entity_id.eq(audit_events::entity_id))
        .filter(audit_heads::last_seq.ge(audit_events::seq));
    let mut q = audit_events::table
        .filter(diesel::dsl::not(diesel::dsl::exists(head)))
        .select(AuditEventRow::as_select())
        .into_boxed();
    if let Some(t) = entity_type {
        q = q.filter(audit_events::entity_type.eq(t.to_owned()));
    }
    Ok(q.first(conn)
        .optional()?
        .map(|row| broken_at(&row, "event not covered by its chain's head (added outside the application)")))
}
