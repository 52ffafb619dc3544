/* routes: the sandbox's site. One table of (path, methods, handler) that
 * every request is dispatched through (405 for a known path with another
 * method, 404 otherwise); each answer goes out through the shop's one
 * response writer (http_response_send: security headers and CSP, with the
 * merchant's origin added to form-action where a page's forms lead there).
 *
 *   GET|POST /gateway.do  the provider's gateway (gateway.c), by `method`
 *   POST /pay, /cancel    the cashier's buttons (cashier.c)
 *   GET /                 what the sandbox is and its delivery queue
 *   GET /style.css        the pages' stylesheet
 *   GET /bill             a day's trade bill (statement.c), by a signed link */
#ifndef SANDBOX_ROUTES_H
#define SANDBOX_ROUTES_H

struct http_request;
struct http_response;
struct FCGX_Request;

/* What a handler gets: the parsed request, the response to fill, and room
 * for one more form-action origin (the merchant's) that outlives the send. */
struct route_ctx {
    const struct http_request *req;
    struct http_response *res;
    char form_origin[300];
};

/* Answer 400 with a page titled what, saying detail (and log it). */
void routes_bad_request(struct route_ctx *c, const char *what, const char *detail);

/* Read, dispatch and answer one FastCGI request. */
void routes_handle(struct FCGX_Request *fr);

#endif
