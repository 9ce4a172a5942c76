#!/usr/bin/env bash
# Clearway measured from outside the process: the release binary, wrk over
# loopback, and the databases' own rate for the minimal booking transaction.
#
#   tools/loadtest.sh            # both backends, defaults (about 2-3 minutes after the build)
#   tools/loadtest.sh --quick    # small counts and short runs (a smoke test of the instrument)
#
# Per backend (a fresh SQLite file; a fresh PostgreSQL database
# clearway_load_<random>, dropped WITH (FORCE) on exit, also on failure):
#   setup, not measured: `clearway create-supervisor`, then over HTTP an officer,
#   a site with a road schedule (60-minute slots, capacity 10), 8 verified and
#   signed-in companies, and one submitted declaration per booking to come
#   (created and submitted with wrk itself: tools/loadtest/replay.lua);
#   warm-up: LOADTEST_WARMUP bookings on other slots;
#   A: LOADTEST_BOOKINGS new bookings spread over 1,000 slots;
#   B: LOADTEST_BOOKINGS new bookings onto one slot whose capacity an officer raised to 10,000;
#   the public board (one site-day) against /health/live;
#   invariants through SQL after every run; the server's VmRSS sampled every 0.5 s.
# On PostgreSQL, once the server has stopped: Clearway's own booking
# transaction (the server's statements, from its statement log) run by
# pgbench in that database, the database's limit for the work a booking
# must do (tools/loadtest/pgbench_clearway.sql).
# Then the databases alone: pgbench (minimal schema, 64 clients) and a SQLite
# commit loop (WAL, synchronous=FULL), and a summary with the goals.
#
# Knobs (environment):
#   LOADTEST_BACKENDS     sqlite,postgres   which backends
#   LOADTEST_CONNECTIONS  64                wrk connections (and pgbench clients)
#   LOADTEST_BOOKINGS     5000              bookings per scenario (at most 5000; fewer make runs
#                                           of a second or two, whose start weighs on the rate)
#   LOADTEST_WARMUP       256               warm-up bookings
#   LOADTEST_MAX_SECS     60                bound of each wrk replay run (it ends when its requests are answered)
#   LOADTEST_BASELINE_SECS 10               pgbench -T and the SQLite loop, per variant
#   LOADTEST_BOARD_SECS   8                 wrk -d for the board and for /health/live
#   LOADTEST_POOL_SIZE    8                 database.pool_size of the server
#   LOADTEST_WORKERS      2                 server.workers
#   LOADTEST_PG_URL       postgres://root@127.0.0.1:5432/postgres   admin connection
#   LOADTEST_PG_OWN       16000             transactions of Clearway's own booking run by pgbench (0: skip; --quick 3200)
#   LOADTEST_SKIP_BUILD   0                 1: use the binary already built
#   LOADTEST_KEEP         0                 1: keep the work directory (logs, request files)
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$QUICK" = 1 ]; then
  d_bookings=400 d_warmup=64 d_baseline=3 d_board=3 d_pg_own=3200
else
  d_bookings=5000 d_warmup=256 d_baseline=10 d_board=8 d_pg_own=16000
fi
BACKENDS=${LOADTEST_BACKENDS:-sqlite,postgres}
CONNS=${LOADTEST_CONNECTIONS:-64}
BOOKINGS=${LOADTEST_BOOKINGS:-$d_bookings}
WARMUP=${LOADTEST_WARMUP:-$d_warmup}
MAX_SECS=${LOADTEST_MAX_SECS:-60}
BASELINE_SECS=${LOADTEST_BASELINE_SECS:-$d_baseline}
BOARD_SECS=${LOADTEST_BOARD_SECS:-$d_board}
POOL_SIZE=${LOADTEST_POOL_SIZE:-8}
WORKERS=${LOADTEST_WORKERS:-2}
PG_ADMIN=${LOADTEST_PG_URL:-postgres://root@127.0.0.1:5432/postgres}
PG_OWN=${LOADTEST_PG_OWN:-$d_pg_own}
THREADS=2
COMPANIES=8
SPREAD_SLOTS=1000
HOT_CAPACITY=10000
SITE_CODE=CNKHG
PASSWORD=Correct-Horse-Battery-9271

if [ "$BOOKINGS" -gt 5000 ]; then
  echo "LOADTEST_BOOKINGS above 5000 would exceed the spread slots' capacity or a company's share" >&2
  exit 2
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LUA=$ROOT/tools/loadtest/replay.lua
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/clearway
WORK=$(mktemp -d "${TMPDIR:-/tmp}/clearway-loadtest.XXXXXX")
RESULTS=$WORK/results
: >"$RESULTS"
RAND=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')

SERVER_PID='' SAMPLER_PID='' WRK_PID=''
# PostgreSQL databases this run created, dropped on exit.
PG_DBS=()
IFS=, read -ra BACKEND_LIST <<<"$BACKENDS"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
# Results are "key value" lines; later lines win.
put() { printf '%s %s\n' "$1" "$2" >>"$RESULTS"; }
get() { awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? "-" : v) }' "$RESULTS"; }

pg_admin() { psql "$PG_ADMIN" -v ON_ERROR_STOP=1 -qAtX -c "$1"; }
pg_url_of() { printf '%s/%s' "${PG_ADMIN%/*}" "$1"; }

cleanup() {
  local rc=$?
  set +e
  [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  for db in "${PG_DBS[@]}"; do
    pg_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || log "could not drop $db"
  done
  if [ "${LOADTEST_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools and build

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is needed ($2)"; }
if ! command -v wrk >/dev/null 2>&1; then
  log "wrk missing: apt-get install -y wrk"
  apt-get install -y wrk >/dev/null || die "could not install wrk"
fi
need curl "HTTP setup"
need jq "reading setup answers"
need python3 "the SQLite commit loop"
case ",$BACKENDS," in *,sqlite,*) need sqlite3 "SQLite invariants" ;; esac
case ",$BACKENDS," in *,postgres,*) need psql "PostgreSQL"; need pgbench "the PostgreSQL baseline" ;; esac

if [ "${LOADTEST_SKIP_BUILD:-0}" != 1 ]; then
  log "cargo build --release --locked"
  (cd "$ROOT" && cargo build --release --locked --bin clearway) || die "build"
fi
[ -x "$BIN" ] || die "no binary at $BIN"
log "work directory $WORK; load average $(cut -d' ' -f1-3 /proc/loadavg)"
put load_start "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"

# ---------------------------------------------------------------- server

PORT='' BASE=''

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# The server's settings: the test profile (loopback only, published secrets),
# bookings allowed right away, 50 days of slots, the public board's per-address
# budget raised from 120/min so that the board load is not answered 429.
# It execs, so that `server_env … &` leaves the server's own pid in $!.
server_env() {
  exec env CLEARWAY_PROFILE=test \
    CLEARWAY__DATABASE__URL="$DB_URL" \
    CLEARWAY__DATABASE__POOL_SIZE="$POOL_SIZE" \
    CLEARWAY__SERVER__HOST=127.0.0.1 \
    CLEARWAY__SERVER__PORT="$PORT" \
    CLEARWAY__SERVER__WORKERS="$WORKERS" \
    CLEARWAY__BOOKING__MIN_NOTICE_MINUTES=0 \
    CLEARWAY__BOOKING__MIN_NOTICE_MINUTES_ADVANCED=0 \
    CLEARWAY__BOOKING__HORIZON_DAYS=60 \
    CLEARWAY__SLOTS__HORIZON_DAYS=50 \
    CLEARWAY__PUBLIC__REQUESTS_PER_MINUTE=60000000 \
    CLEARWAY__LOG__LEVEL=warn \
    "$@"
}

start_server() {
  server_env "$BIN" serve >"$WORK/server-$BACKEND.log" 2>&1 &
  SERVER_PID=$!
  sleep 0.1
  [ "$(readlink "/proc/$SERVER_PID/exe" 2>/dev/null)" = "$(readlink -f "$BIN")" ] ||
    log "warning: pid $SERVER_PID is not the server binary (RSS figures would be wrong)"
  local i
  for i in $(seq 1 100); do
    curl -fsS "$BASE/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited: $(tail -5 "$WORK/server-$BACKEND.log")"
    sleep 0.2
  done
  die "server not ready after 20 s"
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=''
}

# api METHOD PATH TOKEN BODY EXPECTED → the answer's body on stdout.
api() {
  local out code
  out=$(curl -sS -X "$1" "$BASE$2" ${3:+-H "Authorization: Bearer $3"} \
    -H 'Content-Type: application/json' ${4:+--data "$4"} -w '\n%{http_code}')
  code=${out##*$'\n'}
  [ "$code" = "$5" ] || die "$1 $2 answered $code, expected $5: ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}"
}
login() { api POST /api/v1/auth/login '' "{\"email\":\"$1\",\"password\":\"$PASSWORD\"}" 200 | jq -r .access_token; }

# ---------------------------------------------------------------- SQL on the server's database

sql() {
  if [ "$BACKEND" = sqlite ]; then
    sqlite3 -batch -noheader -separator $'\t' "${DB_URL#sqlite://}" "$1"
  else
    psql "$DB_URL" -v ON_ERROR_STOP=1 -qAtX -F $'\t' -c "$1"
  fi
}

# Slots whose booked is not their active bookings, or whose booked + held
# exceeds their capacity.
inconsistent_slots() {
  sql "SELECT count(*) FROM clearance_slots s WHERE s.booked + s.held > s.capacity OR s.booked <> (SELECT count(*) FROM bookings b WHERE b.slot_id = s.id AND b.status IN ('confirmed', 'checked_in'))"
}

# Invariants: every slot's booked = its active bookings and booked + held <=
# capacity; the bookings stored are exactly the 2xx answers so far, each once
# (ACKED holds the ids of every 2xx booking answer of this backend).
check_invariants() {
  local label=$1 bad rows stored dup_acks
  bad=$(inconsistent_slots)
  rows=$(sql "SELECT count(*) FROM bookings")
  dup_acks=$(sort "$ACKED" | uniq -d | wc -l)
  local acked
  acked=$(wc -l <"$ACKED")
  if [ "$BACKEND" = sqlite ]; then
    stored=$(sqlite3 -batch -noheader "${DB_URL#sqlite://}" <<EOF
CREATE TEMP TABLE acked (id TEXT);
.mode tabs
.import $ACKED acked
SELECT count(*) FROM bookings JOIN acked ON acked.id = bookings.id;
EOF
)
  else
    stored=$(psql "$DB_URL" -v ON_ERROR_STOP=1 -qAtX <<EOF
CREATE TEMP TABLE acked (id text);
\\copy acked FROM '$ACKED'
SELECT count(*) FROM bookings JOIN acked USING (id);
EOF
)
  fi
  if [ "$bad" = 0 ] && [ "$rows" = "$acked" ] && [ "$stored" = "$acked" ] && [ "$dup_acks" = 0 ]; then
    log "  invariants after $label: OK ($rows bookings = $acked 2xx answers, each stored once; slots consistent)"
  else
    log "  invariants after $label: VIOLATED (slots inconsistent: $bad; bookings $rows; 2xx answers $acked; answers found stored $stored; ids acknowledged twice $dup_acks)"
    put "inv_$BACKEND" VIOLATED
  fi
}

# ---------------------------------------------------------------- wrk replay

# replay NAME LINES FIELDS: sends every request of LINES once over CONNS
# connections; per-answer rows in $WORK/NAME.out (status + FIELDS), wrk's
# report in $WORK/NAME.wrk, its "LT" figures as NAME_<key> results.
replay() {
  local name=$1 lines=$2 fields=$3 i
  rm -f "$WORK/$name".out.*
  LT_LINES=$lines LT_OUT=$WORK/$name.out LT_FIELDS=$fields LT_THREADS=$THREADS \
    wrk -t"$THREADS" -c"$CONNS" -d"${MAX_SECS}s" --timeout 30s --latency -s "$LUA" "$BASE" \
    >"$WORK/$name.wrk" 2>&1 &
  WRK_PID=$!
  # Polled with shell builtins and one `sleep` a tenth of a second: the
  # machine measured is this one, and a poll that forks find and wc twenty
  # times a second took about 6% of its CPU from the server measured (the
  # rate is counted from the first request to the last answer, not to wrk's end).
  local finished
  for i in $(seq 1 $((MAX_SECS * 10))); do
    kill -0 "$WRK_PID" 2>/dev/null || break
    finished=("$WORK/$name".out.done.*)
    if [ -e "${finished[0]}" ] && [ "${#finished[@]}" -ge "$THREADS" ]; then
      kill -INT "$WRK_PID" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$WRK_PID" || true
  WRK_PID=''
  grep -q '^LT sent=' "$WORK/$name.wrk" || die "wrk $name: $(tail -5 "$WORK/$name.wrk")"
  local kv
  sed -n 's/^LT //p' "$WORK/$name.wrk" | tr ' ' '\n' | while IFS='=' read -r k v; do put "${name}_$k" "$v"; done
  cat "$WORK/$name".out.[0-9]* >"$WORK/$name.answers" 2>/dev/null || : >"$WORK/$name.answers"
  if [ "$(get "${name}_sent")" != "$(get "${name}_answered")" ]; then
    log "  $name: $(get "${name}_sent") sent but $(get "${name}_answered") answered within ${MAX_SECS} s (raise LOADTEST_MAX_SECS)"
  fi
}

statuses_of() { sed -n 's/^LT status_\([0-9]*\)=\([0-9]*\)$/\1:\2/p' "$WORK/$1.wrk" | sort | paste -sd' ' -; }

# ---------------------------------------------------------------- RSS

# Samples the server's VmRSS (kB) every 0.5 s into $WORK/rss.<tag>.
start_sampler() {
  local pid=$SERVER_PID file=$WORK/rss.$1
  (
    while [ -r "/proc/$pid/status" ]; do
      awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true
      sleep 0.5
    done
  ) >"$file" &
  SAMPLER_PID=$!
}
stop_sampler() {
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=''
}
rss_now() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
max_rss_mib() { sort -n "$WORK/rss.$1" | tail -1 | awk '{ printf "%.1f", $1 / 1024 }'; }

# ---------------------------------------------------------------- one backend

run_backend() {
  BACKEND=$1
  log "== $BACKEND"
  if [ "$BACKEND" = sqlite ]; then
    DB_URL=sqlite://$WORK/clearway.db
  else
    local db=clearway_load_$RAND
    pg_admin "CREATE DATABASE $db" >/dev/null
    PG_DBS+=("$db")
    DB_URL=$(pg_url_of "$db")
  fi
  ACKED=$WORK/acked.$BACKEND
  : >"$ACKED"

  # --- setup, not measured
  local t0=$SECONDS
  PORT=$(free_port)
  BASE=http://127.0.0.1:$PORT
  printf '%s\n' "$PASSWORD" | (server_env "$BIN" create-supervisor --email supervisor@load.test \
    --display-name 'Load Supervisor') >/dev/null || die "create-supervisor"
  start_server
  put "rss_start_$BACKEND" "$(rss_now VmRSS)"
  local sup officer site
  sup=$(login supervisor@load.test)
  api POST /api/v1/officers "$sup" \
    "{\"email\":\"officer@load.test\",\"password\":\"$PASSWORD\",\"display_name\":\"Load Officer\",\"role\":\"officer\"}" 201 >/dev/null
  officer=$(login officer@load.test)
  site=$(api POST /api/v1/sites "$sup" \
    "{\"code\":\"$SITE_CODE\",\"name\":\"Kashgar load zone\",\"timezone\":\"Asia/Urumqi\",\"modes\":[\"road\",\"rail\"]}" 201 | jq -r .id)
  api POST "/api/v1/sites/$site/schedules" "$sup" '{"mode":"road","slot_minutes":60,"capacity":10}' 201 >/dev/null

  # Companies: "enterprise_id token" per line.
  local c reg ent tokens=$WORK/tokens.$BACKEND
  : >"$tokens"
  for c in $(seq 0 $((COMPANIES - 1))); do
    reg=$(api POST /api/v1/auth/register '' "{\"enterprise\":{\"name\":\"Load Trading $c GmbH\",\"country\":\"DE\",\"registration_code\":\"DE$(printf '%012d' $((4711 + c)))\"},\"admin\":{\"email\":\"admin$c@company$c.load.test\",\"password\":\"$PASSWORD\",\"display_name\":\"Admin $c\"}}" 201)
    ent=$(jq -r .enterprise.id <<<"$reg")
    api POST "/api/v1/enterprises/$ent/verify" "$officer" '{}' 200 >/dev/null
    printf '%s %s\n' "$ent" "$(login "admin$c@company$c.load.test")" >>"$tokens"
  done

  # Declarations: one per booking to come, companies in turn; created, then submitted.
  local ndecl=$((WARMUP + 2 * BOOKINGS + 2 * COMPANIES))
  local body
  body=$(jq -c --arg site "$site" '.site_id = $site' "$ROOT/tools/loadtest/declaration.json")
  awk -v n="$ndecl" -v body="$body" '{ tok[NR - 1] = $2 } END {
      for (k = 0; k < n; k++) printf "POST\t/api/v1/declarations\tBearer %s\t-\t%s\n", tok[k % NR], body }' \
    "$tokens" >"$WORK/decl-create.lines"
  replay "decl_create_$BACKEND" "$WORK/decl-create.lines" id,enterprise_id
  [ "$(get "decl_create_${BACKEND}_ok")" = "$ndecl" ] ||
    die "declarations: $(statuses_of "decl_create_$BACKEND"), expected $ndecl × 201"
  awk 'NR == FNR { tok[$1] = $2; next } $1 == 201 {
      printf "POST\t/api/v1/declarations/%s/submit\tBearer %s\t-\t{}\n", $2, tok[$3] }' \
    "$tokens" "$WORK/decl_create_$BACKEND.answers" >"$WORK/decl-submit.lines"
  replay "decl_submit_$BACKEND" "$WORK/decl-submit.lines" id,enterprise_id
  [ "$(get "decl_submit_${BACKEND}_ok")" = "$ndecl" ] ||
    die "submitting declarations: $(statuses_of "decl_submit_$BACKEND")"
  put "setup_decl_rate_$BACKEND" "$(get "decl_create_${BACKEND}_rate")"
  # Per company, its submitted declarations: "enterprise_id declaration_id".
  awk '$1 == 200 { print $3, $2 }' "$WORK/decl_submit_$BACKEND.answers" >"$WORK/decls.$BACKEND"

  # Future slots in start order, at least 30 minutes ahead.
  local slots=$WORK/slots.$BACKEND
  if [ "$BACKEND" = sqlite ]; then
    sql "SELECT id FROM clearance_slots WHERE site_id = '$site' AND mode = 'road' AND starts_at > strftime('%Y-%m-%d %H:%M:%S', 'now', '+30 minutes') ORDER BY starts_at" >"$slots"
  else
    sql "SELECT id FROM clearance_slots WHERE site_id = '$site' AND mode = 'road' AND starts_at > (now() AT TIME ZONE 'UTC') + interval '30 minutes' ORDER BY starts_at" >"$slots"
    # As pgbench does before it measures (and benches/load.rs): statistics, visibility maps, a checkpoint.
    sql "VACUUM ANALYZE" >/dev/null
    sql "CHECKPOINT" >/dev/null
  fi
  [ "$(wc -l <"$slots")" -ge $((SPREAD_SLOTS + 2 + 64)) ] || die "only $(wc -l <"$slots") future slots"
  # Dirty pages of the setup (and of an earlier backend's run) would be
  # written back during the measured runs, beside their own fsyncs: on this
  # kind of VM that took a third off PostgreSQL's rate when it ran after SQLite.
  sync
  put "setup_secs_$BACKEND" $((SECONDS - t0))
  log "  setup: $ndecl submitted declarations, $COMPANIES companies, $(wc -l <"$slots") slots in $((SECONDS - t0)) s (declarations created at $(get "decl_create_${BACKEND}_rate")/s)"
  put "rss_idle_$BACKEND" "$(rss_now VmRSS)"

  # Booking requests: job k of a run goes to slot (offset + k mod span) for company
  # (round + k) mod 8, with the next unused declaration of that company and a key of its own.
  # With span 1,000 (a multiple of 8) a slot sees one company per run, at most
  # ceil(BOOKINGS / 1000) <= 5 times: within its capacity (10) and a company's share (50%).
  local used=$WORK/used.$BACKEND
  : >"$used"
  booking_lines() { # NAME COUNT OFFSET SPAN ROUND → $WORK/NAME.lines
    awk -v n="$2" -v off="$3" -v span="$4" -v round="$5" -v run="$1" -v nc="$COMPANIES" '
      FILENAME == ARGV[1] { tok[NR - 1] = $2; ent[NR - 1] = $1; next }
      FILENAME == ARGV[2] { usedid[$1] = 1; next }
      FILENAME == ARGV[3] { slot[FNR - 1] = $1; next }
      !($2 in usedid) { q[$1, cnt[$1]++] = $2 }
      END {
        for (k = 0; k < n; k++) {
          c = (round + k) % nc; e = ent[c]
          if (taken[e] >= cnt[e]) { print "out of declarations for " e > "/dev/stderr"; exit 1 }
          d = q[e, taken[e]++]
          printf "POST\t/api/v1/bookings\tBearer %s\tload-%s-%d\t{\"declaration_id\":\"%s\",\"slot_id\":\"%s\"}\n",
            tok[c], run, k, d, slot[off + k % span] > (run ".lines")
          print d > (run ".used")
        }
      }' "$tokens" "$used" "$slots" "$WORK/decls.$BACKEND"
    cat "$1.used" >>"$used"
  }
  book() { # NAME LABEL: replay NAME.lines, record the 2xx ids, check the invariants
    replay "$1" "$WORK/$1.lines" id
    awk '$1 >= 200 && $1 < 300 { print $2 }' "$WORK/$1.answers" >>"$ACKED"
    log "  $2: $(get "$1_ok") × 2xx of $(get "$1_sent") at $(get "$1_rate")/s, p50 $(get "$1_p50_ms") ms, p99 $(get "$1_p99_ms") ms; statuses $(statuses_of "$1")"
    check_invariants "$2"
  }
  local nslots
  nslots=$(wc -l <"$slots")
  (cd "$WORK" && booking_lines "warm_$BACKEND" "$WARMUP" $((SPREAD_SLOTS + 2)) $((nslots - SPREAD_SLOTS - 2)) 0)
  book "warm_$BACKEND" "warm-up ($WARMUP bookings)"

  # --- A: spread over 1,000 slots
  (cd "$WORK" && booking_lines "A_$BACKEND" "$BOOKINGS" 0 "$SPREAD_SLOTS" 0)
  start_sampler "$BACKEND"
  book "A_$BACKEND" "A ($BOOKINGS bookings over $SPREAD_SLOTS slots, $CONNS connections)"

  # --- B: one hot slot, capacity raised by an officer
  local hot
  hot=$(sed -n "$((SPREAD_SLOTS + 1))p" "$slots")
  api PATCH "/api/v1/slots/$hot" "$officer" "{\"capacity\":$HOT_CAPACITY}" 200 >/dev/null
  (cd "$WORK" && booking_lines "B_$BACKEND" "$BOOKINGS" "$SPREAD_SLOTS" 1 0)
  book "B_$BACKEND" "B ($BOOKINGS bookings onto one slot of capacity $HOT_CAPACITY)"
  stop_sampler
  put "rss_max_$BACKEND" "$(max_rss_mib "$BACKEND")"

  # --- the public board (one site-day) against /health/live
  local from to
  from=$(date -u -d 'tomorrow 00:00' +%Y-%m-%dT%H:%M:%SZ)
  to=$(date -u -d 'tomorrow 00:00 + 1 day' +%Y-%m-%dT%H:%M:%SZ)
  local board_path="/api/v1/public/sites/$SITE_CODE/availability?mode=road&from=$from&to=$to"
  api GET "$board_path" '' '' 200 | jq -e '.' >/dev/null
  start_sampler "board_$BACKEND"
  plain_wrk health "$BACKEND" /health/live
  plain_wrk board "$BACKEND" "$board_path"
  stop_sampler
  put "rss_board_$BACKEND" "$(max_rss_mib "board_$BACKEND")"
  log "  board: $(get "board_rate_$BACKEND")/s (p99 $(get "board_p99_$BACKEND")), /health/live $(get "health_rate_$BACKEND")/s; non-2xx board $(get "board_non2xx_$BACKEND"), health $(get "health_non2xx_$BACKEND")"
  check_invariants "the board"
  [ "$(get "inv_$BACKEND")" = VIOLATED ] || put "inv_$BACKEND" OK
  put "rss_end_$BACKEND" "$(rss_now VmRSS)"
  put "rss_hwm_$BACKEND" "$(rss_now VmHWM)"
  stop_server
  log "  server log: $(grep -c . "$WORK/server-$BACKEND.log") lines ($(grep -ci 'error' "$WORK/server-$BACKEND.log") mention an error)"
  if [ "$BACKEND" = postgres ] && [ "$PG_OWN" -gt 0 ]; then pg_own_transaction "$slots"; fi
}

# pg_own_transaction SLOTS: Clearway's booking transaction run by pgbench
# (CONNS clients, PG_OWN transactions in all) in the server's database,
# on the first 1,000 slots of SLOTS; then the slots' counts are checked.
pg_own_transaction() {
  local per=$((PG_OWN / CONNS)) out=$WORK/pgbench-own.txt spread
  [ "$per" -ge 1 ] || per=1
  spread=$(head -n "$SPREAD_SLOTS" "$1" | paste -sd, -)
  psql "$DB_URL" -v ON_ERROR_STOP=1 -qAtX -v clients="$CONNS" -v per_client="$per" -v slots="$spread" \
    -f "$ROOT/tools/loadtest/pgbench_clearway_setup.sql" >/dev/null || die "pgbench_clearway_setup.sql"
  PGOPTIONS='-c plan_cache_mode=force_generic_plan -c TimeZone=UTC' \
    pgbench -n -M prepared -c "$CONNS" -j "$THREADS" -t "$per" -D n=0 \
    -f "$ROOT/tools/loadtest/pgbench_clearway.sql" "$DB_URL" >"$out" 2>&1 || die "pgbench own: $(tail -3 "$out")"
  put pgbench_own "$(awk '/^tps = / { printf "%.0f", $3 }' "$out")"
  local made bad
  made=$(sql "SELECT count(*) FROM bookings WHERE id LIKE 'pgb-%'")
  bad=$(inconsistent_slots)
  [ "$made" = $((per * CONNS)) ] && [ "$bad" = 0 ] ||
    die "pgbench own: $made bookings of $((per * CONNS)), $bad slots inconsistent"
  log "  Clearway's booking transaction alone (pgbench, $((per * CONNS)) bookings): $(get pgbench_own) tx/s; slots consistent"
}

# plain_wrk NAME BACKEND PATH: BOARD_SECS of GETs, wrk's own figures.
plain_wrk() {
  local out=$WORK/$1-$2.wrk
  wrk -t"$THREADS" -c"$CONNS" -d"${BOARD_SECS}s" --latency "$BASE$3" >"$out" 2>&1 || die "wrk $1: $(tail -3 "$out")"
  put "$1_rate_$2" "$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
  put "$1_p99_$2" "$(awk '$1 == "99%" { print $2 }' "$out")"
  put "$1_non2xx_$2" "$(awk '/Non-2xx/ { n = $NF } END { print n + 0 }' "$out")"
}

# ---------------------------------------------------------------- the databases alone

pg_baseline() {
  local db=clearway_load_${RAND}_pgbench
  pg_admin "CREATE DATABASE $db" >/dev/null
  PG_DBS+=("$db")
  local url
  url=$(pg_url_of "$db")
  psql "$url" -v ON_ERROR_STOP=1 -qAtX -f "$ROOT/tools/loadtest/pg_schema.sql" >/dev/null
  local v out
  for v in spread hot; do
    out=$WORK/pgbench-$v.txt
    pgbench -n -c "$CONNS" -j "$THREADS" -T "$BASELINE_SECS" -f "$ROOT/tools/loadtest/pgbench_$v.sql" "$url" >"$out" 2>&1 ||
      die "pgbench $v: $(tail -3 "$out")"
    put "pgbench_$v" "$(awk '/^tps = / { printf "%.0f", $3 }' "$out")"
    put "pgbench_${v}_lat" "$(awk '/^latency average/ { print $4 }' "$out")"
    log "  pgbench $v: $(get "pgbench_$v") tx/s (latency average $(get "pgbench_${v}_lat") ms)"
  done
  # The guard kept every slot within its capacity, and each booking has its audit row.
  psql "$url" -qAtX -c "SELECT count(*) FILTER (WHERE booked > capacity) || ' over, ' || sum(booked) || ' booked, ' || (SELECT count(*) FROM bookings) || ' bookings, ' || (SELECT count(*) FROM audit_events) || ' audit rows' FROM slots" >"$WORK/pgbench-check.txt"
  log "  pgbench tables after: $(cat "$WORK/pgbench-check.txt")"
  pg_admin "DROP DATABASE $db WITH (FORCE)" >/dev/null
}

sqlite_baseline() {
  local out=$WORK/sqlite-raw.txt
  python3 "$ROOT/tools/loadtest/sqlite_commits.py" "$WORK/raw.db" "$BASELINE_SECS" >"$out" || die "sqlite loop"
  put sqlite_raw "$(awk '$1 == "rate" { print $2 }' "$out")"
  log "  SQLite commit loop: $(get sqlite_raw) tx/s ($(awk '$1 == "detail" { $1 = ""; print }' "$out"))"
}

# ---------------------------------------------------------------- run

START=$SECONDS
for b in "${BACKEND_LIST[@]}"; do
  case "$b" in
    sqlite | postgres) run_backend "$b" ;;
    *) die "unknown backend $b" ;;
  esac
done
log "== the databases alone ($BASELINE_SECS s per variant)"
case ",$BACKENDS," in *,postgres,*) pg_baseline ;; esac
case ",$BACKENDS," in *,sqlite,*) sqlite_baseline ;; esac
put load_end "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"

# ---------------------------------------------------------------- summary

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
met() { if [ "$1" = 1 ]; then echo MET; else echo "NOT MET"; fi; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && b != "-" && a + 0 >= b + 0) }'; }

echo
echo "Clearway load test (tools/loadtest.sh): $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $CONNS connections, $BOOKINGS bookings per scenario"
echo "load average at start $(get load_start), at end $(get load_end); run took $((SECONDS - START)) s after the build"
echo
printf '| %-10s | %-18s | %10s | %8s | %8s | %14s | %8s | %s\n' backend scenario bookings/s "p50 ms" "p99 ms" "DB alone tx/s" ratio statuses
printf '|%s|\n' "------------|--------------------|------------|----------|----------|----------------|----------|----------"
for b in "${BACKEND_LIST[@]}"; do
  for s in A B; do
    if [ "$b" = postgres ]; then
      base=$(get "pgbench_$([ $s = A ] && echo spread || echo hot)")
    else base=$(get sqlite_raw); fi
    printf '| %-10s | %-18s | %10s | %8s | %8s | %14s | %8s | %s\n' "$b" \
      "$([ $s = A ] && echo "A: 1,000 slots" || echo "B: one hot slot")" \
      "$(get "${s}_${b}_rate")" "$(get "${s}_${b}_p50_ms")" "$(get "${s}_${b}_p99_ms")" "$base" \
      "$(ratio "$(get "${s}_${b}_rate")" "$base")" "$(statuses_of "${s}_$b")"
  done
done
echo
for b in "${BACKEND_LIST[@]}"; do
  echo "$b: RSS max $(get "rss_max_$b") MiB during the booking runs (at start $(get "rss_start_$b"), after setup and sign-ins $(get "rss_idle_$b"), max during the board $(get "rss_board_$b"), at the end $(get "rss_end_$b"), peak VmHWM $(get "rss_hwm_$b")); board $(get "board_rate_$b")/s (p99 $(get "board_p99_$b")) vs /health/live $(get "health_rate_$b")/s = $(ratio "$(get "board_rate_$b")" "$(get "health_rate_$b")"); setup $(get "setup_secs_$b") s; invariants $(get "inv_$b")"
done
echo
echo "Goals:"
for b in "${BACKEND_LIST[@]}"; do
  if [ "$b" = postgres ]; then
    a=$(get A_postgres_rate) p99=$(get A_postgres_p99_ms) spread=$(get pgbench_spread)
    ok=0
    ge "$a" "$(awk -v s="$spread" 'BEGIN { print (s == "-" ? "-" : 0.7 * s) }')" && ge 100 "$p99" && ok=1
    echo "  PostgreSQL spread >= 0.7 x pgbench spread ($a vs $spread, ratio $(ratio "$a" "$spread")) with p99 <= 100 ms ($p99): $(met $ok)"
    echo "  (for comparison, not a goal: A against Clearway's own booking transaction in pgbench, $a vs $(get pgbench_own): ratio $(ratio "$a" "$(get pgbench_own)"); that transaction against the minimal one: $(ratio "$(get pgbench_own)" "$spread"))"
    ok=0
    ge "$(get B_postgres_rate)" "$(get pgbench_hot)" && ok=1
    echo "  PostgreSQL hot >= pgbench hot ($(get B_postgres_rate) vs $(get pgbench_hot)): $(met $ok)"
  else
    ok=0
    ge "$(get A_sqlite_rate)" "$(get sqlite_raw)" && ge "$(get B_sqlite_rate)" "$(get sqlite_raw)" && ok=1
    echo "  SQLite >= 1.0 x raw commit rate (A $(get A_sqlite_rate), B $(get B_sqlite_rate) vs $(get sqlite_raw)): $(met $ok)"
  fi
done
for b in "${BACKEND_LIST[@]}"; do
  ok=0
  ge 64 "$(get "rss_max_$b")" && ge 64 "$(get "rss_board_$b")" && ok=1
  echo "  RSS <= 64 MiB on $b (max $(get "rss_max_$b") / $(get "rss_board_$b") MiB): $(met $ok)"
  ok=0
  ge "$(get "board_rate_$b")" "$(awk -v h="$(get "health_rate_$b")" 'BEGIN { print (h == "-" ? "-" : 0.25 * h) }')" && ok=1
  echo "  board >= 0.25 x /health/live on $b ($(ratio "$(get "board_rate_$b")" "$(get "health_rate_$b")")): $(met $ok)"
  ok=0
  [ "$(get "inv_$b")" = OK ] && ok=1
  echo "  invariants on $b: $(met $ok)"
done
