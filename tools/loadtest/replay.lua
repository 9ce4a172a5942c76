-- wrk script for tools/loadtest.sh: replays pre-generated requests, each once.
--
-- LT_LINES: a file of requests, one a line, tab-separated:
--   METHOD  PATH  AUTHORIZATION  IDEMPOTENCY-KEY  BODY   ("-" = none)
-- Thread t of LT_THREADS takes lines t, t+n, t+2n, … (its own offset), so no
-- request is sent twice. When a thread has sent all of its lines its
-- connections go idle (an empty request), and once every request it sent is
-- answered it stops and writes LT_OUT.done.<t>; the shell then ends wrk early
-- (SIGINT) instead of waiting for -d, which only bounds a slow run.
-- LT_OUT.<t>: one line per answer: status, then the JSON fields named in
-- LT_FIELDS (comma-separated, e.g. "id,enterprise_id"), tab-separated.
-- done() prints "LT key=value" lines for the shell: statuses, requests sent
-- and answered, the rate of 2xx answers between the first request and the
-- last answer (wrk's own Requests/sec would include the idle tail).

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } lt_timespec;
  int clock_gettime(int clk_id, lt_timespec *tp);
]]
local ts = ffi.new("lt_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: shared by the threads
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

local reqs, i = {}, 0
-- wrk (4.x) calls thread 0's request() once before the run to check the
-- request it builds (script_verify_request); that request is never sent, so
-- thread 0 answers that first call without taking a line.
local verified = false
sent, answered, t_first, t_last, exhausted = 0, 0, 0, 0, false
statuses = {}
local out, fields = nil, {}

function init(args)
  local n = tonumber(os.getenv("LT_THREADS") or "1")
  local k = 0
  for line in io.lines(os.getenv("LT_LINES")) do
    if k % n == tid then
      local method, path, auth, key, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {}
      if auth ~= "-" then headers["Authorization"] = auth end
      if key ~= "-" then headers["Idempotency-Key"] = key end
      if body ~= "-" then headers["Content-Type"] = "application/json" else body = nil end
      reqs[#reqs + 1] = wrk.format(method, path, headers, body)
    end
    k = k + 1
  end
  for f in (os.getenv("LT_FIELDS") or ""):gmatch("[^,]+") do
    fields[#fields + 1] = '"' .. f .. '"%s*:%s*"([^"]*)"'
  end
  if os.getenv("LT_OUT") then
    out = io.open(os.getenv("LT_OUT") .. "." .. tid, "w")
  end
end

local function finish()
  if out then out:close(); out = nil end
  local f = io.open(os.getenv("LT_OUT") .. ".done." .. tid, "w")
  if f then f:close() end
  wrk.thread:stop()
end

function request()
  if tid == 0 and not verified then
    verified = true
    return reqs[1] or wrk.format("GET", "/health/live")
  end
  if i < #reqs then
    i = i + 1
    if sent == 0 then t_first = now() end
    sent = sent + 1
    return reqs[i]
  end
  if not exhausted then
    exhausted = true
    if answered == sent then finish() end
  end
  return "" -- nothing more to send: this connection idles
end

function response(status, headers, body)
  answered = answered + 1
  t_last = now()
  statuses[status] = (statuses[status] or 0) + 1
  if out then
    local row = { tostring(status) }
    for _, pat in ipairs(fields) do row[#row + 1] = (body and body:match(pat)) or "-" end
    out:write(table.concat(row, "\t"), "\n")
  end
  if exhausted and answered == sent then finish() end
end

function done(summary, latency, requests)
  local total, first, last = {}, nil, 0
  local s, a = 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("sent")
    a = a + t:get("answered")
    local f, l = t:get("t_first"), t:get("t_last")
    if t:get("sent") > 0 then
      if not first or f < first then first = f end
      if l > last then last = l end
    end
    for code, n in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + n end
  end
  local ok, other = 0, 0
  for code, n in pairs(total) do
    io.write(string.format("LT status_%d=%d\n", code, n))
    if code >= 200 and code < 300 then ok = ok + n else other = other + n end
  end
  local elapsed = (first and last > first) and (last - first) or 0
  io.write(string.format("LT sent=%d answered=%d ok=%d other=%d elapsed=%.3f rate=%.1f\n",
    s, a, ok, other, elapsed, elapsed > 0 and ok / elapsed or 0))
  io.write(string.format("LT p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
