/* mustache: compile a template into an immutable node tree, then render it.
 *
 * Compilation runs in three passes over the source:
 *   1. tokenize: find every tag (honouring set-delimiter tags) and its line;
 *   2. structure and standalone analysis: match sections, then decide which
 *      tags stand alone on their line and so swallow the line's indentation and
 *      newline (including the inheritance spec's "pair" rules, where e.g.
 *      {{<parent}}{{/parent}} on one line counts as standalone);
 *   3. build the tree: text between the tags' consumed regions becomes text
 *      nodes; standalone blocks are dedented when they close.
 *
 * Rendering walks the tree. Indentation (standalone partials/parents/blocks)
 * is applied lazily: after a template newline the renderer remembers that a
 * line has started and writes the indentation chain just before the next
 * non-newline output, so data containing newlines is never indented and empty
 * lines get no trailing whitespace. */
#include "mustache.h"

#include "buf.h"

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Compiled form                                                        */

enum kind { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL, N_PARENT, N_BLOCK };

/* A dotted name, pre-split: `segs` holds nseg NUL-terminated segments back to
 * back. nseg == 0 is the implicit iterator ".". */
struct name {
    char *segs;
    unsigned nseg;
};

struct node;

struct list {
    struct node *v;
    size_t n, cap;
};

struct node {
    unsigned char kind;
    bool standalone; /* PARTIAL/PARENT/BLOCK: expanded on lines of their own */
    bool dynamic;    /* PARTIAL/PARENT: the name is looked up in the context */
    int line;
    char *str; /* TEXT: the text; PARTIAL/PARENT/BLOCK: the name (NUL-terminated) */
    size_t len;
    size_t off;       /* TEXT: source offset (compile time only: dedent) */
    struct name name; /* VAR/RAW/SECTION/INVERTED, dynamic PARTIAL/PARENT */
    char *indent;     /* standalone PARTIAL/PARENT: indentation; BLOCK: intrinsic */
    size_t indent_len;
    char *before; /* standalone BLOCK: whitespace before the tag */
    size_t before_len;
    struct list kids; /* SECTION/INVERTED/BLOCK: content; PARENT: its block arguments */
};

struct mustache_tmpl {
    struct list root;
};

static void list_free(struct list *l);

static void node_free(struct node *nd)
{
    free(nd->str);
    free(nd->name.segs);
    free(nd->indent);
    free(nd->before);
    list_free(&nd->kids);
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        node_free(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int list_push(struct list *l, const struct node *nd)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct node *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *nd;
    return 0;
}

void mustache_free(mustache_tmpl *t)
{
    if (t == NULL)
        return;
    list_free(&t->root);
    free(t);
}

/* ------------------------------------------------------------------ */
/* Pass 1: tokens                                                       */

struct tok {
    char type; /* 'v' (escaped var), '&' (raw var), '#', '^', '/', '!', '>', '<', '$', '=' */
    bool dynamic;
    bool ws_before;  /* only spaces/tabs between line start and tag */
    bool ws_after;   /* only spaces/tabs between tag and newline/end */
    bool standalone; /* the tag's line is removed (normal rule or a pair rule) */
    bool block_sa;   /* '$': the block is standalone (dedented, indented on expansion) */
    int line;
    size_t start, end;   /* the tag itself */
    size_t ls, nl, eol;  /* line start; end of trailing blanks; after the newline */
    size_t cstart, cend; /* the region the tag consumes from the output */
    const char *name;    /* trimmed content, points into the source */
    size_t nlen;
    size_t match; /* openers: closing token; closers: opening token */
    size_t encl;  /* enclosing opener, or NONE */
};

#define NONE ((size_t)-1)

struct comp {
    const char *src;
    size_t len;
    struct tok *t;
    size_t nt, cap;
    char *err;
    size_t errlen;
};

static int fail(struct comp *c, int rc, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct comp *c, int rc, int line, const char *fmt, ...)
{
    if (c->err != NULL && c->errlen > 0) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(c->err, c->errlen, "line %d: %s", line, msg);
    }
    return rc;
}

/* Length for quoting a name in a message. */
static int clip(size_t n)
{
    return n > 64 ? 64 : (int)n;
}

static bool is_ws(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    return memmem(hay, hlen, needle, nlen);
}

/* Position of `ctag` preceded by `pre` (if pre != 0), searching from `from`.
 * Returns the position of the pre character (or of ctag), or NONE. */
static size_t find_close(const struct comp *c, size_t from, char pre, const char *ctag, size_t clen)
{
    size_t pos = from + (pre ? 1 : 0);
    while (pos <= c->len) {
        const char *p = find(c->src + pos, c->len - pos, ctag, clen);
        if (p == NULL)
            return NONE;
        size_t k = (size_t)(p - c->src);
        if (!pre)
            return k;
        if (c->src[k - 1] == pre)
            return k - 1;
        pos = k + 1;
    }
    return NONE;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_ws(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_ws((*s)[*n - 1]))
        (*n)--;
}

static bool has_ws(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_ws(s[i]))
            return true;
    return false;
}

static int tok_push(struct comp *c, const struct tok *t)
{
    if (c->nt == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        struct tok *v = realloc(c->t, cap * sizeof *v);
        if (v == NULL)
            return -1;
        c->t = v;
        c->cap = cap;
    }
    c->t[c->nt++] = *t;
    return 0;
}

static int tokenize(struct comp *c)
{
    const char *src = c->src;
    const char *otag = "{{", *ctag = "}}";
    size_t olen = 2, clen = 2;
    size_t pos = 0, lpos = 0;
    int line = 1;

    for (;;) {
        const char *p = find(src + pos, c->len - pos, otag, olen);
        if (p == NULL)
            return MUSTACHE_OK;
        struct tok t = {0};
        t.start = (size_t)(p - src);
        for (; lpos < t.start; lpos++)
            if (src[lpos] == '\n')
                line++;
        t.line = line;
        t.match = t.encl = NONE;
        size_t q = t.start + olen; /* first byte after the opening delimiter */
        char sig = q < c->len ? src[q] : '\0';
        size_t cs, ce; /* content bounds */
        size_t k;
        switch (sig) {
        case '{':
            k = find_close(c, q + 1, '}', ctag, clen);
            t.type = '&';
            cs = q + 1;
            ce = k;
            t.end = k + 1 + clen;
            break;
        case '=':
            k = find_close(c, q + 1, '=', ctag, clen);
            t.type = '=';
            cs = q + 1;
            ce = k;
            t.end = k + 1 + clen;
            break;
        case '#':
        case '^':
        case '/':
        case '!':
        case '>':
        case '<':
        case '$':
        case '&':
            k = find_close(c, q + 1, 0, ctag, clen);
            t.type = sig;
            cs = q + 1;
            ce = k;
            t.end = k + clen;
            break;
        default:
            k = find_close(c, q, 0, ctag, clen);
            t.type = 'v';
            cs = q;
            ce = k;
            t.end = k + clen;
            break;
        }
        if (k == NONE)
            return fail(c, MUSTACHE_ERR_SYNTAX, line, "unclosed tag");

        const char *nm = src + cs;
        size_t nlen = ce - cs;
        trim(&nm, &nlen);
        if (t.type == '=') {
            /* two delimiters separated by whitespace, neither containing '=' */
            size_t i = 0;
            while (i < nlen && !is_ws(nm[i]))
                i++;
            size_t j = i;
            while (j < nlen && is_ws(nm[j]))
                j++;
            if (i == 0 || j == i || j == nlen || has_ws(nm + j, nlen - j) || memchr(nm, '=', nlen))
                return fail(c, MUSTACHE_ERR_SYNTAX, line, "bad set-delimiter tag");
            otag = nm;
            olen = i;
            ctag = nm + j;
            clen = nlen - j;
        } else if (t.type != '!') {
            if ((t.type == '>' || t.type == '<' || t.type == '/') && nlen > 0 && nm[0] == '*') {
                t.dynamic = true;
                nm++;
                nlen--;
                trim(&nm, &nlen);
            }
            if (nlen == 0)
                return fail(c, MUSTACHE_ERR_SYNTAX, line, "empty tag");
            if (has_ws(nm, nlen))
                return fail(c, MUSTACHE_ERR_SYNTAX, line, "bad name '%.*s'", clip(nlen), nm);
        }
        t.name = nm;
        t.nlen = nlen;
        if (tok_push(c, &t) != 0)
            return MUSTACHE_ERR_NOMEM;
        pos = t.end;
    }
}

/* ------------------------------------------------------------------ */
/* Pass 2: structure and standalone lines                               */

static bool opens(char type)
{
    return type == '#' || type == '^' || type == '<' || type == '$';
}

static int structure(struct comp *c)
{
    size_t stack[MUSTACHE_MAX_DEPTH];
    size_t sp = 0;
    for (size_t i = 0; i < c->nt; i++) {
        struct tok *t = &c->t[i];
        t->encl = sp ? stack[sp - 1] : NONE;
        if (opens(t->type)) {
            if (sp == MUSTACHE_MAX_DEPTH)
                return fail(c, MUSTACHE_ERR_DEPTH, t->line, "sections nested too deeply");
            stack[sp++] = i;
        } else if (t->type == '/') {
            if (sp == 0)
                return fail(c, MUSTACHE_ERR_SYNTAX, t->line, "unexpected closing tag '%.*s'",
                            clip(t->nlen), t->name);
            struct tok *o = &c->t[stack[sp - 1]];
            if (o->nlen != t->nlen || memcmp(o->name, t->name, t->nlen) != 0 ||
                o->dynamic != t->dynamic) {
                return fail(c, MUSTACHE_ERR_SYNTAX, t->line,
                            "closing tag '%.*s' does not match '%.*s' opened on line %d",
                            clip(t->nlen), t->name, clip(o->nlen), o->name, o->line);
            }
            t->match = stack[--sp];
            o->match = i;
            t->encl = sp ? stack[sp - 1] : NONE;
        }
    }
    if (sp > 0) {
        const struct tok *o = &c->t[stack[sp - 1]];
        return fail(c, MUSTACHE_ERR_SYNTAX, o->line, "unclosed section '%.*s'", clip(o->nlen),
                    o->name);
    }
    return MUSTACHE_OK;
}

static void standalone(struct comp *c)
{
    const char *s = c->src;
    for (size_t i = 0; i < c->nt; i++) {
        struct tok *t = &c->t[i];
        size_t a = t->start;
        while (a > 0 && (s[a - 1] == ' ' || s[a - 1] == '\t'))
            a--;
        t->ls = a;
        t->ws_before = a == 0 || s[a - 1] == '\n';
        size_t b = t->end;
        while (b < c->len && (s[b] == ' ' || s[b] == '\t'))
            b++;
        t->nl = b;
        t->ws_after = true;
        if (b == c->len)
            t->eol = b;
        else if (s[b] == '\n')
            t->eol = b + 1;
        else if (s[b] == '\r' && b + 1 < c->len && s[b + 1] == '\n')
            t->eol = b + 2;
        else
            t->ws_after = false;
        t->cstart = t->start;
        t->cend = t->end;
        if (t->type != 'v' && t->type != '&' && t->ws_before && t->ws_after) {
            t->standalone = true;
            t->cstart = t->ls;
            t->cend = t->eol;
            if (t->type == '$')
                t->block_sa = true;
        }
    }
    /* The inheritance spec's pair rules: two adjacent tags on one line. */
    for (size_t i = 0; i + 1 < c->nt; i++) {
        struct tok *a = &c->t[i], *b = &c->t[i + 1];
        if (a->end != b->start || !a->ws_before || !b->ws_after)
            continue;
        if (a->type == '$' && b->type == '/' && b->match == i) {
            /* {{$b}}{{/b}}: standalone, but the newline stays */
            a->block_sa = true;
            a->cstart = a->ls;
            b->cend = b->nl;
        } else if (a->type == '<' && b->type == '/' && b->match == i) {
            /* {{<p}}{{/p}} */
            a->standalone = true;
            a->cstart = a->ls;
            b->cend = b->eol;
        } else if (a->type == '<' && b->type == '$') {
            /* {{<p}}{{$b}} */
            a->standalone = true;
            a->cstart = a->ls;
            b->block_sa = true;
            b->cend = b->eol;
        } else if (a->type == '/' && b->type == '/' && c->t[a->match].type == '$' &&
                   c->t[b->match].type == '<' && c->t[a->match].encl == b->match) {
            /* {{/b}}{{/p}} */
            a->cstart = a->ls;
            b->cend = b->eol;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Pass 3: the tree                                                     */

static char *dup_mem(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p != NULL) {
        if (n > 0)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int parse_name(struct comp *c, const struct tok *t, struct name *out)
{
    out->segs = NULL;
    out->nseg = 0;
    if (t->nlen == 1 && t->name[0] == '.')
        return MUSTACHE_OK;
    char *s = dup_mem(t->name, t->nlen);
    if (s == NULL)
        return MUSTACHE_ERR_NOMEM;
    unsigned n = 1;
    for (size_t i = 0; i < t->nlen; i++) {
        if (s[i] != '.')
            continue;
        if (i == 0 || i + 1 == t->nlen || s[i + 1] == '.') {
            free(s);
            return fail(c, MUSTACHE_ERR_SYNTAX, t->line, "bad name '%.*s'", clip(t->nlen), t->name);
        }
        s[i] = '\0';
        n++;
    }
    out->segs = s;
    out->nseg = n;
    return MUSTACHE_OK;
}

/* Common leading blank prefix of the non-blank lines of s[0..n), which starts
 * at a line start. */
static size_t margin(const char *s, size_t n, const char **m)
{
    const char *best = NULL;
    size_t blen = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        bool blank = j == n || s[j] == '\n' || (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n');
        if (!blank) {
            if (best == NULL) {
                best = s + i;
                blen = j - i;
            } else {
                size_t k = 0;
                while (k < blen && k < j - i && s[i + k] == best[k])
                    k++;
                blen = k;
            }
        }
        const char *nl = memchr(s + j, '\n', n - j);
        if (nl == NULL)
            break;
        i = (size_t)(nl - s) + 1;
    }
    *m = best;
    return best ? blen : 0;
}

/* Remove the part of margin m[0..mlen) that prefixes p[0..*n). */
static void strip_prefix(char *p, size_t *n, const char *m, size_t mlen)
{
    size_t k = 0;
    while (k < mlen && k < *n && p[k] == m[k])
        k++;
    if (k > 0) {
        memmove(p, p + k, *n - k + 1);
        *n -= k;
    }
}

static void dedent_list(struct list *l, const char *src, const char *m, size_t mlen);

static void dedent_block(struct node *b, const char *src, const char *m, size_t mlen)
{
    if (b->standalone) {
        /* already dedented by itself: only its indentation moves */
        if (b->indent)
            strip_prefix(b->indent, &b->indent_len, m, mlen);
        if (b->before)
            strip_prefix(b->before, &b->before_len, m, mlen);
    } else {
        dedent_list(&b->kids, src, m, mlen);
    }
}

static void dedent_list(struct list *l, const char *src, const char *m, size_t mlen)
{
    for (size_t i = 0; i < l->n; i++) {
        struct node *nd = &l->v[i];
        switch (nd->kind) {
        case N_TEXT: {
            /* in place: remove the margin at each line start */
            char *s = nd->str;
            size_t r = 0, w = 0, n = nd->len;
            bool at_ls = nd->off == 0 || src[nd->off - 1] == '\n';
            while (r < n) {
                if (at_ls) {
                    size_t k = 0;
                    while (k < mlen && r + k < n && s[r + k] == m[k])
                        k++;
                    r += k;
                    at_ls = false;
                    continue;
                }
                char ch = s[r++];
                s[w++] = ch;
                if (ch == '\n')
                    at_ls = true;
            }
            s[w] = '\0';
            nd->len = w;
            break;
        }
        case N_SECTION:
        case N_INVERTED:
            dedent_list(&nd->kids, src, m, mlen);
            break;
        case N_PARTIAL:
            if (nd->standalone && nd->indent)
                strip_prefix(nd->indent, &nd->indent_len, m, mlen);
            break;
        case N_PARENT:
            if (nd->standalone && nd->indent)
                strip_prefix(nd->indent, &nd->indent_len, m, mlen);
            for (size_t j = 0; j < nd->kids.n; j++)
                dedent_block(&nd->kids.v[j], src, m, mlen);
            break;
        case N_BLOCK:
            dedent_block(nd, src, m, mlen);
            break;
        default:
            break;
        }
    }
}

struct frame {
    struct list kids;
    struct node node; /* the opener, completed when its closer arrives */
    size_t tok;
};

static int add_text(struct list *l, const char *src, size_t from, size_t to)
{
    if (to <= from)
        return MUSTACHE_OK;
    struct node nd = {0};
    nd.kind = N_TEXT;
    nd.off = from;
    nd.len = to - from;
    nd.str = dup_mem(src + from, nd.len);
    if (nd.str == NULL || list_push(l, &nd) != 0) {
        free(nd.str);
        return MUSTACHE_ERR_NOMEM;
    }
    return MUSTACHE_OK;
}

static int set_str(char **dst, size_t *dlen, const char *s, size_t n)
{
    *dst = dup_mem(s, n);
    *dlen = n;
    return *dst ? MUSTACHE_OK : MUSTACHE_ERR_NOMEM;
}

/* Fill `nd` from opener/leaf token t. */
static int make_node(struct comp *c, const struct tok *t, struct node *nd)
{
    memset(nd, 0, sizeof *nd);
    nd->line = t->line;
    switch (t->type) {
    case 'v':
    case '&':
    case '#':
    case '^':
        nd->kind = t->type == 'v'   ? N_VAR
                   : t->type == '&' ? N_RAW
                   : t->type == '#' ? N_SECTION
                                    : N_INVERTED;
        return parse_name(c, t, &nd->name);
    case '>':
    case '<':
        nd->kind = t->type == '>' ? N_PARTIAL : N_PARENT;
        nd->dynamic = t->dynamic;
        nd->standalone = t->standalone;
        if (t->dynamic) {
            int rc = parse_name(c, t, &nd->name);
            if (rc != MUSTACHE_OK)
                return rc;
        }
        if (set_str(&nd->str, &nd->len, t->name, t->nlen) != 0)
            return MUSTACHE_ERR_NOMEM;
        if (t->standalone)
            return set_str(&nd->indent, &nd->indent_len, c->src + t->ls, t->start - t->ls);
        return MUSTACHE_OK;
    case '$':
        nd->kind = N_BLOCK;
        nd->standalone = t->block_sa;
        if (set_str(&nd->str, &nd->len, t->name, t->nlen) != 0)
            return MUSTACHE_ERR_NOMEM;
        if (t->block_sa && t->ws_before)
            return set_str(&nd->before, &nd->before_len, c->src + t->ls, t->start - t->ls);
        return MUSTACHE_OK;
    default:
        return MUSTACHE_OK;
    }
}

/* Complete an opener whose closer is token `ci`. */
static int close_node(struct comp *c, struct frame *f, size_t ci)
{
    struct node *nd = &f->node;
    nd->kids = f->kids;
    f->kids = (struct list){0};
    if (nd->kind == N_PARENT) {
        /* only the blocks are arguments: drop everything else */
        size_t w = 0;
        for (size_t i = 0; i < nd->kids.n; i++) {
            if (nd->kids.v[i].kind == N_BLOCK)
                nd->kids.v[w++] = nd->kids.v[i];
            else
                node_free(&nd->kids.v[i]);
        }
        nd->kids.n = w;
    } else if (nd->kind == N_BLOCK && nd->standalone) {
        const struct tok *o = &c->t[f->tok], *cl = &c->t[ci];
        const char *m = NULL;
        size_t mlen = 0;
        if (cl->cstart > o->cend)
            mlen = margin(c->src + o->cend, cl->cstart - o->cend, &m);
        if (mlen > 0) {
            dedent_list(&nd->kids, c->src, m, mlen);
            return set_str(&nd->indent, &nd->indent_len, m, mlen);
        }
    }
    return MUSTACHE_OK;
}

static int build(struct comp *c, struct list *root)
{
    struct frame st[MUSTACHE_MAX_DEPTH + 1];
    size_t sp = 0;
    int rc = MUSTACHE_OK;
    size_t prev = 0;

    st[0].kids = (struct list){0};
    for (size_t i = 0; i < c->nt && rc == MUSTACHE_OK; i++) {
        const struct tok *t = &c->t[i];
        rc = add_text(&st[sp].kids, c->src, prev, t->cstart);
        if (rc != MUSTACHE_OK)
            break;
        if (t->cend > prev)
            prev = t->cend;
        if (opens(t->type)) {
            sp++;
            st[sp].kids = (struct list){0};
            st[sp].tok = i;
            rc = make_node(c, t, &st[sp].node);
        } else if (t->type == '/') {
            rc = close_node(c, &st[sp], i);
            if (rc == MUSTACHE_OK && list_push(&st[sp - 1].kids, &st[sp].node) != 0)
                rc = MUSTACHE_ERR_NOMEM;
            if (rc != MUSTACHE_OK)
                break;
            sp--;
        } else if (t->type == 'v' || t->type == '&' || t->type == '>') {
            struct node nd;
            rc = make_node(c, t, &nd);
            if (rc == MUSTACHE_OK && list_push(&st[sp].kids, &nd) != 0)
                rc = MUSTACHE_ERR_NOMEM;
            if (rc != MUSTACHE_OK)
                node_free(&nd);
        }
    }
    if (rc == MUSTACHE_OK)
        rc = add_text(&st[0].kids, c->src, prev, c->len);
    if (rc != MUSTACHE_OK) {
        for (; sp > 0; sp--) {
            node_free(&st[sp].node);
            list_free(&st[sp].kids);
        }
        list_free(&st[0].kids);
        return rc;
    }
    *root = st[0].kids;
    return MUSTACHE_OK;
}

int mustache_compile(const char *text, size_t len, mustache_tmpl **out, char *err, size_t errlen)
{
    struct comp c = {.src = text ? text : "", .len = text ? len : 0, .err = err, .errlen = errlen};
    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    int rc = tokenize(&c);
    if (rc == MUSTACHE_OK)
        rc = structure(&c);
    mustache_tmpl *t = NULL;
    if (rc == MUSTACHE_OK) {
        standalone(&c);
        t = calloc(1, sizeof *t);
        if (t == NULL)
            rc = MUSTACHE_ERR_NOMEM;
    }
    if (rc == MUSTACHE_OK)
        rc = build(&c, &t->root);
    free(c.t);
    if (rc == MUSTACHE_ERR_NOMEM && err != NULL && errlen > 0)
        snprintf(err, errlen, "out of memory");
    if (rc != MUSTACHE_OK) {
        free(t);
        return rc;
    }
    *out = t;
    return MUSTACHE_OK;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                            */

struct ctx {
    struct json_object *obj;
    const struct ctx *up;
};

struct indent {
    const char *s;
    size_t n;
    const struct indent *up;
};

struct env {
    const struct node *parent; /* a PARENT node: its kids are block arguments */
    const struct env *up;
};

struct rs {
    struct buf *out;
    mustache_partial_fn pfn;
    void *ud;
    const struct indent *ind;
    const struct env *env;
    bool pending; /* a template line has started: indent before the next output */
};

static int put(struct rs *st, const char *s, size_t n)
{
    if (n == 0)
        return MUSTACHE_OK;
    if (buf_append(st->out, s, n) == 0)
        return MUSTACHE_OK;
    return n > st->out->max - st->out->len ? MUSTACHE_ERR_TOO_BIG : MUSTACHE_ERR_NOMEM;
}

static int put_indent(struct rs *st, const struct indent *in)
{
    if (in == NULL)
        return MUSTACHE_OK;
    int rc = put_indent(st, in->up);
    return rc != MUSTACHE_OK ? rc : put(st, in->s, in->n);
}

/* Called before writing s[0..n), n > 0. */
static int flush_indent(struct rs *st, const char *s, size_t n)
{
    if (!st->pending)
        return MUSTACHE_OK;
    st->pending = false;
    if (s[0] == '\n' || (s[0] == '\r' && n > 1 && s[1] == '\n'))
        return MUSTACHE_OK; /* empty line: no trailing blanks */
    return put_indent(st, st->ind);
}

static int put_text(struct rs *st, const char *s, size_t n)
{
    if (st->ind == NULL) {
        /* nothing to indent with: one append (pending still tracked for
         * expansions that return to an indented caller) */
        if (n > 0)
            st->pending = s[n - 1] == '\n';
        return put(st, s, n);
    }
    while (n > 0) {
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t)(nl - s) + 1 : n;
        int rc = flush_indent(st, s, k);
        if (rc == MUSTACHE_OK)
            rc = put(st, s, k);
        if (rc != MUSTACHE_OK)
            return rc;
        if (nl)
            st->pending = true;
        s += k;
        n -= k;
    }
    return MUSTACHE_OK;
}

static int put_escaped(struct rs *st, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep;
        size_t rlen;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            rlen = 5;
            break;
        case '<':
            rep = "&lt;";
            rlen = 4;
            break;
        case '>':
            rep = "&gt;";
            rlen = 4;
            break;
        case '"':
            rep = "&quot;";
            rlen = 6;
            break;
        case '\'':
            rep = "&#39;";
            rlen = 5;
            break;
        default:
            continue;
        }
        int rc = put(st, s + run, i - run);
        if (rc == MUSTACHE_OK)
            rc = put(st, rep, rlen);
        if (rc != MUSTACHE_OK)
            return rc;
        run = i + 1;
    }
    return put(st, s + run, n - run);
}

static struct json_object *lookup(const struct ctx *c, const struct name *nm)
{
    if (nm->nseg == 0)
        return c->obj;
    const char *seg = nm->segs;
    struct json_object *v = NULL;
    for (;; c = c->up) {
        if (c == NULL)
            return NULL;
        if (json_object_is_type(c->obj, json_type_object) &&
            json_object_object_get_ex(c->obj, seg, &v))
            break;
    }
    for (unsigned i = 1; i < nm->nseg; i++) {
        seg += strlen(seg) + 1;
        if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, seg, &v))
            return NULL;
    }
    return v;
}

static void fmt_double(double d, char *tmp, size_t tmplen)
{
    if (!isfinite(d)) {
        tmp[0] = '\0';
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, tmplen, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
}

/* The text of a scalar, or NULL for nothing. */
static const char *scalar(struct json_object *v, char *tmp, size_t tmplen, size_t *n)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
        *n = (size_t)json_object_get_string_len(v);
        return json_object_get_string(v);
    case json_type_int: {
        /* by hand: snprintf is slow for the most common value type */
        int64_t i = json_object_get_int64(v);
        uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
        char *p = tmp + tmplen;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u > 0);
        if (i < 0)
            *--p = '-';
        *n = (size_t)(tmp + tmplen - p);
        return p;
    }
    case json_type_double:
        fmt_double(json_object_get_double(v), tmp, tmplen);
        break;
    case json_type_boolean:
        snprintf(tmp, tmplen, "%s", json_object_get_boolean(v) ? "true" : "false");
        break;
    default:
        return NULL;
    }
    *n = strlen(tmp);
    return tmp;
}

static bool truthy(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return false;
    case json_type_boolean:
        return json_object_get_boolean(v);
    case json_type_int:
        return json_object_get_int64(v) != 0;
    case json_type_double:
        return json_object_get_double(v) != 0.0;
    case json_type_string:
        return json_object_get_string_len(v) > 0;
    case json_type_array:
        return json_object_array_length(v) > 0;
    default:
        return true;
    }
}

static const mustache_tmpl *resolve(const struct rs *st, const struct node *nd, const struct ctx *c)
{
    if (st->pfn == NULL)
        return NULL;
    if (!nd->dynamic)
        return st->pfn(nd->str, nd->len, st->ud);
    struct json_object *v = lookup(c, &nd->name);
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    return st->pfn(json_object_get_string(v), (size_t)json_object_get_string_len(v), st->ud);
}

static int render_list(struct rs *st, const struct list *l, const struct ctx *c, int depth);

/* Render `l` as an expansion: indented by `in` (if not NULL) from a fresh line. */
static int expand(struct rs *st, const struct list *l, const struct ctx *c, int depth,
                  const char *in, size_t inlen, bool standalone)
{
    if (depth >= MUSTACHE_MAX_DEPTH)
        return MUSTACHE_ERR_DEPTH;
    const struct indent *saved = st->ind;
    struct indent node = {in, inlen, st->ind};
    if (standalone) {
        if (inlen > 0)
            st->ind = &node;
        st->pending = true;
    }
    int rc = render_list(st, l, c, depth + 1);
    st->ind = saved;
    return rc;
}

static const struct list *block_content(const struct rs *st, const struct node *nd)
{
    const struct list *found = &nd->kids;
    /* the outermost override wins */
    for (const struct env *e = st->env; e != NULL; e = e->up) {
        const struct list *args = &e->parent->kids;
        for (size_t i = 0; i < args->n; i++) {
            if (args->v[i].len == nd->len && memcmp(args->v[i].str, nd->str, nd->len) == 0) {
                found = &args->v[i].kids;
                break;
            }
        }
    }
    return found;
}

static int render_node(struct rs *st, const struct node *nd, const struct ctx *c, int depth)
{
    switch (nd->kind) {
    case N_TEXT:
        return put_text(st, nd->str, nd->len);
    case N_VAR:
    case N_RAW: {
        char tmp[40];
        size_t n = 0;
        const char *s = scalar(lookup(c, &nd->name), tmp, sizeof tmp, &n);
        if (s == NULL || n == 0)
            return MUSTACHE_OK;
        int rc = flush_indent(st, s, n);
        if (rc != MUSTACHE_OK)
            return rc;
        return nd->kind == N_VAR ? put_escaped(st, s, n) : put(st, s, n);
    }
    case N_SECTION: {
        struct json_object *v = lookup(c, &nd->name);
        if (!truthy(v))
            return MUSTACHE_OK;
        if (depth >= MUSTACHE_MAX_DEPTH)
            return MUSTACHE_ERR_DEPTH;
        if (!json_object_is_type(v, json_type_array)) {
            struct ctx sub = {v, c};
            return render_list(st, &nd->kids, &sub, depth + 1);
        }
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n; i++) {
            struct ctx sub = {json_object_array_get_idx(v, i), c};
            int rc = render_list(st, &nd->kids, &sub, depth + 1);
            if (rc != MUSTACHE_OK)
                return rc;
        }
        return MUSTACHE_OK;
    }
    case N_INVERTED:
        if (truthy(lookup(c, &nd->name)))
            return MUSTACHE_OK;
        if (depth >= MUSTACHE_MAX_DEPTH)
            return MUSTACHE_ERR_DEPTH;
        return render_list(st, &nd->kids, c, depth + 1);
    case N_PARTIAL: {
        const mustache_tmpl *t = resolve(st, nd, c);
        if (t == NULL)
            return MUSTACHE_OK;
        return expand(st, &t->root, c, depth, nd->indent, nd->indent_len, nd->standalone);
    }
    case N_PARENT: {
        const mustache_tmpl *t = resolve(st, nd, c);
        if (t == NULL)
            return MUSTACHE_OK;
        const struct env *saved = st->env;
        struct env e = {nd, saved};
        st->env = &e;
        int rc = expand(st, &t->root, c, depth, nd->indent, nd->indent_len, nd->standalone);
        st->env = saved;
        return rc;
    }
    case N_BLOCK: {
        const struct list *l = block_content(st, nd);
        if (nd->indent_len > 0)
            return expand(st, l, c, depth, nd->indent, nd->indent_len, nd->standalone);
        return expand(st, l, c, depth, nd->before, nd->before_len, nd->standalone);
    }
    default:
        return MUSTACHE_OK;
    }
}

static int render_list(struct rs *st, const struct list *l, const struct ctx *c, int depth)
{
    for (size_t i = 0; i < l->n; i++) {
        int rc = render_node(st, &l->v[i], c, depth);
        if (rc != MUSTACHE_OK)
            return rc;
    }
    return MUSTACHE_OK;
}

int mustache_render(const mustache_tmpl *t, struct json_object *data, mustache_partial_fn partials,
                    void *ud, struct buf *out)
{
    struct rs st = {.out = out, .pfn = partials, .ud = ud, .pending = true};
    struct ctx root = {data, NULL};
    return render_list(&st, &t->root, &root, 0);
}

/* ------------------------------------------------------------------ */
/* Partial check                                                        */

static int check_list(const struct list *l, mustache_partial_fn fn, void *ud, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct node *nd = &l->v[i];
        if ((nd->kind == N_PARTIAL || nd->kind == N_PARENT) && !nd->dynamic &&
            (fn == NULL || fn(nd->str, nd->len, ud) == NULL)) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "line %d: unknown %s '%s'", nd->line,
                         nd->kind == N_PARTIAL ? "partial" : "parent", nd->str);
            return MUSTACHE_ERR_PARTIAL;
        }
        int rc = check_list(&nd->kids, fn, ud, err, errlen);
        if (rc != MUSTACHE_OK)
            return rc;
    }
    return MUSTACHE_OK;
}

int mustache_check_partials(const mustache_tmpl *t, mustache_partial_fn lookup_fn, void *ud,
                            char *err, size_t errlen)
{
    return check_list(&t->root, lookup_fn, ud, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Compile + render from strings                                        */

struct text_partial {
    char *name;
    mustache_tmpl *t; /* NULL: missing or failed */
};

struct text_partials {
    struct json_object *src;
    struct text_partial *v;
    size_t n, cap;
    int rc; /* first compile error */
    char *err;
    size_t errlen;
};

static const mustache_tmpl *text_partial(const char *name, size_t len, void *ud)
{
    struct text_partials *p = ud;
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->v[i].name) == len && memcmp(p->v[i].name, name, len) == 0)
            return p->v[i].t;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct text_partial *v = realloc(p->v, cap * sizeof *v);
        if (v == NULL) {
            p->rc = p->rc ? p->rc : MUSTACHE_ERR_NOMEM;
            return NULL;
        }
        p->v = v;
        p->cap = cap;
    }
    struct text_partial *e = &p->v[p->n];
    e->name = dup_mem(name, len);
    e->t = NULL;
    if (e->name == NULL) {
        p->rc = p->rc ? p->rc : MUSTACHE_ERR_NOMEM;
        return NULL;
    }
    p->n++;
    struct json_object *s;
    if (p->src != NULL && json_object_object_get_ex(p->src, e->name, &s) &&
        json_object_is_type(s, json_type_string)) {
        char msg[200];
        int rc = mustache_compile(json_object_get_string(s), (size_t)json_object_get_string_len(s),
                                  &e->t, msg, sizeof msg);
        if (rc != MUSTACHE_OK && p->rc == MUSTACHE_OK) {
            p->rc = rc;
            if (p->err != NULL && p->errlen > 0)
                snprintf(p->err, p->errlen, "partial '%s': %s", e->name, msg);
        }
    }
    return e->t;
}

int mustache_render_text(const char *text, size_t len, struct json_object *data,
                         struct json_object *partials, struct buf *out, char *err, size_t errlen)
{
    mustache_tmpl *t;
    int rc = mustache_compile(text, len, &t, err, errlen);
    if (rc != MUSTACHE_OK)
        return rc;
    struct text_partials p = {.src = partials, .err = err, .errlen = errlen};
    rc = mustache_render(t, data, text_partial, &p, out);
    if (p.rc != MUSTACHE_OK)
        rc = p.rc;
    else if (rc != MUSTACHE_OK && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s",
                 rc == MUSTACHE_ERR_TOO_BIG ? "output too big"
                 : rc == MUSTACHE_ERR_DEPTH ? "nested too deeply"
                                            : "out of memory");
    for (size_t i = 0; i < p.n; i++) {
        free(p.v[i].name);
        mustache_free(p.v[i].t);
    }
    free(p.v);
    mustache_free(t);
    return rc;
}
