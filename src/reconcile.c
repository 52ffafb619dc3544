#include "reconcile.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alipay.h"
#include "buf.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "money.h"
#include "order_service.h"
#include "pay_service.h"
#include "provider.h"
#include "snowflake.h"

#define BILL_BYTES_MAX (256u << 20) /* the largest bill downloaded */
#define OURS_MAX       BILL_ROWS_MAX
#define PROGRESS_EVERY 1000

void reconcile_result_free(struct reconcile_result *r)
{
    free(r->diffs);
    memset(r, 0, sizeof *r);
}

const char *reconcile_kind_name(enum reconcile_kind k)
{
    return k == RECONCILE_MISSING_HERE    ? "missing_here"
           : k == RECONCILE_MISSING_THERE ? "missing_there"
                                          : "amount_differs";
}

/* What both sides are compared by: the kind and the key (trade_no of a
 * payment, out_request_no of a refund), pointing at a row of either side. */
struct key {
    enum bill_kind kind;
    const char *id;
    const char *trade_no, *out_trade_no, *out_request_no;
    int64_t amount;
};

static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->id, y->id);
}

static struct key key_of(enum bill_kind kind, const char *trade_no, const char *out_trade_no,
                         const char *out_request_no, int64_t amount)
{
    return (struct key){.kind = kind,
                        .id = kind == BILL_TRADE ? trade_no : out_request_no,
                        .trade_no = trade_no,
                        .out_trade_no = out_trade_no,
                        .out_request_no = out_request_no,
                        .amount = amount};
}

static int add_diff(struct reconcile_result *r, enum reconcile_kind kind, const struct key *ours,
                    const struct key *theirs)
{
    const struct key *k = theirs ? theirs : ours;
    struct reconcile_diff *p = realloc(r->diffs, (r->n + 1) * sizeof *p);
    if (p == NULL)
        return -1;
    r->diffs = p;
    p = &r->diffs[r->n++];
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->object = k->kind;
    snprintf(p->trade_no, sizeof p->trade_no, "%s", k->trade_no);
    snprintf(p->out_trade_no, sizeof p->out_trade_no, "%s",
             k->out_trade_no[0] || ours == NULL ? k->out_trade_no : ours->out_trade_no);
    snprintf(p->out_request_no, sizeof p->out_request_no, "%s", k->out_request_no);
    p->our_amount = ours ? ours->amount : -1;
    p->their_amount = theirs ? theirs->amount : -1;
    r->count[kind]++;
    return 0;
}

/* Merge the two sorted lists into r. */
static int merge(const struct key *t, size_t nt, const struct key *o, size_t no,
                 struct reconcile_result *r)
{
    size_t i = 0, j = 0;
    int rc = 0;
    while (rc == 0 && (i < nt || j < no)) {
        int c = i == nt ? 1 : j == no ? -1 : key_cmp(&t[i], &o[j]);
        if (c < 0) {
            rc = add_diff(r, RECONCILE_MISSING_HERE, NULL, &t[i++]);
        } else if (c > 0) {
            rc = add_diff(r, RECONCILE_MISSING_THERE, &o[j++], NULL);
        } else {
            if (t[i].amount != o[j].amount)
                rc = add_diff(r, RECONCILE_AMOUNT_DIFFERS, &o[j], &t[i]);
            else
                r->matched++;
            i++;
            j++;
        }
    }
    return rc;
}

int reconcile_compare(const struct bill_row *theirs, size_t n_theirs,
                      const struct reconcile_item *ours, size_t n_ours,
                      struct reconcile_result *out)
{
    memset(out, 0, sizeof *out);
    struct key *t = calloc(n_theirs + 1, sizeof *t), *o = calloc(n_ours + 1, sizeof *o);
    int rc = -1;
    if (t == NULL || o == NULL)
        goto out;
    for (size_t i = 0; i < n_theirs; i++)
        t[i] = key_of(theirs[i].kind, theirs[i].trade_no, theirs[i].out_trade_no,
                      theirs[i].out_request_no, theirs[i].amount);
    for (size_t i = 0; i < n_ours; i++)
        o[i] = key_of(ours[i].kind, ours[i].trade_no, ours[i].out_trade_no, ours[i].out_request_no,
                      ours[i].amount);
    qsort(t, n_theirs, sizeof *t, key_cmp);
    qsort(o, n_ours, sizeof *o, key_cmp);
    rc = merge(t, n_theirs, o, n_ours, out);
out:
    free(t);
    free(o);
    if (rc != 0)
        reconcile_result_free(out);
    return rc;
}

/* The day's midnight (UTC), or -1 when day is not a real "YYYY-MM-DD". */
static time_t day_start(const char *day)
{
    char ts[ALIPAY_TIMESTAMP_LEN + 16], back[ALIPAY_TIMESTAMP_LEN];
    time_t t;
    if (day == NULL || strlen(day) != 10)
        return -1;
    snprintf(ts, sizeof ts, "%s 00:00:00", day);
    if (alipay_timestamp_parse(ts, 0, &t) != 0)
        return -1;
    alipay_timestamp(t, 0, back); /* 2026-02-30 would come back as 03-02 */
    return strcmp(back, ts) == 0 ? t : -1;
}

int reconcile_day_ok(const char *day)
{
    return day_start(day) >= 0;
}

/* --- our side ---------------------------------------------------------- */

/* The refund service's table, read here only (see reconcile.h). */
static const char SQL_REFUNDS[] =
    "SELECT refund_id, order_id, trade_no, refund_amount FROM trade_refund "
    "WHERE refund_status = 'succeeded' AND refund_time >= CAST(? AS DATETIME) "
    "AND refund_time < CAST(? AS DATETIME)";

static int row_to_refund(const db_result *r, size_t row, void *elem)
{
    struct reconcile_item *it = elem;
    int64_t id = db_result_i64(r, row, 0, 0), order = db_result_i64(r, row, 1, 0);
    const char *amount = db_result_get(r, row, 3);
    it->kind = BILL_REFUND;
    snowflake_format(id, it->out_request_no);
    snowflake_format(order, it->out_trade_no);
    db_result_text(r, row, 2, it->trade_no, sizeof it->trade_no);
    return amount != NULL && money_parse_str(amount, MONEY_NON_NEGATIVE, &it->amount) == 0 ? 0 : -1;
}

/* Our succeeded refunds of [from, to). */
static enum shop_code our_refunds(const char *from, const char *to, struct reconcile_item **out,
                                  size_t *n)
{
    struct db_val p[] = {DB_TEXT(from), DB_TEXT(to)};
    return db_query_list(order_db(), SQL_REFUNDS, p, 2, OURS_MAX, sizeof **out, row_to_refund,
                         (void **)out, n);
}

/* Our payments and refunds of [from, to) into *items (malloc'd). */
static enum shop_code our_side(const char *from, const char *to, struct reconcile_item **items,
                               size_t *n)
{
    struct pay_paid *paid = NULL;
    struct reconcile_item *refunds = NULL;
    size_t np = 0, nr = 0;
    enum shop_code sc = pay_paid_between(order_db(), from, to, OURS_MAX, &paid, &np);
    if (sc == SHOP_SUCCESS)
        sc = our_refunds(from, to, &refunds, &nr);
    *items = sc == SHOP_SUCCESS ? calloc(np + nr + 1, sizeof **items) : NULL;
    if (sc == SHOP_SUCCESS && *items == NULL)
        sc = SHOP_INTERNAL_ERROR;
    for (size_t i = 0; *items != NULL && i < np; i++) {
        struct reconcile_item *it = &(*items)[i];
        it->kind = BILL_TRADE;
        snprintf(it->trade_no, sizeof it->trade_no, "%s", paid[i].trade_no);
        snowflake_format(paid[i].order_id, it->out_trade_no);
        it->amount = paid[i].amount;
    }
    if (*items != NULL && nr > 0)
        memcpy(*items + np, refunds, nr * sizeof *refunds);
    *n = *items != NULL ? np + nr : 0;
    free(paid);
    free(refunds);
    return sc;
}

/* --- recording ----------------------------------------------------------- */

static const char SQL_DIFF[] =
    "INSERT INTO trade_reconcile_diff (day, kind, object, trade_no, out_trade_no, "
    "out_request_no, our_amount, their_amount) VALUES (CAST(? AS DATE), ?, ?, ?, ?, ?, "
    "CAST(? AS DECIMAL(10,2)), CAST(? AS DECIMAL(10,2))) ON DUPLICATE KEY UPDATE "
    "out_trade_no = VALUES(out_trade_no), our_amount = VALUES(our_amount), "
    "their_amount = VALUES(their_amount)";

static struct db_val amount_val(int64_t cents, char buf[MONEY_STR_MAX])
{
    return cents < 0 ? DB_NULLV : DB_TEXT(money_format(cents, buf));
}

static void say(FILE *f, const char *day, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(FILE *f, const char *day, const char *fmt, ...)
{
    va_list ap;
    if (f == NULL)
        return;
    fprintf(f, "reconcile %s: ", day);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

/* Every difference of r into trade_reconcile_diff, in one transaction. */
static enum db_status record(const char *day, const struct reconcile_result *r, FILE *progress)
{
    db_conn *db = order_db();
    char ours[MONEY_STR_MAX], theirs[MONEY_STR_MAX];
    enum db_status st = r->n > 0 ? db_begin(db) : DB_OK;
    for (size_t i = 0; st == DB_OK && i < r->n; i++) {
        const struct reconcile_diff *d = &r->diffs[i];
        struct db_val p[] = {DB_TEXT(day),
                             DB_TEXT(reconcile_kind_name(d->kind)),
                             DB_TEXT(d->object == BILL_TRADE ? "trade" : "refund"),
                             DB_TEXT(d->trade_no),
                             DB_TEXT(d->out_trade_no),
                             DB_TEXT(d->out_request_no),
                             amount_val(d->our_amount, ours),
                             amount_val(d->their_amount, theirs)};
        st = db_exec(db, SQL_DIFF, p, sizeof p / sizeof p[0], NULL);
        if ((i + 1) % PROGRESS_EVERY == 0)
            say(progress, day, "recorded %zu of %zu differences", i + 1, r->n);
    }
    if (r->n > 0 && st == DB_OK)
        st = db_commit(db);
    else if (r->n > 0)
        db_rollback(db);
    return st;
}

enum reconcile_status reconcile_day(const struct shop_config *cfg, const char *day, FILE *progress,
                                    struct reconcile_result *out, char *why, size_t whysz)
{
    char url[2048], from[ALIPAY_TIMESTAMP_LEN], to[ALIPAY_TIMESTAMP_LEN], err[256];
    time_t start = day_start(day);
    struct buf body;
    struct bill b;
    struct reconcile_item *ours = NULL;
    size_t n = 0;
    enum reconcile_status rs = RECONCILE_UNREACHABLE;
    memset(out, 0, sizeof *out);
    buf_init(&body, BILL_BYTES_MAX);
    bill_init(&b);
    alipay_timestamp(start, 0, from);
    alipay_timestamp(start + 86400, 0, to);
    say(progress, day, "asking the provider for the bill");
    enum provider_status ps = provider_bill_url(cfg, day, url, sizeof url);
    if (ps == PROVIDER_OK)
        ps = provider_fetch(cfg, url, &body);
    if (ps != PROVIDER_OK) {
        snprintf(why, whysz, "the provider gave no bill for %s (%s; see the log above)", day,
                 provider_status_text(ps));
        goto out;
    }
    say(progress, day, "downloaded the bill (%zu bytes); parsing", body.len);
    if (bill_parse(buf_str(&body), body.len, &b, err, sizeof err) != 0) {
        snprintf(why, whysz, "the provider's bill of %s is malformed: %s", day, err);
        goto out;
    }
    say(progress, day, "the bill has %zu rows; reading ours", b.n);
    if (our_side(from, to, &ours, &n) != SHOP_SUCCESS) {
        snprintf(why, whysz, "cannot read trade_pay and trade_refund (is the database up?)");
        goto out;
    }
    say(progress, day, "we have %zu rows; comparing", n);
    if (reconcile_compare(b.rows, b.n, ours, n, out) != 0) {
        snprintf(why, whysz, "out of memory comparing %zu and %zu rows", b.n, n);
        goto out;
    }
    if (record(day, out, progress) != DB_OK) {
        snprintf(why, whysz, "cannot record the differences in trade_reconcile_diff");
        reconcile_result_free(out);
        goto out;
    }
    rs = out->n > 0 ? RECONCILE_DIFFERENCES : RECONCILE_CLEAN;
out:
    free(ours);
    bill_free(&b);
    buf_free(&body);
    return rs;
}

/* Ordered by the columns (qualified), not by the text aliases of the same
 * names: id as text sorts "10" before "9", unlike the keyset's id > ?. */
static const char SQL_DIFF_LIST[] =
    "SELECT CAST(id AS CHAR) AS id, DATE_FORMAT(day, '%Y-%m-%d') AS day, kind, object, trade_no, "
    "out_trade_no, out_request_no, CAST(our_amount AS CHAR) AS our_amount, "
    "CAST(their_amount AS CHAR) AS their_amount, CAST(resolved AS CHAR) AS resolved, note "
    "FROM trade_reconcile_diff WHERE (? = '' OR day = ?) "
    "AND (? = '' OR day < ? OR (day = ? AND id > ?)) "
    "ORDER BY trade_reconcile_diff.day DESC, trade_reconcile_diff.id LIMIT ?";
static const char SQL_DIFF_RESOLVE[] =
    "UPDATE trade_reconcile_diff SET resolved = 1, note = ? WHERE id = ? AND resolved = 0";

enum shop_code reconcile_diffs_json(db_conn *db, const char *day, const struct reconcile_key *after,
                                    size_t limit, struct json_object **out, int *more)
{
    struct db_val p[] = {
        DB_TEXT(day),        DB_TEXT(day),      DB_TEXT(after->day),       DB_TEXT(after->day),
        DB_TEXT(after->day), DB_I64(after->id), DB_I64((int64_t)limit + 1)};
    db_result *r = NULL;
    *out = NULL;
    *more = 0;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_query(db, SQL_DIFF_LIST, p, sizeof p / sizeof p[0], limit + 1, &r);
    if (st == DB_OK && (*out = db_result_json(r)) == NULL)
        st = DB_ERR;
    if (st == DB_OK) {
        size_t n = db_result_rows(r);
        if ((*more = paging_trim(&n, limit)) != 0)
            json_object_array_del_idx(*out, n, 1);
    }
    db_result_free(r);
    return st == DB_OK ? SHOP_SUCCESS : db_shop_code(st);
}

int reconcile_key_parse(const char *cursor, struct reconcile_key *out)
{
    int64_t k[2];
    if (paging_cursor_parse(cursor, k, 2) != 0 || k[0] > 99991231)
        return -1;
    snprintf(out->day, sizeof out->day, "%04d-%02d-%02d", (int)(k[0] / 10000),
             (int)(k[0] / 100 % 100), (int)(k[0] % 100));
    out->id = k[1];
    return reconcile_day_ok(out->day) ? 0 : -1;
}

const char *reconcile_key_format(struct json_object *row, char out[PAGING_CURSOR_MAX])
{
    int y = 0, m = 0, d = 0;
    const char *day = json_object_get_string(json_object_object_get(row, "day"));
    const char *id = json_object_get_string(json_object_object_get(row, "id"));
    int64_t k[2] = {0, id != NULL ? strtoll(id, NULL, 10) : 0};
    if (day != NULL && sscanf(day, "%4d-%2d-%2d", &y, &m, &d) == 3)
        k[0] = (int64_t)y * 10000 + m * 100 + d;
    return paging_cursor_format(k, 2, out);
}

enum shop_code reconcile_diff_resolve(db_conn *db, int64_t id, const char *note)
{
    struct db_val p[] = {DB_TEXT(note), DB_I64(id)};
    uint64_t changed = 0;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_exec(db, SQL_DIFF_RESOLVE, p, 2, &changed);
    if (st != DB_OK)
        return db_shop_code(st);
    return changed == 1 ? SHOP_SUCCESS : SHOP_NOT_FOUND;
}
