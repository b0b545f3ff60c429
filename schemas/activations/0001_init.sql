-- activations 0001: activation records. The table of the activation store (role
-- sq_activations); no other service reads it.

CREATE TABLE activations (
    id          char(32) PRIMARY KEY,
    namespace   text NOT NULL,
    name        text NOT NULL,
    start_ms    bigint NOT NULL,
    end_ms      bigint NOT NULL,
    status_code smallint NOT NULL,
    record      bytea NOT NULL      -- the whole record, msgpack, as published
);
CREATE INDEX activations_ns_start ON activations(namespace, start_ms DESC);
CREATE INDEX activations_ns_name_start ON activations(namespace, name, start_ms DESC);
