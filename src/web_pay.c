#include "web_internal.h"

void web_api_payment_start(struct web_ctx *c) { web_error(c, SHOP_ORDER_NOT_FOUND); }
void web_form_pay(struct web_ctx *c) { web_error(c, SHOP_ORDER_NOT_FOUND); }
void web_pay_notify_alipay(struct web_ctx *c) { web_error(c, SHOP_ORDER_NOT_FOUND); }
void web_page_pay_return(struct web_ctx *c) { web_error(c, SHOP_ORDER_NOT_FOUND); }
