-- common/0001_consumer_log: the consumer log, in every database of the shop.
-- A consumer's log row commits in the same transaction as its effect
-- (src/consumer_log.c), so each service's database has its own: goods,
-- coupon and user for their consumers, order's for the order, pay and log
-- consumers, and the main database (db_name) for the audit consumer.
-- Was part of migrations/0001_schema.sql.
--
-- The rules every table follows are in sql/README.md (money DECIMAL(10,2),
-- snowflake BIGINT ids, DATETIME(3) in UTC, InnoDB utf8mb4, unique keys as
-- the idempotency keys). Applied once by scripts/migrate; CREATE TABLE IF NOT
-- EXISTS only so that a run interrupted half-way can be repeated.

-- What each consumer group did with each message: a redelivery of the same
-- (group, tag, key) finds its row and becomes a no-op.
CREATE TABLE IF NOT EXISTS trade_mq_consumer_log (
    msg_id             VARCHAR(100) NOT NULL DEFAULT '' COMMENT 'broker message_id',
    group_name         VARCHAR(100) NOT NULL,
    msg_tag            VARCHAR(100) NOT NULL,
    msg_key            VARCHAR(100) NOT NULL,
    msg_body           TEXT         NULL,
    consumer_status    INT          NOT NULL DEFAULT 0  COMMENT '0 processing, 1 ok, 2 failed',
    consumer_times     INT          NOT NULL DEFAULT 0  COMMENT 'attempts so far',
    consumer_timestamp DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    remark             VARCHAR(500) NULL     DEFAULT NULL,
    PRIMARY KEY (group_name, msg_tag, msg_key),
    KEY idx_consumer_log_status (consumer_status, consumer_timestamp)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
