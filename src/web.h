/* web: one request from FastCGI to the response: read and cap the input,
 * route it, run the handler, and answer (HTML page or JSON) through the one
 * response writer. Nothing a request does can crash the worker: every failure
 * becomes a logged error and a 5xx page or JSON error. */
#ifndef SHOP_WEB_H
#define SHOP_WEB_H

#include "config.h"
#include "mq.h"
#include "templates.h"

struct FCGX_Request;

struct web_app {
    const struct shop_config *cfg;
    const struct templates *tpl;
    struct mq_params mq; /* for the per-thread broker connection */
    /* The payment provider's origin: the pay button's form posts to us and
     * is redirected there, so every page's CSP allows it as form-action. */
    const char *provider_origin;
    /* The shared confirm-batching publisher: the notifications, and the
     * orders' expiry checks. */
    struct mq_pipe *notify_pipe;
};

/* Handle one accepted request completely (the caller then calls
 * FCGX_Finish_r). Thread-safe; uses this thread's database and broker
 * connections. */
void web_handle(const struct web_app *app, struct FCGX_Request *fr);

/* Close this thread's connections (call before the worker thread exits). */
void web_thread_end(void);

#endif
