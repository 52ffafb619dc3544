-- order/0001_schema: the order service's tables (src/order_service.c), the
-- payments (src/pay_service.c, which works in the order service's database)
-- and the outbox (src/outbox.c: the order and pay services commit their
-- events there together with their rows; the relay reads it).
-- Was part of migrations/0001_schema.sql.
--
-- The rules every table follows are in sql/README.md (money DECIMAL(10,2),
-- snowflake BIGINT ids, DATETIME(3) in UTC, InnoDB utf8mb4, unique keys as
-- the idempotency keys). Applied once by scripts/migrate; CREATE TABLE IF NOT
-- EXISTS only so that a run interrupted half-way can be repeated.

-- Orders: one goods line per order (as in the seed design).
CREATE TABLE IF NOT EXISTS trade_order (
    order_id        BIGINT        NOT NULL,
    user_id         BIGINT        NOT NULL,
    order_status    INT           NOT NULL DEFAULT 0
        COMMENT '0 unconfirmed, 1 confirmed, 2 cancelled, 3 invalid, 4 refund',
    pay_status      INT           NOT NULL DEFAULT 0 COMMENT '0 unpaid, 1 paying, 2 paid',
    shipping_status INT           NOT NULL DEFAULT 0 COMMENT '0 not shipped, 1 shipped, 2 received',
    address         VARCHAR(255)  NOT NULL DEFAULT '',
    consignee       VARCHAR(255)  NOT NULL DEFAULT '',
    goods_id        BIGINT        NOT NULL,
    goods_number    INT           NOT NULL,
    goods_price     DECIMAL(10,2) NOT NULL,
    goods_amount    DECIMAL(10,2) NOT NULL,
    shipping_fee    DECIMAL(10,2) NOT NULL DEFAULT 0.00,
    order_amount    DECIMAL(10,2) NOT NULL,
    coupon_id       BIGINT        NULL     DEFAULT NULL,
    coupon_paid     DECIMAL(10,2) NOT NULL DEFAULT 0.00,
    money_paid      DECIMAL(10,2) NOT NULL DEFAULT 0.00,
    pay_amount      DECIMAL(10,2) NOT NULL DEFAULT 0.00,
    add_time        DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    confirm_time    DATETIME(3)   NULL     DEFAULT NULL,
    pay_time        DATETIME(3)   NULL     DEFAULT NULL,
    PRIMARY KEY (order_id),
    KEY idx_order_user (user_id, add_time),
    KEY idx_order_status_time (order_status, pay_status, add_time),
    CONSTRAINT chk_order_status CHECK (order_status BETWEEN 0 AND 4),
    CONSTRAINT chk_order_pay_status CHECK (pay_status BETWEEN 0 AND 2),
    CONSTRAINT chk_order_goods_number CHECK (goods_number >= 1),
    CONSTRAINT chk_order_money CHECK (goods_price >= 0 AND goods_amount >= 0
        AND shipping_fee >= 0 AND order_amount >= 0 AND coupon_paid >= 0
        AND money_paid >= 0 AND pay_amount >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Payments: at most one per order.
CREATE TABLE IF NOT EXISTS trade_pay (
    pay_id     BIGINT        NOT NULL,
    order_id   BIGINT        NOT NULL,
    pay_amount DECIMAL(10,2) NOT NULL,
    is_paid    INT           NOT NULL DEFAULT 1 COMMENT '1 not paid, 2 paid',
    PRIMARY KEY (pay_id),
    UNIQUE KEY uk_pay_order (order_id),
    CONSTRAINT chk_pay_amount CHECK (pay_amount >= 0),
    CONSTRAINT chk_pay_is_paid CHECK (is_paid IN (1, 2))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The outbox: messages the broker could not confirm, relayed later.
CREATE TABLE IF NOT EXISTS trade_mq_producer_temp (
    id          VARCHAR(100) NOT NULL COMMENT 'the message_id',
    group_name  VARCHAR(100) NOT NULL DEFAULT '',
    msg_topic   VARCHAR(100) NOT NULL COMMENT 'exchange',
    msg_tag     VARCHAR(100) NOT NULL COMMENT 'routing key',
    msg_key     VARCHAR(100) NOT NULL DEFAULT '',
    msg_body    TEXT         NOT NULL,
    msg_status  INT          NOT NULL DEFAULT 0 COMMENT '0 pending, 1 sent',
    create_time DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY idx_producer_temp_status (msg_status, create_time),
    CONSTRAINT chk_producer_temp_status CHECK (msg_status IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
