#include "order_log.h"

enum mq_verdict order_log_on_event(const struct mq_message *m, void *ud)
{
    (void)m;
    (void)ud;
    return MQ_ACK;
}
