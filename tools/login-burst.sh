#!/usr/bin/env bash
# Peak resident memory of the release binary under a burst of concurrent
# logins that each reach the password hash (SPEC "Security and abuse": at
# most 200 MiB for 300). Starts its own server (test profile, a fresh SQLite
# database in a temporary folder), trusts 127.0.0.1 as a proxy so that each
# login can come from its own X-Forwarded-For address (as many clients
# behind a proxy would), sends N logins at once, each for its own unknown
# email (so no throttle budget stops any of them before the hash), and
# prints the answers and the process's resident memory before and at peak
# (VmHWM from /proc).
#
#   cargo build --release && tools/login-burst.sh          # 300 logins, default queue
#   N=300 HASH_QUEUE=400 tools/login-burst.sh              # every login waits for the hash
#   ROUNDS=3 tools/login-burst.sh                          # the burst three times
#
# Environment (all optional): N (300), ROUNDS (1), HASH_QUEUE (auth.hash_queue,
# default from the config: 64), HASHES (auth.max_concurrent_hashes, 2),
# PORT (18181), CLEARWAY_BIN (target/release/clearway).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${CLEARWAY_BIN:-${CARGO_TARGET_DIR:-target}/release/clearway}
N=${N:-300}
ROUNDS=${ROUNDS:-1}
PORT=${PORT:-18181}
[ -x "$BIN" ] || { echo "no release binary at $BIN: cargo build --release" >&2; exit 2; }
WORK=$(mktemp -d)
export CLEARWAY_PROFILE=test CLEARWAY__SERVER__HOST=127.0.0.1 CLEARWAY__SERVER__PORT="$PORT" \
  CLEARWAY__DATABASE__URL="sqlite://$WORK/burst.db" CLEARWAY__SERVER__TRUSTED_PROXIES=127.0.0.1 \
  CLEARWAY__LOG__LEVEL=warn CLEARWAY__WEBHOOKS__WORKER_ENABLED=false
[ -n "${HASH_QUEUE:-}" ] && export CLEARWAY__AUTH__HASH_QUEUE="$HASH_QUEUE"
[ -n "${HASHES:-}" ] && export CLEARWAY__AUTH__MAX_CONCURRENT_HASHES="$HASHES"
"$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
rss() { awk -v k="$1" '$1 == k":" {printf "%.1f MiB", $2 / 1024}' "/proc/$PID/status"; }
echo "server pid $PID; resident before: $(rss VmRSS)"
for round in $(seq "$ROUNDS"); do
  python3 - "$PORT" "$N" "$round" <<'PY'
import http.client, json, sys, threading, time, collections
port, n, rnd = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
barrier = threading.Barrier(n)
results, times = collections.Counter(), []
lock = threading.Lock()
def one(i):
    body = json.dumps({"email": f"burst{rnd}-{i}@example.com", "password": "Wrong-Password-000"})
    headers = {"Content-Type": "application/json", "X-Forwarded-For": f"10.{rnd}.{i // 250}.{i % 250 + 1}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.connect()
    barrier.wait()
    t = time.monotonic()
    try:
        conn.request("POST", "/api/v1/auth/login", body, headers)
        status = conn.getresponse().status
    except Exception as e:
        status = type(e).__name__
    with lock:
        results[status] += 1
        times.append(time.monotonic() - t)
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
times.sort()
print(f"round {rnd}: {n} logins at once: {dict(results)}; "
      f"answer times p50 {times[len(times)//2]:.2f} s, max {times[-1]:.2f} s")
PY
  echo "  resident now: $(rss VmRSS); peak so far (VmHWM): $(rss VmHWM)"
done
sleep 2
echo "after 2 s idle: resident $(rss VmRSS); peak (VmHWM) $(rss VmHWM)"
