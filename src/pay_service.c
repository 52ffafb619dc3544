#include "pay_service.h"

enum mq_verdict pay_on_event(const struct mq_message *m, void *ud)
{
    (void)m;
    (void)ud;
    return MQ_ACK;
}
