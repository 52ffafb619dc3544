#!/usr/bin/env bash
# bench/catalogue.sh: what the catalogue costs as the shop grows (issue 15).
# Run by hand on a running shop (scripts/run first; started here when it does
# not answer). In one run, through the same nginx, with wrk at
# BENCH_CONNECTIONS connections for BENCH_SECONDS each:
#
#   1. the floor: bench/trivial_fcgi.c (built here with gcc against libfcgi),
#      a libfcgi responder answering a fixed page from as many threads as the
#      app has, on a unix socket behind an nginx server of its own
#      (<run>/nginx/bench/trivial.conf on BENCH_TRIVIAL_PORT, the same
#      upstream keepalive and fastcgi_keep_conn as the shop's; removed again
#      at the end);
#   2. the shop with BENCH_SMALL and then BENCH_LARGE goods in the catalogue
#      (loaded with one INSERT ... SELECT, ids above every other goods, and
#      deleted again when the bench ends, however it ends): the catalogue
#      page /, a goods page /goods/ID and GET /api/goods, each beside the
#      trivial responder measured again at that size, each twice: as an
#      anonymous visitor gets it (from nginx's fastcgi_cache, refreshed every
#      second) and as the app makes it ("app": the cache bypassed with a
#      session cookie the app does not know, so the page is still the
#      anonymous one and no session is looked up);
#   3. a summary: req/s, p99 and the ratio to the trivial responder of each,
#      and the targets, for the catalogue page as visitors get it: >= 0.4x
#      the trivial responder, the same at BENCH_LARGE goods as at BENCH_SMALL
#      (within 10%; compared as ratios to the trivial responder of each round,
#      so that other work on the machine between the rounds does not count),
#      p99 < 20 ms. Exit 0 when every target is met. The app's own path is
#      shown against the same figures, for information.
#
# The figures are as measured on this machine at that moment: with other
# work on it they move; run it twice before believing a ratio.
#
# Environment (default in brackets):
#   SHOP_RUN_DIR, SHOP_HTTP_PORT, SHOP_DB_PORT   as scripts/services [run/, 8080, 23306]
#   BENCH_SECONDS       duration of each wrk run [10]
#   BENCH_CONNECTIONS   wrk connections [32]
#   BENCH_WRK_THREADS   wrk threads [2]
#   BENCH_SMALL         goods in the first round [1000]
#   BENCH_LARGE         goods in the second round [10000]
#   BENCH_TRIVIAL_PORT  the trivial responder's nginx port [SHOP_HTTP_PORT + 9]
# Files: <run>/bench/ (the trivial responder, wrk output).
set -euo pipefail

# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SECONDS_EACH=${BENCH_SECONDS:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
N_SMALL=${BENCH_SMALL:-1000}
N_LARGE=${BENCH_LARGE:-10000}
TRIVIAL_PORT=${BENCH_TRIVIAL_PORT:-$((HTTP_PORT + 9))}
TRIVIAL=http://127.0.0.1:$TRIVIAL_PORT
ID0=7000000000000000000 # bench goods are ID0 + 1 ..

# Targets (the issue).
TARGET_RATIO=0.4
TARGET_SAME=0.10
TARGET_P99_MS=20

bench_positive SECONDS_EACH CONNECTIONS WRK_THREADS N_SMALL N_LARGE TRIVIAL_PORT
[ "$N_LARGE" -le 1000000 ] || die "at most 1000000 bench goods"
[ "$WRK_THREADS" -le "$CONNECTIONS" ] || WRK_THREADS=$CONNECTIONS

bench_tools fcgi -- nginx
bench_shop_up
bench_db
NGINX_CONF=$RUN_DIR/nginx/nginx.conf
[ -f "$NGINX_CONF" ] || die "no $NGINX_CONF: is the shop's nginx started by scripts/services?"
nginx_reload() { nginx -c "$NGINX_CONF" -p "$RUN_DIR/nginx/" -e "$RUN_DIR/logs/nginx-error.log" -s reload; }
if ! grep -q 'nginx/bench/\*\.conf' "$NGINX_CONF"; then
    say "the running nginx was configured before bench servers existed: scripts/services restart nginx"
    # Its output to a file: nginx must not keep this script's stdout open.
    "$repo/scripts/services" restart nginx >"$OUT/nginx-restart.log" 2>&1 </dev/null ||
        die "restarting nginx failed: see $OUT/nginx-restart.log"
fi

# --- cleanup: leave the shop as it was ------------------------------------------

TRIVIAL_SOCK=$RUN_DIR/sock/bench-trivial.sock
TRIVIAL_CONF=$RUN_DIR/nginx/bench/trivial.conf
trivial_pid=
cleanup() {
    sql "DELETE FROM trade_goods WHERE goods_id > $ID0 AND goods_id <= $ID0 + 1000000" ||
        say "could not remove the bench goods (ids above $ID0): remove them by hand"
    if [ -f "$TRIVIAL_CONF" ]; then
        rm -f "$TRIVIAL_CONF"
        nginx_reload || say "nginx reload failed: see $RUN_DIR/logs/nginx-error.log"
    fi
    if [ -n "$trivial_pid" ]; then
        kill "$trivial_pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$trivial_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$trivial_pid" 2>/dev/null || true
        wait "$trivial_pid" 2>/dev/null || true
    fi
    rm -f "$TRIVIAL_SOCK"
}
trap cleanup EXIT

# --- 1. the trivial responder behind the same nginx -------------------------------

threads=$(sed -n 's/^[[:space:]]*app_threads[[:space:]]*=[[:space:]]*\([0-9]*\).*/\1/p' "$RUN_DIR/shop.conf" 2>/dev/null | tail -1)
threads=${threads:-32}
say "building bench/trivial_fcgi.c; starting it with $threads threads on $TRIVIAL_SOCK"
# shellcheck disable=SC2046
gcc -O2 -std=c11 -Wall -Wextra -pthread -o "$OUT/trivial_fcgi" "$repo/bench/trivial_fcgi.c" \
    $(pkg-config --cflags --libs fcgi)
"$OUT/trivial_fcgi" "$TRIVIAL_SOCK" "$threads" >"$OUT/trivial.log" 2>&1 </dev/null &
trivial_pid=$!
for _ in $(seq 50); do [ -S "$TRIVIAL_SOCK" ] && break; sleep 0.1; done
[ -S "$TRIVIAL_SOCK" ] || die "the trivial responder did not make its socket"
mkdir -p "$RUN_DIR/nginx/bench"
cat >"$TRIVIAL_CONF" <<EOF
# bench/catalogue.sh's trivial responder (removed when the bench ends).
upstream bench_trivial {
    server unix:$TRIVIAL_SOCK max_fails=0;
    keepalive 8;
}
server {
    listen 127.0.0.1:$TRIVIAL_PORT;
    server_tokens off;
    charset utf-8;
    keepalive_timeout 30s;
    gzip on;
    location / {
        fastcgi_pass bench_trivial;
        fastcgi_keep_conn on;
        include /etc/nginx/fastcgi_params;
        fastcgi_param SCRIPT_NAME "";
        fastcgi_param REQUEST_ID \$request_id;
        fastcgi_buffers 16 16k;
        fastcgi_buffer_size 16k;
    }
}
EOF
nginx_reload || die "nginx did not take $TRIVIAL_CONF; see $RUN_DIR/logs/nginx-error.log"
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$TRIVIAL/") || true
[ "$code" = 200 ] || die "the trivial responder answered $code through nginx on port $TRIVIAL_PORT"

# --- 2. rounds -----------------------------------------------------------------------

load_goods() { # load_goods N: exactly N bench goods
    sql "DELETE FROM trade_goods WHERE goods_id > $ID0 AND goods_id <= $ID0 + 1000000;
INSERT INTO trade_goods (goods_id, goods_name, goods_number, goods_price, goods_desc)
  SELECT $ID0 + seq, CONCAT('Bench catalogue goods ', seq), 1000, 1 + seq % 300,
         CONCAT('A goods of bench/catalogue.sh, number ', seq)
  FROM seq_1_to_$1;"
}

# wrk_run NAME URL [HEADER]: req/s and p99 (ms) of wrk at CONNECTIONS, as
# "RATE P99 NON2XX".
wrk_run() {
    local f=$OUT/wrk-$1.txt
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --timeout 10s --latency \
        ${3:+-H "$3"} "$2" >"$f" 2>&1 || {
        cat "$f"
        die "wrk failed on $2"
    }
    awk '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /m$/) return v * 60000
            if (v ~ /s$/) return v * 1000
            return v
        }
        $1 == "Requests/sec:" { rate = $2 }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        END { printf "%.0f %.2f %d\n", rate, p99, bad }' "$f"
}

declare -A rate p99 bad
# The app's own cost: nginx bypasses its cache for a session cookie
# (nginx/shop.conf), and the app finds no session in this one (not a token).
BYPASS='Cookie: shop_session=bench'
measure() { # measure KEY URL [HEADER]
    say "wrk -t$WRK_THREADS -c$CONNECTIONS -d${SECONDS_EACH}s ${3:+-H \"$3\" }$2"
    read -r rate[$1] p99[$1] bad[$1] <<<"$(wrk_run "$1" "$2" "${3:-}")"
    say "  ${rate[$1]} req/s, p99 ${p99[$1]} ms$([ "${bad[$1]}" = 0 ] || echo ", non-2xx: ${bad[$1]}")"
}

for n in "$N_SMALL" "$N_LARGE"; do
    say "round: $n bench goods in the catalogue"
    load_goods "$n"
    mid=$((ID0 + n / 2))
    curl -s -o /dev/null --max-time 5 "$BASE/" # warm the statement cache
    measure "trivial-$n" "$TRIVIAL/"
    measure "catalogue-$n" "$BASE/"
    measure "catalogue_app-$n" "$BASE/" "$BYPASS"
    measure "goods-$n" "$BASE/goods/$mid"
    measure "goods_app-$n" "$BASE/goods/$mid" "$BYPASS"
    measure "api-$n" "$BASE/api/goods"
    measure "api_app-$n" "$BASE/api/goods" "$BYPASS"
done

# --- 3. summary ----------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo
printf '%-26s %10s %9s %8s  %s\n' what req/s p99_ms ratio notes
ok=1
for n in "$N_SMALL" "$N_LARGE"; do
    for what in trivial catalogue catalogue_app goods goods_app api api_app; do
        k=$what-$n
        notes=
        [ "${bad[$k]:-0}" = 0 ] || { notes="non-2xx: ${bad[$k]}"; ok=0; }
        printf '%-26s %10s %9s %8s  %s\n' "$what ($n goods)" "${rate[$k]}" "${p99[$k]}" \
            "$(ratio "${rate[$k]}" "${rate[trivial-$n]}")" "$notes"
    done
done
echo
check() { # check TEXT CONDITION(awk)
    if awk "BEGIN { exit !($2) }"; then
        echo "  ok    $1"
    else
        echo "  NOT   $1"
        ok=0
    fi
}
# targets KEY: the issue's targets for the rows KEY-N_SMALL and KEY-N_LARGE.
targets() {
    local small large same
    small=$(ratio "${rate[$1-$N_SMALL]}" "${rate[trivial-$N_SMALL]}")
    large=$(ratio "${rate[$1-$N_LARGE]}" "${rate[trivial-$N_LARGE]}")
    same=$(awk -v a="$large" -v b="$small" 'BEGIN { d = (b > 0 ? (a - b) / b : 1); printf "%.1f", d * 100 }')
    check "$1 >= ${TARGET_RATIO}x trivial at $N_SMALL goods ($small)" "$small >= $TARGET_RATIO"
    check "$1 >= ${TARGET_RATIO}x trivial at $N_LARGE goods ($large)" "$large >= $TARGET_RATIO"
    check "$1 at $N_LARGE goods within 10% of $N_SMALL, as ratios to trivial ($same%)" \
        "$same >= -$TARGET_SAME * 100 && $same <= $TARGET_SAME * 100"
    check "$1 p99 < ${TARGET_P99_MS} ms (${p99[$1-$N_SMALL]}, ${p99[$1-$N_LARGE]})" \
        "${p99[$1-$N_SMALL]} < $TARGET_P99_MS && ${p99[$1-$N_LARGE]} < $TARGET_P99_MS"
}
echo "targets (the catalogue page as visitors get it):"
targets catalogue
met=$ok
echo "the same for the app's own path (the cache bypassed; for information):"
targets catalogue_app
ok=$met
echo
if [ "$ok" = 1 ]; then echo "targets met"; else echo "targets NOT met"; fi
echo "(outputs in $OUT/; the bench goods and the trivial responder are removed)"
[ "$ok" = 1 ]
