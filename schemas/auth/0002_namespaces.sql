-- auth 0002: subjects with several namespaces. A key belongs to a namespace *of
-- its own subject* (0001 let a key's subject and its namespace's owner differ); keys are
-- found by (subject, namespace) when rotated; namespaces remember when they were made;
-- the limit overrides of a namespace are always a JSON object.

ALTER TABLE auth_namespaces ADD COLUMN created timestamptz NOT NULL DEFAULT now();
ALTER TABLE auth_namespaces ADD CONSTRAINT auth_namespaces_name_subject UNIQUE (name, subject);
ALTER TABLE auth_namespaces ADD CONSTRAINT auth_namespaces_limits_object
    CHECK (jsonb_typeof(limits) = 'object');

ALTER TABLE auth_keys ADD CONSTRAINT auth_keys_namespace_subject_fkey
    FOREIGN KEY (namespace, subject) REFERENCES auth_namespaces(name, subject) ON DELETE CASCADE;
CREATE INDEX auth_keys_subject_namespace ON auth_keys(subject, namespace, created DESC);
