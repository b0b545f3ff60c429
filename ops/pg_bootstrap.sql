-- The PostgreSQL bootstrap of ops/squall up, run on every start by the launcher as the
-- superuser postgres over the private socket (peer authentication), before any service
-- starts: one login role per service that keeps tables, the database, and who may do what in
-- it. Idempotent. The services then create and own their tables themselves (their
-- migrations, schemas/<service>/, run as their own role).
--
-- psql variables pw_auth, pw_registry, pw_activations: the roles' passwords, set on psql's
-- standard input (never on a command line, where ps would show them).

\set ON_ERROR_STOP on
\set VERBOSITY terse
-- A failing statement must not be copied into the server log with a password in it.
SET log_min_error_statement = panic;
SET password_encryption = 'scram-sha-256';

-- No superuser, no CREATEDB, no CREATEROLE: a role can create tables in the database's
-- public schema and use the tables it owns, nothing else.
SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY['sq_auth', 'sq_registry', 'sq_activations']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE sq_auth LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw_auth';
ALTER ROLE sq_registry LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw_registry';
ALTER ROLE sq_activations LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw_activations';

SELECT 'CREATE DATABASE squall' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'squall') \gexec
REVOKE ALL ON DATABASE squall FROM PUBLIC;
GRANT CONNECT ON DATABASE squall TO sq_auth, sq_registry, sq_activations;

\connect squall
SET log_min_error_statement = panic;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO sq_auth, sq_registry, sq_activations;

-- A database from before the service roles: the superuser owned every table and one tracker,
-- sq_schema_migrations, recorded every service's migrations under one numbering. Hand each
-- table to its service's role (by name: auth_*, registry_*, activations*) and the recorded
-- migrations to each service's own tracker under their new names, once.
DO $$
DECLARE
    r record;
BEGIN
    IF to_regclass('public.sq_schema_migrations') IS NULL THEN
        RETURN;
    END IF;
    FOR r IN
        SELECT c.oid::regclass AS rel, c.relkind,
               CASE WHEN c.relname LIKE 'auth\_%' THEN 'sq_auth'
                    WHEN c.relname LIKE 'registry\_%' THEN 'sq_registry'
                    WHEN c.relname LIKE 'activations%' THEN 'sq_activations' END AS owner
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                             AND d.objid = c.oid AND c.relkind = 'S' AND d.deptype IN ('a', 'i'))
    LOOP
        CONTINUE WHEN r.owner IS NULL;
        IF r.relkind = 'S' THEN
            EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', r.rel, r.owner);
        ELSE
            EXECUTE format('ALTER TABLE %s OWNER TO %I', r.rel, r.owner);
        END IF;
    END LOOP;
    CREATE TABLE IF NOT EXISTS auth_schema_migrations (
        name text PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
    CREATE TABLE IF NOT EXISTS registry_schema_migrations (
        name text PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
    CREATE TABLE IF NOT EXISTS activations_schema_migrations (
        name text PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
    INSERT INTO auth_schema_migrations (name, applied)
        SELECT m.new, s.applied FROM sq_schema_migrations s
          JOIN (VALUES ('0001_init.sql', '0001_init.sql'),
                       ('0002_auth_namespaces.sql', '0002_namespaces.sql')) AS m(old, new) ON m.old = s.name
        ON CONFLICT DO NOTHING;
    INSERT INTO registry_schema_migrations (name, applied)
        SELECT m.new, s.applied FROM sq_schema_migrations s
          JOIN (VALUES ('0001_init.sql', '0001_init.sql'),
                       ('0002_registry_entities.sql', '0002_entities.sql'),
                       ('0004_registry_rev.sql', '0003_rev.sql')) AS m(old, new) ON m.old = s.name
        ON CONFLICT DO NOTHING;
    INSERT INTO activations_schema_migrations (name, applied)
        SELECT m.new, s.applied FROM sq_schema_migrations s
          JOIN (VALUES ('0001_init.sql', '0001_init.sql'),
                       ('0003_activations_partitions.sql', '0002_partitions.sql')) AS m(old, new) ON m.old = s.name
        ON CONFLICT DO NOTHING;
    ALTER TABLE auth_schema_migrations OWNER TO sq_auth;
    ALTER TABLE registry_schema_migrations OWNER TO sq_registry;
    ALTER TABLE activations_schema_migrations OWNER TO sq_activations;
    DROP TABLE sq_schema_migrations;
    RAISE NOTICE 'tables handed to the service roles; migrations recorded per service';
END $$;
