-- user/0003_login_brake: the failed-login brake counts per account and per
-- client address, in one row each, updated under a row lock (src/auth.c):
-- parallel attempts cannot pass the limit between a count and its record.
-- Replaces trade_login_failure (one row per failure, per typed login).

CREATE TABLE IF NOT EXISTS trade_login_brake (
    brake_key  VARCHAR(80) NOT NULL COMMENT 'user:<user_id>, login:<unknown login> or addr:<client address>',
    failures   INT         NOT NULL DEFAULT 0 COMMENT 'attempts not (yet) followed by a success',
    last_at    DATETIME(3) NOT NULL COMMENT 'the last attempt counted',
    PRIMARY KEY (brake_key),
    KEY idx_login_brake_last (last_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

DROP TABLE IF EXISTS trade_login_failure;
