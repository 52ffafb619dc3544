#!/usr/bin/env bash
# bench/orders.sh: how fast the shop confirms orders, against the SQL floor.
#
# Run by hand on a machine where `scripts/run` (or `scripts/services start
# all`) started the shop; it runs `scripts/setup --no-asan` first when a tool
# is missing and `scripts/services start all` when the shop does not answer.
# It is not part of scripts/test. Takes one to two minutes:
#
#   1. bench data, straight into the running database in a namespace of its
#      own: BENCH_USERS users (ids 900001..) with a balance of 10,000,000.00
#      and BENCH_GOODS goods (ids 900001..) with a stock of 10,000,000 and
#      prices 10.90, 11.90, ... (some above 100.00: no shipping fee). The bench
#      rows and their orders are deleted first and again when the bench ends
#      (however it ends), so the shop keeps no "Bench goods". The users share
#      one password, hashed by the app itself (a throw-away registration).
#   2. each user logs in through POST /api/session (cookie + CSRF token, into
#      a Lua table for wrk);
#   3. the floor: bench/bare_orders.c (built here with gcc against
#      libmysqlclient) issues the saga's SQL statements, each step in its own
#      transaction, with BENCH_CONNECTIONS threads for BENCH_SECONDS on the
#      same rows: all of them (check reads, pre-order + its outbox row, stock,
#      balance, confirm, re-read: "saga") or only the four writes ("minimal").
#      It runs first, while nothing of the app's runs in the background;
#   4. the app: wrk (bench/orders.lua) sends POST /api/orders through nginx
#      for BENCH_SECONDS with BENCH_CONNECTIONS connections, one unit of a
#      random bench goods per order, paid from the balance; 201s counted
#      apart from everything else;
#   5. the consumers under load: those orders are paid on confirmation and
#      give the consumers nothing to do, so a "cancel wave" follows: the app
#      is restarted with SHOP_FAULT_INJECT=after_balance (every order fails
#      after its balance step and emits an order.cancel that the order, goods,
#      coupon, user and audit consumers handle), wrk runs BENCH_CANCEL_SECONDS,
#      and the bench waits (at most 120 s) until every reversal is done; then
#      the app is restarted as it was (same number of instances and binaries).
#      From step 4 to here the resident memory (VmRSS and VmHWM, /proc) of
#      the app and of every consumer is sampled every half second
#      (bench/common.sh);
#   6. a summary: orders/s, p50, p99 of both, their ratios, the cancel wave,
#      the largest VmRSS sampled of each process, what each side cost: the
#      CPU of every process of the shop (app, nginx, MariaDB, RabbitMQ, each
#      consumer, from /proc) and of the load generator (bare_orders, wrk),
#      and MariaDB's counters per order (statements, transactions, commits,
#      statement resets, round trips: SHOW GLOBAL STATUS before and after
#      each side), the load average before each side; and the targets (issue
#      14: app >= 0.8 of the bare rate, app p99 <= 1.5 the bare p99; app RSS
#      < 64 MB, each consumer < 32 MB). Exit 0 when every target is met.
#
# Environment (default in brackets):
#   SHOP_RUN_DIR, SHOP_HTTP_PORT, SHOP_DB_PORT   as scripts/services [run/, 8080, 23306]
#   BENCH_SECONDS       duration of each side [20]
#   BENCH_CONNECTIONS   wrk connections = bare threads [16]
#   BENCH_WRK_THREADS   wrk threads [2]
#   BENCH_USERS         bench users [200]
#   BENCH_GOODS         bench goods [50]
#   BENCH_BARE          the floor's statements: saga, minimal, or both (two
#                       bare runs; the ratio is taken against the first) [saga]
#   BENCH_CANCEL_SECONDS  the cancel wave's wrk run; 0 skips the wave (and
#                       leaves the app alone) [10]
# Files: <run>/bench/ (the bare client, the Lua data, wrk and bare output).
set -euo pipefail

# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_EACH=${BENCH_SECONDS:-20}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
N_USERS=${BENCH_USERS:-200}
N_GOODS=${BENCH_GOODS:-50}
BARE_MODE=${BENCH_BARE:-saga}
CANCEL_SECONDS=${BENCH_CANCEL_SECONDS:-10}
ID0=900000 # bench ids are ID0 + 1 ..
PASSWORD=bench-pass-1
SEED_NAME=benchseed
SEED_MOBILE=19899999999

# Targets (issue 14): the app at least 0.8 of the bare-SQL rate, its p99 at
# most 1.5 times the bare p99 (the RSS caps are bench/common.sh's).
TARGET_RATIO=0.8
TARGET_P99_RATIO=1.5

[[ $CANCEL_SECONDS =~ ^[0-9]+$ ]] || die "BENCH_CANCEL_SECONDS must be a number, got '$CANCEL_SECONDS'"
bench_positive SECONDS_EACH CONNECTIONS WRK_THREADS N_USERS N_GOODS
if [ "$N_USERS" -gt 99999 ] || [ "$N_GOODS" -gt 99999 ]; then die "at most 99999 bench users and goods"; fi
[ "$WRK_THREADS" -le "$CONNECTIONS" ] || WRK_THREADS=$CONNECTIONS
case $BARE_MODE in
saga) BARE_MODES=(saga) ;;
minimal) BARE_MODES=(minimal) ;;
both) BARE_MODES=(saga minimal) ;;
*) die "BENCH_BARE must be saga, minimal or both, got '$BARE_MODE'" ;;
esac

# --- tools and services ---------------------------------------------------

bench_tools mysqlclient
bench_shop_up
bench_db
DB_SOCK=$RUN_DIR/sock/mysqld.sock

# --- 1. bench data ----------------------------------------------------------

U1=$((ID0 + 1))
UN=$((ID0 + N_USERS))
G1=$((ID0 + 1))
GN=$((ID0 + N_GOODS))
say "bench data: $N_USERS users ($U1..$UN), $N_GOODS goods ($G1..$GN)"

# pre_post PATH JSON HEADERS-FILE: POST with a pre-session token (GET
# /api/session: the shop_csrf cookie and the same token in X-CSRF-Token), as
# logging in and registering require; a busy answer (503: nginx's per-client
# login rate, or the app's password hashes all taken) is tried again. Prints
# the body; the status line and headers go to HEADERS-FILE.
pre_post() {
    local path=$1 json=$2 hdr=$3 pre cookie token body i
    for i in $(seq 1 30); do
        pre=$(mktemp)
        body=$(curl -s -D "$pre" "$BASE/api/session") || true
        cookie=$(grep -i '^set-cookie: shop_csrf=' "$pre" | head -n 1 | sed -e 's/^[^:]*: *//' -e 's/;.*//' | tr -d '\r')
        rm -f "$pre"
        token=$(grep -o '"csrf_token" *: *"[^"]*"' <<<"$body" | sed -e 's/.*"\([^"]*\)"$/\1/')
        body=$(curl -s -D "$hdr" -H 'Content-Type: application/json' -H "Cookie: $cookie" \
            -H "X-CSRF-Token: $token" -d "$json" "$BASE$path") || true
        head -n 1 "$hdr" | grep -q ' 503' || break
        sleep 1
    done
    printf '%s' "$body"
}
export -f pre_post

# One registration through the app gives the password hash its login checks.
sql "DELETE FROM trade_user WHERE user_name = '$SEED_NAME' OR user_mobile = '$SEED_MOBILE'"
pre_post /api/users "{\"user_name\":\"$SEED_NAME\",\"user_mobile\":\"$SEED_MOBILE\",\"password\":\"$PASSWORD\"}" \
    "$OUT/seed.hdr" >"$OUT/seed.json"
code=$(head -n 1 "$OUT/seed.hdr" | awk '{print $2}')
[ "$code" = 201 ] || die "registering the seed user answered $code: $(cat "$OUT/seed.json" 2>/dev/null)"
hash=$(sql "SELECT user_password FROM trade_user WHERE user_name = '$SEED_NAME'")
[ -n "$hash" ] || die "the seed user's password hash is not in trade_user"
seed_id=$(sql "SELECT user_id FROM trade_user WHERE user_name = '$SEED_NAME'")
sql "DELETE FROM trade_user WHERE user_id = $seed_id; DELETE FROM trade_session WHERE user_id = $seed_id"
hash_sql=${hash//\\/\\\\}
hash_sql=${hash_sql//\'/\\\'}

# What the bench adds, removed before it starts and when it ends (on any
# exit: the traps below call it), so that the shop it measured shows no
# "Bench goods" and has no bench users afterwards.
remove_bench_data() {
    sql "
DELETE FROM trade_order_log WHERE order_id IN
  (SELECT order_id FROM trade_order WHERE user_id BETWEEN $U1 AND $UN);
DELETE FROM trade_order WHERE user_id BETWEEN $U1 AND $UN;
DELETE FROM trade_goods_number_log WHERE goods_id BETWEEN $G1 AND $GN;
DELETE FROM trade_user_money_log WHERE user_id BETWEEN $U1 AND $UN;
DELETE FROM trade_session WHERE user_id BETWEEN $U1 AND $UN;
DELETE FROM trade_idempotency WHERE user_id BETWEEN $U1 AND $UN;
DELETE FROM trade_goods WHERE goods_id BETWEEN $G1 AND $GN;
DELETE FROM trade_user WHERE user_id BETWEEN $U1 AND $UN;" ||
        say "could not remove the bench data (ids $ID0 + 1..): remove it by hand"
}
remove_bench_data
trap 'remove_bench_data' EXIT
sql "
REPLACE INTO trade_goods (goods_id, goods_name, goods_number, goods_price, goods_desc, add_time)
  SELECT $ID0 + seq, CONCAT('Bench goods ', seq), 10000000, 9.90 + seq,
         'A goods of bench/orders.sh', UTC_TIMESTAMP(3)
  FROM seq_1_to_$N_GOODS;
REPLACE INTO trade_user (user_id, user_name, user_password, user_mobile, user_score,
                         user_reg_time, user_money)
  SELECT $ID0 + seq, CONCAT('bench', $ID0 + seq), '$hash_sql', CONCAT('1990', $ID0 + seq), 0,
         UTC_TIMESTAMP(3), 10000000.00
  FROM seq_1_to_$N_USERS;"

# --- 2. logins ----------------------------------------------------------------

say "logging in $N_USERS users through POST /api/session"
login_one() { # login_one USER_NAME: prints "cookie<TAB>csrf" or nothing
    local name=$1 hdr body cookie csrf
    hdr=$(mktemp)
    body=$(pre_post /api/session "{\"login\":\"$name\",\"password\":\"$PASSWORD\"}" "$hdr")
    cookie=$(grep -i '^set-cookie: shop_session=' "$hdr" | head -n 1 | sed -e 's/^[^:]*: *//' -e 's/;.*//' | tr -d '\r')
    rm -f "$hdr"
    csrf=$(grep -o '"csrf_token" *: *"[^"]*"' <<<"$body" | sed -e 's/.*"\([^"]*\)"$/\1/')
    [ -n "$cookie" ] && [ -n "$csrf" ] && printf '%s\t%s\n' "$cookie" "$csrf"
    return 0
}
export -f login_one
export BASE PASSWORD
seq "$U1" "$UN" | sed 's/^/bench/' | xargs -P 4 -I{} bash -c 'login_one {}' >"$OUT/sessions.tsv"
n_sessions=$(wc -l <"$OUT/sessions.tsv")
[ "$n_sessions" -eq "$N_USERS" ] || die "only $n_sessions of $N_USERS logins succeeded"

DATA=$OUT/orders-data.lua
{
    echo "-- Generated by bench/orders.sh."
    echo "return {"
    echo "  users = {"
    awk -F '\t' '{ printf "    {c = \"%s\", t = \"%s\"},\n", $1, $2 }' "$OUT/sessions.tsv"
    echo "  },"
    echo "  goods = {"
    sql "SELECT goods_id, CAST(goods_price * 100 AS SIGNED) FROM trade_goods
         WHERE goods_id BETWEEN $G1 AND $GN ORDER BY goods_id" |
        awk -F '\t' '{ printf "    {id = \"%s\", p = %s},\n", $1, $2 }'
    echo "  },"
    echo "}"
} >"$DATA"

# --- memory (bench/common.sh samples it) ------------------------------------------

RSS=$OUT/rss.txt

# The app as it runs now, to restart it the same way after the cancel wave.
app_instances=$(bench_shop_processes | grep -c '^shop-app' || true)
[ "$app_instances" -ge 1 ] || app_instances=1
app_exe=$(readlink "/proc/$(tr -dc '0-9' <"$RUN_DIR/pids/shop-app.pid" 2>/dev/null)/exe" 2>/dev/null || true)
restart_app() { # restart_app [NAME=VALUE ...]: scripts/services restart app, same binaries
    local env=(SHOP_INSTANCES="$app_instances")
    [ "${app_exe##*/}" = shop-app ] && env+=(SHOP_BIN_DIR="${app_exe%/*}")
    env "${env[@]}" "$@" "$repo/scripts/services" restart app >"$OUT/services.log" 2>&1 || {
        cat "$OUT/services.log"
        die "scripts/services restart app failed"
    }
}

# --- what each side costs -----------------------------------------------------------

# MariaDB's counters of client work: statements (prepared executions and
# plain queries), transactions begun, commits, rollbacks, prepared-statement
# resets, and every command a client sent (Com_stmt_* included), which is
# the round trips.
DB_COUNTERS="Com_stmt_execute Com_begin Com_commit Com_rollback Com_stmt_reset Com_stmt_prepare Com_select Com_insert Com_update Questions Handler_commit"
db_counters() { # db_counters FILE: "NAME VALUE" of DB_COUNTERS
    local in
    in=$(sed -E "s/([A-Za-z_]+)/'\1'/g; s/ /, /g" <<<"$DB_COUNTERS")
    sql "SHOW GLOBAL STATUS WHERE Variable_name IN ($in)" >"$1"
}
# per_order BEFORE AFTER ORDERS: each counter's growth per order, on one line.
per_order() {
    awk -v n="$3" -v names="$DB_COUNTERS" '
        FNR == NR { b[$1] = $2; next }
        { a[$1] = $2 }
        END {
            k = split(names, order, " ")
            for (i = 1; i <= k; i++)
                printf "%s%s %.1f", (i > 1 ? ", " : ""), order[i], (n > 0 ? (a[order[i]] - b[order[i]]) / n : 0)
            print ""
        }' "$1" "$2"
}
# A side: CPU and counter snapshots around it, the load generator's own CPU
# (bash's time: user + system seconds) and the load average before it.
side_start() { # side_start NAME
    cut -d ' ' -f 1-3 /proc/loadavg >"$OUT/$1.load"
    db_counters "$OUT/$1.db-0"
    cpu_ticks >"$OUT/$1.cpu-0"
    date +%s.%N >"$OUT/$1.t0"
}
side_end() { # side_end NAME
    awk -v a="$(cat "$OUT/$1.t0")" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }' >"$OUT/$1.secs"
    cpu_ticks >"$OUT/$1.cpu-1"
    db_counters "$OUT/$1.db-1"
}
side_report() { # side_report NAME LABEL ORDERS CLIENT
    local secs client
    secs=$(cat "$OUT/$1.secs")
    client=$(awk -v s="$secs" '{ printf "%.0f", 100 * ($1 + $2) / s }' "$OUT/$1.client")
    echo "$2 (${secs}s, load average before: $(cat "$OUT/$1.load")):"
    echo "  CPU, % of one core ($(nproc) cores): $4 $client%; $(cpu_report "$OUT/$1.cpu-0" "$OUT/$1.cpu-1" "$secs")"
    echo "  MariaDB per order: $(per_order "$OUT/$1.db-0" "$OUT/$1.db-1" "$3")"
}
TIMEFORMAT='%U %S' # bash's time: the load generator's CPU seconds

# --- 3. the floor (first: nothing of the app's runs in the background yet) --------

say "bare: building bench/bare_orders.c"
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
gcc -O2 -std=c11 -Wall -Wextra -pthread -o "$OUT/bare_orders" "$repo/bench/bare_orders.c" \
    $(pkg-config --cflags --libs mysqlclient) || die "cannot build bench/bare_orders.c"
db_args=(--host 127.0.0.1 --port "$DB_PORT")
[ -S "$DB_SOCK" ] && db_args=(--socket "$DB_SOCK") # as the app connects
bare_lines=()
for mode in "${BARE_MODES[@]}"; do
    say "bare ($mode statements): $CONNECTIONS threads for ${SECONDS_EACH}s straight to MariaDB"
    flag=()
    [ "$mode" = minimal ] && flag=(--minimal)
    side_start "bare-$mode"
    { time "$OUT/bare_orders" "${db_args[@]}" --threads "$CONNECTIONS" --seconds "$SECONDS_EACH" \
        --users "$U1:$N_USERS" --goods "$G1:$N_GOODS" "${flag[@]}" >"$OUT/bare-$mode.txt" 2>&1; } \
        2>"$OUT/bare-$mode.client" || {
        cat "$OUT/bare-$mode.txt"
        die "bare_orders failed"
    }
    side_end "bare-$mode"
    line=$(grep '^bare: orders=' "$OUT/bare-$mode.txt") || die "bare_orders printed no summary"
    bare_lines+=("$line")
done
bare_line=${bare_lines[0]}

# --- 4. the app -------------------------------------------------------------------

bench_orders() { # bench_orders STATUS: bench orders with that order_status
    sql "SELECT COUNT(*) FROM trade_order WHERE user_id BETWEEN $U1 AND $UN AND order_status = $1"
}
say "app: wrk -t$WRK_THREADS -c$CONNECTIONS -d${SECONDS_EACH}s POST /api/orders through nginx"
bench_mem_start "$RSS"
trap 'bench_mem_stop; remove_bench_data' EXIT
confirmed_before=$(bench_orders 1)
side_start app
{ time BENCH_DATA=$DATA wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --timeout 10s \
    -s "$repo/bench/orders.lua" "$BASE/api/orders" >"$OUT/wrk.txt" 2>&1; } 2>"$OUT/app.client" || {
    cat "$OUT/wrk.txt"
    die "wrk failed"
}
side_end app
app_line=$(grep '^app: orders=' "$OUT/wrk.txt") || {
    cat "$OUT/wrk.txt"
    die "wrk printed no summary"
}
grep '^app: first answer' "$OUT/wrk.txt" || true
app_created=$(field "$app_line" orders)
say "app: $app_created answered 201; $(($(bench_orders 1) - confirmed_before)) orders confirmed in the database"

# --- 5. the consumers under load: a wave of cancelled orders -----------------------

wave_line=
if [ "$CANCEL_SECONDS" -gt 0 ]; then
    say "cancel wave: the app restarted with SHOP_FAULT_INJECT=after_balance; wrk for ${CANCEL_SECONDS}s"
    trap 'bench_mem_stop; restart_app; remove_bench_data' EXIT
    restart_app SHOP_FAULT_INJECT=after_balance
    cancelled_before=$(bench_orders 2)
    BENCH_DATA=$DATA wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${CANCEL_SECONDS}s" --timeout 10s \
        -s "$repo/bench/orders.lua" "$BASE/api/orders" >"$OUT/wrk-cancel.txt" 2>&1 || {
        cat "$OUT/wrk-cancel.txt"
        die "wrk failed"
    }
    wave_end=$SECONDS
    # Drained: no bench order left unconfirmed, and every cancelled one has
    # its stock back and its balance refunded.
    open_reversals() {
        sql "SELECT
          (SELECT COUNT(*) FROM trade_order WHERE user_id BETWEEN $U1 AND $UN AND order_status = 0)
        + (SELECT COUNT(*) FROM trade_goods_number_log l JOIN trade_order o ON o.order_id = l.order_id
           WHERE o.user_id BETWEEN $U1 AND $UN AND o.order_status = 2 AND l.direction = 1)
        - (SELECT COUNT(*) FROM trade_goods_number_log l JOIN trade_order o ON o.order_id = l.order_id
           WHERE o.user_id BETWEEN $U1 AND $UN AND o.order_status = 2 AND l.direction = 2)
        + (SELECT COUNT(*) FROM trade_user_money_log m JOIN trade_order o ON o.order_id = m.order_id
           WHERE o.user_id BETWEEN $U1 AND $UN AND o.order_status = 2 AND m.money_log_type = 1)
        - (SELECT COUNT(*) FROM trade_user_money_log m JOIN trade_order o ON o.order_id = m.order_id
           WHERE o.user_id BETWEEN $U1 AND $UN AND o.order_status = 2 AND m.money_log_type = 2)"
    }
    left=$(open_reversals)
    while [ "$left" != 0 ] && [ $((SECONDS - wave_end)) -lt 120 ]; do
        sleep 0.5
        left=$(open_reversals)
    done
    drain_s=$((SECONDS - wave_end))
    wave_cancelled=$(($(bench_orders 2) - cancelled_before))
    wave_app=$(grep '^app: orders=' "$OUT/wrk-cancel.txt") || die "wrk printed no summary"
    wave_line="cancel wave: $(field "$wave_app" s409) orders refused with 409 in ${CANCEL_SECONDS}s, $wave_cancelled cancelled; "
    if [ "$left" = 0 ]; then
        wave_line+="all reversed ${drain_s}s after the last request"
    else
        wave_line+="NOT all reversed after ${drain_s}s ($left reversals missing)"
    fi
    say "$wave_line"
    say "cancel wave: restarting the app without the fault"
    restart_app
    trap 'bench_mem_stop; remove_bench_data' EXIT
fi
bench_mem_stop
trap - EXIT
remove_bench_data
say "bench data removed"

# --- 6. summary -------------------------------------------------------------------

app_rate=$(field "$app_line" rate)
bare_rate=$(field "$bare_line" rate)
ratio=$(awk -v a="$app_rate" -v b="$bare_rate" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
p99_ratio=$(awk -v a="$(field "$app_line" p99_ms)" -v b="$(field "$bare_line" p99_ms)" \
    'BEGIN { printf "%.2f", (b > 0 ? a / b : 99) }')
mode_of() { sed -E 's/.* mode=([a-z]+).*/\1/' <<<"$1"; }
echo
printf '%-6s %10s %10s %9s %9s  %s\n' side orders orders/s p50_ms p99_ms notes
printf '%-6s %10s %10s %9s %9s  %s\n' app "$(field "$app_line" orders)" "$app_rate" \
    "$(field "$app_line" p50_ms)" "$(field "$app_line" p99_ms)" \
    "non-201: $(field "$app_line" other) (409: $(field "$app_line" s409), 5xx: $(field "$app_line" s5xx)), socket errors: $(field "$app_line" errors)"
for line in "${bare_lines[@]}"; do
    printf '%-6s %10s %10s %9s %9s  %s\n' bare "$(field "$line" orders)" "$(field "$line" rate)" \
        "$(field "$line" p50_ms)" "$(field "$line" p99_ms)" \
        "$(mode_of "$line") statements; failed: $(field "$line" failed)"
done
echo "ratio app/bare: $ratio (bare = $(mode_of "$bare_line") statements; target >= $TARGET_RATIO)"
echo "p99 app/bare: $p99_ratio (target <= $TARGET_P99_RATIO)"
echo
for mode in "${BARE_MODES[@]}"; do
    line=$(grep '^bare: orders=' "$OUT/bare-$mode.txt")
    side_report "bare-$mode" "bare, $mode statements" "$(field "$line" orders)" bare_orders
done
side_report app "app" "$app_created" wrk
[ -z "$wave_line" ] || echo "$wave_line"
echo
echo "resident memory under load (largest VmRSS sampled, MB; target: app < $((APP_RSS_MAX_KB / 1024)), each consumer < $((CONSUMER_RSS_MAX_KB / 1024))):"
ok=1
bench_mem_report "$RSS" || ok=0
awk -v r="$ratio" -v t=$TARGET_RATIO 'BEGIN { exit !(r >= t) }' || ok=0
awk -v r="$p99_ratio" -v t=$TARGET_P99_RATIO 'BEGIN { exit !(r <= t) }' || ok=0
[ "$app_created" -gt 0 ] || ok=0
[[ $wave_line != *"NOT all reversed"* ]] || ok=0
echo
if [ "$ok" = 1 ]; then
    echo "targets met"
else
    echo "targets NOT met"
fi
echo "(outputs in $OUT/)"
[ "$ok" = 1 ]
