-- order/0002_orders: what ordering needs beyond the trade tables (src/web_order.c,
-- src/order_saga.c). The order service owns these (they live in its database).
-- Was migrations/0003_orders.sql.

-- Idempotency-Key of POST /api/orders: the first request of a (user, key)
-- claims the row with status 0 before the saga runs and stores the answer
-- (HTTP status and JSON body) when it finishes; a repeat gets that answer,
-- a concurrent repeat finds status 0 and is told the order is being processed.
CREATE TABLE IF NOT EXISTS trade_idempotency (
    user_id    BIGINT       NOT NULL,
    idem_key   VARCHAR(128) NOT NULL COMMENT '[A-Za-z0-9_.:-], as sent',
    status     INT          NOT NULL DEFAULT 0 COMMENT '0 being processed, else the HTTP status',
    response   MEDIUMTEXT   NULL     COMMENT 'the JSON answered',
    created_at DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (user_id, idem_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
