-- bench/orders.lua: wrk script of bench/orders.sh. Every request confirms one
-- order through POST /api/orders as a logged-in bench user, with the JSON a
-- browser would send (contract, "Confirming an order"): one unit of a random
-- bench goods at its price, the contract's shipping fee, paid in full from
-- the balance (pay_amount 0, so the order is paid on confirmation).
--
-- BENCH_DATA names a Lua file written by bench/orders.sh:
--   return { users = { {c = "shop_session=...", t = "<csrf token>"}, ... },
--            goods = { {id = "900001", p = 1090 --[[cents]]}, ... } }
-- done() prints one line that bench/orders.sh reads:
--   app: orders=N other=M s409=.. s4xx=.. s5xx=.. errors=.. seconds=S rate=R p50_ms=X p99_ms=Y
-- plus the first body of an answer that was not 201, if any.

local data = dofile(assert(os.getenv("BENCH_DATA"), "BENCH_DATA is not set"))
local users, goods = data.users, data.goods
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919)
  c201, c409, c4xx, c5xx = 0, 0, 0, 0
  first_error = ""
end

local function money(cents)
  return string.format("%d.%02d", math.floor(cents / 100), cents % 100)
end

local ADDRESS = "1 Bench Street, Testville"
local CONSIGNEE = "Bench Buyer"

function request()
  local u = users[math.random(#users)]
  local g = goods[math.random(#goods)]
  local goods_amount = g.p
  local shipping = goods_amount > 10000 and 0 or 1000
  local total = goods_amount + shipping
  local body = string.format(
    '{"goods_id":"%s","goods_number":1,"goods_price":"%s","shipping_fee":"%s",'
      .. '"order_amount":"%s","money_paid":"%s","address":"%s","consignee":"%s"}',
    g.id, money(g.p), money(shipping), money(total), money(total), ADDRESS, CONSIGNEE)
  return wrk.format("POST", "/api/orders", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = u.c,
    ["X-CSRF-Token"] = u.t,
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    c201 = c201 + 1
    return
  end
  if status == 409 then
    c409 = c409 + 1
  elseif status >= 500 then
    c5xx = c5xx + 1
  else
    c4xx = c4xx + 1
  end
  if first_error == "" then
    first_error = status .. " " .. string.sub(body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local n201, n409, n4xx, n5xx, err = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    n201 = n201 + t:get("c201")
    n409 = n409 + t:get("c409")
    n4xx = n4xx + t:get("c4xx")
    n5xx = n5xx + t:get("c5xx")
    if err == "" then err = t:get("first_error") end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    "app: orders=%d other=%d s409=%d s4xx=%d s5xx=%d errors=%d seconds=%.1f rate=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    n201, n409 + n4xx + n5xx, n409, n4xx, n5xx, socket_errors, secs, n201 / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  if err ~= "" then
    io.write("app: first answer that was not 201: " .. err .. "\n")
  end
end
