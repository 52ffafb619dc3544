#define SUITE_NAME "topology"
#include "testmain.h"

#include "events.h"
#include "topology.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* A topic binding as RabbitMQ matches it, for the keys the table uses: the
 * key itself, "#", or "word.#". */
static int binds(const char *binding, const char *key)
{
    size_t n = strlen(binding);
    if (strcmp(binding, "#") == 0 || strcmp(binding, key) == 0)
        return 1;
    return n > 2 && strcmp(binding + n - 2, ".#") == 0 && strncmp(binding, key, n - 1) == 0;
}

/* The queues an event with routing key `key` reaches, space-separated in
 * table order, into out. */
static void queues_of(const char *key, char *out, size_t outsz)
{
    out[0] = '\0';
    for (int c = 0; c < TOPO_COUNT; c++) {
        const struct topo_row *r = &topo_rows[c];
        int hit = 0;
        for (size_t i = 0; r->queue != NULL && r->keys[i] != NULL; i++)
            hit = hit || binds(r->keys[i], key);
        if (hit)
            snprintf(out + strlen(out), outsz - strlen(out), "%s%s", out[0] ? " " : "", r->queue);
    }
}

/* The contract's "Messages": which queues take which event. */
static void test_events_reach_their_queues(void)
{
    static const struct {
        const char *key, *queues;
    } want[] = {
        {EV_ORDER_CANCEL, "shop.audit shop.order shop.goods shop.coupon shop.user shop.log"},
        {EV_ORDER_TIMEOUT, "shop.audit shop.order shop.log"},
        {EV_PAY_NOTIFY, "shop.audit shop.pay shop.log"},
        {EV_ORDER_PAID, "shop.audit shop.order shop.user shop.log"},
        {EV_ORDER_REFUND, "shop.audit shop.user shop.log"},
        {EV_PAY_MISMATCH, "shop.audit shop.log"},
        {EV_REFUND_REQUESTED, "shop.audit shop.log"},
        {EV_REFUND_APPROVED, "shop.audit shop.log shop.refund"},
        {EV_REFUND_REJECTED, "shop.audit shop.log"},
        {EV_REFUND_SENT, "shop.audit shop.log"},
        {EV_REFUND_SUCCEEDED, "shop.audit shop.log"},
        {EV_REFUND_FAILED, "shop.audit shop.log"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char got[512];
        queues_of(want[i].key, got, sizeof got);
        CU_ASSERT_STRING_EQUAL(got, want[i].queues);
    }
}

/* Every key bound in the table is an event (or a pattern of events) and
 * every event reaches at least one queue of a service besides the audit and
 * the log, except pay.mismatch and the refund steps other than approved,
 * which only the log and the audit take (the order's history). */
static int history_only(const char *ev)
{
    return strcmp(ev, EV_PAY_MISMATCH) == 0 ||
           (strncmp(ev, "refund.", 7) == 0 && strcmp(ev, EV_REFUND_APPROVED) != 0);
}

static void test_each_event_has_one_service_queue(void)
{
    const char *events[] = {EV_ORDER_CANCEL,     EV_ORDER_TIMEOUT,    EV_PAY_NOTIFY,
                            EV_ORDER_PAID,       EV_ORDER_REFUND,     EV_PAY_MISMATCH,
                            EV_REFUND_REQUESTED, EV_REFUND_APPROVED,  EV_REFUND_REJECTED,
                            EV_REFUND_SENT,      EV_REFUND_SUCCEEDED, EV_REFUND_FAILED};
    for (size_t e = 0; e < sizeof events / sizeof events[0]; e++) {
        int audit = 0, log = 0, services = 0;
        for (int c = 0; c < TOPO_COUNT; c++) {
            const struct topo_row *r = &topo_rows[c];
            int n = 0;
            for (size_t i = 0; r->queue != NULL && r->keys[i] != NULL; i++)
                n += binds(r->keys[i], events[e]);
            CU_ASSERT(n <= 1); /* no queue gets an event twice */
            if (n == 0)
                continue;
            if (c == TOPO_AUDIT)
                audit++;
            else if (c == TOPO_LOG)
                log++;
            else
                services++;
        }
        CU_ASSERT_EQUAL(audit, 1);
        CU_ASSERT_EQUAL(log, 1);
        CU_ASSERT(history_only(events[e]) ? services == 0 : services >= 1);
    }
}

static void test_names_and_queues_are_unique(void)
{
    int relays = 0;
    for (int a = 0; a < TOPO_COUNT; a++) {
        CU_ASSERT_EQUAL(topo_find(topo_rows[a].name), a);
        relays += topo_rows[a].queue == NULL;
        if (topo_rows[a].queue != NULL) {
            /* shop.<name>: the queue names the contract lists. */
            char q[64];
            snprintf(q, sizeof q, "shop.%s", topo_rows[a].name);
            CU_ASSERT_STRING_EQUAL(topo_rows[a].queue, q);
            CU_ASSERT_PTR_NOT_NULL(topo_rows[a].keys[0]);
        }
        for (int b = a + 1; b < TOPO_COUNT; b++)
            CU_ASSERT(strcmp(topo_rows[a].name, topo_rows[b].name) != 0);
    }
    CU_ASSERT_EQUAL(relays, 1);
    CU_ASSERT_EQUAL(topo_find("nobody"), -1);
    CU_ASSERT_EQUAL(topo_find(NULL), -1);
}

/* The order consumer publishes and declares the delay queues, whose
 * order.timeout it takes; the pay consumer publishes order.paid. */
static void test_publishers_and_delays(void)
{
    CU_ASSERT(topo_rows[TOPO_ORDER].flags & TOPO_PUBLISHES);
    CU_ASSERT(topo_rows[TOPO_ORDER].flags & TOPO_DELAYS);
    CU_ASSERT(topo_rows[TOPO_PAY].flags & TOPO_PUBLISHES);
    /* The refund consumer calls the provider between its commits. */
    CU_ASSERT(topo_rows[TOPO_REFUND].flags & TOPO_PUBLISHES);
    CU_ASSERT(topo_rows[TOPO_REFUND].flags & TOPO_ALONE);
    CU_ASSERT_EQUAL(topo_rows[TOPO_REFUND].db, DB_ORDER);
    int delays = 0;
    for (int c = 0; c < TOPO_COUNT; c++)
        delays += (topo_rows[c].flags & TOPO_DELAYS) != 0;
    CU_ASSERT_EQUAL(delays, 1);
    CU_ASSERT_EQUAL(topo_rows[TOPO_GOODS].flags, 0);
    CU_ASSERT_EQUAL(topo_rows[TOPO_GOODS].db, DB_GOODS);
    CU_ASSERT_EQUAL(topo_rows[TOPO_PAY].db, DB_ORDER);
}

/* No two processes share a snowflake worker id: consumers 10 + i, instance
 * k >= 2 300 + 20 (k - 2) + i; the app has 1 and 200 + k, shop-admin
 * TOPO_ADMIN_WORKER_ID. */
static void test_worker_ids_are_distinct(void)
{
    static char seen[1024];
    memset(seen, 0, sizeof seen);
    seen[1] = 1;
    seen[TOPO_ADMIN_WORKER_ID] = 1;
    for (int k = 2; k <= TOPO_INSTANCES_MAX; k++)
        seen[200 + k] = 1;
    CU_ASSERT_EQUAL(topo_worker_id(TOPO_AUDIT, 1), 10);
    CU_ASSERT_EQUAL(topo_worker_id(TOPO_ORDER, 1), 11);
    CU_ASSERT_EQUAL(topo_worker_id(TOPO_ORDER, 2), 301);
    CU_ASSERT_EQUAL(topo_worker_id(TOPO_AUDIT, 3), 320);
    for (int c = 0; c < TOPO_COUNT; c++)
        for (int k = 1; k <= TOPO_INSTANCES_MAX; k++) {
            int id = topo_worker_id((enum topo_consumer)c, k);
            CU_ASSERT_FATAL(id >= 0 && id < 1024);
            CU_ASSERT_EQUAL(seen[id], 0);
            seen[id] = 1;
        }
    CU_ASSERT_EQUAL(topo_worker_id(TOPO_ORDER, 0), -1);
    CU_ASSERT_EQUAL(topo_worker_id(TOPO_ORDER, TOPO_INSTANCES_MAX + 1), -1);
}

/* One parsed line of `shop-consumer --list`. */
struct listed {
    char name[32], queue[32], keys[256], db[32], publishes[8];
    int worker_id, instance;
};

static int parse_line(char *line, struct listed *l)
{
    char *f[8];
    int n = 0;
    line[strcspn(line, "\n")] = '\0';
    for (char *s = line, *tab; n < 8; s = tab + 1) {
        f[n++] = s;
        if ((tab = strchr(s, '\t')) == NULL)
            break;
        *tab = '\0';
    }
    if (n != 7)
        return -1;
    snprintf(l->name, sizeof l->name, "%s", f[0]);
    snprintf(l->queue, sizeof l->queue, "%s", f[1]);
    snprintf(l->keys, sizeof l->keys, "%s", f[2]);
    snprintf(l->db, sizeof l->db, "%s", f[3]);
    snprintf(l->publishes, sizeof l->publishes, "%s", f[4]);
    l->worker_id = (int)strtol(f[5], NULL, 10);
    l->instance = (int)strtol(f[6], NULL, 10);
    return 0;
}

/* Reads at most max lines of f into ls; the number read, -1 on a bad line. */
static int parse_list(FILE *f, struct listed *ls, int max)
{
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (n == max || parse_line(line, &ls[n]) != 0)
            return -1;
        n++;
    }
    return n;
}

static void check_listed(const struct listed *ls, int n, int instances)
{
    CU_ASSERT_EQUAL_FATAL(n, TOPO_COUNT * instances);
    const struct listed *order = &ls[TOPO_ORDER * instances];
    CU_ASSERT_STRING_EQUAL(order->name, "order");
    CU_ASSERT_STRING_EQUAL(order->queue, "shop.order");
    CU_ASSERT_STRING_EQUAL(order->keys, "order.cancel,order.timeout,order.paid");
    CU_ASSERT_STRING_EQUAL(order->db, "order");
    CU_ASSERT_STRING_EQUAL(order->publishes, "yes");
    CU_ASSERT_EQUAL(order->worker_id, 11);
    CU_ASSERT_EQUAL(order->instance, 1);
    const struct listed *log = &ls[TOPO_LOG * instances];
    CU_ASSERT_STRING_EQUAL(log->keys, "order.#,pay.#,refund.#");
    CU_ASSERT_STRING_EQUAL(log->publishes, "no");
    const struct listed *relay = &ls[TOPO_RELAY * instances];
    CU_ASSERT_STRING_EQUAL(relay->name, "relay");
    CU_ASSERT_STRING_EQUAL(relay->queue, "-");
    CU_ASSERT_STRING_EQUAL(relay->keys, "-");
    CU_ASSERT_STRING_EQUAL(ls[TOPO_GOODS * instances].db, "goods");
    CU_ASSERT_STRING_EQUAL(ls[TOPO_AUDIT * instances].db, "main");
    for (int i = 0; i < n; i++) {
        int c = i / instances, k = i % instances + 1;
        CU_ASSERT_STRING_EQUAL(ls[i].name, topo_rows[c].name);
        CU_ASSERT_EQUAL(ls[i].instance, k);
        CU_ASSERT_EQUAL(ls[i].worker_id, topo_worker_id((enum topo_consumer)c, k));
    }
}

static void test_print_parses(void)
{
    struct listed ls[TOPO_COUNT * 3];
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(topo_print(f, 3), 0);
    CU_ASSERT_EQUAL(topo_print(f, 0), -1);
    CU_ASSERT_EQUAL(topo_print(f, TOPO_INSTANCES_MAX + 1), -1);
    rewind(f);
    check_listed(ls, parse_list(f, ls, TOPO_COUNT * 3), 3);
    fclose(f);
}

/* The program itself: what scripts/services reads. */
static void test_program_lists_the_table(void)
{
    const char *bin = getenv("SHOP_CONSUMER_BIN");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bin);
    char cmd[1024];
    struct listed ls[TOPO_COUNT * 2];
    snprintf(cmd, sizeof cmd, "'%s' --list --instances 2", bin);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    int n = parse_list(p, ls, TOPO_COUNT * 2);
    CU_ASSERT_EQUAL(pclose(p), 0);
    check_listed(ls, n, 2);
    snprintf(cmd, sizeof cmd, "'%s' --list --instances 0 2>/dev/null", bin);
    p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(parse_list(p, ls, TOPO_COUNT), 0);
    int st = pclose(p);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

static const struct test_case TESTS[] = {
    {"each event reaches the queues that took it before", test_events_reach_their_queues},
    {"each event reaches one audit, one log and its service queues once each",
     test_each_event_has_one_service_queue},
    {"names and queues are unique, queues are shop.<name>, one relay",
     test_names_and_queues_are_unique},
    {"order and pay publish, only order declares the delay queues", test_publishers_and_delays},
    {"no two processes share a worker id", test_worker_ids_are_distinct},
    {"the printed table parses back, one line per instance", test_print_parses},
    {"shop-consumer --list prints the table; a bad --instances is refused",
     test_program_lists_the_table},
    {NULL, NULL},
};

#include "testmain.h"
