-- registry 0002: the rest of the registry's entity model: sequences, packages (and package
-- bindings), triggers and rules. Tables belong to the registry service only.

-- A sequence keeps no code ('' in the code column) but its components: a msgpack array of
-- fully qualified action names "/ns/name" or "/ns/pkg/name".
ALTER TABLE registry_actions ADD COLUMN components bytea;

-- A package, or a package binding when binding_name is set (binding_ns/binding_name is the
-- bound package). Packages do not nest: a package's actions are registry_actions rows with
-- package = name.
CREATE TABLE registry_packages (
    namespace    text NOT NULL,
    name         text NOT NULL,
    version      text NOT NULL,
    publish      boolean NOT NULL DEFAULT false,
    parameters   bytea NOT NULL,     -- msgpack array of {key, value}
    annotations  bytea NOT NULL,     -- msgpack array of {key, value}
    binding_ns   text,
    binding_name text,
    updated      bigint NOT NULL,    -- ms since epoch
    PRIMARY KEY (namespace, name),
    CHECK ((binding_ns IS NULL) = (binding_name IS NULL))
);
CREATE INDEX registry_packages_updated ON registry_packages(namespace, updated DESC);
CREATE INDEX registry_packages_public ON registry_packages(updated DESC) WHERE publish;

CREATE TABLE registry_triggers (
    namespace    text NOT NULL,
    name         text NOT NULL,
    version      text NOT NULL,
    publish      boolean NOT NULL DEFAULT false,
    parameters   bytea NOT NULL,
    annotations  bytea NOT NULL,
    updated      bigint NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE INDEX registry_triggers_updated ON registry_triggers(namespace, updated DESC);

-- A rule links trigger /trigger_ns/trigger_name to action /action_path/action_name
-- (action_path "ns" or "ns/pkg", as the rule named it: possibly through a binding).
CREATE TABLE registry_rules (
    namespace    text NOT NULL,
    name         text NOT NULL,
    version      text NOT NULL,
    publish      boolean NOT NULL DEFAULT false,
    annotations  bytea NOT NULL,
    status       text NOT NULL CHECK (status IN ('active', 'inactive')),
    trigger_ns   text NOT NULL,
    trigger_name text NOT NULL,
    action_path  text NOT NULL,
    action_name  text NOT NULL,
    updated      bigint NOT NULL,
    PRIMARY KEY (namespace, name)
);
CREATE INDEX registry_rules_updated ON registry_rules(namespace, updated DESC);
CREATE INDEX registry_rules_trigger ON registry_rules(trigger_ns, trigger_name);
