/*
 * sqlite.c - the "sqlite" warehouse: one SQLite file in WAL mode, the star
 * schema of docs/warehouse.md, loaded with prepared statements, one
 * transaction per batch (with synchronous=FULL, so a commit is durable).
 *
 * The file is an ordinary SQLite database: `sqlite3 DIR/warehouse.db` and
 * any BI client can read it while the sink writes (WAL lets them).
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pack.h"
#include "core/timefmt.h"
#include "storage/warehouse/warehouse.h"

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS fact_sales ("
    "  log_partition INTEGER NOT NULL, log_offset INTEGER NOT NULL,"
    "  invoice_no TEXT NOT NULL, stock_code TEXT NOT NULL, description TEXT NOT NULL,"
    "  quantity INTEGER NOT NULL, unit_price_milli INTEGER NOT NULL,"
    "  amount_milli INTEGER NOT NULL, customer_id INTEGER, invoice_date TEXT NOT NULL,"
    "  date_key TEXT NOT NULL, country TEXT NOT NULL, kind TEXT NOT NULL,"
    "  non_product INTEGER NOT NULL,"
    "  PRIMARY KEY (log_partition, log_offset)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS fact_sales_date ON fact_sales (date_key);"
    "CREATE TABLE IF NOT EXISTS dim_product (stock_code TEXT PRIMARY KEY,"
    "  description TEXT NOT NULL, non_product INTEGER NOT NULL, last_seen TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS dim_customer (customer_id INTEGER PRIMARY KEY,"
    "  country TEXT NOT NULL, last_seen TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS dim_date (date_key TEXT PRIMARY KEY, year INTEGER NOT NULL,"
    "  month INTEGER NOT NULL, day INTEGER NOT NULL, weekday INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sink_offsets (log_partition INTEGER PRIMARY KEY,"
    "  next_offset INTEGER NOT NULL);";

enum { ST_FACT, ST_PRODUCT, ST_CUSTOMER, ST_DATE, ST_OFFSET, NSTMT };

static const char *const statements[NSTMT] = {
    "INSERT INTO fact_sales VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    /* A product's description (a customer's country) is that of its latest
     * line, ties broken by the text itself: the same whatever order the
     * partitions are loaded in, so a rerun after a crash ends identical. */
    ("INSERT INTO dim_product VALUES (?1,?2,?3,?4) ON CONFLICT (stock_code) DO UPDATE SET "
     "description = excluded.description, last_seen = excluded.last_seen "
     "WHERE (excluded.last_seen, excluded.description) > (last_seen, description)"),
    ("INSERT INTO dim_customer VALUES (?1,?2,?3) ON CONFLICT (customer_id) DO UPDATE SET "
     "country = excluded.country, last_seen = excluded.last_seen "
     "WHERE (excluded.last_seen, excluded.country) > (last_seen, country)"),
    "INSERT OR IGNORE INTO dim_date VALUES (?,?,?,?,?)",
    ("INSERT INTO sink_offsets VALUES (?,?) ON CONFLICT (log_partition) DO UPDATE SET "
     "next_offset = excluded.next_offset"),
};

typedef struct sqlite_wh {
    sf_warehouse base;
    sqlite3 *db;
    sqlite3_stmt *st[NSTMT];
    /* The dimension rows written last in this transaction: consecutive
     * lines mostly share day and customer, and a repeat changes nothing. */
    int64_t last_day;
    int32_t last_customer; /* with this date and country */
    int64_t last_customer_date;
    char last_country[SF_COUNTRY_MAX + 1];
} sqlite_wh;

extern const sf_warehouse_ops sf_warehouse_sqlite_ops;

static int fail(sqlite_wh *w, sf_error *err, const char *what)
{
    return sf_error_set(err, SF_EIO, "warehouse: %s: %s", what, sqlite3_errmsg(w->db));
}

static void wh_close(sf_warehouse *base)
{
    sqlite_wh *w = (sqlite_wh *)base;
    for (int i = 0; i < NSTMT; i++)
        sqlite3_finalize(w->st[i]);
    sqlite3_close(w->db);
    free(w);
}

#define SCHEMA_VERSION 1

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Create the schema, or check that an existing one is this version's
 * (PRAGMA user_version): never write rows into tables of another shape. */
static int ensure_schema(sqlite_wh *w, const char *location, sf_error *err)
{
    int64_t exists =
        query_int(w->db, "SELECT count(*) FROM sqlite_master WHERE name = 'fact_sales'");
    int64_t version = query_int(w->db, "PRAGMA user_version");
    if (exists > 0 && version != SCHEMA_VERSION)
        return sf_error_set(err, SF_ECORRUPT,
                            "warehouse %s has schema version %lld; this shopflow writes version "
                            "%d: move it away and rebuild it (shopflow sink warehouse)",
                            location, (long long)version, SCHEMA_VERSION);
    char set_version[48];
    snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d", SCHEMA_VERSION);
    if (sqlite3_exec(w->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(w->db, set_version, NULL, NULL, NULL) != SQLITE_OK)
        return fail(w, err, location);
    return 0;
}

static int wh_open(const char *location, sf_warehouse **out, sf_error *err)
{
    sqlite_wh *w = calloc(1, sizeof *w);
    if (!w)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    w->base.ops = &sf_warehouse_sqlite_ops;
    int rc = 0;
    if (sqlite3_open(location, &w->db) != SQLITE_OK ||
        sqlite3_busy_timeout(w->db, 5000) != SQLITE_OK)
        rc = fail(w, err, location);
    if (rc == 0)
        rc = ensure_schema(w, location, err);
    for (int i = 0; rc == 0 && i < NSTMT; i++)
        if (sqlite3_prepare_v2(w->db, statements[i], -1, &w->st[i], NULL) != SQLITE_OK)
            rc = fail(w, err, "prepare");
    if (rc < 0) {
        wh_close(&w->base);
        return rc;
    }
    *out = &w->base;
    return 0;
}

static int wh_positions(sf_warehouse *base, uint64_t *next, uint32_t nparts, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    for (uint32_t p = 0; p < nparts; p++)
        next[p] = 0;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(w->db, "SELECT log_partition, next_offset FROM sink_offsets", -1, &q,
                           NULL) != SQLITE_OK)
        return fail(w, err, "positions");
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t p = sqlite3_column_int64(q, 0);
        if (p >= 0 && p < nparts)
            next[p] = (uint64_t)sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : fail(w, err, "positions");
}

static int run(sqlite_wh *w, int i, sf_error *err)
{
    int rc = sqlite3_step(w->st[i]);
    sqlite3_reset(w->st[i]);
    return rc == SQLITE_DONE ? 0 : fail(w, err, "insert");
}

static void text(sqlite3_stmt *s, int col, const char *t, size_t n)
{
    sqlite3_bind_text(s, col, t, (int)n, SQLITE_STATIC);
}

static int load_record(sqlite_wh *w, uint32_t p, uint64_t offset, const sf_record *r, sf_error *err)
{
    char date[SF_TIME_TEXT_LEN + 1];
    sf_time_format(r->invoice_date, date);
    sf_civil c;
    sf_civil_from_time(r->invoice_date, &c);
    const char *kind = sf_kind_name((sf_kind)r->kind);
    int non_product = (r->flags & SF_FLAG_NON_PRODUCT) != 0;
    sqlite3_stmt *f = w->st[ST_FACT];
    sqlite3_bind_int64(f, 1, p);
    sqlite3_bind_int64(f, 2, (sqlite3_int64)offset);
    text(f, 3, r->invoice_no, r->invoice_no_len);
    text(f, 4, r->stock_code, r->stock_code_len);
    text(f, 5, r->description, r->description_len);
    sqlite3_bind_int64(f, 6, r->quantity);
    sqlite3_bind_int64(f, 7, r->unit_price);
    sqlite3_bind_int64(f, 8, sf_record_amount(r));
    if (r->customer_id == SF_NO_CUSTOMER)
        sqlite3_bind_null(f, 9);
    else
        sqlite3_bind_int64(f, 9, r->customer_id);
    text(f, 10, date, SF_TIME_TEXT_LEN);
    text(f, 11, date, 10);
    text(f, 12, r->country, r->country_len);
    text(f, 13, kind, strlen(kind));
    sqlite3_bind_int(f, 14, non_product);
    int rc = run(w, ST_FACT, err);
    sqlite3_stmt *d = w->st[ST_PRODUCT];
    text(d, 1, r->stock_code, r->stock_code_len);
    text(d, 2, r->description, r->description_len);
    sqlite3_bind_int(d, 3, non_product);
    text(d, 4, date, SF_TIME_TEXT_LEN);
    if (rc == 0)
        rc = run(w, ST_PRODUCT, err);
    bool same_customer = r->customer_id == w->last_customer &&
                         r->invoice_date == w->last_customer_date &&
                         strcmp(r->country, w->last_country) == 0;
    if (rc == 0 && r->customer_id != SF_NO_CUSTOMER && !same_customer) {
        sqlite3_bind_int64(w->st[ST_CUSTOMER], 1, r->customer_id);
        text(w->st[ST_CUSTOMER], 2, r->country, r->country_len);
        text(w->st[ST_CUSTOMER], 3, date, SF_TIME_TEXT_LEN);
        rc = run(w, ST_CUSTOMER, err);
        w->last_customer = r->customer_id;
        w->last_customer_date = r->invoice_date;
        memcpy(w->last_country, r->country, r->country_len + 1u);
    }
    int64_t day = r->invoice_date / 86400;
    if (rc < 0 || day == w->last_day)
        return rc;
    w->last_day = day;
    sqlite3_stmt *dd = w->st[ST_DATE];
    text(dd, 1, date, 10);
    sqlite3_bind_int(dd, 2, c.year);
    sqlite3_bind_int(dd, 3, c.month);
    sqlite3_bind_int(dd, 4, c.day);
    sqlite3_bind_int(dd, 5, sf_weekday(r->invoice_date));
    return run(w, ST_DATE, err);
}

static int wh_load(sf_warehouse *base, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(w, err, "begin");
    w->last_day = INT64_MIN;
    w->last_customer = SF_NO_CUSTOMER;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        sf_record r;
        rc = sf_stream_entry_record(&b->entries[i], p, &r, err);
        if (rc == 0)
            rc = load_record(w, p, b->entries[i].offset, &r, err);
    }
    if (rc == 0) {
        sqlite3_bind_int64(w->st[ST_OFFSET], 1, p);
        sqlite3_bind_int64(w->st[ST_OFFSET], 2, (sqlite3_int64)b->next_offset);
        rc = run(w, ST_OFFSET, err);
    }
    if (rc == 0 && sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(w, err, "commit");
    if (rc < 0)
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

const sf_warehouse_ops sf_warehouse_sqlite_ops = {
    .scheme = "sqlite",
    .open = wh_open,
    .positions = wh_positions,
    .load = wh_load,
    .close = wh_close,
};

int sf_warehouse_open(const char *location, sf_warehouse **out, sf_error *err)
{
    const char *colon = strchr(location, ':');
    if (colon && (size_t)(colon - location) == 6 && strncmp(location, "sqlite", 6) == 0)
        location = colon + 1;
    return sf_warehouse_sqlite_ops.open(location, out, err);
}

void sf_warehouse_close(sf_warehouse *w)
{
    if (w)
        w->ops->close(w);
}
