/* order_log: the order's history (trade_order_log). */
#ifndef SHOP_ORDER_LOG_H
#define SHOP_ORDER_LOG_H

#include "mq.h"

enum mq_verdict order_log_on_event(const struct mq_message *m, void *ud);

#endif
