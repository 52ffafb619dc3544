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
# and the resident memory of the shop's processes (every shop-app instance
# and every consumer, by their pid files) while a bench loads them:
#   bench_mem_start FILE      a sampler in the background: every half second
#                             (less often on a busy machine), "NAME VmRSS
#                             VmHWM" (kB, /proc/PID/status) of each process
#                             appended to FILE
#   bench_mem_stop            the sampler stopped (no-op when none runs)
#   bench_proc_mem PID        "VmRSS VmHWM" (kB) of one process
#   bench_mem_report FILE     the largest VmRSS sampled and the VmHWM (peak
#                             since the process started, which may come from
#                             before the window: it is shown, and flagged
#                             when over the target, not judged) of each
#                             process, in MB, judged on the sampled peak
#                             against the targets (app < 64 MB, each consumer
#                             < 32 MB); returns 1 when one is over or nothing
#                             was sampled
# and, to see what limits a run, the CPU each process of the shop used:
#   cpu_ticks [NAME PID]... > FILE
#                             a snapshot of every process's CPU time (and of
#                             the processes given)
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

# --- resident memory ----------------------------------------------------------

# Targets (the issue): under load, the app below 64 MB, each consumer below 32 MB.
APP_RSS_MAX_KB=$((64 * 1024))
CONSUMER_RSS_MAX_KB=$((32 * 1024))

# Every shop process with a pid file that runs: "NAME PID" (the app
# instances, the consumers).
bench_shop_processes() {
    local f name pid
    for f in "$RUN_DIR"/pids/shop-app*.pid "$RUN_DIR"/pids/shop-consumer-*.pid; do
        [ -e "$f" ] || continue # no match of the pattern, or a restart
        pid=
        read -r pid 2>/dev/null <"$f" || [ -n "$pid" ] || continue
        pid=${pid//[!0-9]/}
        name=${f##*/}
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && printf '%s %s\n' "${name%.pid}" "$pid"
    done
    return 0
}

# bench_proc_mem PID: "VmRSS_kB VmHWM_kB" of a process, nothing when it is
# gone; read with builtins only (the sampler must not load the machine it
# measures).
bench_proc_mem() {
    local k v rest rss='' hwm=''
    while read -r k v rest; do
        case $k in VmRSS:) rss=$v ;; VmHWM:) hwm=$v ;; esac
    done 2>/dev/null <"/proc/$1/status"
    [ -z "$rss" ] || printf '%s %s\n' "$rss" "${hwm:-$rss}"
}

# One sample of each shop process: "NAME VmRSS_kB VmHWM_kB".
mem_sample() {
    local name pid m
    bench_shop_processes | while read -r name pid; do
        m=$(bench_proc_mem "$pid")
        [ -z "$m" ] || printf '%s %s\n' "$name" "$m"
    done
    return 0
}

mem_sampler=
bench_mem_start() { # bench_mem_start FILE
    : >"$1"
    (
        set +e
        while :; do
            mem_sample >>"$1"
            sleep 0.5
        done
    ) &
    mem_sampler=$!
}

bench_mem_stop() {
    [ -n "$mem_sampler" ] || return 0
    kill "$mem_sampler" 2>/dev/null || true
    wait "$mem_sampler" 2>/dev/null || true
    mem_sampler=
    return 0
}

bench_mem_report() { # bench_mem_report FILE
    if [ ! -s "$1" ]; then
        echo "  (no process sampled: no pid files under $RUN_DIR/pids?)"
        return 1
    fi
    awk -v ra=$APP_RSS_MAX_KB -v rc=$CONSUMER_RSS_MAX_KB '
        { if ($2 > rss[$1]) rss[$1] = $2; if ($3 > hwm[$1]) hwm[$1] = $3; n[$1]++ }
        END {
            for (p in rss) {
                cap = (p ~ /^shop-app/) ? ra : rc
                printf "  %-28s %7.1f MB %-4s (%d samples; peak since the process started %.1f MB%s)\n",
                    p, rss[p] / 1024, rss[p] < cap ? "ok" : "OVER", n[p], hwm[p] / 1024,
                    hwm[p] < cap || rss[p] >= cap ? "" : ": over the target, before the window or between samples"
            }
        }' "$1" | sort | tee "$1.summary"
    ! grep -q ' OVER ' "$1.summary"
}

# --- CPU ----------------------------------------------------------------------

# cpu_ticks [NAME PID]...: "NAME TICKS" (user + system, clock ticks) of every
# process with a pid file under <run>/pids (the app, the consumers, MariaDB,
# RabbitMQ), of nginx (master and workers) and of the processes given.
cpu_ticks() {
    local f name pid
    {
        while [ $# -ge 2 ]; do
            printf '%s %s\n' "$1" "$2"
            shift 2
        done
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
