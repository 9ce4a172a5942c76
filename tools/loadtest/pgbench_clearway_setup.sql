-- Jobs for tools/loadtest/pgbench_clearway.sql, in the load test's own
-- PostgreSQL database after its HTTP runs (not measured): per pgbench client
-- (:clients) and transaction (:per_client), a submitted declaration of its
-- own, copied from one of a company's declarations (companies taken in turn),
-- and one of the 1,000 spread slots (:'slots' lists them), whose capacity is
-- raised so that the guard never refuses.
CREATE TABLE pgb_jobs (
    client integer NOT NULL,
    n integer NOT NULL,
    decl text NOT NULL,
    usr text NOT NULL,
    slot text NOT NULL,
    PRIMARY KEY (client, n)
);
CREATE TEMP TABLE spread (k integer PRIMARY KEY, id text NOT NULL);
INSERT INTO spread SELECT k - 1, id FROM unnest(string_to_array(:'slots', ',')) WITH ORDINALITY AS s(id, k);
CREATE TEMP TABLE templates AS
    SELECT row_number() OVER (ORDER BY enterprise_id) - 1 AS k, min(id) AS id
    FROM declarations GROUP BY enterprise_id;
INSERT INTO declarations
    SELECT (jsonb_populate_record(d, jsonb_build_object(
        'id', 'pgb-' || c || '-' || n, 'number', 'PGB-' || c || '-' || n, 'status', 'submitted'))).*
    FROM generate_series(0, :clients - 1) c
    CROSS JOIN generate_series(1, :per_client) n
    JOIN templates t ON t.k = c % (SELECT count(*) FROM templates)
    JOIN declarations d ON d.id = t.id;
INSERT INTO pgb_jobs
    SELECT c, n, 'pgb-' || c || '-' || n, d.created_by,
           (SELECT id FROM spread WHERE k = (c * :per_client + n) % (SELECT count(*) FROM spread))
    FROM generate_series(0, :clients - 1) c
    CROSS JOIN generate_series(1, :per_client) n
    JOIN declarations d ON d.id = 'pgb-' || c || '-' || n;
UPDATE clearance_slots SET capacity = capacity + 1000 WHERE id IN (SELECT id FROM spread);
VACUUM ANALYZE;
CHECKPOINT;
