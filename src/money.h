/* money: amounts are integer cents (int64_t) everywhere in C. Parsing and
 * formatting follow the contract: "12", "12.3", "12.30" are accepted;
 * exponents, signs where not allowed, more than two decimals, and overflow are
 * refused. JSON and SQL carry "1234.50". */
#ifndef SHOP_MONEY_H
#define SHOP_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* The largest amount: DECIMAL(10,2) holds 99999999.99. */
#define MONEY_MAX_CENTS INT64_C(9999999999)
/* Room for "-99999999.99" and the NUL, with margin. */
#define MONEY_STR_MAX 24

enum money_sign { MONEY_NON_NEGATIVE = 0, MONEY_ALLOW_NEGATIVE = 1 };

/* Parse a decimal amount of exactly `len` bytes (no surrounding space) into
 * cents. Grammar: [-]DIGITS[.D[D]] with 1..8 integer digits (leading zeros
 * allowed), at most two decimals; "-" only with MONEY_ALLOW_NEGATIVE, and
 * "-0" / "-0.00" are refused when negatives are not allowed. Returns 0, or -1
 * on any other input (empty, ".5", "5.", "1e3", "+1", " 1", "0x10", "1.234",
 * over MONEY_MAX_CENTS). */
int money_parse(const char *s, size_t len, enum money_sign sign, int64_t *cents);

/* Same for a NUL-terminated string. */
int money_parse_str(const char *s, enum money_sign sign, int64_t *cents);

/* Format cents as "1234.50" / "-0.05" into out (at least MONEY_STR_MAX bytes).
 * Returns out. */
char *money_format(int64_t cents, char out[MONEY_STR_MAX]);

/* Add key: cents as the contract's JSON money (the string "1234.50") to the
 * JSON object o. */
struct json_object;
void money_json_add(struct json_object *o, const char *key, int64_t cents);

/* cents * n without overflow; returns 0, or -1 when the result would leave
 * [-MONEY_MAX_CENTS, MONEY_MAX_CENTS]. */
int money_mul(int64_t cents, int64_t n, int64_t *out);

/* a + b within the same bounds; 0 or -1. */
int money_add(int64_t a, int64_t b, int64_t *out);

#endif
