/* hooks: test-only controls of the sandbox, served under /test/ only when it
 * runs with --test-hooks (routes.c answers 404 otherwise):
 *
 *   POST /test/next-refund-fails  form sub_code (default
 *        ACQ.SELLER_BALANCE_NOT_ENOUGH): the next alipay.trade.refund answers
 *        40004 with it and refunds nothing
 *   POST /test/pay       form out_trade_no, notify=0|1: pay its open or closed
 *        trade (money taken in the race with a close: a late payment)
 *   POST /test/pay-again form out_trade_no, notify=0|1: a second trade (new
 *        trade_no) paying an out_trade_no that is paid already
 *   GET  /test/refunds?out_trade_no=N  the refunds made for it, JSON
 *        [{trade_no, out_request_no, amount, time}]
 *
 * Answers are JSON: {"ok":true,...} or {"error":"..."} with a 4xx/5xx. */
#ifndef SANDBOX_HOOKS_H
#define SANDBOX_HOOKS_H

#define HOOKS_SUB_CODE_MAX 64

struct route_ctx;

void hooks_next_refund_fails(struct route_ctx *c);
void hooks_pay(struct route_ctx *c);
void hooks_pay_again(struct route_ctx *c);
void hooks_refunds(struct route_ctx *c);

/* 1 and the armed sub_code (then disarmed) when the next refund must fail,
 * else 0. */
int hooks_take_refund_failure(char sub_code[HOOKS_SUB_CODE_MAX]);

#endif
