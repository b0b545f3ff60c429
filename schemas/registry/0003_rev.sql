-- registry 0003: every write of an action gets a new revision from one sequence, never reused,
-- not even after a delete and a re-create under the same name (whose version starts again at
-- 0.0.1). Caches and the invoker's warm containers are keyed by it, so a re-created or updated
-- action never runs its predecessor's code.
CREATE SEQUENCE registry_rev;
ALTER TABLE registry_actions ADD COLUMN rev bigint NOT NULL DEFAULT nextval('registry_rev');
