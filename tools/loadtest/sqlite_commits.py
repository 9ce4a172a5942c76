"""The raw single-commit rate of SQLite for the minimal booking transaction
(tools/loadtest.sh): one connection, WAL, synchronous=FULL, a loop of
BEGIN IMMEDIATE; guarded UPDATE; INSERT booking; INSERT audit row; COMMIT.

usage: sqlite_commits.py FILE SECONDS  → prints "rate <tx/s>" and "detail ..."
"""

import random
import sqlite3
import sys
import time
import uuid

path, seconds = sys.argv[1], float(sys.argv[2])
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.executescript(
    """
    CREATE TABLE slots (id INTEGER PRIMARY KEY, capacity INTEGER NOT NULL, booked INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE bookings (id TEXT PRIMARY KEY, slot_id INTEGER NOT NULL REFERENCES slots (id),
        declaration_id TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL);
    CREATE INDEX bookings_slot ON bookings (slot_id);
    CREATE TABLE audit_events (id TEXT PRIMARY KEY, entity_id TEXT NOT NULL, action TEXT NOT NULL,
        at TEXT NOT NULL, details TEXT NOT NULL);
    """
)
db.execute("BEGIN")
db.executemany("INSERT INTO slots (id, capacity) VALUES (?, 1000000000)", [(i,) for i in range(1, 1001)])
db.execute("COMMIT")

n, refused = 0, 0
start = time.monotonic()
end = start + seconds
while time.monotonic() < end:
    slot = random.randint(1, 1000)
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    db.execute("BEGIN IMMEDIATE")
    cur = db.execute("UPDATE slots SET booked = booked + 1 WHERE id = ? AND booked < capacity", (slot,))
    if cur.rowcount == 1:
        db.execute(
            "INSERT INTO bookings (id, slot_id, declaration_id, status, created_at) VALUES (?, ?, ?, 'confirmed', ?)",
            (str(uuid.uuid4()), slot, str(uuid.uuid4()), now),
        )
        db.execute(
            "INSERT INTO audit_events (id, entity_id, action, at, details) VALUES (?, ?, 'booking.created', ?, ?)",
            (str(uuid.uuid4()), str(slot), now, '{"slot": %d}' % slot),
        )
    else:
        refused += 1
    db.execute("COMMIT")
    n += 1
elapsed = time.monotonic() - start
booked, rows = db.execute("SELECT (SELECT sum(booked) FROM slots), (SELECT count(*) FROM bookings)").fetchone()
print("rate %.0f" % (n / elapsed))
print("detail %d commits in %.1f s, one connection, WAL, synchronous=FULL; %d booked = %d rows, %d refused"
      % (n, elapsed, booked, rows, refused))
