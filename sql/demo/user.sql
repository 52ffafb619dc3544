-- Demo data of the user service: three users.
--
-- Loaded by `scripts/migrate --demo` after the migrations, into the user
-- service's database. Idempotent: REPLACE puts every demo row back to the
-- state below (balances and scores are reset; orders are left alone). Ids are
-- fixed so tests and pages can name them.
--
-- Logins (user_password is a libsodium crypto_pwhash_str argon2id string,
-- OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE):
--   alice / 13800000001, password alice-pass-1, balance 500.00, coupons 10.00 and 20.00
--   bob   / 13800000002, password bob-pass-2,   balance  50.00, coupon 5.00
--   carol / 13800000003, password carol-pass-3, balance   0.00, no coupon
--   admin / 13800000000, password admin-pass-1, an operator (the console /admin)

REPLACE INTO trade_user (user_id, user_name, user_password, user_mobile, user_score, user_reg_time, user_money) VALUES
(2001, 'alice',
 '$argon2id$v=19$m=65536,t=2,p=1$JqLGY2Wzv9dBp/50JlgkMQ$xorHmWV0HUrXov7hK60E2GSQO95njk8R/LmGnFjyf6w',
 '13800000001', 0, '2024-01-01 08:00:00.000', 500.00),
(2002, 'bob',
 '$argon2id$v=19$m=65536,t=2,p=1$m4V4p0d5lRg921jKhK6kfw$eI7YuHvm5paI5vLHvnZ6l0CcJmHbomTyGXq2X/b9wCE',
 '13800000002', 0, '2024-01-01 08:00:00.000', 50.00),
(2003, 'carol',
 '$argon2id$v=19$m=65536,t=2,p=1$o5Kbm0OJRPH8oJuLV7fFVA$3w8L5jnTpAas7VDrqjDcazD29hUjazEnOgH+fqOyMTE',
 '13800000003', 0, '2024-01-01 08:00:00.000', 0.00);

-- The operator: user_is_operator (user/0004_operators.sql); hashed with the
-- app's own auth_password_hash.
REPLACE INTO trade_user (user_id, user_name, user_password, user_mobile, user_score, user_reg_time, user_money, user_is_operator) VALUES
(2000, 'admin',
 '$argon2id$v=19$m=65536,t=2,p=1$UvBLaedJHl1Tq5d8zR1R2w$L6ciJxArzHOWqlHR+LSjBgmv/y5mu9GbfrLdNkSQTQA',
 '13800000000', 0, '2024-01-01 08:00:00.000', 0.00, 1);
