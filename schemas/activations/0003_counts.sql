-- activations 0003: the number of records per namespace, list name and UTC day, so that
-- `activations?count=true` answers from a few small rows however many records are stored
-- (a count(*) over the records took seconds after a million records and grew without end).
-- OpenWhisk answers an exact count; so does this: the whole days of the asked range come
-- from activation_counts, the partial days at its ends (a since/upto inside a day) from the
-- records, through the (namespace, name, start_ms) index.
--
-- Statement triggers keep the counts in step with every INSERT and DELETE of records,
-- whoever runs it (the writer's batches, the purge of a deleted namespace, a bulk load);
-- the store deletes a day's counts when it drops the day's partition (retention). The
-- writer serialises its inserts under its advisory lock, so the counts' rows see no
-- conflicting upserts from the store's own copies.

CREATE TABLE activation_counts (
    namespace text NOT NULL,
    name      text NOT NULL,         -- the list's name filter: "name" or "pkg/name"
    day       bigint NOT NULL,       -- UTC days since the epoch (the partition's day)
    n         bigint NOT NULL,
    PRIMARY KEY (namespace, name, day)
);

CREATE FUNCTION activation_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO activation_counts AS c (namespace, name, day, n)
        SELECT namespace, name, floor(start_ms / 86400000.0)::bigint, count(*)
        FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (namespace, name, day) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END $$;

CREATE FUNCTION activation_counts_sub() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE activation_counts c SET n = c.n - o.n
        FROM (SELECT namespace, name, floor(start_ms / 86400000.0)::bigint AS day, count(*) AS n
              FROM old_rows GROUP BY 1, 2, 3) o
        WHERE c.namespace = o.namespace AND c.name = o.name AND c.day = o.day;
    DELETE FROM activation_counts WHERE n <= 0;
    RETURN NULL;
END $$;

CREATE TRIGGER activations_count_insert AFTER INSERT ON activations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION activation_counts_add();
CREATE TRIGGER activations_count_delete AFTER DELETE ON activations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION activation_counts_sub();

INSERT INTO activation_counts (namespace, name, day, n)
    SELECT namespace, name, floor(start_ms / 86400000.0)::bigint, count(*)
    FROM activations GROUP BY 1, 2, 3;
