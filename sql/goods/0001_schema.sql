-- goods/0001_schema: the goods service's tables (src/goods_service.c).
-- Was part of migrations/0001_schema.sql.
--
-- The rules every table follows are in sql/README.md (money DECIMAL(10,2),
-- snowflake BIGINT ids, DATETIME(3) in UTC, InnoDB utf8mb4, unique keys as
-- the idempotency keys). Applied once by scripts/migrate; CREATE TABLE IF NOT
-- EXISTS only so that a run interrupted half-way can be repeated.

-- Goods: the catalogue and its stock.
CREATE TABLE IF NOT EXISTS trade_goods (
    goods_id     BIGINT        NOT NULL,
    goods_name   VARCHAR(255)  NOT NULL,
    goods_number INT           NOT NULL DEFAULT 0    COMMENT 'stock',
    goods_price  DECIMAL(10,2) NOT NULL DEFAULT 0.00,
    goods_desc   VARCHAR(2000) NOT NULL DEFAULT '',
    add_time     DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (goods_id),
    CONSTRAINT chk_goods_number CHECK (goods_number >= 0),
    CONSTRAINT chk_goods_price CHECK (goods_price >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Stock movements: one row per (goods, order, direction). The primary key is
-- the idempotency key: stock is reduced at most once per order and restored
-- at most once, and a restore needs its reduce row.
CREATE TABLE IF NOT EXISTS trade_goods_number_log (
    goods_id     BIGINT      NOT NULL,
    order_id     BIGINT      NOT NULL,
    direction    TINYINT     NOT NULL COMMENT '1 reduce, 2 restore',
    goods_number INT         NOT NULL COMMENT 'how many, always positive',
    log_time     DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (goods_id, order_id, direction),
    KEY idx_goods_log_order (order_id),
    CONSTRAINT chk_goods_log_direction CHECK (direction IN (1, 2)),
    CONSTRAINT chk_goods_log_number CHECK (goods_number > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
