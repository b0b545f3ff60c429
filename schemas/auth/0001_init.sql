-- auth 0001: subjects, namespaces and keys. The tables of the auth service (role sq_auth);
-- no other service reads them. Each service numbers its own migrations (schemas/<service>/).

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
