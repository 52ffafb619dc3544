# shellcheck shell=bash
# scripts/lib/services/app.sh: the FastCGI app instances
# Sourced by scripts/services (its settings and helpers are in scope).

# --- the app -------------------------------------------------------------

need_build() {
    [ -x "$1" ] || die "build first: $1 not found (autoreconf -fi && ./configure && make), or set SHOP_BIN_DIR"
}

# Instance K of the app (1..): its sockets, pid file, log and snowflake worker
# id. Instance 1 keeps the historical names (shop-app.sock, shop-notify.sock,
# shop-app.pid, shop-app.log, worker id 1); instance K >= 2 has shop-app-K.*,
# shop-notify-K.sock and 200 + K.
app_sock() { if [ "$1" -eq 1 ]; then printf '%s' "$APP_SOCK"; else printf '%s/shop-app-%s.sock' "$SOCK_DIR" "$1"; fi; }
app_notify_sock() { if [ "$1" -eq 1 ]; then printf '%s' "$NOTIFY_SOCK"; else printf '%s/shop-notify-%s.sock' "$SOCK_DIR" "$1"; fi; }
app_pidfile() { if [ "$1" -eq 1 ]; then printf '%s' "$APP_PID"; else printf '%s/shop-app-%s.pid' "$PID_DIR" "$1"; fi; }
app_logfile() { if [ "$1" -eq 1 ]; then printf '%s' "$APP_LOG"; else printf '%s/shop-app-%s.log' "$LOG_DIR" "$1"; fi; }
app_worker_id() { if [ "$1" -eq 1 ]; then echo 1; else echo $((200 + $1)); fi; }

# app_pid [K]: the live pid of instance K (default 1).
app_pid() {
    local f
    f=$(app_pidfile "${1:-1}")
    live_pid "$f" "$f"
}
# A unix socket path some process has bound (listed in /proc/net/unix).
socket_bound() { awk -v p="$1" '$NF == p { found = 1 } END { exit !found }' /proc/net/unix; }
app_socket_ready() { [ -S "$(app_sock "$1")" ] && app_pid "$1"; }
# nginx gets an answer from the app (anything but 502/504 "no upstream").
app_answers() {
    local code
    code=$(http_code "$HTTP_PORT" /healthz)
    if [ "$code" = 502 ] && nginx_denied; then return 3; fi
    [ -n "$code" ] && [ "$code" != 000 ] && [ "$code" != 502 ] && [ "$code" != 504 ]
}

# app_known_instances: 1..SHOP_INSTANCES plus every instance that has a pid
# file (started earlier with a larger SHOP_INSTANCES), one per line, sorted.
app_known_instances() {
    {
        seq 1 "$INSTANCES"
        local f k
        for f in "$PID_DIR"/shop-app-*.pid; do
            [ -e "$f" ] || continue
            k=${f##*/shop-app-}
            k=${k%.pid}
            [[ $k =~ ^[0-9]+$ ]] && [ "$k" -ge 2 ] && echo "$k"
        done
    } | sort -n -u
}

# The instances nginx must list: the wanted ones and any still running.
app_upstream_instances() {
    local k
    for k in $(app_known_instances); do
        if [ "$k" -le "$INSTANCES" ] || app_pid "$k" >/dev/null; then echo "$k"; fi
    done
}

# app_spawn K: start instance K unless it runs; sets SPAWNED_PID ("" when it
# was running already).
app_spawn() {
    local k=$1 sock pidfile log pid
    sock=$(app_sock "$k")
    pidfile=$(app_pidfile "$k")
    log=$(app_logfile "$k")
    SPAWNED_PID=
    if pid=$(app_pid "$k"); then
        say "app $k already running (pid $pid, socket $sock)"
        return 0
    fi
    local s
    for s in "$sock" "$(app_notify_sock "$k")"; do
        if [ -e "$s" ]; then
            socket_bound "$s" && die "cannot start app $k: $s is in use by another process"
            rm -f "$s"
        fi
    done
    rm -f "$pidfile"
    local wrapper=()
    [ -n "$APP_WRAPPER" ] && read -r -a wrapper <<<"$APP_WRAPPER"
    say "app $k: starting ${APP_WRAPPER:+under $APP_WRAPPER }$APP_BIN"
    # Every process needs its own snowflake worker id; instances >= 2 listen
    # on their own socket (SHOP_FCGI_SOCKET overrides the shared shop.conf).
    SPAWN_ENV=("SHOP_WORKER_ID=$(app_worker_id "$k")")
    if [ "$k" -ge 2 ]; then
        SPAWN_ENV+=("SHOP_FCGI_SOCKET=$sock")
        SPAWN_ENV+=("SHOP_FCGI_NOTIFY_SOCKET=$(app_notify_sock "$k")")
    fi
    spawn "$log" "${wrapper[@]}" "$APP_BIN" --config "$SHOP_CONF" --pid-file "$pidfile"
    SPAWN_ENV=()
}

app_start() {
    need_build "$APP_BIN"
    setup_dirs
    write_shop_conf
    local k timeout=$APP_TIMEOUT rc launchers=()
    [ -n "$APP_WRAPPER" ] && timeout=$((APP_TIMEOUT * 4))
    # Start every instance first, then wait for each: they boot in parallel.
    for k in $(seq 1 "$INSTANCES"); do
        app_spawn "$k"
        launchers[k]=$SPAWNED_PID
    done
    for k in $(seq 1 "$INSTANCES"); do
        [ -n "${launchers[k]}" ] || continue
        rc=0
        wait_until "$timeout" "${launchers[k]}" app_socket_ready "$k" || rc=$?
        if [ "$rc" -ne 0 ]; then
            if alive "${launchers[k]}"; then
                warn "app $k not ready after $timeout s; stopping it"
                stop_pid "app $k" "${launchers[k]}" shop-app "$STOP_TIMEOUT"
            fi
            fail_start "app $k" "$(app_logfile "$k")"
        fi
    done
    if nginx_pid >/dev/null; then
        nginx_sync
        rc=0
        wait_until "$timeout" "${launchers[1]:-}" app_answers || rc=$?
        [ "$rc" -eq 3 ] && die_denied "$APP_SOCK"
        if [ "$rc" -ne 0 ]; then
            warn "app not answering through nginx after $timeout s; stopping what was started"
            for k in $(seq 1 "$INSTANCES"); do
                if [ -n "${launchers[k]}" ] && alive "${launchers[k]}"; then
                    stop_pid "app $k" "${launchers[k]}" shop-app "$STOP_TIMEOUT"
                fi
            done
            fail_start app "$APP_LOG"
        fi
    else
        say "app: nginx is not running; readiness checked by the socket only"
    fi
    local pid
    for k in $(seq 1 "$INSTANCES"); do
        [ -n "${launchers[k]}" ] || continue
        pid=$(app_pid "$k") || pid=${launchers[k]}
        say "app $k ready (pid $pid, socket $(app_sock "$k"))"
    done
}

# remove_stale_sockets K: instance K's socket files that nobody listens on.
remove_stale_sockets() {
    local s
    for s in "$(app_sock "$1")" "$(app_notify_sock "$1")"; do
        if [ -S "$s" ] && ! socket_bound "$s"; then rm -f "$s"; fi
    done
    return 0
}

# app_stop_one K: stop instance K only (nginx sends its requests to the
# others).
app_stop_one() {
    local k=$1 pid
    if pid=$(app_pid "$k"); then
        say "app $k: stopping (pid $pid)"
        stop_pid "app $k" "$pid" shop-app "$STOP_TIMEOUT"
        say "app $k stopped"
    else
        say "app $k not running"
    fi
    rm -f "$(app_pidfile "$k")"
    remove_stale_sockets "$k"
}

# Stops every instance, however many SHOP_INSTANCES says: SIGTERM to all,
# then wait for each.
app_stop() {
    local k pid sock pids=() names=()
    for k in $(app_known_instances); do
        sock=$(app_sock "$k")
        if ! pid=$(app_pid "$k"); then
            rm -f "$(app_pidfile "$k")"
            remove_stale_sockets "$k"
            [ "$k" -le "$INSTANCES" ] && say "app $k not running"
            continue
        fi
        say "app $k: stopping (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
        names+=("$k")
    done
    local i
    for i in "${!pids[@]}"; do
        k=${names[i]}
        stop_pid "app $k" "${pids[i]}" shop-app "$STOP_TIMEOUT"
        rm -f "$(app_pidfile "$k")"
        remove_stale_sockets "$k"
        say "app $k stopped"
    done
}

app_status() {
    local k pid
    for k in $(app_known_instances); do
        if pid=$(app_pid "$k"); then
            say "$(printf '%-9s' "app $k") running (pid $pid, socket $(app_sock "$k"), worker id $(app_worker_id "$k"))"
        elif [ "$k" -le "$INSTANCES" ]; then
            say "$(printf '%-9s' "app $k") stopped"
        fi
    done
}
