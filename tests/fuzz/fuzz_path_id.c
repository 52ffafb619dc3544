/* Path ids: the input is a request path, matched against the shop's route
 * patterns. A match hands over one positive id per {id} segment, and the
 * pattern with those ids written back is the path again: no other spelling
 * of an id (sign, leading zero, overflow) reaches a handler. */
#include "fuzz.h"
#include "router.h"
#include "snowflake.h"

static void handler(struct web_ctx *c)
{
    (void)c;
}

/* The patterns of the route table in web.c, and one with two ids. */
static const struct route ROUTES[] = {
    {HTTP_GET, "/", handler, ROUTE_PAGE},
    {HTTP_GET, "/goods/{id}", handler, ROUTE_PAGE},
    {HTTP_GET, "/orders/{id}", handler, ROUTE_LOGIN},
    {HTTP_GET, "/api/goods/{id}", handler, ROUTE_API},
    {HTTP_GET, "/api/orders/{id}", handler, ROUTE_API},
    {HTTP_POST, "/api/orders/{id}/payment", handler, ROUTE_API},
    {HTTP_POST, "/orders/{id}/pay", handler, ROUTE_PAGE},
    {HTTP_POST, "/api/orders", handler, ROUTE_API},
    {HTTP_GET, "/api/users/{id}/orders/{id}", handler, ROUTE_API},
};

/* The pattern with each {id} replaced by its id. */
static void expand(const char *pattern, const int64_t *ids, char *out, size_t outsz)
{
    size_t n = 0, k = 0;
    while (*pattern && n + 1 < outsz) {
        if (strncmp(pattern, "{id}", 4) == 0) {
            char s[SNOWFLAKE_STR_MAX];
            n += (size_t)snprintf(out + n, outsz - n, "%s", snowflake_format(ids[k++], s));
            pattern += 4;
        } else {
            out[n++] = *pattern++;
        }
    }
    out[n < outsz ? n : outsz - 1] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = fuzz_str(data, size);
    const struct route *r;
    int64_t ids[ROUTER_MAX_IDS];
    size_t nids;
    enum http_method methods[] = {HTTP_GET, HTTP_HEAD, HTTP_POST};
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        enum router_result rr = router_match(ROUTES, sizeof ROUTES / sizeof ROUTES[0], methods[m],
                                             path, &r, ids, &nids);
        if (rr != ROUTER_FOUND) {
            FUZZ_CHECK(r == NULL && nids == 0);
            continue;
        }
        char again[HTTP_PATH_MAX + 64];
        FUZZ_CHECK(nids <= ROUTER_MAX_IDS);
        for (size_t i = 0; i < nids; i++)
            FUZZ_CHECK(ids[i] > 0);
        expand(r->pattern, ids, again, sizeof again);
        FUZZ_CHECK(strcmp(again, path) == 0);
    }
    free(path);
    return 0;
}
