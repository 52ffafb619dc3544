# shellcheck shell=bash
# scripts/lib/services/nginx.sh: the private nginx
# Sourced by scripts/services (its settings and helpers are in scope).

# --- nginx ---------------------------------------------------------------

nginx_args() { printf '%s\0' -c "$NGINX_CONF" -p "$NGINX_DIR/" -e "$NGINX_LOG"; }
nginx_run() {
    local args=()
    mapfile -d '' args < <(nginx_args)
    nginx "${args[@]}" "$@"
}
nginx_pid() { live_pid "$NGINX_PID" "$NGINX_CONF"; }
# http_code PORT PATH: the status nginx answers ("000" when nothing answers).
http_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1$2" || true
}
# The port answers HTTP (any status).
http_answers() {
    local code
    code=$(http_code "$HTTP_PORT" /static/style.css)
    [ -n "$code" ] && [ "$code" != 000 ]
}
# nginx_denied: nginx's workers were refused a file or socket of ours (its
# error log says "Permission denied" about the run directory or the checkout).
# Only what this run of the script added to the log counts.
nginx_denied() {
    [ -r "$NGINX_LOG" ] && tail -c +$((NGINX_LOG_MARK + 1)) "$NGINX_LOG" |
        grep -F '(13: Permission denied)' | grep -qF -e "$RUN_DIR" -e "$REPO_DIR"
}
# die_denied WHAT: the reason and the fix, at once.
die_denied() {
    die "nginx's workers cannot reach $1 (Permission denied in $NGINX_LOG): they must run as $(nginx_user) (see the user line of $NGINX_CONF) or be able to enter every directory above $REPO_DIR"
}

# nginx_render_site OUT: nginx/shop.conf rendered, with one more upstream
# `server` line per extra app instance K >= 2 after each line of the first
# instance's sockets (shop-app.sock -> shop-app-K.sock, shop-notify.sock ->
# shop-notify-K.sock; the line's parameters kept).
nginx_render_site() {
    local out=$1 extra
    render "$REPO_DIR/nginx/shop.conf" "$out.site"
    extra=$(app_upstream_instances | awk '$1 >= 2' | tr '\n' ' ')
    awk -v extra="$extra" '
        { print }
        /^[ \t]*server[ \t]+unix:.*\/shop-(app|notify)\.sock[ ;]/ {
            if ($0 ~ /\/shop-app\.sock/) found = 1
            kind = ($0 ~ /\/shop-app\.sock/) ? "app" : "notify"
            n = split(extra, ks, " ")
            for (i = 1; i <= n; i++) {
                line = $0
                sub("/shop-" kind "\\.sock", "/shop-" kind "-" ks[i] ".sock", line)
                print line
            }
        }
        END { if (!found) exit 3 }' "$out.site" >"$out.tmp" ||
        die "nginx/shop.conf has no upstream line for shop-app.sock"
    rm -f "$out.site"
    mv -f "$out.tmp" "$out"
}

# The files nginx runs from, under nginx/.
NGINX_FILES=(nginx.conf shop.conf sandbox.conf)

# nginx_render_all SUFFIX [--keep-site]: render every file of NGINX_FILES
# into nginx/, with SUFFIX added to its name; --keep-site copies the current
# shop.conf instead (its upstream is the app's business, see app_start).
nginx_render_all() {
    render "$REPO_DIR/nginx/nginx.conf.in" "$NGINX_CONF$1"
    if [ "${2:-}" = --keep-site ] && [ -f "$NGINX_DIR/shop.conf" ]; then
        cp -f "$NGINX_DIR/shop.conf" "$NGINX_DIR/shop.conf$1"
    else
        nginx_render_site "$NGINX_DIR/shop.conf$1"
    fi
    render "$REPO_DIR/nginx/sandbox.conf" "$NGINX_DIR/sandbox.conf$1"
}

# nginx_sync [--keep-site]: a running nginx must list exactly the app
# instances there are (and serve the sandbox, also when it was started before
# this script knew it): render its files again and reload it when that
# changes any of them.
nginx_sync() {
    local f out changed=0
    nginx_render_all .new "${1:-}"
    for f in "${NGINX_FILES[@]}"; do
        cmp -s "$NGINX_DIR/$f.new" "$NGINX_DIR/$f" || changed=1
    done
    if [ "$changed" -eq 0 ]; then
        for f in "${NGINX_FILES[@]}"; do rm -f "$NGINX_DIR/$f.new"; done
        return 0
    fi
    for f in "${NGINX_FILES[@]}"; do
        rm -f "$NGINX_DIR/$f.old"
        [ -f "$NGINX_DIR/$f" ] && cp -f "$NGINX_DIR/$f" "$NGINX_DIR/$f.old"
        mv -f "$NGINX_DIR/$f.new" "$NGINX_DIR/$f"
    done
    if ! out=$(nginx_run -t 2>&1); then
        printf '%s\n' "$out" >>"$NGINX_LOG"
        for f in "${NGINX_FILES[@]}"; do
            if [ -f "$NGINX_DIR/$f.old" ]; then mv -f "$NGINX_DIR/$f.old" "$NGINX_DIR/$f"; fi
        done
        die "nginx: the re-rendered configuration does not pass nginx -t; see $NGINX_LOG"
    fi
    for f in "${NGINX_FILES[@]}"; do rm -f "$NGINX_DIR/$f.old"; done
    if [ "${1:-}" = --keep-site ]; then
        say "nginx: reloading (sandbox on port $SANDBOX_PORT)"
    else
        say "nginx: reloading (upstream: app instance(s) $(app_upstream_instances | tr '\n' ' '| sed 's/ $//'))"
    fi
    nginx_run -s reload >>"$NGINX_LOG" 2>&1 || die "nginx: reload failed; see $NGINX_LOG"
    # The master starts new workers and retires the old ones gracefully.
    sleep 0.5
}

nginx_start() {
    need nginx "apt-get install nginx"
    need curl "apt-get install curl"
    [ -r "$NGINX_FASTCGI_PARAMS" ] || die "$NGINX_FASTCGI_PARAMS not found (apt-get install nginx)"
    local pid
    if pid=$(nginx_pid); then
        say "nginx already running (pid $pid, port $HTTP_PORT)"
        return 0
    fi
    refuse_port nginx "$HTTP_PORT" SHOP_HTTP_PORT
    refuse_port "nginx (sandbox)" "$SANDBOX_PORT" SHOP_SANDBOX_PORT
    refuse_port "nginx (metrics)" "$METRICS_PORT" SHOP_METRICS_PORT
    setup_dirs
    rm -f "$NGINX_PID"
    nginx_render_all ""
    local out
    if ! out=$(nginx_run -t 2>&1); then
        printf '%s\n' "$out" >>"$NGINX_LOG"
        fail_start nginx "$NGINX_LOG"
    fi
    say "nginx: starting on port $HTTP_PORT (sandbox: $SANDBOX_PORT)"
    nginx_run >>"$NGINX_LOG" 2>&1 </dev/null 8>&- || fail_start nginx "$NGINX_LOG"
    wait_until "$NGINX_TIMEOUT" "" http_answers || fail_start nginx "$NGINX_LOG"
    pid=$(nginx_pid) || fail_start nginx "$NGINX_LOG"
    local code
    code=$(http_code "$HTTP_PORT" /static/style.css)
    if [ "$code" != 200 ]; then
        nginx_denied && die_denied "$REPO_DIR/static/"
        die "nginx answers $code for /static/style.css (expected 200); see $NGINX_LOG"
    fi
    say "nginx ready (pid $pid, http://127.0.0.1:$HTTP_PORT/, metrics http://127.0.0.1:$METRICS_PORT/metrics)"
}

nginx_stop() {
    local pid
    if ! pid=$(nginx_pid); then
        rm -f "$NGINX_PID"
        say "nginx not running"
        return 0
    fi
    say "nginx: stopping (pid $pid)"
    nginx_run -s quit >/dev/null 2>&1 || kill -QUIT "$pid" 2>/dev/null || true
    if ! wait_until "$STOP_TIMEOUT" "" not_running "$pid"; then
        stop_pid nginx "$pid" nginx 5
    fi
    say "nginx stopped"
}

nginx_status() {
    local pid
    if pid=$(nginx_pid); then
        say "nginx     running (pid $pid, port $HTTP_PORT, sandbox port $SANDBOX_PORT)"
    else
        say "nginx     stopped"
    fi
}
