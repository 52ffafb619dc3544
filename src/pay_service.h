/* pay_service: the pay service owns trade_pay. */
#ifndef SHOP_PAY_SERVICE_H
#define SHOP_PAY_SERVICE_H

#include "mq.h"

enum mq_verdict pay_on_event(const struct mq_message *m, void *ud);

#endif
