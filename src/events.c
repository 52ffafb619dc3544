#include "events.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "money.h"

#define EVENT_BODY_MAX 4096

static json_object *parse_object(const char *body, size_t len)
{
    if (body == NULL || len == 0 || len > EVENT_BODY_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(4);
    if (tok == NULL)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    if (o && (json_tokener_get_error(tok) != json_tokener_success ||
              !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* An id carried as a decimal string ("123"); null/absent gives 0 when optional. */
static int get_id(json_object *o, const char *key, int optional, int64_t *out)
{
    json_object *v = json_object_object_get(o, key);
    *out = 0;
    if (v == NULL || json_object_is_type(v, json_type_null))
        return optional ? 0 : -1;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    const char *s = json_object_get_string(v);
    char *end;
    if (*s < '1' || *s > '9')
        return -1;
    long long n = strtoll(s, &end, 10);
    if (*end != '\0' || n <= 0)
        return -1;
    *out = n;
    return 0;
}

static void put_id(json_object *o, const char *key, int64_t id)
{
    char s[24];
    if (id == 0) {
        json_object_object_add(o, key, NULL);
        return;
    }
    snprintf(s, sizeof s, "%" PRId64, id);
    json_object_object_add(o, key, json_object_new_string(s));
}

static int finish(json_object *o, struct buf *out)
{
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    int rc = s ? buf_append(out, s, len) : -1;
    json_object_put(o);
    return rc;
}

int event_cancel_parse(const char *body, size_t len, struct cancel_event *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    json_object *n = json_object_object_get(o, "goods_number");
    json_object *m = json_object_object_get(o, "money_paid");
    json_object *r = json_object_object_get(o, "reason");
    if (get_id(o, "order_id", 0, &out->order_id) || get_id(o, "user_id", 0, &out->user_id) ||
        get_id(o, "goods_id", 0, &out->goods_id) || get_id(o, "coupon_id", 1, &out->coupon_id))
        goto out;
    if (n == NULL || !json_object_is_type(n, json_type_int) || json_object_get_int64(n) < 1)
        goto out;
    out->goods_number = json_object_get_int64(n);
    if (m == NULL || !json_object_is_type(m, json_type_string) ||
        money_parse_str(json_object_get_string(m), MONEY_NON_NEGATIVE, &out->money_paid) != 0)
        goto out;
    if (r && json_object_is_type(r, json_type_string))
        snprintf(out->reason, sizeof out->reason, "%s", json_object_get_string(r));
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_cancel_build(const struct cancel_event *ev, struct buf *out)
{
    char money[MONEY_STR_MAX];
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    put_id(o, "order_id", ev->order_id);
    put_id(o, "user_id", ev->user_id);
    put_id(o, "goods_id", ev->goods_id);
    json_object_object_add(o, "goods_number", json_object_new_int64(ev->goods_number));
    put_id(o, "coupon_id", ev->coupon_id);
    json_object_object_add(o, "money_paid",
                           json_object_new_string(money_format(ev->money_paid, money)));
    json_object_object_add(o, "reason", json_object_new_string(ev->reason));
    return finish(o, out);
}

int event_timeout_parse(const char *body, size_t len, struct timeout_event *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = parse_object(body, len);
    if (o == NULL)
        return -1;
    int rc = -1;
    json_object *k = json_object_object_get(o, "kind");
    if (get_id(o, "order_id", 0, &out->order_id) || k == NULL ||
        !json_object_is_type(k, json_type_string))
        goto out;
    const char *kind = json_object_get_string(k);
    if (strcmp(kind, "preorder") != 0 && strcmp(kind, "unpaid") != 0)
        goto out;
    snprintf(out->kind, sizeof out->kind, "%s", kind);
    rc = 0;
out:
    json_object_put(o);
    return rc;
}

int event_timeout_build(const struct timeout_event *ev, struct buf *out)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        return -1;
    put_id(o, "order_id", ev->order_id);
    json_object_object_add(o, "kind", json_object_new_string(ev->kind));
    return finish(o, out);
}
