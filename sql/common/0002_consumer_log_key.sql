-- common/0002_consumer_log_key: the operators' console lists the consumer-log
-- rows of the messages an order caused (msg_key is the order id) without a
-- scan of the whole log (src/consumer_log.c, consumer_log_by_key_json).
CREATE INDEX IF NOT EXISTS idx_consumer_log_key ON trade_mq_consumer_log (msg_key);
