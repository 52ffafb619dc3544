-- user/0002_accounts: browser sessions and the failed-login brake (src/auth.c).
-- The user service owns both tables (they live in its database). Was
-- migrations/0002_accounts.sql.

-- Sessions: the browser keeps a random 256-bit token in an HttpOnly cookie;
-- only its SHA-256 is stored, so a leaked table yields no usable session.
-- Each session has its own CSRF token. Expired rows are ignored by the
-- lookup and deleted opportunistically.
CREATE TABLE IF NOT EXISTS trade_session (
    session_hash BINARY(32)  NOT NULL COMMENT 'SHA-256 of the cookie token',
    user_id      BIGINT      NOT NULL,
    csrf_token   CHAR(43)    NOT NULL COMMENT 'base64url of 32 random bytes',
    created_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    expires_at   DATETIME(3) NOT NULL,
    PRIMARY KEY (session_hash),
    KEY idx_session_user (user_id),
    KEY idx_session_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed logins: counted per login within a window to slow down guessing;
-- a successful login clears its rows, old rows are deleted opportunistically.
CREATE TABLE IF NOT EXISTS trade_login_failure (
    login       VARCHAR(64) NOT NULL COMMENT 'the name or mobile as typed',
    remote_addr VARCHAR(64) NOT NULL DEFAULT '',
    failed_at   DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    KEY idx_login_failure_login (login, failed_at),
    KEY idx_login_failure_time (failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
