#include "goods_service.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "money.h"

#define GOODS_COLUMNS "goods_id, goods_name, goods_number, goods_price, goods_desc, add_time"

static const char SQL_LIST[] = "SELECT " GOODS_COLUMNS " FROM trade_goods ORDER BY goods_id";
static const char SQL_GET[] = "SELECT " GOODS_COLUMNS " FROM trade_goods WHERE goods_id = ?";

void db_time_to_iso(const char *dbtime, char *out, size_t outsz)
{
    /* "YYYY-MM-DD HH:MM:SS[.fff]" is 19+ chars; anything else is passed as "". */
    if (dbtime == NULL || strlen(dbtime) < 19 || outsz < 21) {
        if (outsz)
            out[0] = '\0';
        return;
    }
    snprintf(out, outsz, "%.10sT%.8sZ", dbtime, dbtime + 11);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static int row_to_goods(const db_result *r, size_t row, struct goods *g)
{
    memset(g, 0, sizeof *g);
    g->goods_id = db_result_i64(r, row, 0, 0);
    copy_text(g->goods_name, sizeof g->goods_name, db_result_get(r, row, 1));
    g->goods_number = db_result_i64(r, row, 2, 0);
    const char *price = db_result_get(r, row, 3);
    if (price == NULL || money_parse_str(price, MONEY_NON_NEGATIVE, &g->goods_price) != 0) {
        log_error("goods %" PRId64 ": bad price in database", g->goods_id);
        return -1;
    }
    copy_text(g->goods_desc, sizeof g->goods_desc, db_result_get(r, row, 4));
    db_time_to_iso(db_result_get(r, row, 5), g->add_time, sizeof g->add_time);
    return 0;
}

static enum shop_code db_code(enum db_status st)
{
    return st == DB_GONE ? SHOP_DB_UNAVAILABLE : SHOP_INTERNAL_ERROR;
}

enum shop_code goods_list(db_conn *db, struct goods **out, size_t *n)
{
    db_result *r = NULL;
    struct goods *list = NULL;
    enum shop_code rc = SHOP_INTERNAL_ERROR;
    *out = NULL;
    *n = 0;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    enum db_status st = db_query(db, SQL_LIST, NULL, 0, GOODS_LIST_MAX, &r);
    if (st != DB_OK) {
        rc = db_code(st);
        goto out;
    }
    size_t rows = db_result_rows(r);
    list = calloc(rows ? rows : 1, sizeof *list);
    if (list == NULL)
        goto out;
    for (size_t i = 0; i < rows; i++)
        if (row_to_goods(r, i, &list[i]) != 0)
            goto out;
    *out = list;
    *n = rows;
    list = NULL;
    rc = SHOP_SUCCESS;
out:
    free(list);
    db_result_free(r);
    return rc;
}

enum shop_code goods_get(db_conn *db, int64_t goods_id, struct goods *out)
{
    db_result *r = NULL;
    enum shop_code rc = SHOP_INTERNAL_ERROR;
    if (db == NULL)
        return SHOP_DB_UNAVAILABLE;
    struct db_val id = DB_I64(goods_id);
    enum db_status st = db_query(db, SQL_GET, &id, 1, 1, &r);
    if (st != DB_OK) {
        rc = db_code(st);
        goto out;
    }
    if (db_result_rows(r) == 0) {
        rc = SHOP_GOODS_NO_EXIST;
        goto out;
    }
    if (row_to_goods(r, 0, out) == 0)
        rc = SHOP_SUCCESS;
out:
    db_result_free(r);
    return rc;
}

struct json_object *goods_to_json(const struct goods *g)
{
    char id[24], price[MONEY_STR_MAX];
    snprintf(id, sizeof id, "%" PRId64, g->goods_id);
    json_object *o = json_object_new_object();
    if (o == NULL)
        return NULL;
    json_object_object_add(o, "goods_id", json_object_new_string(id));
    json_object_object_add(o, "goods_name", json_object_new_string(g->goods_name));
    json_object_object_add(o, "goods_number", json_object_new_int64(g->goods_number));
    json_object_object_add(o, "goods_price",
                           json_object_new_string(money_format(g->goods_price, price)));
    json_object_object_add(o, "goods_desc", json_object_new_string(g->goods_desc));
    json_object_object_add(o, "add_time",
                           g->add_time[0] ? json_object_new_string(g->add_time) : NULL);
    return o;
}
