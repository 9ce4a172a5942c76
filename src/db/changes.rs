//! Which sites a write transaction changed, for in-memory copies of what
//! their slots show (the public board's cache, issue 19).
//!
//! Every statement that changes a slot row (`db::slots`) or what a site
//! shows of itself (`db::sites::update`) reports the site through
//! [`noted`]. [`Db::write`](super::Db::write) collects those reports for the
//! one transaction it runs on its blocking thread and, once the transaction
//! has ended, bumps each site's [`SiteVersions`] counter, before the writer
//! gets its answer. A cached answer carries the version of its site read
//! before its database read: when the two differ, a write may have
//! committed since, and the answer is not served. So the hook sits on the
//! statements themselves, not on each service that calls them: a new
//! operation that moves a count cannot forget to invalidate.
//!
//! Versions live per [`Db`](super::Db), so per process: another instance on
//! the same database learns of a change only when its own copy expires.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

thread_local! {
    /// The sites changed so far by the write transaction running on this
    /// thread (`None`: no transaction is collecting).
    static CHANGED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Records that the rows returned (one site id per changed row) belong to
/// these sites; returns how many rows changed, so that a query can end in
/// `.returning(site_id).get_results(conn).map(noted)`.
pub fn noted(sites: Vec<String>) -> usize {
    let n = sites.len();
    if n == 0 {
        return 0;
    }
    CHANGED.with(|c| match c.borrow_mut().as_mut() {
        Some(changed) => {
            for s in sites {
                if !changed.contains(&s) {
                    changed.push(s);
                }
            }
        }
        None => {
            // A slot written outside `Db::write` (a command-line tool, or a
            // new code path): no cache of this process would learn of it.
            tracing::error!("a slot changed outside a collecting write transaction; cached boards may lag");
            debug_assert!(false, "a slot changed outside a collecting write transaction");
        }
    });
    n
}

/// Runs `f` (one write transaction, on this thread) and returns its result
/// with the sites its statements reported. Nested calls collect into the
/// outer one's list as well.
pub fn collect<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    /// Puts back the outer collection also when `f` panics.
    struct Restore(Option<Option<Vec<String>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                CHANGED.with(|c| *c.borrow_mut() = outer);
            }
        }
    }
    let outer = CHANGED.with(|c| c.borrow_mut().replace(Vec::new()));
    let mut restore = Restore(Some(outer));
    let value = f();
    let mine = CHANGED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    let mut outer = restore.0.take().flatten();
    if let Some(o) = outer.as_mut() {
        o.extend(mine.iter().cloned());
    }
    CHANGED.with(|c| *c.borrow_mut() = outer);
    (value, mine)
}

/// A counter per site, bumped after every write transaction that changed
/// one of its slots. Bounded by the number of sites (tens).
#[derive(Debug, Default)]
pub struct SiteVersions {
    versions: Mutex<HashMap<String, u64>>,
}

impl SiteVersions {
    /// The site's current version (0 until its first change).
    pub fn of(&self, site_id: &str) -> u64 {
        self.lock().get(site_id).copied().unwrap_or(0)
    }

    /// Marks these sites changed: answers read before now are stale.
    pub fn bump(&self, sites: &[String]) {
        if sites.is_empty() {
            return;
        }
        let mut v = self.lock();
        for s in sites {
            *v.entry(s.clone()).or_insert(0) += 1;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        // A panic while holding this lock cannot leave a half-made change
        // (one insert or increment): keep going with the map as it is.
        self.versions.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_collects_the_sites_its_statements_changed() {
        let ((), sites) = collect(|| {
            assert_eq!(noted(vec!["a".into(), "b".into(), "a".into()]), 3);
            assert_eq!(noted(vec![]), 0);
        });
        assert_eq!(sites, vec!["a".to_owned(), "b".to_owned()]);
        // Nothing is left collecting afterwards.
        assert!(CHANGED.with(|c| c.borrow().is_none()));
    }

    #[test]
    fn a_nested_collection_also_reports_to_the_outer_one() {
        let (inner, outer) = collect(|| {
            noted(vec!["a".into()]);
            collect(|| noted(vec!["b".into()])).1
        });
        assert_eq!(inner, vec!["b".to_owned()]);
        assert_eq!(outer, vec!["a".to_owned(), "b".to_owned()]);
    }

    #[test]
    fn a_panic_ends_the_collection() {
        let r = std::panic::catch_unwind(|| collect(|| -> () { panic!("boom") }));
        assert!(r.is_err());
        assert!(CHANGED.with(|c| c.borrow().is_none()));
    }

    #[test]
    fn versions_move_per_site() {
        let v = SiteVersions::default();
        assert_eq!(v.of("a"), 0);
        v.bump(&["a".to_owned()]);
        v.bump(&["a".to_owned(), "b".to_owned()]);
        assert_eq!((v.of("a"), v.of("b"), v.of("c")), (2, 1, 0));
    }

    /// The hook is only as good as its coverage: every function of
    /// `db::slots` that writes must report its sites, and no other table
    /// module writes slots.
    #[test]
    fn every_slot_write_reports_its_sites() {
        let slots = include_str!("slots.rs");
        let code = slots.split("#[cfg(test)]").next().unwrap();
        let mut writers = 0;
        for function in code.split("\npub fn ").skip(1) {
            let name = function.split('(').next().unwrap();
            let writes =
                ["diesel::update(", "diesel::delete(", "diesel::insert_into("].iter().any(|w| function.contains(w));
            if writes {
                writers += 1;
                assert!(function.contains("noted"), "db::slots::{name} writes slots without `noted`");
            }
        }
        assert!(writers >= 10, "{writers}");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/db");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "slots.rs" || name == "schema.rs" || name == "changes.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap().replace([' ', '\n'], "");
            for w in ["update(clearance_slots", "delete(clearance_slots", "insert_into(clearance_slots"] {
                assert!(!text.contains(w), "{name} writes slots: move the statement to db/slots.rs");
            }
        }
    }
}
