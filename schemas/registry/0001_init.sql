-- registry 0001: actions. The tables of the registry service (role sq_registry); no other
-- service reads them.

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
