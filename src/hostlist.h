/* hostlist: the "host:port,host:port,..." lists of the settings mq_hosts and
 * db_hosts, parsed in one place. Clients that fail over (mq.c, db.c) connect
 * to the first entry that answers and, when a connection is lost, try the
 * next ones in turn. An empty list stands for the one default host. */
#ifndef SHOP_HOSTLIST_H
#define SHOP_HOSTLIST_H

#include <stddef.h>

#define HOSTLIST_MAX      8   /* entries in a list */
#define HOSTLIST_HOST_MAX 128 /* bytes of one host name, with the NUL */

struct hostlist_entry {
    char host[HOSTLIST_HOST_MAX];
    int port;
};

struct hostlist {
    size_t n; /* 1..HOSTLIST_MAX after a successful parse */
    struct hostlist_entry e[HOSTLIST_MAX];
};

/* Parse text (entries "host:port" separated by commas, spaces around an
 * entry ignored) into *out. When text is NULL or blank, *out is the one entry
 * def_host:def_port. Returns 0, or -1 with the reason in err (errlen bytes):
 * an empty entry, a missing or bad port (1..65535), a host too long, more
 * than HOSTLIST_MAX entries. *out is then unusable. */
int hostlist_parse(const char *text, const char *def_host, int def_port, struct hostlist *out,
                   char *err, size_t errlen);

#endif
