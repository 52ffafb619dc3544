/* gateway: the provider's /gateway.do. The common parameters come in the
 * query (and, as Alipay's SDKs POST them, the form body); the request is
 * answered by the handler of its `method` in one table, so a new method of
 * the provider's API (query, close, refund ...) is one row and one function.
 * Today: alipay.trade.page.pay, checked (merchant, charset, RSA2 signature
 * with the merchant's key, biz_content) and answered with the cashier. */
#ifndef SANDBOX_GATEWAY_H
#define SANDBOX_GATEWAY_H

struct route_ctx;

void gateway_handle(struct route_ctx *c);

#endif
