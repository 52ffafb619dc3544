/* gateway: the provider's /gateway.do. The common parameters come in the
 * query (and, as Alipay's SDKs POST them, the form body); the request is
 * answered by the handler of its `method` in one table, so a new method of
 * the provider's API (query, close, refund ...) is one row and one function.
 * Every request is checked (merchant, charset, RSA2 signature with the
 * merchant's key, timestamp, biz_content). alipay.trade.page.pay (GET or
 * POST) answers the buyer with the cashier (or a page saying why not); the
 * open API methods (openapi.c: query, close, refund, refund query) answer
 * the merchant's form POST with JSON signed with the provider's key, and a
 * refused request with Alipay's signed error_response (40002 Invalid
 * Arguments, sub_code isv.invalid-signature, isv.invalid-app-id, ...). */
#ifndef SANDBOX_GATEWAY_H
#define SANDBOX_GATEWAY_H

struct route_ctx;

void gateway_handle(struct route_ctx *c);

#endif
