#include "bill.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"

/* The columns the shop reads, by their names in the bill's header line. */
enum col { C_TRADE_NO, C_OUT_TRADE_NO, C_KIND, C_FINISHED, C_AMOUNT, C_REQUEST_NO, C_COUNT };
static const char *const COLUMNS[C_COUNT] = {
    "支付宝交易号", "商户订单号", "业务类型", "完成时间", "订单金额（元）", "退款批次号/请求号",
};

/* One line's fields: each NUL-terminated in its own slot. */
struct line {
    char f[BILL_FIELDS_MAX][BILL_FIELD_MAX + 1];
    size_t n;
};

/* The parser's state: where it is in the text and which line that is. */
struct cursor {
    const char *s;
    size_t len, i, line;
    char *err;
    size_t errsz;
};

static int fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cursor *c, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(c->err, c->errsz, "line %zu: ", c->line);
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < c->errsz)
        vsnprintf(c->err + n, c->errsz - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Skip to the start of the next line. */
static void skip_line(struct cursor *c)
{
    while (c->i < c->len && c->s[c->i] != '\n')
        c->i++;
    if (c->i < c->len)
        c->i++;
    c->line++;
}

/* Append ch to field out (of *n bytes). 0, or -1 when the field is full. */
static int put(struct cursor *c, char *out, size_t *n, char ch)
{
    if (*n >= BILL_FIELD_MAX)
        return fail(c, "a field is over %d bytes", BILL_FIELD_MAX);
    out[(*n)++] = ch;
    return 0;
}

/* A quoted field from c->i (at the opening quote) into out. */
static int quoted(struct cursor *c, char *out, size_t *n)
{
    size_t opened = c->line;
    for (c->i++;; c->i++) {
        if (c->i >= c->len) {
            c->line = opened;
            return fail(c, "a quoted field is not closed");
        }
        char ch = c->s[c->i];
        if (ch == '"' && c->i + 1 < c->len && c->s[c->i + 1] == '"')
            c->i++;
        else if (ch == '"')
            break;
        else if (ch == '\0')
            return fail(c, "a NUL byte in a field");
        else if (ch == '\n')
            c->line++;
        if (put(c, out, n, ch) != 0)
            return -1;
    }
    c->i++; /* the closing quote */
    while (c->i < c->len && is_blank(c->s[c->i]))
        c->i++;
    return 0;
}

/* An unquoted field into out, trimmed of spaces and tabs. */
static int plain(struct cursor *c, char *out, size_t *n)
{
    for (; c->i < c->len; c->i++) {
        char ch = c->s[c->i];
        if (ch == ',' || ch == '\n' || (ch == '\r' && c->i + 1 < c->len && c->s[c->i + 1] == '\n'))
            break;
        if (ch == '"' || ch == '\0' || ch == '\r')
            return fail(c, "a stray %s in an unquoted field",
                        ch == '"'    ? "quote"
                        : ch == '\r' ? "CR"
                                     : "NUL byte");
        if (put(c, out, n, ch) != 0)
            return -1;
    }
    while (*n > 0 && is_blank(out[*n - 1]))
        (*n)--;
    return 0;
}

/* One field at c->i into out. */
static int field(struct cursor *c, char *out)
{
    size_t n = 0;
    while (c->i < c->len && is_blank(c->s[c->i]))
        c->i++;
    int rc = c->i < c->len && c->s[c->i] == '"' ? quoted(c, out, &n) : plain(c, out, &n);
    out[n] = '\0';
    return rc;
}

/* The record at c->i (one line, or more when a quoted field holds a line
 * break) into l; c->i left at the next record. */
static int record(struct cursor *c, struct line *l)
{
    for (l->n = 0;; c->i++) {
        if (l->n >= BILL_FIELDS_MAX)
            return fail(c, "more than %d fields", BILL_FIELDS_MAX);
        if (field(c, l->f[l->n++]) != 0)
            return -1;
        if (c->i >= c->len || c->s[c->i] != ',')
            break;
    }
    if (c->i < c->len && c->s[c->i] == '\r')
        c->i++;
    if (c->i < c->len && c->s[c->i] != '\n')
        return fail(c, "junk after a quoted field");
    skip_line(c);
    return 0;
}

void bill_init(struct bill *b)
{
    memset(b, 0, sizeof *b);
}

void bill_free(struct bill *b)
{
    free(b->rows);
    bill_init(b);
}

/* Where each column the shop reads is in the header line l. */
static int header(struct cursor *c, const struct line *l, size_t at[C_COUNT])
{
    for (int k = 0; k < C_COUNT; k++) {
        at[k] = l->n;
        for (size_t j = 0; j < l->n && at[k] == l->n; j++)
            if (strcmp(l->f[j], COLUMNS[k]) == 0)
                at[k] = j;
        if (at[k] == l->n)
            return fail(c, "the header has no column %s", COLUMNS[k]);
    }
    return 0;
}

/* 1 when s is "YYYY-MM-DD HH:MM:SS". */
static int is_time(const char *s)
{
    static const char shape[] = "dddd-dd-dd dd:dd:dd";
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return 0;
    return s[sizeof shape - 1] == '\0';
}

/* Copy a number field (1..BILL_NO_MAX bytes, or "" when may_be_empty). */
static int copy_no(struct cursor *c, const char *v, char *out, int may_be_empty, const char *what)
{
    size_t n = strlen(v);
    if ((n == 0 && !may_be_empty) || n > BILL_NO_MAX)
        return fail(c, "%s must be 1 to %d bytes", what, BILL_NO_MAX);
    memcpy(out, v, n + 1);
    return 0;
}

/* Data line l as row r. */
static int row(struct cursor *c, const struct line *l, const size_t at[C_COUNT], struct bill_row *r)
{
    for (int k = 0; k < C_COUNT; k++)
        if (at[k] >= l->n)
            return fail(c, "%zu fields, fewer than the header's", l->n);
    const char *kind = l->f[at[C_KIND]], *amount = l->f[at[C_AMOUNT]];
    if (strcmp(kind, "交易") == 0)
        r->kind = BILL_TRADE;
    else if (strcmp(kind, "退款") == 0)
        r->kind = BILL_REFUND;
    else
        return fail(c, "业务类型 \"%.64s\" is neither 交易 nor 退款", kind);
    if (money_parse_str(amount, MONEY_ALLOW_NEGATIVE, &r->amount) != 0 ||
        (r->kind == BILL_TRADE ? r->amount <= 0 : r->amount >= 0))
        return fail(c, "订单金额（元） \"%.32s\" is not a %s amount", amount,
                    r->kind == BILL_TRADE ? "positive" : "negative");
    if (r->amount < 0)
        r->amount = -r->amount;
    if (!is_time(l->f[at[C_FINISHED]]))
        return fail(c, "完成时间 must be YYYY-MM-DD HH:MM:SS");
    memcpy(r->finished, l->f[at[C_FINISHED]], sizeof r->finished);
    return copy_no(c, l->f[at[C_TRADE_NO]], r->trade_no, 0, "支付宝交易号") ||
                   copy_no(c, l->f[at[C_OUT_TRADE_NO]], r->out_trade_no, 0, "商户订单号") ||
                   copy_no(c, l->f[at[C_REQUEST_NO]], r->out_request_no, r->kind == BILL_TRADE,
                           "退款批次号/请求号")
               ? -1
               : 0;
}

static struct bill_row *next_row(struct cursor *c, struct bill *b)
{
    if (b->n >= BILL_ROWS_MAX) {
        fail(c, "more than %d rows", BILL_ROWS_MAX);
        return NULL;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        struct bill_row *p = realloc(b->rows, cap * sizeof *p);
        if (p == NULL) {
            fail(c, "out of memory");
            return NULL;
        }
        b->rows = p;
        b->cap = cap;
    }
    return &b->rows[b->n];
}

int bill_parse(const char *text, size_t len, struct bill *b, char *err, size_t errsz)
{
    struct cursor c = {.s = text, .len = len, .line = 1, .err = err, .errsz = errsz};
    struct line *l = malloc(sizeof *l);
    size_t at[C_COUNT];
    int have_header = 0, rc = -1;
    struct bill_row *r;
    if (l == NULL) {
        fail(&c, "out of memory");
        goto out;
    }
    while (c.i < c.len) {
        char ch = text[c.i];
        if (ch == '#' || ch == '\n' || (ch == '\r' && c.i + 1 < len && text[c.i + 1] == '\n')) {
            skip_line(&c);
            continue;
        }
        size_t line = c.line, after;
        if (record(&c, l) != 0)
            goto out;
        after = c.line;
        c.line = line; /* errors name the line the record starts on */
        if (!have_header) {
            if (header(&c, l, at) != 0)
                goto out;
            have_header = 1;
        } else if ((r = next_row(&c, b)) == NULL || row(&c, l, at, r) != 0) {
            goto out;
        } else {
            b->n++;
        }
        c.line = after;
    }
    if (!have_header) {
        fail(&c, "the bill has no header line");
        goto out;
    }
    rc = 0;
out:
    free(l);
    return rc;
}
