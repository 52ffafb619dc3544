/* Accounts: registration, login and logout (JSON API and HTML forms) and the
 * account page. Login and CSRF rules are the route table's (web.c); this file
 * validates the fields, talks to user_service and auth, and answers. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "coupon_service.h"
#include "db.h"
#include "log.h"
#include "money.h"
#include "snowflake.h"
#include "user_service.h"
#include "web_internal.h"

/* A login is a user name or a mobile number: both fit in this. */
#define LOGIN_MAX USER_NAME_MAX
/* Any one text field of a JSON body or form (the rules are checked after). */
#define FIELD_MAX 256

/* ---- shared pieces ------------------------------------------------------- */

/* `next` when it is a local path (one leading '/', no scheme, no "//" or "/\"
 * that a browser would read as another host, no control characters), else
 * "/". */
static const char *safe_next(const char *next)
{
    if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return "/";
    for (const unsigned char *p = (const unsigned char *)next; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '\\')
            return "/";
    return next;
}

/* A string member of a JSON body: 1 with *out (owned by body), else 0 with a
 * message naming the field in msg. */
static int json_field(json_object *body, const char *key, const char **out, char *msg, size_t msgsz)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(body, key, &v) || v == NULL) {
        snprintf(msg, msgsz, "%s is required", key);
        return 0;
    }
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(msg, msgsz, "%s must be a string", key);
        return 0;
    }
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (len != strlen(s)) {
        snprintf(msg, msgsz, "%s must not contain NUL characters", key);
        return 0;
    }
    if (len > FIELD_MAX) {
        snprintf(msg, msgsz, "%s is too long", key);
        return 0;
    }
    *out = s;
    return 1;
}

/* The session cookie's token of this request, "" when none. */
static void cookie_token(const struct web_ctx *c, char token[AUTH_TOKEN_LEN + 1])
{
    if (http_cookie_get(c->req.cookie, AUTH_COOKIE, token, AUTH_TOKEN_LEN + 1) != 1)
        token[0] = '\0';
}

/* End the session of this request's cookie, if any (logout, or a new login
 * replacing an old one). */
static enum shop_code end_session(struct web_ctx *c)
{
    char token[AUTH_TOKEN_LEN + 1];
    cookie_token(c, token);
    if (token[0] == '\0')
        return SHOP_SUCCESS;
    return auth_session_delete(user_db(), token);
}

/* A new session for u: the cookie is set, the CSRF token is written to csrf. */
static enum shop_code start_session(struct web_ctx *c, const struct user *u,
                                    char csrf[AUTH_CSRF_LEN + 1])
{
    char token[AUTH_TOKEN_LEN + 1];
    if (c->logged_in && end_session(c) != SHOP_SUCCESS)
        log_warn("account: the previous session could not be deleted");
    int ttl = c->app->cfg->session_ttl_s;
    enum shop_code rc = auth_session_create(user_db(), u->user_id, ttl, token, csrf);
    if (rc != SHOP_SUCCESS)
        return rc;
    web_set_cookie(c, AUTH_COOKIE, token, ttl);
    return SHOP_SUCCESS;
}

/* Tell the client when to come back (429 and 503 answers). */
static void retry_after(struct web_ctx *c, int seconds)
{
    char v[16];
    snprintf(v, sizeof v, "%d", seconds > 0 ? seconds : 1);
    http_header_add(&c->res, "Retry-After", v);
}

/* Take a turn on the brake of the account login names (whatever was typed,
 * name or mobile; the typed login when it names nobody) and of the client's
 * address. The turn is counted before the password is checked. */
static enum shop_code brake_take(struct web_ctx *c, db_conn *db, const char *login,
                                 char account[AUTH_BRAKE_KEY_MAX + 1],
                                 char addr[AUTH_BRAKE_KEY_MAX + 1])
{
    const struct shop_config *cfg = c->app->cfg;
    int64_t uid = 0;
    enum shop_code rc = user_find_login(db, login, &uid);
    if (rc != SHOP_SUCCESS && rc != SHOP_USER_NO_EXIST)
        return rc;
    if (uid > 0)
        snprintf(account, AUTH_BRAKE_KEY_MAX + 1, "user:%" PRId64, uid);
    else
        snprintf(account, AUTH_BRAKE_KEY_MAX + 1, "login:%s", login);
    const char *ip = c->req.remote_addr ? c->req.remote_addr : "";
    snprintf(addr, AUTH_BRAKE_KEY_MAX + 1, "addr:%s", ip);
    const char *keys[] = {account, addr};
    const struct auth_brake_rule rules[] = {
        {cfg->login_max_failures, cfg->login_window_s, cfg->login_delay_max_s},
        {cfg->login_addr_max_failures, cfg->login_window_s, cfg->login_delay_max_s},
    };
    int wait_s = 0;
    rc = auth_brake_take(db, keys, rules, ip[0] != '\0' ? 2 : 1, &wait_s);
    if (rc == SHOP_TOO_MANY_ATTEMPTS) {
        log_warn("account: login %s braked for %d s after repeated failures", login, wait_s);
        retry_after(c, wait_s);
    }
    return rc;
}

/* The brake, the password check and a new session. login is well formed
 * (user_login_well_formed). */
static enum shop_code do_login(struct web_ctx *c, const char *login, const char *password,
                               struct user *u, char csrf[AUTH_CSRF_LEN + 1])
{
    db_conn *db = user_db();
    char account[AUTH_BRAKE_KEY_MAX + 1], addr[AUTH_BRAKE_KEY_MAX + 1];
    enum shop_code rc = brake_take(c, db, login, account, addr);
    if (rc != SHOP_SUCCESS)
        return rc;
    rc = user_authenticate(db, login, password, u);
    if (rc == SHOP_LOGIN_FAILED)
        log_info("account: failed login for %s", login);
    if (rc == SHOP_BUSY)
        retry_after(c, 1);
    if (rc != SHOP_SUCCESS)
        return rc;
    auth_brake_clear(db, account);
    auth_brake_forgive(db, addr);
    rc = start_session(c, u, csrf);
    if (rc == SHOP_SUCCESS)
        log_info("account: user %" PRId64 " logged in", u->user_id);
    return rc;
}

/* Register and log the new user in. */
static enum shop_code do_register(struct web_ctx *c, const char *name, const char *mobile,
                                  const char *password, struct user *u,
                                  char csrf[AUTH_CSRF_LEN + 1])
{
    enum shop_code rc = user_register(user_db(), name, mobile, password, u);
    if (rc == SHOP_BUSY)
        retry_after(c, 1);
    if (rc != SHOP_SUCCESS)
        return rc;
    return start_session(c, u, csrf);
}

/* {"success":true,"user":{...},"csrf_token":"..."} with status. */
static void answer_user(struct web_ctx *c, int status, const struct user *u, const char *csrf)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "user", user_to_json(u));
    json_object_object_add(o, "csrf_token", json_object_new_string(csrf));
    http_json(&c->res, status, o);
    json_object_put(o);
}

/* ---- JSON API -------------------------------------------------------------- */

void web_api_register(struct web_ctx *c)
{
    json_object *body = NULL;
    enum shop_code rc = web_json_body(c, &body);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    char msg[160];
    const char *name = NULL, *mobile = NULL, *password = NULL;
    if (!json_field(body, "user_name", &name, msg, sizeof msg) ||
        !json_field(body, "user_mobile", &mobile, msg, sizeof msg) ||
        !json_field(body, "password", &password, msg, sizeof msg)) {
        http_json_error(&c->res, SHOP_REQUEST_PARAMETER_VALID, msg);
        goto out;
    }
    const char *why = user_validate(name, mobile, password);
    if (why != NULL) {
        http_json_error(&c->res, SHOP_REQUEST_PARAMETER_VALID, why);
        goto out;
    }
    struct user u;
    char csrf[AUTH_CSRF_LEN + 1];
    rc = do_register(c, name, mobile, password, &u, csrf);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        goto out;
    }
    answer_user(c, 201, &u, csrf);
out:
    json_object_put(body);
}

void web_api_login(struct web_ctx *c)
{
    json_object *body = NULL;
    enum shop_code rc = web_json_body(c, &body);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    char msg[160];
    const char *login = NULL, *password = NULL;
    if (!json_field(body, "login", &login, msg, sizeof msg) ||
        !json_field(body, "password", &password, msg, sizeof msg)) {
        http_json_error(&c->res, SHOP_REQUEST_PARAMETER_VALID, msg);
        goto out;
    }
    if (!user_login_well_formed(login)) {
        http_json_error(&c->res, SHOP_REQUEST_PARAMETER_VALID,
                        "login must be a user name or a mobile number");
        goto out;
    }
    if (password[0] == '\0' || strlen(password) > AUTH_PASSWORD_MAX) {
        http_json_error(&c->res, SHOP_REQUEST_PARAMETER_VALID,
                        "password must be 1 to 128 characters long");
        goto out;
    }
    struct user u;
    char csrf[AUTH_CSRF_LEN + 1];
    rc = do_login(c, login, password, &u, csrf);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        goto out;
    }
    answer_user(c, 200, &u, csrf);
out:
    json_object_put(body);
}

void web_api_pre_session(struct web_ctx *c)
{
    char token[AUTH_CSRF_LEN + 8];
    web_pre_csrf_issue(c, token);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "csrf_token", json_object_new_string(token));
    http_json(&c->res, 200, o);
    json_object_put(o);
}

void web_api_logout(struct web_ctx *c)
{
    enum shop_code rc = end_session(c);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    web_set_cookie(c, AUTH_COOKIE, "", 0);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    http_json(&c->res, 200, o);
    json_object_put(o);
}

void web_api_me(struct web_ctx *c)
{
    if (!c->logged_in) {
        web_error(c, SHOP_NOT_LOGGED_IN);
        return;
    }
    struct user u;
    enum shop_code rc = user_get(user_db(), c->session.user_id, &u);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc == SHOP_USER_NO_EXIST ? SHOP_NOT_LOGGED_IN : rc);
        return;
    }
    answer_user(c, 200, &u, c->session.csrf);
}

/* ---- pages ----------------------------------------------------------------- */

/* A validation message for people: "user_name must ..." reads "User name
 * must ..." on a page. */
static json_object *page_message(const char *why)
{
    static const struct {
        const char *field, *words;
    } NAMES[] = {
        {"user_name", "User name"},
        {"user_mobile", "Mobile number"},
        {"password", "Password"},
        {"login", "Login"},
    };
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        size_t n = strlen(NAMES[i].field);
        if (strncmp(why, NAMES[i].field, n) == 0 && why[n] == ' ') {
            char out[200];
            snprintf(out, sizeof out, "%s%s", NAMES[i].words, why + n);
            return json_object_new_string(out);
        }
    }
    return json_object_new_string(why);
}

/* The `next` of a page: the query's (GET) or the form's (POST), made safe. */
static void page_next(const struct web_ctx *c, int from_form, char *out, size_t outsz)
{
    char raw[HTTP_FIELD_MAX];
    int f = from_form ? web_form_field(c, "next", raw, sizeof raw)
                      : http_form_get(c->req.query, strlen(c->req.query), "next", raw, sizeof raw);
    snprintf(out, outsz, "%s", safe_next(f == 1 ? raw : NULL));
}

/* next percent-encoded for a query string (the links between the forms). */
static json_object *next_query(const char *next)
{
    struct buf out;
    buf_init(&out, HTTP_FIELD_MAX * 3);
    http_url_encode(next, strlen(next), "/", &out);
    json_object *s = json_object_new_string(buf_str(&out));
    buf_free(&out);
    return s;
}

static void render_login(struct web_ctx *c, int status, const char *login, const char *next,
                         json_object *error)
{
    json_object *d = json_object_new_object();
    char token[AUTH_CSRF_LEN + 8];
    web_pre_csrf_issue(c, token);
    json_object_object_add(d, "login_csrf", json_object_new_string(token));
    json_object_object_add(d, "login", json_object_new_string(login));
    json_object_object_add(d, "next", json_object_new_string(next));
    json_object_object_add(d, "next_query", next_query(next));
    if (error != NULL)
        json_object_object_add(d, "error", error);
    web_render_page(c, status, "login", d);
}

void web_page_login(struct web_ctx *c)
{
    char next[HTTP_FIELD_MAX];
    page_next(c, 0, next, sizeof next);
    render_login(c, 200, "", next, NULL);
}

void web_form_login(struct web_ctx *c)
{
    char login[LOGIN_MAX + 1], password[AUTH_PASSWORD_MAX + 1], next[HTTP_FIELD_MAX];
    page_next(c, 1, next, sizeof next);
    int bad_login =
        web_form_text(c, "login", login, sizeof login) != 0 || !user_login_well_formed(login);
    int bad_password = web_form_text(c, "password", password, sizeof password) != 0;
    if (bad_login) {
        render_login(c, 400, "", next,
                     json_object_new_string("Enter your user name or mobile number."));
        goto out;
    }
    if (bad_password || password[0] == '\0') {
        render_login(c, 400, login, next, json_object_new_string("Enter your password."));
        goto out;
    }
    struct user u;
    char csrf[AUTH_CSRF_LEN + 1];
    enum shop_code rc = do_login(c, login, password, &u, csrf);
    if (rc != SHOP_SUCCESS) {
        render_login(c, shop_code_status(rc), login, next,
                     json_object_new_string(shop_code_message(rc)));
        goto out;
    }
    web_redirect(c, next);
out:
    sodium_memzero(password, sizeof password);
}

static void render_register(struct web_ctx *c, int status, const char *name, const char *mobile,
                            const char *next, json_object *error)
{
    json_object *d = json_object_new_object();
    char token[AUTH_CSRF_LEN + 8];
    web_pre_csrf_issue(c, token);
    json_object_object_add(d, "login_csrf", json_object_new_string(token));
    json_object_object_add(d, "user_name", json_object_new_string(name));
    json_object_object_add(d, "user_mobile", json_object_new_string(mobile));
    json_object_object_add(d, "next", json_object_new_string(next));
    json_object_object_add(d, "next_query", next_query(next));
    if (error != NULL)
        json_object_object_add(d, "error", error);
    web_render_page(c, status, "register", d);
}

void web_page_register(struct web_ctx *c)
{
    char next[HTTP_FIELD_MAX];
    page_next(c, 0, next, sizeof next);
    render_register(c, 200, "", "", next, NULL);
}

void web_form_register(struct web_ctx *c)
{
    /* One byte over each cap, so that "too long" reaches user_validate. */
    char name[USER_NAME_MAX + 2] = "", mobile[USER_MOBILE_MAX + 2] = "";
    char password[AUTH_PASSWORD_MAX + 2] = "", next[HTTP_FIELD_MAX];
    page_next(c, 1, next, sizeof next);
    int bad_name = web_form_text(c, "user_name", name, sizeof name) != 0;
    int bad_mobile = web_form_text(c, "user_mobile", mobile, sizeof mobile) != 0;
    int bad_password = web_form_text(c, "password", password, sizeof password) != 0;
    const char *why;
    if (bad_name)
        why = "user_name must be 3 to 32 letters, digits, '_', '-' or '.'";
    else if (bad_mobile)
        why = "user_mobile must be 6 to 20 digits, optionally after a leading '+'";
    else if (bad_password)
        why = "password must be 8 to 128 characters long";
    else
        why = user_validate(name, mobile, password);
    if (why != NULL) {
        /* Keep only what is valid to show again. */
        if (user_validate(name, "000000", "xxxxxxxx") != NULL)
            name[0] = '\0';
        if (user_validate("abc", mobile, "xxxxxxxx") != NULL)
            mobile[0] = '\0';
        render_register(c, 400, name, mobile, next, page_message(why));
        goto out;
    }
    struct user u;
    char csrf[AUTH_CSRF_LEN + 1];
    enum shop_code rc = do_register(c, name, mobile, password, &u, csrf);
    if (rc != SHOP_SUCCESS) {
        render_register(c, shop_code_status(rc), name, mobile, next,
                        json_object_new_string(shop_code_message(rc)));
        goto out;
    }
    web_redirect(c, next);
out:
    sodium_memzero(password, sizeof password);
}

void web_form_logout(struct web_ctx *c)
{
    enum shop_code rc = end_session(c);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    web_set_cookie(c, AUTH_COOKIE, "", 0);
    web_redirect(c, "/");
}

static json_object *coupon_view(const struct coupon *cp)
{
    char id[SNOWFLAKE_STR_MAX];
    snowflake_format(cp->coupon_id, id);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "coupon_id", json_object_new_string(id));
    money_json_add(o, "price_display", cp->coupon_price);
    json_object_object_add(o, "is_used", json_object_new_boolean(cp->is_used));
    if (cp->is_used && cp->order_id > 0) {
        char order[SNOWFLAKE_STR_MAX];
        snowflake_format(cp->order_id, order);
        json_object_object_add(o, "order_id", json_object_new_string(order));
    }
    if (cp->used_time[0])
        json_object_object_add(o, "used_time", json_object_new_string(cp->used_time));
    return o;
}

void web_page_account(struct web_ctx *c)
{
    if (!c->logged_in) {
        web_redirect(c, "/login?next=/account");
        return;
    }
    struct user u;
    enum shop_code rc = user_get(user_db(), c->session.user_id, &u);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc == SHOP_USER_NO_EXIST ? SHOP_NOT_LOGGED_IN : rc);
        return;
    }
    json_object *d = json_object_new_object();
    json_object *user = user_to_json(&u);
    char day[11]; /* "2024-01-01T08:00:00Z" -> "2024-01-01" */
    size_t dl = strnlen(u.user_reg_time, sizeof day - 1);
    memcpy(day, u.user_reg_time, dl);
    day[dl] = '\0';
    json_object_object_add(user, "reg_date", json_object_new_string(day));
    json_object_object_add(d, "user", user);

    struct web_list l;
    struct coupon *list = NULL;
    size_t n = 0;
    char next[PAGING_CURSOR_MAX];
    rc = web_coupons_page(c, &l, &list, &n, next);
    if (rc == SHOP_LIST_LIMIT_INVALID || rc == SHOP_LIST_CURSOR_INVALID) {
        json_object_put(d);
        web_error(c, rc);
        return;
    }
    if (rc == SHOP_SUCCESS) {
        json_object *arr = json_object_new_array_ext((int)n);
        size_t unused = 0;
        for (size_t i = 0; i < n; i++) {
            json_object_array_add(arr, coupon_view(&list[i]));
            unused += !list[i].is_used;
        }
        json_object_object_add(d, "coupons", arr);
        json_object_object_add(d, "coupon_count", json_object_new_int64((int64_t)n));
        json_object_object_add(d, "unused_count", json_object_new_int64((int64_t)unused));
        json_object_object_add(d, "later_page", json_object_new_boolean(l.after[0] != '\0'));
        web_list_next_link(d, "/account", &l, next[0] ? next : NULL);
    } else {
        log_warn("account: coupons of user %" PRId64 " not available (%s)", u.user_id,
                 shop_code_name(rc));
        json_object_object_add(d, "coupons_unavailable", json_object_new_boolean(1));
    }
    free(list);
    web_render_page(c, 200, "account", d);
}
