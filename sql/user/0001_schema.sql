-- user/0001_schema: the user service's tables (src/user_service.c, src/auth.c).
-- Was part of migrations/0001_schema.sql.
--
-- The rules every table follows are in sql/README.md (money DECIMAL(10,2),
-- snowflake BIGINT ids, DATETIME(3) in UTC, InnoDB utf8mb4, unique keys as
-- the idempotency keys). Applied once by scripts/migrate; CREATE TABLE IF NOT
-- EXISTS only so that a run interrupted half-way can be repeated.

-- Users. user_password holds a libsodium crypto_pwhash_str string (argon2id).
-- Name and mobile are unique (the name case-insensitively, by the collation).
CREATE TABLE IF NOT EXISTS trade_user (
    user_id       BIGINT        NOT NULL,
    user_name     VARCHAR(64)   NOT NULL,
    user_password VARCHAR(255)  NOT NULL,
    user_mobile   VARCHAR(20)   NOT NULL,
    user_score    INT           NOT NULL DEFAULT 0,
    user_reg_time DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    user_money    DECIMAL(10,2) NOT NULL DEFAULT 0.00,
    PRIMARY KEY (user_id),
    UNIQUE KEY uk_user_name (user_name),
    UNIQUE KEY uk_user_mobile (user_mobile),
    CONSTRAINT chk_user_money CHECK (user_money >= 0),
    CONSTRAINT chk_user_score CHECK (user_score >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Balance movements: at most one payment (type 1) and one refund (type 2) per
-- user and order; the primary key is the idempotency key.
CREATE TABLE IF NOT EXISTS trade_user_money_log (
    user_id        BIGINT        NOT NULL,
    order_id       BIGINT        NOT NULL,
    money_log_type INT           NOT NULL COMMENT '1 paid, 2 refund',
    use_money      DECIMAL(10,2) NOT NULL,
    create_time    DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (user_id, order_id, money_log_type),
    KEY idx_money_log_order (order_id),
    CONSTRAINT chk_money_log_type CHECK (money_log_type IN (1, 2)),
    CONSTRAINT chk_money_log_amount CHECK (use_money >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
