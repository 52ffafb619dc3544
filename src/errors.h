/* errors: the SHOP_... codes of the contract, each with its HTTP status and
 * the message a user reads. One enum, one table (errors.c); nothing else in
 * the code invents a status or a message for a business error. */
#ifndef SHOP_ERRORS_H
#define SHOP_ERRORS_H

enum shop_code {
    SHOP_SUCCESS = 0, /* not an error */

    /* Request and transport (the edge) */
    SHOP_REQUEST_PARAMETER_VALID, /* malformed or out-of-range input */
    SHOP_REQUEST_TOO_LARGE,       /* body, header or field over its cap */
    SHOP_UNSUPPORTED_MEDIA_TYPE,  /* body is not the content type the route takes */
    SHOP_NOT_FOUND,               /* no such page, route or resource */
    SHOP_METHOD_NOT_ALLOWED,      /* route exists, method does not */
    SHOP_NOT_LOGGED_IN,           /* the call needs a session */
    SHOP_CSRF_INVALID,            /* state change without a valid CSRF token */
    SHOP_LOGIN_FAILED,            /* wrong login or password */
    SHOP_TOO_MANY_ATTEMPTS,       /* repeated failed logins: wait */
    SHOP_BUSY,                    /* too many password checks at once: retry soon */
    SHOP_USER_EXISTS,             /* name or mobile already registered */
    SHOP_INTERNAL_ERROR,          /* a bug or an unexpected failure: logged */
    SHOP_DB_UNAVAILABLE,          /* MariaDB does not answer */

    /* Orders (seed 10001..) */
    SHOP_ORDER_INVALID,             /* the order request is incomplete */
    SHOP_ORDER_STATUS_UPDATE_FAIL,  /* the order is not in the state the step needs */
    SHOP_ORDER_SHIPPINGFEE_INVALID, /* shipping fee differs from the computed one */
    SHOP_ORDERAMOUNT_INVALID,       /* order amount differs from the computed one */
    SHOP_ORDER_SAVE_ERROR,          /* the pre-order could not be saved */
    SHOP_ORDER_CONFIRM_FAIL,        /* the order could not be confirmed */
    SHOP_ORDER_NOT_FOUND,           /* no such order of this user */
    SHOP_ORDER_PAID,                /* paid (here or at the provider): not cancelled */
    SHOP_ORDER_CANCELLED,           /* cancelled by the buyer (the reason of its order.cancel) */

    /* Goods (seed 20001..) */
    SHOP_GOODS_NO_EXIST,        /* no such goods */
    SHOP_GOODS_PRICE_INVALID,   /* price differs from the current one */
    SHOP_GOODS_NUM_NOT_ENOUGH,  /* not enough stock */
    SHOP_REDUCE_GOODS_NUM_FAIL, /* stock could not be reduced */

    /* Users (seed 30001..) */
    SHOP_USER_IS_NULL,           /* no user given */
    SHOP_USER_NO_EXIST,          /* no such user */
    SHOP_USER_MONEY_REDUCE_FAIL, /* balance could not be reduced */

    /* Coupons (seed 40001..) */
    SHOP_COUPON_NO_EXIST, /* no such coupon, or another user's */
    SHOP_COUPON_INVALIED, /* the user's coupon, used already (seed spelling) */
    SHOP_COUPON_USE_FAIL, /* coupon could not be marked used */

    /* Balance (seed 50001..) */
    SHOP_MONEY_PAID_LESS_ZERO, /* money_paid below zero */
    SHOP_MONEY_PAID_INVALID,   /* money_paid above the balance or the amount due */

    /* Payment (seed 70001..) */
    SHOP_PAYMENT_IS_PAID,      /* the order is paid already */
    SHOP_PAYMENT_PAY_ERROR,    /* the payment could not be started or applied */
    SHOP_PROVIDER_UNAVAILABLE, /* the provider did not answer: nothing changed, try again */

    /* Refunds */
    SHOP_REFUND_NOT_PAID,  /* the order is not paid: nothing to refund */
    SHOP_REFUND_EXISTS,    /* a refund of the order was asked for already */
    SHOP_ORDER_REFUNDED,   /* the order is refunded (or marked for refund) */
    SHOP_ORDER_SHIPPED,    /* the order is shipped: no refund by request here */
    SHOP_REFUND_NOT_FOUND, /* no such refund */
    SHOP_REFUND_STATE,     /* the refund is not in the state the action needs */

    /* Lists (paged by cursor) */
    SHOP_LIST_LIMIT_INVALID,  /* limit is not a whole number from 1 to the cap */
    SHOP_LIST_CURSOR_INVALID, /* after is not a cursor of this list */
    SHOP_SEARCH_INVALID,      /* q is too long or malformed */

    SHOP_CODE_COUNT
};

/* The code's name as in the contract, e.g. "SHOP_GOODS_NO_EXIST". */
const char *shop_code_name(enum shop_code c);
/* The HTTP status the code is answered with (200 for SHOP_SUCCESS). */
int shop_code_status(enum shop_code c);
/* The message a user reads (English, one sentence). */
const char *shop_code_message(enum shop_code c);

#endif
