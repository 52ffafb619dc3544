# shellcheck shell=bash
# scripts/lib/services/common.sh: messages, paths, processes and ports, spawning, rendering
# Sourced by scripts/services (its settings and helpers are in scope).

say() { printf 'services: %s\n' "$*"; }
warn() { printf 'services: warning: %s\n' "$*" >&2; }
die() {
    printf 'services: %s\n' "$*" >&2
    exit 1
}

# fail_start SERVICE LOG: the readiness check failed; show the log and stop.
fail_start() {
    local service=$1 log=$2
    printf 'services: FAILED: %s did not start; see %s\n' "$service" "$log" >&2
    if [ -r "$log" ]; then
        printf -- '--- last 20 lines of %s ---\n' "$log" >&2
        tail -n 20 "$log" >&2
        printf -- '---\n' >&2
    fi
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || die "$1 not found: $2"
}

check_port_value() {
    if ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
        die "$1 must be a TCP port (1-65535), got '$2'"
    fi
}

# --- paths ---------------------------------------------------------------

case $RUN_DIR in
/*) ;;
*) RUN_DIR=$PWD/$RUN_DIR ;;
esac
RUN_DIR=${RUN_DIR%/}

SOCK_DIR=$RUN_DIR/sock
LOG_DIR=$RUN_DIR/logs
PID_DIR=$RUN_DIR/pids
SHOP_CONF=$RUN_DIR/shop.conf
TEST_ENV=$RUN_DIR/test-env.sh

DB_DIR=$RUN_DIR/db
DB_DATA=$DB_DIR/data
DB_CNF=$DB_DIR/my.cnf
DB_SOCK=$SOCK_DIR/mysqld.sock
DB_PID=$PID_DIR/mariadb.pid
DB_LOG=$LOG_DIR/mariadb.log

MQ_DIR=$RUN_DIR/mq
MQ_LOG=$LOG_DIR/rabbitmq.log
MQ_LOG_BASE=$MQ_DIR/log
MQ_PID=$PID_DIR/rabbitmq.pid

NGINX_DIR=$RUN_DIR/nginx
NGINX_CONF=$NGINX_DIR/nginx.conf
NGINX_PID=$NGINX_DIR/nginx.pid
NGINX_LOG=$LOG_DIR/nginx-error.log
NGINX_LOG_MARK=$(stat -c %s "$NGINX_LOG" 2>/dev/null || echo 0)

APP_BIN=$BIN_DIR/shop-app
APP_SOCK=$SOCK_DIR/shop-app.sock
# The app's second FastCGI socket: provider notifications only (own threads).
NOTIFY_SOCK=$SOCK_DIR/shop-notify.sock
APP_PID=$PID_DIR/shop-app.pid
APP_LOG=$LOG_DIR/shop-app.log

SANDBOX_SOCK=$SOCK_DIR/shop-sandbox.sock
SANDBOX_PID=$PID_DIR/shop-sandbox.pid
SANDBOX_LOG=$LOG_DIR/shop-sandbox.log
SANDBOX_STATE=$RUN_DIR/sandbox
# Who we are at the provider (the sandbox checks the requests against them;
# the app's defaults alipay_app_id and alipay_seller_id are the same).
SANDBOX_APP_ID=2026000000000001
SANDBOX_SELLER_ID=2088000000000001

KEYS_DIR=$RUN_DIR/keys

CONSUMER_BIN=$BIN_DIR/shop-consumer
consumer_pid() { printf '%s/shop-consumer-%s.pid' "$PID_DIR" "$1"; }
consumer_log() { printf '%s/shop-consumer-%s.log' "$LOG_DIR" "$1"; }

# --- processes and ports -------------------------------------------------

# alive PID: the process exists and is not a zombie.
alive() {
    local st
    [[ ${1:-} =~ ^[0-9]+$ ]] || return 1
    st=$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "${st%% *}" != Z ]
}

# live_pid PIDFILE PATTERN: print the pid from PIDFILE when that process is
# alive and its command line contains PATTERN (so a reused pid is not taken
# for ours).
live_pid() {
    local pid cmd
    [ -r "$1" ] || return 1
    pid=$(tr -dc '0-9' <"$1" 2>/dev/null) || return 1
    alive "$pid" || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$2"* ]] || return 1
    printf '%s\n' "$pid"
}

# port_listening PORT: something accepts TCP connections on PORT.
port_listening() {
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# port_owner PORT: who listens there, for messages ("" when unknown).
port_owner() {
    local users
    command -v ss >/dev/null 2>&1 || return 0
    users=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(.*)' | head -n 1) || true
    printf '%s' "$users"
}

# refuse_port NAME PORT VAR: stop with a clear message when PORT is taken.
refuse_port() {
    if port_listening "$2"; then
        local owner
        owner=$(port_owner "$2")
        die "cannot start $1: port $2 is already in use${owner:+ by $owner}; stop that or choose another port with $3"
    fi
}

# wait_until TIMEOUT WATCHPID CMD...: run CMD every 0.2 s until it succeeds
# (0), it answers 3 (it knows it never will: 3), the WATCHPID process dies
# (2; "" watches nothing) or TIMEOUT seconds pass (1).
wait_until() {
    local timeout=$1 watch=$2 rc
    shift 2
    local deadline=$((SECONDS + timeout))
    while :; do
        rc=0
        "$@" >/dev/null 2>&1 || rc=$?
        [ "$rc" -eq 0 ] && return 0
        [ "$rc" -eq 3 ] && return 3
        if [ -n "$watch" ] && ! alive "$watch"; then return 2; fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# stop_pid NAME PID PATTERN TIMEOUT: SIGTERM, wait, then SIGKILL.
stop_pid() {
    local name=$1 pid=$2 timeout=$4
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until "$timeout" "" not_running "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        say "$name (pid $pid) did not stop within $timeout s; sent SIGKILL"
        wait_until 5 "" not_running "$pid" || die "$name (pid $pid) survived SIGKILL"
    fi
}
not_running() { ! alive "$1"; }

# in_parallel FN K...: FN K for every K at once, each in a subshell (its
# output as it comes); fails when any of them did.
in_parallel() {
    local fn=$1 k p pids=() rc=0
    shift
    for k in "$@"; do
        ("$fn" "$k") &
        pids+=("$!")
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    return "$rc"
}

# spawn LOG CMD...: start CMD in its own session, output appended to LOG,
# stdin from /dev/null, without this script's variables and with the
# NAME=value words of SPAWN_ENV added; sets SPAWNED_PID. (The daemons write
# their own pid files; SPAWNED_PID only tells an early death.)
SPAWN_ENV=()
spawn() {
    local log=$1
    shift
    local unset_args=() v
    for v in "${SCRIPT_VARS[@]}"; do unset_args+=(-u "$v"); done
    printf '=== services: %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >>"$log"
    # 8>&-: the daemon must not inherit (and hold) the run directory's lock.
    # Run from the run directory, so that nothing (core or crash dump) lands
    # in the caller's directory.
    (cd "$RUN_DIR" && exec env "${unset_args[@]}" "${SPAWN_ENV[@]}" setsid -w "$@") \
        >>"$log" 2>&1 </dev/null 8>&- &
    SPAWNED_PID=$!
}

sed_escape() { printf '%s' "$1" | sed -e 's/[|&\\]/\\&/g'; }

# The private nginx's workers run as the invoking user: they reach the
# sockets and static/ wherever the checkout is (a home only its owner can
# enter included), and nobody else needs any access to the run directory.
# Without root, nginx runs its workers as that user anyway and the `user`
# line is dropped.
nginx_user() { printf '%s %s' "$(id -un)" "$(id -gn)"; }

# render IN OUT: replace @RUN_DIR@, @HTTP_PORT@, @SANDBOX_PORT@, @METRICS_PORT@, @REPO_DIR@
# and @NGINX_USER@.
render() {
    local tmp=$2.tmp drop_user=()
    [ "$(id -u)" -eq 0 ] || drop_user=(-e '/^user @NGINX_USER@;/d')
    sed "${drop_user[@]}" -e "s|@RUN_DIR@|$(sed_escape "$RUN_DIR")|g" \
        -e "s|@HTTP_PORT@|$(sed_escape "$HTTP_PORT")|g" \
        -e "s|@SANDBOX_PORT@|$(sed_escape "$SANDBOX_PORT")|g" \
        -e "s|@METRICS_PORT@|$(sed_escape "$METRICS_PORT")|g" \
        -e "s|@NGINX_USER@|$(sed_escape "$(nginx_user)")|g" \
        -e "s|@REPO_DIR@|$(sed_escape "$REPO_DIR")|g" "$1" >"$tmp"
    if grep -q '@[A-Z_]*@' "$tmp"; then
        rm -f "$tmp"
        die "$1 has a placeholder other than @RUN_DIR@, @HTTP_PORT@, @SANDBOX_PORT@, @METRICS_PORT@, @REPO_DIR@, @NGINX_USER@"
    fi
    mv -f "$tmp" "$2"
}

setup_dirs() {
    # Only the invoking user's processes use what is in here (the private
    # nginx's workers run as that user too, see nginx_user): the database
    # password in shop.conf, the sockets, the keys.
    mkdir -p "$RUN_DIR" "$SOCK_DIR" "$LOG_DIR" "$PID_DIR" "$DB_DIR" "$MQ_DIR" "$NGINX_DIR" "$RUN_DIR/metrics"
    chmod 700 "$RUN_DIR" "$SOCK_DIR"
    # The Galera nodes run as user mysql and must reach their directories.
    [ -z "$CLUSTER" ] || chmod 711 "$RUN_DIR"
    local longest sock_len
    longest=$(app_sock "$MAX_INSTANCES")
    sock_len=${#longest}
    [ "$sock_len" -lt 100 ] ||
        die "run directory path too long for unix sockets ($longest: $sock_len bytes; keep it under 100)"
}
