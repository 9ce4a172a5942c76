#!/usr/bin/env bash
# End-to-end tests of the web console in headless Chromium.
#
# Starts target/debug/clearway (test profile, fresh SQLite file, free port),
# bootstraps a supervisor with `clearway create-supervisor`, then runs each
# *.e2e.mjs file (console.e2e.mjs: customs set-up through the API and the whole
# company/officer flow in the browser), saving screenshots to docs/screenshots/. Exits non-zero on any failure; the last
# line is "N passed, N failed".
#
# Installs what it needs when absent: Debian's chromium, playwright-core (npm ci).
set -uo pipefail

E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$E2E_DIR/../.." && pwd)"
BIN="$ROOT/target/debug/clearway"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

fail() {
  echo "e2e: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

# ---- tools -------------------------------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
  echo "== installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y chromium >/tmp/clearway-e2e-apt.log 2>&1; then
    apt-get update >>/tmp/clearway-e2e-apt.log 2>&1
    apt-get install -y chromium >>/tmp/clearway-e2e-apt.log 2>&1 || { tail -20 /tmp/clearway-e2e-apt.log; fail "could not install chromium"; }
  fi
fi
# A font with Chinese characters, so that the Chinese console (i18n.e2e.mjs,
# docs/screenshots/19-console-zh.png) is drawn as text, not as empty boxes.
if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh 2>/dev/null | head -n1)" ]; then
  echo "== installing a Chinese font (Debian's fonts-wqy-zenhei)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y fonts-wqy-zenhei >>/tmp/clearway-e2e-apt.log 2>&1 \
    || { apt-get update >>/tmp/clearway-e2e-apt.log 2>&1 && apt-get install -y fonts-wqy-zenhei >>/tmp/clearway-e2e-apt.log 2>&1; } \
    || echo "e2e: no Chinese font could be installed; the Chinese screenshot will show boxes" >&2
fi
command -v node >/dev/null || fail "node is not installed"
if [ ! -f "$E2E_DIR/node_modules/playwright-core/package.json" ]; then
  echo "== npm ci (playwright-core)"
  (cd "$E2E_DIR" && npm ci --no-audit --no-fund) || fail "npm ci failed"
fi

# ---- the binary: build it when missing or older than the sources -------------
if [ ! -x "$BIN" ] || [ -n "$(find "$ROOT/src" "$ROOT/web" "$ROOT/migrations" "$ROOT/config" "$ROOT/Cargo.toml" -newer "$BIN" -print -quit 2>/dev/null)" ]; then
  echo "== cargo build"
  (cd "$ROOT" && cargo build --bin clearway) || fail "cargo build failed"
fi

# ---- a fresh server ------------------------------------------------------------
WORK="$(mktemp -d -t clearway-e2e-XXXXXX)"
PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export CLEARWAY_PROFILE=test
export CLEARWAY__SERVER__HOST=127.0.0.1
export CLEARWAY__SERVER__PORT="$PORT"
export CLEARWAY__DATABASE__URL="sqlite://$WORK/clearway.db"
export CLEARWAY__LOG__LEVEL=warn
# The test books slots at least two hours ahead (the minimum notice) and then
# checks the trucks in at once: the arrival window (a setting, default 30 min
# before the slot) opens a day before here, unless the caller sets it.
export CLEARWAY__BOOKING__ARRIVAL_EARLY_MINUTES="${CLEARWAY__BOOKING__ARRIVAL_EARLY_MINUTES:-1440}"
# Every file registers its own companies from 127.0.0.1 against one server:
# more than the 20 registrations an hour one address gets by default.
export CLEARWAY__AUTH__REGISTRATIONS_PER_HOUR="${CLEARWAY__AUTH__REGISTRATIONS_PER_HOUR:-1000}"

SUPERVISOR_EMAIL="chief@customs.e2e.test"
SUPERVISOR_PASSWORD="Kashgar-Gate-Secret-$$-$RANDOM"
printf '%s\n' "$SUPERVISOR_PASSWORD" | "$BIN" create-supervisor --email "$SUPERVISOR_EMAIL" >"$WORK/create-supervisor.log" 2>&1 \
  || { cat "$WORK/create-supervisor.log"; fail "create-supervisor failed"; }

"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
cleanup() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

BASE_URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  if node -e "fetch('$BASE_URL/health/ready').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"; then
    ready=1
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.2
done
if [ "${ready:-0}" != 1 ]; then
  tail -50 "$WORK/server.log"
  fail "the server did not become ready on $BASE_URL"
fi
echo "== clearway on $BASE_URL ($WORK)"

mkdir -p "$ROOT/docs/screenshots"
# Every *.e2e.mjs file in turn against this server (each sets up its own
# companies and sites, so the order does not matter); E2E_ONLY=name runs one.
status=0
total_passed=0
total_failed=0
for file in "$E2E_DIR"/*.e2e.mjs; do
  name="$(basename "$file" .e2e.mjs)"
  if [ -n "${E2E_ONLY:-}" ] && [ "$name" != "$E2E_ONLY" ]; then continue; fi
  echo "== $name"
  BASE_URL="$BASE_URL" SUPERVISOR_EMAIL="$SUPERVISOR_EMAIL" SUPERVISOR_PASSWORD="$SUPERVISOR_PASSWORD" \
    CHROMIUM="$CHROMIUM" SCREENSHOT_DIR="$ROOT/docs/screenshots" ARTIFACT_DIR="${E2E_ARTIFACTS:-$ROOT/target/e2e}/$name" \
    node "$file" | tee "$WORK/$name.out"
  file_status=${PIPESTATUS[0]}
  [ "$file_status" != 0 ] && status=1
  summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$WORK/$name.out" | tail -n1)"
  [ -z "$summary" ] && { status=1; total_failed=$((total_failed + 1)); continue; }
  total_passed=$((total_passed + $(echo "$summary" | cut -d' ' -f1)))
  total_failed=$((total_failed + $(echo "$summary" | cut -d' ' -f3)))
done
echo "all files: $total_passed passed, $total_failed failed"
if [ "$status" != 0 ]; then
  echo "== server log (last 40 lines)"
  tail -40 "$WORK/server.log"
fi
exit "$status"
