-- activations 0002: activation records in daily range partitions of start_ms
-- (milliseconds since the epoch, UTC days), so that records older than the retention
-- (SQ_ACT_RETENTION_DAYS) go by dropping a whole day's table: no DELETE, no vacuum. The
-- activation store creates the partition of a day before it writes the day's first record
-- and drops expired ones (services/activations/store.c); a partition is named
-- activations_d<days since the epoch>.
--
-- A partitioned table cannot have a unique index without the partition key, and two
-- records of one activation (the invoker's and a scheduler's "whisk internal error") may
-- start on different days, so the id is indexed, not unique (as a uuid: 16 bytes, compared as
-- such, where char(32) cost a collation-aware comparison): the store inserts a record only
-- where no record of its id exists, under a transaction-level advisory lock that serialises
-- the store's copies (the first record stored wins, as before).

ALTER TABLE activations RENAME TO activations_0001;
ALTER INDEX activations_pkey RENAME TO activations_0001_pkey;
ALTER INDEX activations_ns_start RENAME TO activations_0001_ns_start;
ALTER INDEX activations_ns_name_start RENAME TO activations_0001_ns_name_start;

CREATE TABLE activations (
    id          uuid NOT NULL,      -- the 32 hex digits of the activation id, 16 bytes
    namespace   text NOT NULL,
    name        text NOT NULL,
    start_ms    bigint NOT NULL,
    end_ms      bigint NOT NULL,
    status_code smallint NOT NULL,
    record      bytea NOT NULL      -- the whole record, msgpack, as published
) PARTITION BY RANGE (start_ms);
CREATE INDEX activations_id ON activations (id);
CREATE INDEX activations_ns_start ON activations (namespace, start_ms DESC);
CREATE INDEX activations_ns_name_start ON activations (namespace, name, start_ms DESC);

DO $$
DECLARE
    d bigint;
BEGIN
    FOR d IN SELECT DISTINCT floor(start_ms / 86400000.0)::bigint FROM activations_0001 LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF activations FOR VALUES FROM (%s) TO (%s)',
                       'activations_d' || replace(d::text, '-', 'm'), d * 86400000, (d + 1) * 86400000);
    END LOOP;
END $$;

INSERT INTO activations (id, namespace, name, start_ms, end_ms, status_code, record)
    SELECT id::uuid, namespace, name, start_ms, end_ms, status_code, record FROM activations_0001;
DROP TABLE activations_0001;
