# shellcheck shell=bash
# scripts/lib/services/sandbox.sh: the payment provider sandbox
# Sourced by scripts/services (its settings and helpers are in scope).

# --- the payment provider sandbox -----------------------------------------

sandbox_pid() { live_pid "$SANDBOX_PID" "$SANDBOX_PID"; }
sandbox_socket_ready() { [ -S "$SANDBOX_SOCK" ] && sandbox_pid; }
# Ready: nginx passes GET / to it and it answers 200.
sandbox_answers() {
    local code
    code=$(http_code "$SANDBOX_PORT" /)
    [ "$code" = 200 ] && return 0
    if [ "$code" = 502 ] && nginx_denied; then return 3; fi
    return 1
}
# sandbox_running_scale PID: the --time-scale it was started with.
sandbox_running_scale() {
    local args=() i
    mapfile -d '' args <"/proc/$1/cmdline" 2>/dev/null || return 0
    for i in "${!args[@]}"; do
        if [ "${args[i]}" = --time-scale ]; then printf '%s' "${args[i + 1]:-}"; fi
    done
}
# How many notifications it still has to deliver (its state dir's pending/).
sandbox_pending() {
    local files=()
    [ -d "$SANDBOX_STATE/pending" ] && mapfile -t files < <(find "$SANDBOX_STATE/pending" -maxdepth 1 -name '*.json' 2>/dev/null)
    printf '%s' "${#files[@]}"
}

sandbox_start() {
    need_build "$SANDBOX_BIN"
    setup_dirs
    keys_ensure
    local pid scale
    if pid=$(sandbox_pid); then
        scale=$(sandbox_running_scale "$pid")
        # Without SHOP_SANDBOX_TIME_SCALE, whatever runs is fine.
        if [ -z "${SHOP_SANDBOX_TIME_SCALE:-}" ] || [ "$scale" = "$SANDBOX_TIME_SCALE" ]; then
            say "sandbox already running (pid $pid, time scale ${scale:-?}, http://127.0.0.1:$SANDBOX_PORT/)"
            if nginx_pid >/dev/null; then nginx_sync --keep-site; fi
            return 0
        fi
        # Its state stays: nothing pending is lost.
        say "sandbox: running with time scale ${scale:-?}; restarting it with $SANDBOX_TIME_SCALE"
        sandbox_stop
    fi
    if [ -e "$SANDBOX_SOCK" ]; then
        socket_bound "$SANDBOX_SOCK" && die "cannot start sandbox: $SANDBOX_SOCK is in use by another process"
        rm -f "$SANDBOX_SOCK"
    fi
    rm -f "$SANDBOX_PID"
    # Kept across restarts: pending deliveries survive.
    mkdir -p "$SANDBOX_STATE"
    say "sandbox: starting $SANDBOX_BIN (time scale $SANDBOX_TIME_SCALE)"
    spawn "$SANDBOX_LOG" "$SANDBOX_BIN" --socket "$SANDBOX_SOCK" --pid-file "$SANDBOX_PID" \
        --state-dir "$SANDBOX_STATE" --merchant-public-key "$KEYS_DIR/merchant_public.pem" \
        --provider-private-key "$KEYS_DIR/provider_private.pem" --app-id "$SANDBOX_APP_ID" \
        --seller-id "$SANDBOX_SELLER_ID" --time-scale "$SANDBOX_TIME_SCALE" --threads 4 \
        --test-hooks
    local launcher=$SPAWNED_PID rc=0
    wait_until "$APP_TIMEOUT" "$launcher" sandbox_socket_ready || rc=$?
    if [ "$rc" -eq 0 ]; then
        if nginx_pid >/dev/null; then
            nginx_sync --keep-site
            wait_until "$APP_TIMEOUT" "$launcher" sandbox_answers || rc=$?
            [ "$rc" -eq 3 ] && die_denied "$SANDBOX_SOCK"
            [ "$rc" -eq 0 ] || warn "sandbox not answering on http://127.0.0.1:$SANDBOX_PORT/ (see also $NGINX_LOG)"
        else
            say "sandbox: nginx is not running; readiness checked by the socket only"
        fi
    fi
    if [ "$rc" -ne 0 ]; then
        if alive "$launcher"; then
            warn "sandbox not ready after $APP_TIMEOUT s; stopping it"
            stop_pid sandbox "$launcher" shop-sandbox "$STOP_TIMEOUT"
        fi
        fail_start sandbox "$SANDBOX_LOG"
    fi
    pid=$(sandbox_pid) || pid=$launcher
    say "sandbox ready (pid $pid, http://127.0.0.1:$SANDBOX_PORT/, $(sandbox_pending) pending notification(s))"
}

sandbox_stop() {
    local pid
    if pid=$(sandbox_pid); then
        say "sandbox: stopping (pid $pid)"
        stop_pid sandbox "$pid" shop-sandbox "$STOP_TIMEOUT"
        say "sandbox stopped"
    else
        say "sandbox not running"
    fi
    rm -f "$SANDBOX_PID"
    if [ -S "$SANDBOX_SOCK" ] && ! socket_bound "$SANDBOX_SOCK"; then rm -f "$SANDBOX_SOCK"; fi
    return 0
}

sandbox_status() {
    local pid
    if pid=$(sandbox_pid); then
        say "sandbox   running (pid $pid, http://127.0.0.1:$SANDBOX_PORT/, $(sandbox_pending) pending notification(s))"
    else
        say "sandbox   stopped"
    fi
}
