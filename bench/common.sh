# shellcheck shell=bash
# bench/common.sh: what every bench/*.sh starts with, sourced by each after
# `set -euo pipefail`: where the shop runs (the variables scripts/services
# reads), say/die/field, and the steps before measuring:
#   bench_positive VAR...     each a positive integer, or die
#   bench_tools PKG... [-- CMD...]
#                             wrk, gcc, curl, mariadb, the commands CMD and the
#                             pkg-config modules PKG, else scripts/setup --no-asan
#   bench_shop_up             the shop answers /healthz, else scripts/services
#                             start all (and scripts/setup first when unbuilt)
#   bench_db                  OUT (<run>/bench/) made; sql QUERY reaches the
#                             shop's database, else die
# and, to see what limits a run, the CPU each process of the shop used:
#   cpu_ticks > FILE          a snapshot of every process's CPU time
#   cpu_report BEFORE AFTER SECONDS
#                             each one's share of a core between two snapshots
#
# Environment (default in brackets):
#   SHOP_RUN_DIR, SHOP_HTTP_PORT, SHOP_DB_PORT   as scripts/services [run/, 8080, 23306]

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${SHOP_RUN_DIR:-$repo/run}
case $RUN_DIR in /*) ;; *) RUN_DIR=$PWD/$RUN_DIR ;; esac
HTTP_PORT=${SHOP_HTTP_PORT:-8080}
DB_PORT=${SHOP_DB_PORT:-23306}
BASE=http://127.0.0.1:$HTTP_PORT
OUT=$RUN_DIR/bench

say() { printf 'bench: %s\n' "$*"; }
# field LINE NAME: the value of NAME=value in a summary line.
field() { sed -E "s/.* $2=([^ ]+).*/\\1/" <<<"$1"; }
die() {
    printf 'bench: %s\n' "$*" >&2
    exit 1
}

bench_positive() { # bench_positive VAR...: each a positive integer
    local v
    for v in "$@"; do
        [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
    done
}

bench_tools() { # bench_tools PKG... [-- CMD...]
    local pkgs=() cmds=(wrk gcc curl mariadb)
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        pkgs+=("$1")
        shift
    done
    [ $# -eq 0 ] || shift
    cmds+=("$@")
    have_tools() {
        local c
        for c in "${cmds[@]}"; do command -v "$c" >/dev/null 2>&1 || return 1; done
        pkg-config --exists "${pkgs[@]}"
    }
    if ! have_tools; then
        say "a tool is missing (${cmds[*]}; pkg-config ${pkgs[*]}): scripts/setup --no-asan"
        "$repo/scripts/setup" --no-asan
        have_tools || die "still missing a tool after scripts/setup"
    fi
}

healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/healthz")" = 200 ]; }

bench_shop_up() {
    healthy && return 0
    say "the shop does not answer on $BASE/healthz: starting it (scripts/services start all)"
    if [ -z "${SHOP_BIN_DIR:-}" ] && [ ! -x "$repo/build/src/shop-app" ]; then
        "$repo/scripts/setup" --no-asan
    fi
    "$repo/scripts/services" start all
    healthy || die "the shop is not healthy at $BASE/healthz; see $RUN_DIR/logs/"
}

sql() { mariadb -h 127.0.0.1 -P "$DB_PORT" -u shop -pshop shop -N -B -e "$1"; }

bench_db() {
    mkdir -p "$OUT"
    sql 'SELECT 1' >/dev/null || die "cannot reach the database as shop/shop on 127.0.0.1:$DB_PORT"
}

# cpu_ticks: "NAME TICKS" (user + system, clock ticks) of every process with a
# pid file under <run>/pids (the app, the consumers, MariaDB, RabbitMQ) and of
# nginx (master and workers).
cpu_ticks() {
    local f name pid
    {
        for f in "$RUN_DIR"/pids/*.pid; do
            [ -r "$f" ] || continue
            name=$(basename "$f" .pid)
            pid=$(tr -dc '0-9' <"$f")
            [ -n "$pid" ] && printf '%s %s\n' "$name" "$pid"
        done
        if [ -r "$RUN_DIR/nginx/nginx.pid" ]; then
            pid=$(tr -dc '0-9' <"$RUN_DIR/nginx/nginx.pid")
            if [ -n "$pid" ]; then
                printf 'nginx %s\n' "$pid"
                pgrep -P "$pid" | sed 's/^/nginx /'
            fi
        fi
    } | while read -r name pid; do
        # Fields 14 and 15 after the command name (which may hold spaces).
        [ -r "/proc/$pid/stat" ] && sed -E 's/^.*\) //' "/proc/$pid/stat" 2>/dev/null |
            awk -v n="$name" '{ print n, $12 + $13 }'
    done
    return 0
}
# cpu_report BEFORE AFTER SECONDS: each process's share of one core between the
# two snapshots, largest first, on one line.
cpu_report() {
    local hz
    hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
    awk -v hz="$hz" -v secs="$3" '
        FNR == NR { before[$1] += $2; next }
        { after[$1] += $2 }
        END {
            for (n in after) {
                d = after[n] - before[n]
                if (d < 0) d = 0
                sub(/^shop-consumer-/, "", n); total += d
                used[n] += d
            }
            for (n in used) printf "%s %.0f\n", n, 100 * used[n] / hz / secs
            printf "TOTAL %.0f\n", 100 * total / hz / secs
        }' "$1" "$2" | sort -k2,2nr | awk '{ printf "%s%s %s%%", (NR > 1 ? ", " : ""), $1, $2 } END { print "" }'
}
