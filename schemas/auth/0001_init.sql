-- Squall 0001: subjects, namespaces and keys (auth); actions (registry); activation
-- records (activations). Each table belongs to exactly one service; no service reads
-- another's tables.

-- auth ---------------------------------------------------------------------------------
CREATE TABLE auth_subjects (
    name        text PRIMARY KEY,
    blocked     boolean NOT NULL DEFAULT false,
    created     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_namespaces (
    name        text PRIMARY KEY,
    subject     text NOT NULL REFERENCES auth_subjects(name) ON DELETE CASCADE,
    limits      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX auth_namespaces_subject ON auth_namespaces(subject);

-- An API key is `uuid:secret`; only a keyed BLAKE2b hash of the secret is kept.
CREATE TABLE auth_keys (
    uuid        uuid PRIMARY KEY,
    subject     text NOT NULL REFERENCES auth_subjects(name) ON DELETE CASCADE,
    namespace   text NOT NULL REFERENCES auth_namespaces(name) ON DELETE CASCADE,
    salt        bytea NOT NULL,
    hash        bytea NOT NULL,
    created     timestamptz NOT NULL DEFAULT now()
);

-- registry -------------------------------------------------------------------------------
-- An action lives at (namespace, package, name); package '' means none.
CREATE TABLE registry_actions (
    namespace   text NOT NULL,
    package     text NOT NULL DEFAULT '',
    name        text NOT NULL,
    version     text NOT NULL,
    kind        text NOT NULL,
    code        text NOT NULL,
    main        text,
    is_binary   boolean NOT NULL DEFAULT false,  -- "binary" is reserved in SQL
    parameters  bytea NOT NULL,     -- msgpack array of {key, value}
    annotations bytea NOT NULL,     -- msgpack array of {key, value}
    limits      jsonb NOT NULL,
    publish     boolean NOT NULL DEFAULT false,
    updated     bigint NOT NULL,    -- ms since epoch
    PRIMARY KEY (namespace, package, name)
);
CREATE INDEX registry_actions_updated ON registry_actions(namespace, updated DESC);

-- activations ----------------------------------------------------------------------------
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
