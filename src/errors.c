#include "errors.h"

#include <stddef.h>

struct code_info {
    const char *name;
    int status;
    const char *message;
};

#define C(code, status, msg) [code] = {#code, status, msg}

static const struct code_info CODES[SHOP_CODE_COUNT] = {
    C(SHOP_SUCCESS, 200, "OK."),
    C(SHOP_REQUEST_PARAMETER_VALID, 400, "The request is not valid."),
    C(SHOP_REQUEST_TOO_LARGE, 413, "The request is too large."),
    C(SHOP_UNSUPPORTED_MEDIA_TYPE, 415, "The request body has an unsupported content type."),
    C(SHOP_NOT_FOUND, 404, "Not found."),
    C(SHOP_METHOD_NOT_ALLOWED, 405, "This method is not allowed here."),
    C(SHOP_NOT_LOGGED_IN, 401, "Please log in first."),
    C(SHOP_CSRF_INVALID, 403, "The form has expired; reload the page and try again."),
    C(SHOP_LOGIN_FAILED, 401, "Wrong login or password."),
    C(SHOP_TOO_MANY_ATTEMPTS, 429, "Too many failed attempts; wait a moment and try again."),
    C(SHOP_BUSY, 503, "The shop is busy; please try again in a moment."),
    C(SHOP_USER_EXISTS, 409, "This name or mobile number is already registered."),
    C(SHOP_INTERNAL_ERROR, 500, "Something went wrong on our side; please try again."),
    C(SHOP_DB_UNAVAILABLE, 503, "The shop's database is not available; please try again soon."),
    C(SHOP_ORDER_INVALID, 400, "The order is incomplete."),
    C(SHOP_ORDER_STATUS_UPDATE_FAIL, 409, "The order's status could not be changed."),
    C(SHOP_ORDER_SHIPPINGFEE_INVALID, 409, "The shipping fee is not correct."),
    C(SHOP_ORDERAMOUNT_INVALID, 409, "The order amount is not correct."),
    C(SHOP_ORDER_SAVE_ERROR, 409, "The order could not be saved."),
    C(SHOP_ORDER_CONFIRM_FAIL, 409, "The order could not be confirmed."),
    C(SHOP_ORDER_NOT_FOUND, 404, "No such order."),
    C(SHOP_ORDER_PAID, 409, "This order is paid; it cannot be cancelled."),
    C(SHOP_ORDER_CANCELLED, 409, "The order was cancelled by the buyer."),
    C(SHOP_GOODS_NO_EXIST, 404, "No such goods."),
    C(SHOP_GOODS_PRICE_INVALID, 409, "The price has changed; please check the new price."),
    C(SHOP_GOODS_NUM_NOT_ENOUGH, 409, "Not enough in stock."),
    C(SHOP_REDUCE_GOODS_NUM_FAIL, 409, "The stock could not be reduced."),
    C(SHOP_USER_IS_NULL, 400, "No user given."),
    C(SHOP_USER_NO_EXIST, 404, "No such user."),
    C(SHOP_USER_MONEY_REDUCE_FAIL, 409, "The balance could not be used."),
    C(SHOP_COUPON_NO_EXIST, 409, "No such coupon."),
    C(SHOP_COUPON_INVALIED, 409, "This coupon cannot be used."),
    C(SHOP_COUPON_USE_FAIL, 409, "The coupon could not be used."),
    C(SHOP_MONEY_PAID_LESS_ZERO, 409, "The balance to use cannot be negative."),
    C(SHOP_MONEY_PAID_INVALID, 409, "The balance to use is more than available or due."),
    C(SHOP_PAYMENT_IS_PAID, 409, "This order is paid already."),
    C(SHOP_PAYMENT_PAY_ERROR, 409, "The payment could not be processed."),
    C(SHOP_PROVIDER_UNAVAILABLE, 503,
      "The payment provider cannot be reached; nothing was changed. Please try again soon."),
    C(SHOP_REFUND_NOT_PAID, 409, "This order is not paid, so there is nothing to refund."),
    C(SHOP_REFUND_EXISTS, 409, "A refund of this order was asked for already."),
    C(SHOP_ORDER_REFUNDED, 409, "This order is refunded."),
    C(SHOP_ORDER_SHIPPED, 409, "This order is shipped; it cannot be refunded by request."),
    C(SHOP_REFUND_NOT_FOUND, 404, "No such refund."),
    C(SHOP_REFUND_STATE, 409, "The refund is not in a state that allows this."),
    C(SHOP_LIST_LIMIT_INVALID, 400, "limit must be a whole number from 1 to 100."),
    C(SHOP_LIST_CURSOR_INVALID, 400,
      "This page link is not valid; start again from the first page."),
    C(SHOP_SEARCH_INVALID, 400, "The search must be at most 100 characters."),
};

#undef C

static const struct code_info *info(enum shop_code c)
{
    if ((unsigned)c >= SHOP_CODE_COUNT || CODES[c].name == NULL)
        c = SHOP_INTERNAL_ERROR;
    return &CODES[c];
}

const char *shop_code_name(enum shop_code c)
{
    return info(c)->name;
}

int shop_code_status(enum shop_code c)
{
    return info(c)->status;
}

const char *shop_code_message(enum shop_code c)
{
    return info(c)->message;
}
