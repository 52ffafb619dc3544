#include "topology.h"

#include <string.h>

/* Worker ids of instances >= 2 are this far apart per instance: the table
 * must fit in the gap. */
#define WORKER_GAP 20
_Static_assert(TOPO_COUNT <= WORKER_GAP, "at most 20 consumers (worker ids are 20 apart)");
_Static_assert(300 + WORKER_GAP * (TOPO_INSTANCES_MAX - 2) + WORKER_GAP <= 1024,
               "worker ids must stay below the snowflake's 1024");

/* db_name: "DB_ORDER" without its "DB_" (lowered when printed). */
#define TOPO_ROW_(id, name_, queue_, keys_, db_, flags_, fn, all)                                  \
    [TOPO_##id] = {.name = name_,                                                                  \
                   .queue = queue_,                                                                \
                   .keys = {TOPO_UNPAREN keys_, NULL},                                             \
                   .db = db_,                                                                      \
                   .db_name = &#db_[3],                                                            \
                   .flags = flags_},
const struct topo_row topo_rows[TOPO_COUNT] = {TOPOLOGY(TOPO_ROW_)};
#undef TOPO_ROW_

int topo_find(const char *name)
{
    for (int i = 0; name != NULL && i < TOPO_COUNT; i++)
        if (strcmp(topo_rows[i].name, name) == 0)
            return i;
    return -1;
}

int topo_worker_id(enum topo_consumer c, int k)
{
    if (k < 1 || k > TOPO_INSTANCES_MAX || (int)c < 0 || c >= TOPO_COUNT)
        return -1;
    return k == 1 ? 10 + (int)c : 300 + WORKER_GAP * (k - 2) + (int)c;
}

static void print_lower(FILE *f, const char *s)
{
    for (; *s != '\0'; s++)
        fputc(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s, f);
}

static void print_row(FILE *f, enum topo_consumer c, int k)
{
    const struct topo_row *r = &topo_rows[c];
    fprintf(f, "%s\t%s\t", r->name, r->queue != NULL ? r->queue : "-");
    if (r->keys[0] == NULL)
        fputc('-', f);
    for (size_t i = 0; r->keys[i] != NULL; i++)
        fprintf(f, "%s%s", i > 0 ? "," : "", r->keys[i]);
    fputc('\t', f);
    print_lower(f, r->db_name);
    fprintf(f, "\t%s\t%d\t%d\n", (r->flags & TOPO_PUBLISHES) ? "yes" : "no", topo_worker_id(c, k),
            k);
}

int topo_print(FILE *f, int n)
{
    if (n < 1 || n > TOPO_INSTANCES_MAX)
        return -1;
    for (int c = 0; c < TOPO_COUNT; c++)
        for (int k = 1; k <= n; k++)
            print_row(f, (enum topo_consumer)c, k);
    return 0;
}
