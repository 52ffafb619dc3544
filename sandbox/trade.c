#include "trade.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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
