// The stack's private PostgreSQL and local files, tried as another local user and as a
// service would try them: the socket is out of reach of other OS users; no `trust`, only peer
// authentication for the superuser and passwords (SCRAM) for the service roles; the services
// are connected as their own roles (sq_auth, sq_registry, sq_activations), each owns exactly
// its own tables and cannot read another's, none is superuser or may create roles or
// databases; the state dir, the logs and the password files are the service user's only,
// and no log holds a PostgreSQL password.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../harness/squall.js');

const env = h.stackEnv();
const STATE = env.stateDir;
const PORT = env.vars.SQ_PG_PORT;
const SOCKDIR = path.join(STATE, 'pg', 'run');
const ROOT_USER = process.getuid && process.getuid() === 0;
const SERVICES = { auth: 'auth_keys', registry: 'registry_actions', activations: 'activations' };

function pgBin(tool) {
  for (const d of fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))) {
    const p = `/usr/lib/postgresql/${d}/bin/${tool}`;
    if (fs.existsSync(p)) return p;
  }
  return tool;
}
const PSQL = pgBin('psql');

// psql(conninfo, sql, {as, password}) -> {status, out, err}; never throws. as: run as that
// OS user (runuser, root only); password: PGPASSWORD.
function psql(conninfo, sql, opts = {}) {
  const e = { PATH: process.env.PATH || '/usr/bin:/bin' };
  if (opts.password !== undefined) e.PGPASSWORD = opts.password;
  const args = [conninfo, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql];
  const r = opts.as ? spawnSync('runuser', ['-u', opts.as, '--', PSQL, ...args], { cwd: '/', env: e, timeout: 20000 })
    : spawnSync(PSQL, args, { cwd: '/', env: e, timeout: 20000 });
  return { status: r.status, out: String(r.stdout || '').trim(), err: String(r.stderr || '').trim() };
}

const admin = `host=${SOCKDIR} port=${PORT} dbname=squall user=postgres`;
const roleDsn = (svc, db = 'squall') =>
  `host=${SOCKDIR} port=${PORT} dbname=${db} user=sq_${svc} passfile=${path.join(STATE, 'pgpass', svc)}`;
function sql(q) {
  const r = psql(admin, q);
  assert.equal(r.status, 0, `psql as the superuser: ${q}: ${r.err}`);
  return r.out;
}

test('only the stack\'s own OS user reaches PostgreSQL, and nothing is trusted', (t) => {
  assert.equal(sql('SELECT 1'), '1', 'the launcher\'s user connects as the superuser by peer');
  // every rule is for the unix socket; the superuser by peer (mapped), the roles by SCRAM
  const rules = sql("SELECT type || ' ' || array_to_string(database, ',') || ' ' || array_to_string(user_name, ',') || ' ' || auth_method FROM pg_hba_file_rules").split('\n');
  assert.deepEqual(rules, ['local all postgres peer', 'local squall sq_auth,sq_registry,sq_activations scram-sha-256'],
    'pg_hba.conf rules');
  assert.equal(sql('SHOW unix_socket_permissions'), '0700');
  assert.equal(sql('SHOW listen_addresses'), '', 'PostgreSQL listens on TCP');
  // a wrong password is refused for each role (it is asked for: no trust, no peer)
  for (const svc of Object.keys(SERVICES)) {
    const r = psql(`host=${SOCKDIR} port=${PORT} dbname=squall user=sq_${svc}`, 'SELECT 1', { password: 'not-the-password' });
    assert.notEqual(r.status, 0, `sq_${svc} got in with a wrong password`);
    assert.match(r.err, /password authentication failed/, `sq_${svc}: ${r.err}`);
    const other = psql(roleDsn(svc, 'postgres'), 'SELECT 1');
    assert.notEqual(other.status, 0, `sq_${svc} connected to database postgres`);
    assert.match(other.err, /no pg_hba\.conf entry/, `sq_${svc}: ${other.err}`);
  }
  if (!ROOT_USER) {
    t.skip('not root: cannot try the socket as another OS user');
    return;
  }
  // another OS user: neither as the superuser nor as a service role
  for (const user of ['postgres', 'sq_auth']) {
    const r = psql(`host=${SOCKDIR} port=${PORT} dbname=squall user=${user}`, 'SELECT 1', { as: 'nobody', password: '' });
    assert.notEqual(r.status, 0, `OS user nobody connected as ${user}: ${r.out}`);
    assert.match(r.err, /Permission denied/, `nobody as ${user}: ${r.err}`);
  }
});

test('each service is connected as its own role, which owns its tables only', () => {
  assert.equal(sql('SELECT string_agg(rolname, \',\' ORDER BY rolname) FROM pg_roles WHERE rolsuper'), 'postgres',
    'superusers');
  const roles = sql("SELECT rolname, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname LIKE 'sq\\_%' ORDER BY 1");
  assert.equal(roles, ['sq_activations|f|f|f|f|t', 'sq_auth|f|f|f|f|t', 'sq_registry|f|f|f|f|t'].join('\n'));
  assert.equal(sql("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname LIKE 'sq\\_%'"), '0',
    'a service role is a member of another role');
  // the services' own sessions
  const users = sql("SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity WHERE datname = 'squall' AND pid <> pg_backend_pid()");
  assert.equal(users, 'sq_activations,sq_auth,sq_registry', 'who the services are connected as');
  // every table, partition and sequence is owned by its service's role
  const owned = sql("SELECT c.relname || '|' || pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v', 'm') ORDER BY 1").split('\n');
  assert.ok(owned.length >= 10, `public relations: ${owned}`);
  for (const row of owned) {
    const [rel, owner] = row.split('|');
    const want = rel.startsWith('auth_') ? 'sq_auth' : rel.startsWith('registry_') ? 'sq_registry'
      : rel.startsWith('activations') || rel === 'activation_counts' ? 'sq_activations' : '(none)';
    assert.equal(owner, want, `owner of ${rel}`);
  }
  // one numbering per service, each in its own tracker
  assert.equal(sql("SELECT to_regclass('public.sq_schema_migrations') IS NULL"), 't', 'the shared tracker still exists');
  assert.equal(sql('SELECT string_agg(name, \',\' ORDER BY name) FROM auth_schema_migrations'), '0001_init.sql,0002_namespaces.sql');
  assert.equal(sql('SELECT string_agg(name, \',\' ORDER BY name) FROM registry_schema_migrations'), '0001_init.sql,0002_entities.sql,0003_rev.sql,0004_routes.sql');
  assert.equal(sql('SELECT string_agg(name, \',\' ORDER BY name) FROM activations_schema_migrations'), '0001_init.sql,0002_partitions.sql,0003_counts.sql');

  for (const [svc, own] of Object.entries(SERVICES)) {
    const mine = psql(roleDsn(svc), `SELECT count(*) >= 0 FROM ${own}`);
    assert.equal(mine.status, 0, `sq_${svc} cannot read its own ${own}: ${mine.err}`);
    assert.equal(mine.out, 't');
    for (const [other, table] of Object.entries(SERVICES)) {
      if (other === svc) continue;
      const r = psql(roleDsn(svc), `SELECT count(*) FROM ${table}`);
      assert.notEqual(r.status, 0, `sq_${svc} read ${table}: ${r.out}`);
      assert.match(r.err, new RegExp(`permission denied for (table|relation) ${table}`), `sq_${svc} on ${table}: ${r.err}`);
      const d = psql(roleDsn(svc), `DROP TABLE ${table}`);
      assert.notEqual(d.status, 0, `sq_${svc} dropped ${table}`);
      assert.match(d.err, /must be owner/, `sq_${svc} DROP ${table}: ${d.err}`);
    }
    for (const [what, q, re] of [
      ['create a role', 'CREATE ROLE sq_intruder', /permission denied to create role/],
      ['create a database', 'CREATE DATABASE sq_intruder', /permission denied to create database/],
      ['become superuser', 'ALTER ROLE CURRENT_USER SUPERUSER', /permission denied|must be superuser/],
      ['read a file', "SELECT pg_read_file('/etc/hostname')", /permission denied/],
    ]) {
      const r = psql(roleDsn(svc), q);
      assert.notEqual(r.status, 0, `sq_${svc} could ${what}`);
      assert.match(r.err, re, `sq_${svc} ${what}: ${r.err}`);
    }
  }
});

function mode(p) {
  return fs.statSync(p).mode & 0o7777;
}
const octal = (m) => '0' + m.toString(8);

test('the state dir, the logs and the password files are private', (t) => {
  const st = fs.statSync(STATE);
  const m = st.mode & 0o777;
  if (m !== 0o700) {
    // as root: the postgres group may traverse (not list) it to reach its data dir
    assert.equal(m, 0o710, `state dir ${STATE} mode ${octal(m)}`);
    const gid = spawnSync('getent', ['group', 'postgres']).stdout.toString().split(':')[2];
    assert.equal(String(st.gid), gid, 'the state dir\'s group is not postgres');
  }
  assert.equal(mode(path.join(STATE, 'logs')), 0o700, 'logs dir');
  const logs = fs.readdirSync(path.join(STATE, 'logs')).filter((f) => f.endsWith('.log'));
  for (const name of ['auth.log', 'registry.log', 'activations.log', 'gateway.log', 'nats.log', 'postgres.log']) {
    assert.ok(logs.includes(name), `no ${name} in ${logs}`);
  }
  for (const f of logs) assert.equal(mode(path.join(STATE, 'logs', f)) & 0o077, 0, `${f} mode ${octal(mode(path.join(STATE, 'logs', f)))}`);
  assert.equal(mode(path.join(STATE, 'pgpass')), 0o700, 'pgpass dir');
  for (const svc of Object.keys(SERVICES)) assert.equal(mode(path.join(STATE, 'pgpass', svc)), 0o600, `pgpass/${svc}`);
  for (const f of ['env', 'guest.key', 'admin.token']) assert.equal(mode(path.join(STATE, f)), 0o600, f);
  assert.equal(mode(path.join(STATE, 'pg')) & 0o077, 0, 'pg dir');
  assert.equal(mode(SOCKDIR) & 0o077, 0, 'socket dir');
  if (!ROOT_USER) {
    t.skip('not root: cannot try the files as another OS user');
    return;
  }
  for (const p of [STATE, path.join(STATE, 'logs'), path.join(STATE, 'logs', 'auth.log'), path.join(STATE, 'pgpass', 'auth')]) {
    const r = spawnSync('runuser', ['-u', 'nobody', '--', 'cat', p], { cwd: '/' });
    assert.notEqual(r.status, 0, `nobody read ${p}`);
    assert.match(String(r.stderr), /Permission denied/, `nobody on ${p}: ${r.stderr}`);
  }
});

test('no PostgreSQL password in any log', () => {
  const secrets = Object.keys(SERVICES).map((svc) => {
    const line = fs.readFileSync(path.join(STATE, 'pgpass', svc), 'utf8').trim();
    const pw = line.split(':')[4];
    assert.match(pw, /^[A-Za-z0-9]{32}$/, `pgpass/${svc} holds no password`);
    return pw;
  });
  const dir = path.join(STATE, 'logs');
  let seen = 0;
  for (const f of fs.readdirSync(dir)) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    seen += text.length;
    for (const s of secrets) assert.ok(!text.includes(s), `a PostgreSQL password is in ${f}`);
  }
  assert.ok(seen > 1000, 'the logs are (nearly) empty');
  // the services name their role, not a password, in the configuration they log; none of them
  // found itself connected as a superuser (libsq warns)
  assert.match(fs.readFileSync(path.join(dir, 'auth.log'), 'utf8'), /config pg_dsn = ".*user=sq_auth passfile=/);
  for (const svc of Object.keys(SERVICES)) {
    assert.doesNotMatch(fs.readFileSync(path.join(dir, `${svc}.log`), 'utf8'), /connected to PostgreSQL as superuser/, svc);
  }
});
