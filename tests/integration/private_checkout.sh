#!/usr/bin/env bash
# A checkout in a folder only its owner can enter (as root's home is on
# Debian) runs the shop: the tree and the built programs are copied into a
# fresh mode-700 directory, the whole stack is started from there on ports of
# its own, and the pages a buyer loads first must answer 200. The run
# directory's secrets must be reachable by the user's processes only.
#   tests/integration/private_checkout.sh BUILDDIR
# Ends with "private-checkout: N passed, M failed"; exits non-zero on a failure.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$repo/build}
# shellcheck source=tests/integration/checks.sh
source "$repo/tests/integration/checks.sh"
code_is() { # code_is STATUS URL
    local got
    got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$2")
    [ "$got" = "$1" ] || { echo "    $2 answered $got, expected $1"; return 1; }
}
workers_run_as_me() { # the workers of this stack's nginx (its master's children)
    local me master users
    me=$(id -un)
    master=$(cat "$SHOP_RUN_DIR/nginx/nginx.pid" 2>/dev/null)
    users=$(ps -o user= --ppid "${master:-0}" | sort -u | tr '\n' ' ')
    [ "$users" = "$me " ] || { echo "    nginx (master ${master:-?}) workers run as: ${users:-none}"; return 1; }
}

top=$(mktemp -d /tmp/shop-private.XXXXXX)
chmod 700 "$top"
dir=$top/shop
mkdir "$dir"
trap 'rm -rf "$top"' EXIT
# The working tree as git knows it, and the programs of BUILDDIR.
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) |
    tar -xf - -C "$dir"
(cd "$build" && find . -maxdepth 2 -type f -name 'shop-*' -perm -u+x -print0 | tar --null -T - -cf -) |
    (mkdir -p "$dir/build" && tar -xf - -C "$dir/build")

# Ports of its own, so that the suite's own stack keeps running.
export SHOP_RUN_DIR=$dir/run SHOP_BIN_DIR=$dir/build/src SHOP_HTTP_PORT=18180
export SHOP_SANDBOX_PORT=18181 SHOP_METRICS_PORT=19180 SHOP_DB_PORT=23406 SHOP_MQ_PORT=25773
export SHOP_MQ_DIST_PORT=25783 SHOP_EPMD_PORT=24469 SHOP_MQ_NODE=shopprivate@localhost
unset SHOP_INSTANCES SHOP_APP_WRAPPER SHOP_CONSUMER_WRAPPER
log=$top/services.log
if "$dir/scripts/services" start all >"$log" 2>&1 && "$dir/scripts/services" demo >>"$log" 2>&1; then
    check "the stack starts from a mode-700 directory" true
else
    check "the stack starts from a mode-700 directory" false
    sed 's/^/    /' "$log" | tail -20
fi
base=http://127.0.0.1:$SHOP_HTTP_PORT
check "the catalogue / answers 200" code_is 200 "$base/"
check "/static/style.css answers 200" code_is 200 "$base/static/style.css"
check "the sandbox's cashier answers 200" code_is 200 "http://127.0.0.1:$SHOP_SANDBOX_PORT/"
goods=$(curl -s --max-time 10 "$base/" | grep -o 'href="/goods/[0-9]*"' | head -n 1 | cut -d'"' -f2)
check "the catalogue links a goods page (demo data loaded)" test -n "$goods"
check "that goods page answers 200" code_is 200 "$base${goods:-/goods/none}"
check "nginx's workers run as the invoking user" workers_run_as_me
check "shop.conf (database password) is readable by its owner only" mode_is 600 "$SHOP_RUN_DIR/shop.conf"
check "the run directory is private" mode_is 700 "$SHOP_RUN_DIR"
check "the socket directory is private" mode_is 700 "$SHOP_RUN_DIR/sock"
check "the app's FastCGI socket is not world-writable" mode_is 660 "$SHOP_RUN_DIR/sock/shop-app.sock"
check "the notify socket is not world-writable" mode_is 660 "$SHOP_RUN_DIR/sock/shop-notify.sock"
check "the sandbox's socket is not world-writable" mode_is 660 "$SHOP_RUN_DIR/sock/shop-sandbox.sock"
"$dir/scripts/services" stop all >>"$log" 2>&1 || true
checks_end private-checkout
