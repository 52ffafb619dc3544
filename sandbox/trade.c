#include "trade.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alipay.h"
#include "money.h"
#include "store.h"

int trade_is_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n]))
            return 0;
    return n == TRADE_ID_LEN;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int trade_new_id(char out[TRADE_ID_LEN + 1])
{
    unsigned char rnd[TRADE_ID_LEN / 2];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return -1;
    hex(rnd, sizeof rnd, out);
    return 0;
}

int trade_new_trade_no(char out[TRADE_NO_LEN + 1])
{
    unsigned char rnd[15];
    time_t t = time(NULL);
    struct tm tm;
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd || gmtime_r(&t, &tm) == NULL)
        return -1;
    strftime(out, 9, "%Y%m%d", &tm);
    memcpy(out + 8, "22001", 5);
    for (int i = 0; i < 15; i++)
        out[13 + i] = (char)('0' + rnd[i] % 10);
    out[TRADE_NO_LEN] = '\0';
    return 0;
}

json_object *trade_load(const char *id)
{
    char name[TRADE_ID_LEN + 8];
    if (!trade_is_id(id))
        return NULL;
    snprintf(name, sizeof name, "%s.json", id);
    return store_read_json(TRADE_TRADES, name);
}

int trade_save(const char *id, json_object *t)
{
    char name[TRADE_ID_LEN + 8];
    if (!trade_is_id(id))
        return -1;
    snprintf(name, sizeof name, "%s.json", id);
    return store_write_json(TRADE_TRADES, name, t);
}

/* The paid/ and open/ name of an out_trade_no: hex SHA-256 of app_id and it. */
static int paid_key(const char *app_id, const char *out_trade_no, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    char data[256];
    int n = snprintf(data, sizeof data, "%s\n%s", app_id, out_trade_no);
    if (n < 0 || (size_t)n >= sizeof data ||
        EVP_Digest(data, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -1;
    hex(md, sizeof md, out);
    return 0;
}

/* The trade id that index sub names for out_trade_no of app_id, or "". */
static void index_read(const char *sub, const char *app_id, const char *out_trade_no,
                       char by[TRADE_ID_LEN + 1])
{
    char key[65];
    by[0] = '\0';
    if (paid_key(app_id, out_trade_no, key) != 0 ||
        store_read_text(sub, key, by, TRADE_ID_LEN + 1) != 0 || !trade_is_id(by))
        by[0] = '\0';
}

static int index_write(const char *sub, const char *app_id, const char *out_trade_no,
                       const char *id)
{
    char key[65];
    if (paid_key(app_id, out_trade_no, key) != 0)
        return -1;
    return store_write(sub, key, id, strlen(id));
}

void trade_paid_by(const char *app_id, const char *out_trade_no, char by[TRADE_ID_LEN + 1])
{
    index_read(TRADE_PAID, app_id, out_trade_no, by);
}

int trade_mark_paid(const char *app_id, const char *out_trade_no, const char *id)
{
    return index_write(TRADE_PAID, app_id, out_trade_no, id);
}

void trade_open_by(const char *app_id, const char *out_trade_no, char by[TRADE_ID_LEN + 1])
{
    index_read(TRADE_OPEN, app_id, out_trade_no, by);
}

int trade_mark_open(const char *app_id, const char *out_trade_no, const char *id)
{
    return index_write(TRADE_OPEN, app_id, out_trade_no, id);
}

int trade_give_trade_no(json_object *t, const char *id)
{
    char no[TRADE_NO_LEN + 1];
    const char *have = store_str(t, "trade_no");
    if (have != NULL && have[0] != '\0')
        return 0;
    if (trade_new_trade_no(no) != 0 || store_write(TRADE_TRADE_NOS, no, id, strlen(id)) != 0)
        return -1;
    json_object_object_add(t, "trade_no", json_object_new_string(no));
    return 0;
}

void trade_by_trade_no(const char *trade_no, char by[TRADE_ID_LEN + 1])
{
    size_t n = strlen(trade_no);
    by[0] = '\0';
    if (n == 0 || n > TRADE_NO_LEN || strspn(trade_no, "0123456789") != n ||
        store_read_text(TRADE_TRADE_NOS, trade_no, by, TRADE_ID_LEN + 1) != 0 || !trade_is_id(by))
        by[0] = '\0';
}

int trade_payments(const char *app_id, const char *out_trade_no, char (*ids)[TRADE_ID_LEN + 1],
                   int max)
{
    char key[65], text[TRADE_PAYMENTS_MAX * (TRADE_ID_LEN + 1) + 1];
    int n = 0;
    if (paid_key(app_id, out_trade_no, key) == 0 &&
        store_read_text(TRADE_PAYMENTS, key, text, sizeof text) == 0) {
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < max;
             line = strtok_r(NULL, "\n", &save))
            if (trade_is_id(line))
                memcpy(ids[n++], line, TRADE_ID_LEN + 1);
    }
    if (n == 0 && max > 0) {
        trade_paid_by(app_id, out_trade_no, ids[0]);
        n = ids[0][0] != '\0';
    }
    return n;
}

int trade_add_payment(const char *app_id, const char *out_trade_no, const char *id)
{
    char key[65], ids[TRADE_PAYMENTS_MAX][TRADE_ID_LEN + 1], text[sizeof ids + 1];
    int n = trade_payments(app_id, out_trade_no, ids, TRADE_PAYMENTS_MAX);
    size_t len = 0;
    if (n >= TRADE_PAYMENTS_MAX || paid_key(app_id, out_trade_no, key) != 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return 0;
    memcpy(ids[n++], id, TRADE_ID_LEN + 1);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s\n", ids[i]);
    return store_write(TRADE_PAYMENTS, key, text, len);
}

const char *trade_status(json_object *t, time_t now)
{
    time_t until;
    const char *status = store_str(t, "status");
    const char *expire = store_str(t, "time_expire");
    if (status != NULL && strcmp(status, "WAIT_BUYER_PAY") == 0 && expire != NULL &&
        alipay_timestamp_parse(expire, 0, &until) == 0 && now >= until)
        return "TRADE_CLOSED";
    return status;
}

int trade_status_paid(const char *status)
{
    return status != NULL &&
           (strcmp(status, "TRADE_SUCCESS") == 0 || strcmp(status, "TRADE_FINISHED") == 0);
}

int64_t trade_refunded(json_object *t)
{
    json_object *list;
    int64_t sum = 0, cents;
    if (!json_object_object_get_ex(t, "refunds", &list) ||
        !json_object_is_type(list, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        const char *a = store_str(json_object_array_get_idx(list, i), "refund_amount");
        if (a != NULL && money_parse_str(a, MONEY_NON_NEGATIVE, &cents) == 0)
            sum += cents;
    }
    return sum;
}

json_object *trade_refund_find(json_object *t, const char *out_request_no)
{
    json_object *list;
    if (!json_object_object_get_ex(t, "refunds", &list) ||
        !json_object_is_type(list, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *r = json_object_array_get_idx(list, i);
        const char *no = store_str(r, "out_request_no");
        if (no != NULL && strcmp(no, out_request_no) == 0)
            return r;
    }
    return NULL;
}
