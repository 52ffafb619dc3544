-- bench/notify.lua: wrk script of bench/notify.sh. Every request POSTs one
-- provider notification, pre-signed by bench/notify.sh (bench/notify_sign.c),
-- to /pay/notify/alipay as Alipay would (a form body); an answer counts as
-- acknowledged when it is 200 with the body "success".
--
-- Environment (set by bench/notify.sh):
--   BENCH_BODIES       file with one form body per line (notification i on line i+1)
--   BENCH_CURSOR       index of the first notification of this run
--   BENCH_THREADS      wrk threads (-t) of this run
--   BENCH_CONNECTIONS  wrk connections (-c) of this run
-- Thread t (1..T) sends notifications cursor + (t-1) + j*T (mod the number of
-- bodies), j = 0, 1, ...: the threads never send the same one in a run
-- unless the run wraps around the file.
--
-- done() prints one line that bench/notify.sh reads:
--   notify: success=N other=M s5xx=.. errors=.. seconds=S requests=R rate=A
--           p50_ms=X p99_ms=Y advance=K
-- rate is acknowledged notifications a second; advance is how far the
-- cursor may move for the next run: notifications cursor .. cursor+advance-1
-- were all answered (each thread's last sends, at most one per connection,
-- may still have been in flight when wrk stopped). Plus the first answer
-- that was not "success", if any.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local bodies = {}
local n_bodies, cursor, nthreads

function init(args)
  local path = assert(os.getenv("BENCH_BODIES"), "BENCH_BODIES is not set")
  for line in io.lines(path) do
    if line ~= "" then bodies[#bodies + 1] = line end
  end
  n_bodies = #bodies
  assert(n_bodies > 0, "no bodies in " .. path)
  cursor = tonumber(os.getenv("BENCH_CURSOR") or "0")
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  -- global: done() reads it with thread:get
  per_thread = math.floor(tonumber(os.getenv("BENCH_CONNECTIONS") or "1") / nthreads)
  sent, ok, other, s5xx = 0, 0, 0, 0
  first_error = ""
  probed = false
end

local HEADERS = { ["Content-Type"] = "application/x-www-form-urlencoded" }

local function body_of(j)
  local i = (cursor + (tid - 1) + j * nthreads) % n_bodies
  return bodies[i + 1]
end

function request()
  -- wrk calls request() once in the first thread's state before the run
  -- starts, to check the request (script_verify_request), and never sends
  -- that one: it must not use up a notification.
  if tid == 1 and not probed then
    probed = true
    return wrk.format("POST", "/pay/notify/alipay", HEADERS, body_of(sent))
  end
  local b = body_of(sent)
  sent = sent + 1
  return wrk.format("POST", "/pay/notify/alipay", HEADERS, b)
end

function response(status, headers, body)
  if status == 200 and body ~= nil and string.match(body, "^%s*success%s*$") then
    ok = ok + 1
    return
  end
  other = other + 1
  if status >= 500 then s5xx = s5xx + 1 end
  if first_error == "" then
    first_error = status .. " " .. string.sub(body or "", 1, 200)
  end
end

function done(summary, latency, requests)
  local n_ok, n_other, n5, err = 0, 0, 0, ""
  local min_answered
  for _, t in ipairs(threads) do
    n_ok = n_ok + t:get("ok")
    n_other = n_other + t:get("other")
    n5 = n5 + t:get("s5xx")
    if err == "" then err = t:get("first_error") end
    local answered = t:get("sent") - t:get("per_thread")
    if min_answered == nil or answered < min_answered then min_answered = answered end
  end
  if min_answered == nil or min_answered < 0 then min_answered = 0 end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    "notify: success=%d other=%d s5xx=%d errors=%d seconds=%.1f requests=%d rate=%.0f "
      .. "p50_ms=%.2f p99_ms=%.2f advance=%d\n",
    n_ok, n_other, n5, socket_errors, secs, summary.requests, n_ok / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, min_answered * #threads))
  if err ~= "" then
    io.write("notify: first answer that was not success: " .. err .. "\n")
  end
end
