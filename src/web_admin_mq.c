/* The operators' console: parked messages, per consumer queue of the
 * topology (Q.parked), with their body and the reason they were parked;
 * one is replayed (published again to the exchange with its routing key and
 * message id: the consumers dedupe) or discarded with a note. Each action
 * goes to the operators' log, and on the order's timeline when the message
 * names an order (its body's order_id). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq.h"
#include "order_log.h"
#include "order_service.h"
#include "snowflake.h"
#include "topology.h"
#include "user_service.h"
#include "web_internal.h"

#define PARKED_PAGE_MAX 50 /* messages a page shows at most */
#define QUEUE_NAME_MAX  100
#define NOTE_MAX        300

/* The consumer queue named q (a topology row's), or NULL. */
static const char *topo_queue(const char *q)
{
    for (size_t i = 0; i < TOPO_COUNT; i++)
        if (topo_rows[i].queue != NULL && strcmp(topo_rows[i].queue, q) == 0)
            return topo_rows[i].queue;
    return NULL;
}

static const char *query_queue(const struct web_ctx *c, char *buf, size_t n)
{
    const char *q = c->req.query != NULL ? c->req.query : "";
    if (http_form_get(q, strlen(q), "queue", buf, n) != 1)
        return NULL;
    return topo_queue(buf);
}

/* Every consumer queue with the number of its parked messages. */
static json_object *queues_json(mq_conn *mq, const char *selected)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < TOPO_COUNT; i++) {
        char parked[QUEUE_NAME_MAX + 8];
        uint32_t depth = 0;
        if (topo_rows[i].queue == NULL)
            continue;
        snprintf(parked, sizeof parked, "%s.parked", topo_rows[i].queue);
        json_object *q = json_object_new_object();
        web_add_str(q, "queue", topo_rows[i].queue);
        web_add_str(q, "parked_queue", parked);
        if (mq_queue_depth(mq, parked, &depth) == MQ_OK)
            json_object_object_add(q, "parked", json_object_new_int64(depth));
        json_object_object_add(
            q, "selected",
            json_object_new_boolean(selected && !strcmp(selected, topo_rows[i].queue)));
        json_object_array_add(arr, q);
    }
    return arr;
}

static json_object *message_json(const struct mq_parked *p, const char *queue)
{
    json_object *m = json_object_new_object();
    web_add_str(m, "queue", queue);
    web_add_str(m, "message_id", p->message_id);
    web_add_str(m, "routing_key", p->routing_key);
    web_add_str(m, "reason", p->reason);
    json_object_object_add(m, "tries", json_object_new_int64(p->tries));
    web_add_str(m, "body", p->body);
    json_object_object_add(m, "body_cut", json_object_new_boolean(p->body_len > strlen(p->body)));
    return m;
}

/* The first messages of queue's parked queue, left in place. */
static enum shop_code messages_json(mq_conn *mq, const char *queue, json_object **out)
{
    char parked[QUEUE_NAME_MAX + 8];
    size_t n = 0;
    struct mq_parked *list = calloc(PARKED_PAGE_MAX, sizeof *list);
    *out = NULL;
    if (list == NULL)
        return SHOP_INTERNAL_ERROR;
    snprintf(parked, sizeof parked, "%s.parked", queue);
    enum mq_status st = mq_parked_list(mq, parked, list, PARKED_PAGE_MAX, &n);
    if (st == MQ_OK) {
        *out = json_object_new_array_ext((int)n);
        for (size_t i = 0; i < n; i++)
            json_object_array_add(*out, message_json(&list[i], queue));
    }
    free(list);
    return st == MQ_OK ? SHOP_SUCCESS : SHOP_INTERNAL_ERROR;
}

static void parked_render(struct web_ctx *c, int status, const char *error)
{
    char buf[QUEUE_NAME_MAX + 1];
    const char *queue = query_queue(c, buf, sizeof buf);
    mq_conn *mq = web_thread_mq(c->app);
    json_object *msgs = NULL;
    enum shop_code rc = mq == NULL ? SHOP_INTERNAL_ERROR : SHOP_SUCCESS;
    if (rc == SHOP_SUCCESS && queue != NULL)
        rc = messages_json(mq, queue, &msgs);
    if (rc != SHOP_SUCCESS) {
        web_error(c, rc);
        return;
    }
    json_object *d = json_object_new_object();
    json_object_object_add(d, "queues", queues_json(mq, queue));
    if (queue != NULL)
        web_add_str(d, "queue", queue);
    json_object_object_add(d, "messages", msgs);
    if (c->route->flags & ROUTE_API) {
        json_object_object_add(d, "success", json_object_new_boolean(1));
        http_json(&c->res, 200, d);
        json_object_put(d);
        return;
    }
    if (error != NULL)
        web_add_str(d, "error", error);
    web_render_page(c, status, "admin_parked", d);
}

void web_admin_parked(struct web_ctx *c)
{
    parked_render(c, 200, NULL);
}

/* The order a message names (its body's "order_id"), or 0. */
static int64_t message_order(const char *body)
{
    int64_t id = 0;
    json_object *o = json_tokener_parse(body), *v = NULL;
    if (o != NULL && json_object_object_get_ex(o, "order_id", &v) &&
        json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        if (snowflake_parse(s, strlen(s), &id) != 0)
            id = 0;
    }
    json_object_put(o);
    return id;
}

/* Log the action: the operators' log, and the order's timeline. */
static void parked_logged(const struct web_ctx *c, const char *queue, const struct mq_parked *p,
                          int replay, const char *note)
{
    char detail[USER_ADMIN_DETAIL_MAX];
    int64_t order_id = message_order(p->body);
    snprintf(detail, sizeof detail, "%s parked message %.100s (%.60s) of %.40s%s%.200s",
             replay ? "replayed" : "discarded", p->message_id, p->routing_key, queue,
             note[0] ? ": " : "", note);
    user_admin_log(user_db(), c->session.user_id, c->session.user_name,
                   replay ? "parked.replay" : "parked.discard", order_id, detail);
    if (order_id != 0) {
        detail[0] = (char)(detail[0] - 'a' + 'A');
        order_log_operator(order_db(), order_id, c->session.user_name, detail);
    }
}

static void parked_take(struct web_ctx *c, int replay)
{
    char qbuf[QUEUE_NAME_MAX + 1], id[sizeof((struct mq_parked *)0)->message_id];
    char note[NOTE_MAX + 1], parked[QUEUE_NAME_MAX + 8], url[QUEUE_NAME_MAX + 64];
    int found = 0;
    if (web_form_text(c, "queue", qbuf, sizeof qbuf) != 0 || topo_queue(qbuf) == NULL ||
        web_form_text(c, "message_id", id, sizeof id) != 0 || id[0] == '\0') {
        parked_render(c, 400, "Choose a queue and a message.");
        return;
    }
    if (web_form_text(c, "note", note, sizeof note) != 0 || (!replay && note[0] == '\0')) {
        parked_render(c, 400, "Discarding needs a note of 1 to 300 bytes.");
        return;
    }
    struct mq_parked *p = calloc(1, sizeof *p);
    mq_conn *mq = web_thread_mq(c->app);
    snprintf(parked, sizeof parked, "%s.parked", qbuf);
    enum mq_status st =
        p == NULL || mq == NULL ? MQ_GONE : mq_parked_take(mq, parked, id, replay, p, &found);
    if (st == MQ_OK && found)
        parked_logged(c, qbuf, p, replay, note);
    free(p);
    if (st != MQ_OK)
        web_error(c, SHOP_INTERNAL_ERROR);
    else if (!found)
        parked_render(c, 404, "That message is not parked there (any more).");
    else {
        snprintf(url, sizeof url, "/admin/parked?queue=%s&done=%s", qbuf,
                 replay ? "replayed" : "discarded");
        web_redirect(c, url);
    }
}

void web_admin_parked_replay(struct web_ctx *c)
{
    parked_take(c, 1);
}

void web_admin_parked_discard(struct web_ctx *c)
{
    parked_take(c, 0);
}
