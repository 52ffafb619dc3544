/* page: the sandbox's HTML pages. Every page is the one layout (header, a
 * card, footer) around a body template; both are mustache templates, so every
 * value is escaped by the renderer. Also the stylesheet the pages link. */
#ifndef SANDBOX_PAGE_H
#define SANDBOX_PAGE_H

struct http_response;
struct json_object;

/* Set res to the page: status, title (also the heading of a message page),
 * card (the card's class: "cashier", "error", "ok", ...) and body_tmpl
 * rendered with data (borrowed, may be NULL; "title" and "card" are added to
 * it). A template that fails to render gives a plain 500. */
void page_render(struct http_response *res, int status, const char *title, const char *card,
                 const char *body_tmpl, struct json_object *data);

/* A page with a heading, a message and a link back when back_url is not
 * NULL or "". */
void page_message(struct http_response *res, int status, const char *card, const char *title,
                  const char *message, const char *back_url);

/* Set res to the stylesheet (cacheable for an hour). */
void page_style(struct http_response *res);

#endif
