# shellcheck shell=bash
# scripts/lib/services/consumers.sh: the message consumers
# Sourced by scripts/services (its settings and helpers are in scope).

# --- consumers -----------------------------------------------------------

# Instance K of consumer NAME is called NAME for K = 1 and NAME.K otherwise
# (its pid file and log carry that instance name).
consumer_instance() { if [ "$2" -eq 1 ]; then printf '%s' "$1"; else printf '%s.%s' "$1" "$2"; fi; }

# The consumers are the program's own table (src/topology.h), as
# `shop-consumer --list --instances N` prints it: one line per instance,
#   name queue routing_keys database publishes worker_id instance
# (tab-separated). consumers_load sets CONSUMERS (the names, in table order)
# and CONSUMER_WORKER_ID[INSTANCE]. Without a build (stop, status) the names
# are those of the pid files found.
CONSUMERS=()
declare -A CONSUMER_WORKER_ID=()
consumers_load() {
    [ ${#CONSUMERS[@]} -eq 0 ] || return 0
    local out name queue keys db publishes worker_id k f
    if [ ! -x "$CONSUMER_BIN" ]; then
        for f in "$PID_DIR"/shop-consumer-*.pid; do
            [ -e "$f" ] || continue
            name=${f##*/shop-consumer-}
            name=${name%.pid}
            name=${name%%.*}
            [[ " ${CONSUMERS[*]} " == *" $name "* ]] || CONSUMERS+=("$name")
        done
        return 0
    fi
    out=$("$CONSUMER_BIN" --list --instances "$INSTANCES") || die "$CONSUMER_BIN --list failed"
    # shellcheck disable=SC2034 # the table's other columns are for readers
    while IFS=$'\t' read -r name queue keys db publishes worker_id k; do
        [ "$k" = 1 ] && CONSUMERS+=("$name")
        CONSUMER_WORKER_ID[$(consumer_instance "$name" "$k")]=$worker_id
    done <<<"$out"
    [ ${#CONSUMERS[@]} -gt 0 ] || die "$CONSUMER_BIN --list printed no consumers"
}

# consumer_running INSTANCE: its live pid.
consumer_running() {
    local f
    f=$(consumer_pid "$1")
    live_pid "$f" "$f"
}
# Ready: it wrote its pid file and is still alive a moment later.
consumer_ready() { consumer_running "$1"; }

# consumer_known_instances NAME: the instance numbers of NAME to look at:
# 1..SHOP_INSTANCES and every one with a pid file.
consumer_known_instances() {
    {
        seq 1 "$INSTANCES"
        local f k
        for f in "$PID_DIR/shop-consumer-$1".*.pid; do
            [ -e "$f" ] || continue
            k=${f##*/shop-consumer-"$1".}
            k=${k%.pid}
            [[ $k =~ ^[0-9]+$ ]] && [ "$k" -ge 2 ] && echo "$k"
        done
    } | sort -n -u
}

# consumer_spawn NAME K WORKER_ID: start instance K of NAME unless it runs;
# sets SPAWNED_PID ("" when it was running).
consumer_spawn() {
    local name=$1 k=$2 worker_id=$3 inst pidfile log pid
    inst=$(consumer_instance "$name" "$k")
    pidfile=$(consumer_pid "$inst")
    log=$(consumer_log "$inst")
    SPAWNED_PID=
    if pid=$(consumer_running "$inst"); then
        say "consumer $inst already running (pid $pid)"
        return 0
    fi
    rm -f "$pidfile"
    local wrapper=()
    [ -n "$CONSUMER_WRAPPER" ] && read -r -a wrapper <<<"$CONSUMER_WRAPPER"
    say "consumer $inst: starting"
    # NAME.K: the consumer takes instance K's worker id ($worker_id) from the
    # topology table itself.
    spawn "$log" "${wrapper[@]}" "$CONSUMER_BIN" --config "$SHOP_CONF" --pid-file "$pidfile" "$name.$k"
}

consumers_start() {
    need_build "$CONSUMER_BIN"
    setup_dirs
    write_shop_conf
    consumers_load
    local name k inst timeout=$APP_TIMEOUT rc
    [ -n "$CONSUMER_WRAPPER" ] && timeout=$((APP_TIMEOUT * 4))
    local -A launchers=()
    # Start them all, then wait for each: they connect in parallel.
    for name in "${CONSUMERS[@]}"; do
        for k in $(seq 1 "$INSTANCES"); do
            inst=$(consumer_instance "$name" "$k")
            consumer_spawn "$name" "$k" "${CONSUMER_WORKER_ID[$inst]}"
            [ -n "$SPAWNED_PID" ] && launchers[$inst]=$SPAWNED_PID
        done
    done
    [ ${#launchers[@]} -gt 0 ] || return 0
    for name in "${CONSUMERS[@]}"; do
        for k in $(seq 1 "$INSTANCES"); do
            inst=$(consumer_instance "$name" "$k")
            [ -n "${launchers[$inst]:-}" ] || continue
            rc=0
            wait_until "$timeout" "${launchers[$inst]}" consumer_ready "$inst" || rc=$?
            if [ "$rc" -ne 0 ]; then
                if alive "${launchers[$inst]}"; then
                    warn "consumer $inst not ready after $timeout s; stopping it"
                    stop_pid "consumer $inst" "${launchers[$inst]}" shop-consumer "$STOP_TIMEOUT"
                fi
                # A consumer writes its pid file once it consumes: it needs the broker.
                mq_port_open || warn "mq is not running: start it first (scripts/services start mq)"
                fail_start "consumer $inst" "$(consumer_log "$inst")"
            fi
        done
    done
    # Still alive a moment later (a bad queue or a lost broker ends it fast).
    sleep 0.5
    local pid
    for name in "${CONSUMERS[@]}"; do
        for k in $(seq 1 "$INSTANCES"); do
            inst=$(consumer_instance "$name" "$k")
            [ -n "${launchers[$inst]:-}" ] || continue
            pid=$(consumer_running "$inst") || fail_start "consumer $inst" "$(consumer_log "$inst")"
            say "consumer $inst ready (pid $pid)"
        done
    done
}

# Stops every instance of every consumer: SIGTERM to all, then wait for each.
consumers_stop() {
    consumers_load
    local name k inst pid pids=() insts=()
    for name in "${CONSUMERS[@]}"; do
        for k in $(consumer_known_instances "$name"); do
            inst=$(consumer_instance "$name" "$k")
            if ! pid=$(consumer_running "$inst"); then
                rm -f "$(consumer_pid "$inst")"
                [ "$k" -le "$INSTANCES" ] && say "consumer $inst not running"
                continue
            fi
            say "consumer $inst: stopping (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            insts+=("$inst")
        done
    done
    local i
    for i in "${!pids[@]}"; do
        stop_pid "consumer ${insts[i]}" "${pids[i]}" shop-consumer "$STOP_TIMEOUT"
        rm -f "$(consumer_pid "${insts[i]}")"
        say "consumer ${insts[i]} stopped"
    done
}

consumers_status() {
    consumers_load
    local name k inst pid
    for name in "${CONSUMERS[@]}"; do
        for k in $(consumer_known_instances "$name"); do
            inst=$(consumer_instance "$name" "$k")
            if pid=$(consumer_running "$inst"); then
                say "$(printf '%-9s' "$inst") running (pid $pid, consumer)"
            elif [ "$k" -le "$INSTANCES" ]; then
                say "$(printf '%-9s' "$inst") stopped (consumer)"
            fi
        done
    done
}
