/* openapi: the provider's open API methods that answer JSON (the gateway,
 * gateway.c, checks the request and signs the answer): alipay.trade.query,
 * alipay.trade.close, alipay.trade.refund and
 * alipay.trade.fastpay.refund.query, as Alipay answers them. Each takes the
 * request's biz_content and returns the response object (a new reference):
 * {"code":"10000","msg":"Success",...} or a business error
 * {"code":"40004","msg":"Business Failed","sub_code":"ACQ....","sub_msg":...}.
 * Refunds are kept in their trade (trade.h), so they survive a restart. */
#ifndef SANDBOX_OPENAPI_H
#define SANDBOX_OPENAPI_H

struct json_object;

struct json_object *openapi_trade_query(struct json_object *biz);
struct json_object *openapi_trade_close(struct json_object *biz);
struct json_object *openapi_trade_refund(struct json_object *biz);
struct json_object *openapi_refund_query(struct json_object *biz);

/* {"code":"40004","msg":"Business Failed","sub_code":...,"sub_msg":...}. */
struct json_object *openapi_failed(const char *sub_code, const char *sub_msg);

#endif
