#include "hostlist.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* The entry [s, s + len) with spaces around it dropped. */
static void trim_span(const char **s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

static int parse_port(const char *s, size_t len)
{
    if (len == 0 || len > 5)
        return -1;
    int port = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535 ? port : -1;
}

static int parse_entry(const char *s, size_t len, struct hostlist_entry *e, char *err,
                       size_t errlen)
{
    trim_span(&s, &len);
    if (len == 0) {
        snprintf(err, errlen, "an empty entry (expected host:port,host:port,...)");
        return -1;
    }
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ':')
            colon = s + i;
    size_t hlen = colon != NULL ? (size_t)(colon - s) : 0;
    if (colon == NULL || hlen == 0) {
        snprintf(err, errlen, "\"%.*s\" is not host:port", (int)len, s);
        return -1;
    }
    if (hlen >= sizeof e->host) {
        snprintf(err, errlen, "host \"%.*s...\" is longer than %zu bytes", 16, s,
                 sizeof e->host - 1);
        return -1;
    }
    e->port = parse_port(colon + 1, len - hlen - 1);
    if (e->port < 0) {
        snprintf(err, errlen, "\"%.*s\": the port is not a number in 1..65535", (int)len, s);
        return -1;
    }
    memcpy(e->host, s, hlen);
    e->host[hlen] = '\0';
    return 0;
}

static int is_blank(const char *s)
{
    while (*s != '\0' && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

int hostlist_parse(const char *text, const char *def_host, int def_port, struct hostlist *out,
                   char *err, size_t errlen)
{
    char ignored[1];
    if (err == NULL || errlen == 0) {
        err = ignored;
        errlen = sizeof ignored;
    }
    memset(out, 0, sizeof *out);
    if (text == NULL || is_blank(text)) {
        snprintf(out->e[0].host, sizeof out->e[0].host, "%s", def_host ? def_host : "127.0.0.1");
        out->e[0].port = def_port;
        out->n = 1;
        return 0;
    }
    for (const char *s = text;; out->n++) {
        const char *comma = strchr(s, ',');
        size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
        if (out->n == HOSTLIST_MAX) {
            snprintf(err, errlen, "more than %d hosts", HOSTLIST_MAX);
            return -1;
        }
        if (parse_entry(s, len, &out->e[out->n], err, errlen) != 0)
            return -1;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    out->n++;
    return 0;
}
