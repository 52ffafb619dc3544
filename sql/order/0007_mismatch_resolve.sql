-- order/0007_mismatch_resolve: an operator resolves an amount mismatch in
-- the console with a note (src/pay_service.c, pay_mismatch_resolve); who and
-- when are kept with it, and the order's timeline says so too.
ALTER TABLE trade_pay_mismatch
    ADD COLUMN IF NOT EXISTS resolve_note VARCHAR(500) NULL DEFAULT NULL AFTER resolved,
    ADD COLUMN IF NOT EXISTS resolved_by  VARCHAR(64)  NULL DEFAULT NULL AFTER resolve_note,
    ADD COLUMN IF NOT EXISTS resolved_at  DATETIME(3)  NULL DEFAULT NULL AFTER resolved_by;
