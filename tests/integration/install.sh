#!/usr/bin/env bash
# A server install, tried: `make install` into a DESTDIR gives the tree an
# operator expects (README "Deploying on a server"); the systemd units pass
# `systemd-analyze verify` with their shared drop-in; and the INSTALLED
# programs, templates, static files, migrations, example configuration and
# nginx site run a shop against the suite's private MariaDB and RabbitMQ: the
# migrations and demo data go into a database of their own, a buyer orders,
# and an installed consumer takes its queue.
#   tests/integration/install.sh BUILDDIR   (the services running; sources
#                                             run/test-env.sh)
# Ends with "install: N passed, M failed"; exits non-zero on a failure.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$repo/build}
# shellcheck source=tests/integration/checks.sh
source "$repo/tests/integration/checks.sh"
# shellcheck disable=SC1091
source "${SHOP_RUN_DIR:-$repo/run}/test-env.sh"
top=$(mktemp -d /tmp/shop-install.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    [ -f "$top/nginx.pid" ] && kill "$(cat "$top/nginx.pid")" 2>/dev/null
    sleep 0.5
    mariadb --defaults-file="$SHOP_RUN_DIR/db/my.cnf" -e 'DROP DATABASE IF EXISTS shop_installed' 2>/dev/null
    rm -rf "$top"
}
trap cleanup EXIT

# --- 1. the tree of `make install DESTDIR=...` ------------------------------
dest=$top/dest
check "make install DESTDIR=... succeeds" make -s -C "$build" install DESTDIR="$dest" >"$top/install.log" 2>&1
p=$dest/usr/local
tree_ok() {
    local f bad=0
    for f in bin/shop-app bin/shop-consumer bin/shop-admin bin/shop-sandbox bin/shop-migrate bin/shop-keys; do
        [ -x "$p/$f" ] || { echo "    missing or not executable: $f"; bad=1; }
    done
    for f in share/shop/templates/order.mustache share/shop/static/style.css \
        share/shop/sql/order/0001_schema.sql share/shop/sql/demo/goods.sql \
        share/shop/nginx/shop.conf share/shop/nginx/sandbox.conf share/shop/shop.conf.example \
        etc/shop/shop.conf lib/systemd/system/shop-app.service \
        lib/systemd/system/shop-consumer@.service lib/systemd/system/shop-sandbox.service \
        lib/systemd/system/shop.target lib/systemd/system/shop-.service.d/10-hardening.conf \
        share/doc/shop/README.md; do
        [ -f "$p/$f" ] || { echo "    missing: $f"; bad=1; }
    done
    return $bad
}
check "the programs, templates, static files, migrations, units, site and config are installed" tree_ok
same_count() { # same_count DIR: as many files installed as in the source
    local a b
    a=$(cd "$repo" && find "$1" -type f ! -name '.*' | wc -l)
    b=$(find "$p/share/shop/$1" -type f | wc -l)
    [ "$a" = "$b" ] || { echo "    $1: $a files in the source, $b installed"; return 1; }
}
check "every template is installed" same_count templates
check "every migration is installed" same_count sql
no_placeholder() {
    local left
    left=$(grep -rlE '@[A-Za-z_]+@' "$p/lib/systemd" "$p/etc/shop" "$p/share/shop/nginx" "$p/bin/shop-migrate")
    [ -z "$left" ] || { echo "    placeholders left in: $left"; return 1; }
}
check "no placeholder is left in the units, config, site or shop-migrate" no_placeholder
has_line() { grep -qF -- "$2" "$1" || { echo "    $1 lacks: $2"; return 1; }; }
check "the site talks to the units' app socket" \
    has_line "$p/share/shop/nginx/shop.conf" "server unix:/run/shop/sock/shop-app.sock"
check "the site serves the installed static files" \
    has_line "$p/share/shop/nginx/shop.conf" "alias /usr/local/share/shop/static/;"
check "the app unit runs the installed program with the installed config" \
    has_line "$p/lib/systemd/system/shop-app.service" \
    "ExecStart=/usr/local/bin/shop-app --config /usr/local/etc/shop/shop.conf"
check "the example config points at the installed templates" \
    has_line "$p/etc/shop/shop.conf" "templates_dir = /usr/local/share/shop/templates"
check "the installed config (it holds passwords) is not world-readable" mode_is 640 "$p/etc/shop/shop.conf"
echo "# an operator's edit survives a second install" >>"$p/etc/shop/shop.conf"
make -s -C "$build" install DESTDIR="$dest" >>"$top/install.log" 2>&1
check "a second install keeps the operator's config" \
    has_line "$p/etc/shop/shop.conf" "# an operator's edit survives a second install"

# --- 2. the units, verified, into a prefix of their own ----------------------
px=$top/px
run=$top/run
check "make install prefix=... succeeds" \
    make -s -C "$build" install prefix="$px" SHOP_RUNDIR="$run" >>"$top/install.log" 2>&1
verify_units() {
    local out
    out=$(cd "$top" && SYSTEMD_UNIT_PATH="$px/lib/systemd/system:" systemd-analyze verify \
        shop-app.service shop-consumer@order.service shop-consumer@relay.service \
        shop-sandbox.service shop.target 2>&1)
    local rc=$?
    [ $rc = 0 ] && [ -z "$out" ] || { echo "$out" | sed 's/^/    /'; return 1; }
}
check "systemd-analyze verify: the units and their drop-in, no warning" verify_units
hardened() { # one drop-in gives every unit its user and hardening
    local k
    for k in User=shop NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes ProtectHome=yes; do
        grep -qx "$k" "$px/lib/systemd/system/shop-.service.d/10-hardening.conf" ||
            { echo "    the drop-in lacks $k"; return 1; }
    done
    has_line "$px/lib/systemd/system/shop-.service.d/10-hardening.conf" \
        "RuntimeDirectory=shop shop/sock shop/metrics"
}
check "the units run as the shop user, hardened, sockets in RuntimeDirectory" hardened

# --- 3. the installed programs run a shop ------------------------------------
mkdir -p "$run/sock" "$top/nginx"
db() { mariadb --defaults-file="$SHOP_RUN_DIR/db/my.cnf" "$@"; }
db -e "DROP DATABASE IF EXISTS shop_installed; CREATE DATABASE shop_installed;
       GRANT ALL PRIVILEGES ON shop_installed.* TO 'shop'@'localhost';
       GRANT ALL PRIVILEGES ON shop_installed.* TO 'shop'@'127.0.0.1';"
check "the installed shop-migrate applies the installed migrations and demo data" \
    "$px/bin/shop-migrate" --defaults-file "$SHOP_RUN_DIR/db/my.cnf" --database shop_installed \
    --demo >"$top/migrate.log" 2>&1
# The installed example config, with what differs on this machine given the
# way an operator's drop-in would (SHOP_<NAME>).
inst_env=(SHOP_DB_SOCKET="$SHOP_RUN_DIR/sock/mysqld.sock" SHOP_DB_NAME=shop_installed
    SHOP_GOODS_DB_NAME= SHOP_COUPON_DB_NAME= SHOP_USER_DB_NAME= SHOP_ORDER_DB_NAME=
    SHOP_DB_PASSWORD=shop SHOP_MQ_PORT="$SHOP_MQ_PORT" SHOP_MQ_PASSWORD=shop SHOP_MQ_VHOST=/
    SHOP_ALIPAY_PRIVATE_KEY="$SHOP_RUN_DIR/keys/merchant_private.pem"
    SHOP_ALIPAY_PUBLIC_KEY="$SHOP_RUN_DIR/keys/provider_public.pem"
    SHOP_PUBLIC_URL=http://127.0.0.1:18290 SHOP_COOKIE_SECURE=0 SHOP_WORKER_ID=900
    SHOP_APP_THREADS=4 SHOP_NOTIFY_THREADS=2)
env "${inst_env[@]}" "$px/bin/shop-app" --config "$px/etc/shop/shop.conf" >"$top/app.log" 2>&1 &
pids+=($!)
env "${inst_env[@]}" "$px/bin/shop-consumer" --config "$px/etc/shop/shop.conf" audit.2 \
    >"$top/consumer.log" 2>&1 &
pids+=($!)
cat >"$top/nginx/nginx.conf" <<NGINX
user $(id -un) $(id -gn);
worker_processes 1;
pid $top/nginx.pid;
error_log $top/nginx-error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path $top/nginx/body;
    fastcgi_temp_path $top/nginx/fastcgi;
    proxy_temp_path $top/nginx/proxy;
    uwsgi_temp_path $top/nginx/uwsgi;
    scgi_temp_path $top/nginx/scgi;
    include $top/nginx/shop.conf;
}
NGINX
sed -e 's/listen 80;/listen 127.0.0.1:18290;/' -e 's/listen 127.0.0.1:9464;/listen 127.0.0.1:18291;/' \
    "$px/share/shop/nginx/shop.conf" >"$top/nginx/shop.conf"
for _ in $(seq 50); do [ -S "$run/sock/shop-app.sock" ] && break; sleep 0.2; done
nginx -c "$top/nginx/nginx.conf" -p "$top/nginx/" -e "$top/nginx-error.log"
base=http://127.0.0.1:18290
page_has() { # page_has URL TEXT
    local body
    body=$(curl -s --max-time 10 "$1")
    grep -qF -- "$2" <<<"$body" || { echo "    $1 does not show '$2'"; return 1; }
}
check "the installed app serves the catalogue with the demo goods" page_has "$base/" "Enamel Camp Mug"
check "nginx serves the installed static files" page_has "$base/static/style.css" "{"
check "the site's metrics listener answers the installed app's GET /metrics" \
    page_has http://127.0.0.1:18291/metrics 'shop_up{dependency="database",process="app.900"} 1'
check "the site's metrics listener is on the loopback, port 9464" \
    has_line "$px/share/shop/nginx/shop.conf" "listen 127.0.0.1:9464;"
json_field() { grep -o "\"$1\": *\"[^\"]*\"" | head -1 | sed 's/.*: *"\(.*\)"/\1/'; }
order_placed() { # log in as the demo buyer alice and order one mug
    local jar=$top/cookies csrf status
    csrf=$(curl -s -c "$jar" "$base/api/session" | json_field csrf_token)
    csrf=$(curl -s -b "$jar" -c "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" \
        -d '{"login":"alice","password":"alice-pass-1"}' "$base/api/session" | json_field csrf_token)
    [ -n "$csrf" ] || { echo "    alice could not log in"; return 1; }
    status=$(curl -s -o "$top/order.json" -w '%{http_code}' -b "$jar" -H 'Content-Type: application/json' \
        -H "X-CSRF-Token: $csrf" -H "Idempotency-Key: install-$$" \
        -d '{"goods_id":"1001","goods_number":1,"goods_price":"9.90","shipping_fee":"10.00","order_amount":"19.90","money_paid":"19.90","address":"1 Install Road","consignee":"Alice"}' \
        "$base/api/orders")
    [ "$status" = 201 ] || { echo "    POST /api/orders answered $status: $(cat "$top/order.json")"; return 1; }
}
check "a buyer orders through the installed app (its saga on the private MariaDB and RabbitMQ)" order_placed
consumer_up() {
    local i
    for i in $(seq 50); do
        grep -q 'consuming' "$top/consumer.log" && kill -0 "${pids[1]}" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "    the consumer did not start:"
    sed 's/^/    /' "$top/consumer.log" | tail -5
    return 1
}
check "an installed consumer (audit instance 2) takes its queue" consumer_up
worker_id_is_listed() { # instance 2 of audit runs with the worker id --list gives it
    local want
    want=$("$px/bin/shop-consumer" --list --instances 2 | awk -F'\t' '$1 == "audit" && $7 == 2 { print $6 }')
    grep -q "worker id $want)" "$top/consumer.log" ||
        { echo "    expected worker id $want in: $(grep consuming "$top/consumer.log")"; return 1; }
}
check "consumer instance 2 takes the worker id shop-consumer --list gives it" worker_id_is_listed
checks_end install
