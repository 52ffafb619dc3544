#include "page.h"

#include <json-c/json.h>

#include "http.h"
#include "log.h"
#include "mustache.h"

static const char LAYOUT[] =
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>{{title}} · Payment sandbox</title>\n<link rel=\"icon\" href=\"data:,\">\n"
    "<link rel=\"stylesheet\" href=\"/style.css\">\n</head>\n<body>\n"
    "<header><span class=\"logo\">Alipay-compatible payment sandbox</span>"
    "<span class=\"badge\">test only</span></header>\n<main>\n"
    "<section class=\"card {{card}}\">\n{{>body}}</section>\n"
    "<footer>shop-sandbox plays Alipay for tests: no real money moves.</footer>\n"
    "</main>\n</body>\n</html>\n";

static const char MESSAGE[] =
    "<h1>{{title}}</h1>\n<p class=\"muted\">{{message}}</p>\n"
    "{{#back_url}}<div class=\"actions\"><a class=\"button cancel\" href=\"{{back_url}}\">"
    "Back to the merchant</a></div>\n{{/back_url}}";

static const char STYLE[] =
    ":root{color-scheme:light}*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\","
    "\"PingFang SC\",sans-serif;background:#eef3f8;color:#1d2733}"
    "header{background:#1677ff;color:#fff;padding:14px 24px;display:flex;align-items:center;"
    "gap:12px}"
    "header .logo{font-weight:700;font-size:18px;letter-spacing:.02em}"
    "header .badge{border:1px solid rgba(255,255,255,.6);border-radius:999px;padding:1px 10px;"
    "font-size:12px;text-transform:uppercase;letter-spacing:.08em}"
    "main{max-width:480px;margin:40px auto;padding:0 16px}"
    ".card{background:#fff;border-radius:12px;box-shadow:0 6px 24px rgba(29,39,51,.08);"
    "padding:28px}"
    "h1{font-size:20px;margin:0 0 4px}"
    ".muted{color:#5b6b7c;font-size:14px;margin:0}"
    ".amount{font-size:40px;font-weight:700;margin:18px 0 4px;"
    "font-variant-numeric:tabular-nums}"
    ".amount small{font-size:20px;font-weight:600;margin-right:6px;color:#5b6b7c}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:20px 0 0;"
    "font-size:14px}"
    "dt{color:#5b6b7c}dd{margin:0;overflow-wrap:anywhere}"
    ".actions{display:flex;gap:12px;margin-top:28px}.actions form{flex:1;margin:0}"
    "button,.button{display:block;width:100%;text-align:center;text-decoration:none;"
    "font:inherit;font-weight:600;padding:12px 16px;border-radius:8px;"
    "border:1px solid transparent;cursor:pointer}"
    ".pay{background:#1677ff;color:#fff}.pay:hover{background:#0958d9}"
    ".cancel{background:#fff;color:#1d2733;border-color:#c9d3de}"
    ".cancel:hover{background:#f4f7fa}"
    ".actions.test{margin-top:12px}"
    ".lose{background:#fff;color:#ad4e00;border-color:#ffd591}.lose:hover{background:#fff7e6}"
    ".hint{margin-top:8px;font-size:12px}"
    ".error h1{color:#c62828}.ok h1{color:#2e7d32}"
    "code{font-size:13px;background:#f4f7fa;padding:1px 4px;border-radius:4px}"
    "footer{text-align:center;color:#8394a5;font-size:12px;margin:24px 0}"
    "a{color:#1677ff}";

void page_render(struct http_response *res, int status, const char *title, const char *card,
                 const char *body_tmpl, json_object *data)
{
    json_object *d = data ? json_object_get(data) : json_object_new_object();
    json_object *partials = json_object_new_object();
    char err[256] = "";
    json_object_object_add(d, "title", json_object_new_string(title));
    json_object_object_add(d, "card", json_object_new_string(card));
    json_object_object_add(partials, "body", json_object_new_string(body_tmpl));
    res->status = status;
    res->content_type = "text/html; charset=utf-8";
    buf_reset(&res->body);
    int rc =
        mustache_render_text(LAYOUT, sizeof LAYOUT - 1, d, partials, &res->body, err, sizeof err);
    if (rc != MUSTACHE_OK) {
        log_error("page %s: %d %s", title, rc, err);
        res->status = 500;
        res->content_type = "text/plain; charset=utf-8";
        buf_reset(&res->body);
        buf_puts(&res->body, "The sandbox could not render this page.\n");
    }
    json_object_put(partials);
    json_object_put(d);
}

void page_message(struct http_response *res, int status, const char *card, const char *title,
                  const char *message, const char *back_url)
{
    json_object *d = json_object_new_object();
    json_object_object_add(d, "message", json_object_new_string(message));
    if (back_url && back_url[0])
        json_object_object_add(d, "back_url", json_object_new_string(back_url));
    page_render(res, status, title, card, MESSAGE, d);
    json_object_put(d);
}

void page_style(struct http_response *res)
{
    res->status = 200;
    res->content_type = "text/css; charset=utf-8";
    buf_reset(&res->body);
    buf_puts(&res->body, STYLE);
    http_header_add(res, "Cache-Control", "public, max-age=3600");
}
