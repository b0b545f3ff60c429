# shellcheck shell=bash
# The "records" rows of ops/bench.d/scale.sh (sourced): activation get / list / count with
# RECORDS stored vs 10 000. See scale.sh for the knobs.

SCALE_DAYS=6 # past days loaded: the default retention (7 days) keeps them all
SCALE_NAMES=10

# The template: the newest record of bench-echo (a real record the stack made), with the byte
# offsets of what each copy replaces: the id's 32 hex digits, the name (twice: its field and
# its path annotation, "guest/bench-echo"), start and end (msgpack uint64, 0xcf). The copies'
# names have the template's length (10), so no msgpack header changes.
SCALE_TPL_SQL="
CREATE TEMP TABLE scale_tpl AS
SELECT r, dur, p_id, p_n, p_s, p_s + 8 + position('\\xcf'::bytea || int8send(end_ms) IN substr(r, p_s + 8)) AS p_e, p_p
FROM (SELECT r, dur, end_ms,
             position(convert_to(idhex, 'UTF8') IN r) AS p_id,
             position('\\xaa'::bytea || convert_to(name, 'UTF8') IN r) + 1 AS p_n,
             position('\\xcf'::bytea || int8send(start_ms) IN r) + 1 AS p_s,
             position(convert_to('guest/' || name, 'UTF8') IN r) + 6 AS p_p
      FROM (SELECT record AS r, end_ms - start_ms AS dur, replace(id::text, '-', '') AS idhex,
                   name, start_ms, end_ms
            FROM activations WHERE namespace = 'guest' AND name = 'bench-echo'
            ORDER BY start_ms DESC LIMIT 1) a) b;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM scale_tpl WHERE p_id > 0 AND p_n > p_id + 32 AND p_s > p_n + 10
                 AND p_e > p_s + 8 AND p_p > p_e + 8) THEN
    RAISE EXCEPTION 'no usable template record of bench-echo';
  END IF;
END \$\$;"

# SQL that loads n records of day d into a partition built apart, indexes it and attaches it,
# then adds the day's counts (the attach bypasses the counting trigger).
day_sql() {
  local d=$1 n=$2 lo=$(($1 * 86400000)) hi=$((($1 + 1) * 86400000))
  cat <<SQLEOF
CREATE TABLE scale_load (LIKE activations);
INSERT INTO scale_load
SELECT x.id, 'guest', x.nm, x.s, x.s + t.dur, 0,
       substr(t.r, 1, t.p_id - 1) || convert_to(replace(x.id::text, '-', ''), 'UTF8')
       || substr(t.r, t.p_id + 32, t.p_n - t.p_id - 32) || convert_to(x.nm, 'UTF8')
       || substr(t.r, t.p_n + 10, t.p_s - t.p_n - 10) || int8send(x.s)
       || substr(t.r, t.p_s + 8, t.p_e - t.p_s - 8) || int8send(x.s + t.dur)
       || substr(t.r, t.p_e + 8, t.p_p - t.p_e - 8) || convert_to(x.nm, 'UTF8')
       || substr(t.r, t.p_p + 10)
FROM scale_tpl t,
     (SELECT gen_random_uuid() AS id, 'scale-' || lpad((g % $SCALE_NAMES)::text, 4, '0') AS nm,
             $lo + g::bigint * 86400000 / $n AS s
      FROM generate_series(0, $n - 1) g) x;
CREATE INDEX ON scale_load (id);
CREATE INDEX ON scale_load (namespace, start_ms DESC);
CREATE INDEX ON scale_load (namespace, name, start_ms DESC);
ALTER TABLE scale_load ADD CONSTRAINT scale_range CHECK (start_ms >= $lo AND start_ms < $hi);
ALTER TABLE scale_load RENAME TO activations_d$d;
ALTER TABLE activations ATTACH PARTITION activations_d$d FOR VALUES FROM ($lo) TO ($hi);
ALTER TABLE activations_d$d DROP CONSTRAINT scale_range;
INSERT INTO activation_counts (namespace, name, day, n)
    SELECT namespace, name, $d, count(*) FROM activations_d$d GROUP BY 1, 2;
ANALYZE activations_d$d;
SQLEOF
}

# Replaces the loaded days by `total` records spread evenly over them.
load_records() {
  local total=$1 today d sql
  today=$(($(date +%s) / 86400))
  # the template is a temporary table of the admin's; the partitions are the store's own
  sql="$SCALE_TPL_SQL
GRANT SELECT ON scale_tpl TO sq_activations;
SET ROLE sq_activations;"
  for ((d = today - SCALE_DAYS; d < today; d++)); do
    sql+="
DROP TABLE IF EXISTS activations_d$d;
DELETE FROM activation_counts WHERE day = $d;
$(day_sql "$d" $((total / SCALE_DAYS)))"
  done
  "${PSQL[@]}" -c "$sql" >/dev/null
}

# Measures get / list / count at the records stored now; prints "get_p50 list_p50 count_p50
# list_all_p50 errors" and leaves the wrk output in $STATE/scale-records-<tag>.txt.
measure_records() {
  local tag=$1 ids="$STATE/scale-ids.txt" out e=""
  "${PSQL[@]}" -c "SELECT '/api/v1/namespaces/_/activations/' || replace(id::text, '-', '')
    FROM activations TABLESAMPLE BERNOULLI (least(100, 100.0 * 5000 / greatest(1, (SELECT sum(n) FROM activation_counts))))
    WHERE name LIKE 'scale-%' LIMIT 1000" >"$ids"
  rand_lua "$ids" >"$STATE/scale-get.lua"
  local host="${API%%/api/*}"
  local g l c a f
  g="$(run_wrk -s "$STATE/scale-get.lua" "$host")"
  l="$(run_wrk -s "$LUA_AUTH" "$API/activations?name=scale-0003&limit=30")"
  c="$(run_wrk -s "$LUA_AUTH" "$API/activations?name=scale-0003&count=true")"
  a="$(run_wrk -s "$LUA_AUTH" "$API/activations?limit=30")"
  # the same moment's GET action (HTTP -> gateway -> registry -> PostgreSQL): this machine's
  # load changes between the two scales, the ratio to it much less
  f="$(run_wrk -s "$LUA_AUTH" "$API/actions/bench-echo?code=false")"
  printf '%s\n' "$g" "$l" "$c" "$a" "$f" >"$STATE/scale-records-$tag.txt"
  for out in "$g" "$l" "$c" "$a" "$f"; do e+="$(errs "$out")"; done
  echo "$(pct "$g" 50%) $(pct "$l" 50%) $(pct "$c" 50%) $(pct "$a" 50%) $(rps "$g") ${e:-none} $(pct "$f" 50%)"
}

# A loaded record read back through the REST API must be the template with its own id, name
# and start: else the figures would be of something else.
check_loaded_record() {
  local row id nm s got
  row="$("${PSQL[@]}" -F ' ' -c "SELECT replace(id::text, '-', ''), name, start_ms FROM activations
    WHERE name = 'scale-0003' ORDER BY start_ms DESC LIMIT 1")"
  read -r id nm s <<<"$row"
  got="$(curl -sf -H "Authorization: Basic $AUTH" "$API/activations/$id" |
    python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["activationId"], a["name"], a["start"], a["response"]["statusCode"])')"
  [[ $got == "$id $nm $s 0" ]] || { log "a loaded record reads back wrong: '$got' for '$row'"; return 1; }
}

# The count through the API must be what the records say.
check_count() {
  local want got
  want="$("${PSQL[@]}" -c "SELECT count(*) FROM activations WHERE namespace = 'guest' AND name = 'scale-0003'")"
  got="$(curl -sf -H "Authorization: Basic $AUTH" "$API/activations?name=scale-0003&count=true" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["activations"])')"
  [[ $got == "$want" ]] || { log "count is $got, the records say $want"; return 1; }
}

records_rows() {
  local small=10000 t0 secs s m bad=""
  log "records: loading $small records"
  load_records "$small"
  check_loaded_record && check_count || bad=" **a check failed: see the log**"
  log "records: measuring at $small"
  read -r -a s <<<"$(measure_records small)"
  log "records: loading $RECORDS records"
  t0=$(date +%s)
  load_records "$RECORDS"
  secs=$(($(date +%s) - t0))
  check_loaded_record && check_count || bad=" **a check failed: see the log**"
  log "records: measuring at $RECORDS"
  read -r -a m <<<"$(measure_records large)"
  local size
  size="$("${PSQL[@]}" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
  local note="bulk-loaded with SQL into the store's tables ($SCALE_DAYS daily partitions, copies of a real record, $SCALE_NAMES names; loaded in ${secs} s, database $size); errors: ${m[5]}/${s[5]}$bad"
  # p50 at RECORDS, at 10 000, and both as a multiple of the same moment's GET action
  rec_row() {
    echo "| $1, $RECORDS records vs $small | ${m[$2]} µs | ${s[$2]} µs | ratio $(ratio "${m[$2]}" "${s[$2]}"); over the GET action of the moment: $(ratio "${m[$2]}" "${m[6]}") vs $(ratio "${s[$2]}" "${s[6]}") (GET action p50 ${m[6]} / ${s[6]} µs)$3 |"
  }
  goal() { echo "; goal p50 ≤ 1000 µs: $(within "${m[$1]}" 1000 0), within 20 %: $(within "${m[$1]}" "${s[$1]}" 20)"; }
  rec_row "activation get (random id)" 0 "$(goal 0); ${m[4]} req/s; $note"
  rec_row "activation list, limit 30, name filter" 1 "$(goal 1)"
  rec_row "activation count, name filter" 2 "; exact: per-day counts + the partial days' records"
  rec_row "activation list, limit 30, no filter" 3 ""
  # what later rows and fragments measure must not pay for these records
  local today d sql="SET ROLE sq_activations;"
  today=$(($(date +%s) / 86400))
  for ((d = today - SCALE_DAYS; d < today; d++)); do
    sql+=" DROP TABLE IF EXISTS activations_d$d; DELETE FROM activation_counts WHERE day = $d;"
  done
  "${PSQL[@]}" -c "$sql" >/dev/null
}
