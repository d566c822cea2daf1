/*
 * postgres.c - the "postgres" warehouse: the star schema and BI rollups of
 * docs/warehouse.md in a PostgreSQL database, through libpq.
 *
 * Same tables, same meaning, same rows as the "sqlite" adapter: the rollups
 * are computed by the same neutral code (rollup.c, ranked.c), so the BI
 * answers are byte-identical (tests/integration/warehouse_conformance.sh).
 * Text columns use the "C" collation: keys compare and sort as bytes, as in
 * SQLite, whatever the database's locale.
 *
 * Loading: a transaction spans several batches. Fact rows are written as
 * COPY text into a buffer, streamed (COPY ... FROM STDIN) into a temporary
 * staging table every few MiB, and at commit merged into fact_sales with one
 * INSERT ... SELECT; the positions and the rollups go the same way (staged,
 * then upserted), and everything commits in one transaction: the facts,
 * the rollups and the positions never disagree. A round trip per row would
 * cost more than the row; here a commit of 65,536 records costs a few dozen
 * statements plus one small query per invoice and ranked list read.
 *
 * One loader at a time: a writer holds a session advisory lock, so a second
 * sink on the same database waits (up to 60 s) rather than computing
 * rollups from a state the other is changing. When a loader dies, the server
 * ends its session, rolls its transaction back and frees the lock.
 *
 * Schema: created and migrated by shopflow; table shopflow_schema holds the
 * version (4: SQLite's 3, bi_rank_head.top and bi_invoice_top; 5: SQLite's 4,
 * the high halves of the 128-bit totals; 6: sink_quarantine, as SQLite's 5).
 * A database at another version is refused rather than written into.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/logline.h"
#include "core/timefmt.h"
#include "storage/warehouse/postgres/postgres_int.h"

#define SCHEMA_VERSION 7

/* TEXT as bytes: the "C" collation. */
#define TEXT_C "TEXT COLLATE \"C\" NOT NULL"

/* A ranked list's first 1 + more entries ([code or id, 4 integers]) and
 * "]": the head (100) or the top (SF_PG_TOP) ranked.c and head_put write. */
#define RANK_ENTRY "\\[(?:\"(?:[^\"\\\\]|\\\\.)*\"|-?[0-9]+)(?:,-?[0-9]+){4}\\]"
#define CUT(col, more)                                                                             \
    "(substring(" col " from '^\\[(?:" RANK_ENTRY "(?:," RANK_ENTRY "){0," more "})?') || ']')"
#define HEAD(col) CUT(col, "99")
#define SET_TOP   "UPDATE bi_rank_head SET top = " CUT("head", "19") ";"

/* bi_invoice_top for every period with sales (migration 4: its tables'
 * shape then). */
#define INVOICE_TOPS_OF(g, len)                                                                    \
    SF_PG_INVOICE_TOP_4(g, len, "SELECT period FROM bi_sales WHERE grain = '" g "'")
#define INVOICE_TOPS                                                                               \
    INVOICE_TOPS_OF("day", "10") INVOICE_TOPS_OF("month", "7") INVOICE_TOPS_OF("year", "4")

#define INVOICE_INDEX(grain, len)                                                                  \
    "DROP INDEX bi_invoice_" grain ";"                                                             \
    "CREATE INDEX bi_invoice_" grain " ON bi_invoice (substr(invoice_date, 1, " len "),"           \
    "  revenue_milli DESC, invoice_no) INCLUDE (customer_id, invoice_date, units, lines);"

/* Migration 5's: revenue ordered by its stored form (hi, lo). */
#define INVOICE_INDEX_5(grain, len)                                                                \
    "DROP INDEX bi_invoice_" grain ";"                                                             \
    "CREATE INDEX bi_invoice_" grain " ON bi_invoice (substr(invoice_date, 1, " len "),"           \
    "  revenue_hi DESC, revenue_milli DESC, invoice_no)"                                           \
    "  INCLUDE (customer_id, invoice_date, units, units_hi, lines);"
#define INVOICE_INDEXES_5                                                                          \
    INVOICE_INDEX_5("day", "10") INVOICE_INDEX_5("month", "7") INVOICE_INDEX_5("year", "4")
#define INVOICE_TOP_KEY_5                                                                          \
    "ALTER TABLE bi_invoice_top DROP CONSTRAINT bi_invoice_top_pkey,"                              \
    "  ADD PRIMARY KEY (grain, period, rank) INCLUDE (invoice_no, customer_id, invoice_date,"      \
    "  revenue_milli, units, lines, revenue_hi, units_hi);"

/* The high halves of a table's two totals (money.h; 0 for every row stored
 * before: all fitted 64 bits, and (0, v) is v's stored form). */
#define TOTALS_HI(table)                                                                           \
    "ALTER TABLE " table " ADD COLUMN revenue_hi BIGINT NOT NULL DEFAULT 0,"                       \
    "  ADD COLUMN units_hi BIGINT NOT NULL DEFAULT 0;"

/* Migrations: migration[v - 1] takes a schema from version v - 1 to v.
 * Version 1 never existed here (it is SQLite's schema before fact_id). */
static const char *const migration[SCHEMA_VERSION] = {
    "",
    ("CREATE TABLE fact_sales (fact_id BIGINT PRIMARY KEY,"
     "  log_partition BIGINT NOT NULL, log_offset BIGINT NOT NULL,"
     "  invoice_no " TEXT_C ", stock_code " TEXT_C ", description " TEXT_C ","
     "  quantity BIGINT NOT NULL, unit_price_milli BIGINT NOT NULL,"
     "  amount_milli BIGINT NOT NULL, customer_id BIGINT, invoice_date " TEXT_C ","
     "  date_key " TEXT_C ", country " TEXT_C ", kind " TEXT_C ", non_product INTEGER NOT NULL);"
     "CREATE TABLE dim_product (stock_code " TEXT_C " PRIMARY KEY, description " TEXT_C ","
     "  non_product INTEGER NOT NULL, last_seen " TEXT_C ");"
     "CREATE TABLE dim_customer (customer_id BIGINT PRIMARY KEY, country " TEXT_C ","
     "  last_seen " TEXT_C ");"
     "CREATE TABLE dim_date (date_key " TEXT_C " PRIMARY KEY, year INTEGER NOT NULL,"
     "  month INTEGER NOT NULL, day INTEGER NOT NULL, weekday INTEGER NOT NULL);"
     "CREATE TABLE sink_offsets (log_partition BIGINT PRIMARY KEY, next_offset BIGINT NOT NULL);"
     "CREATE TABLE bi_sales (grain " TEXT_C ", period " TEXT_C ", revenue_milli BIGINT NOT NULL,"
     "  units BIGINT NOT NULL, lines BIGINT NOT NULL, invoices BIGINT NOT NULL,"
     "  customers BIGINT NOT NULL, PRIMARY KEY (grain, period));"
     "CREATE TABLE bi_product (grain " TEXT_C ", period " TEXT_C ", products BIGINT NOT NULL,"
     "  by_units " TEXT_C ", by_revenue " TEXT_C ", PRIMARY KEY (grain, period));"
     "CREATE TABLE bi_customer (grain " TEXT_C ", period " TEXT_C ", customers BIGINT NOT NULL,"
     "  by_revenue " TEXT_C ", PRIMARY KEY (grain, period));"
     "CREATE TABLE bi_invoice (invoice_no " TEXT_C " PRIMARY KEY, customer_id BIGINT,"
     "  invoice_date " TEXT_C ", revenue_milli BIGINT NOT NULL, units BIGINT NOT NULL,"
     "  lines BIGINT NOT NULL);"
     "CREATE INDEX bi_invoice_day"
     "  ON bi_invoice (substr(invoice_date, 1, 10), revenue_milli DESC, invoice_no);"
     "CREATE INDEX bi_invoice_month"
     "  ON bi_invoice (substr(invoice_date, 1, 7), revenue_milli DESC, invoice_no);"
     "CREATE INDEX bi_invoice_year"
     "  ON bi_invoice (substr(invoice_date, 1, 4), revenue_milli DESC, invoice_no);"
     "CREATE TABLE bi_presence (invoice_no " TEXT_C ", customer_id BIGINT NOT NULL, hours " TEXT_C
     ","
     "  PRIMARY KEY (invoice_no, customer_id));"),
    /* 3: the heads of the ranked lists, cut from the stored lists: the
     * first SF_WH_HEAD (100) entries, byte for byte as ranked.c writes them. */
    ("CREATE TABLE bi_rank_head (list " TEXT_C ", grain " TEXT_C ", period " TEXT_C ","
     "  entries BIGINT NOT NULL, head " TEXT_C ", PRIMARY KEY (list, grain, period));"
     "INSERT INTO bi_rank_head"
     "  SELECT 'product_units', grain, period, products, " HEAD(
         "by_units") " FROM bi_product"
                     "  WHERE grain <> 'hour' UNION ALL"
                     "  SELECT 'product_revenue', grain, period, products, " HEAD(
                         "by_revenue") " FROM bi_product"
                                       "  WHERE grain <> 'hour' UNION ALL"
                                       "  SELECT 'customer', grain, period, customers, " HEAD(
                                           "by_revenue") " FROM bi_customer"
                                                         "  WHERE grain <> 'hour';"
     /* The invoice rankings' indexes cover the rows they return. */
     INVOICE_INDEX("day", "10") INVOICE_INDEX("month", "7") INVOICE_INDEX("year", "4")),
    /* 4: the top of each head (SF_PG_TOP entries), a column of its own
     * never compressed: a listing of every day reads ~300 tops of ~0.5 KB
     * instead of decompressing ~300 heads of ~2.5 KB (most of its server
     * time). PostgreSQL only: SQLite reads its heads without that cost. */
    ("ALTER TABLE bi_rank_head ADD COLUMN top TEXT COLLATE \"C\";" SET_TOP
     "ALTER TABLE bi_rank_head ALTER COLUMN top SET NOT NULL,"
     "  ALTER COLUMN top SET STORAGE PLAIN;"
     /* The first invoices of each period, ranked: a listing of every day
      * is one range of an index that holds the rows, not ~300 descents
      * of bi_invoice_day. */
     "CREATE TABLE bi_invoice_top (grain " TEXT_C ", period " TEXT_C ", rank BIGINT NOT NULL,"
     "  invoice_no " TEXT_C ", customer_id BIGINT, invoice_date " TEXT_C ","
     "  revenue_milli BIGINT NOT NULL, units BIGINT NOT NULL, lines BIGINT NOT NULL,"
     "  PRIMARY KEY (grain, period, rank) INCLUDE (invoice_no, customer_id, invoice_date,"
     "  revenue_milli, units, lines));" INVOICE_TOPS),
    /* 5: 128-bit totals, as two BIGINTs each (SQLite's version 4): the
     * ranking indexes and bi_invoice_top's key cover the new columns. Its
     * rows stay: ranked by (0, lo), they were ranked by value. */
    (TOTALS_HI("bi_sales") TOTALS_HI("bi_invoice") TOTALS_HI("bi_invoice_top")
         INVOICE_INDEXES_5 INVOICE_TOP_KEY_5),
    /* 6: the entries of the log that are not records, set aside by the sink
     * (sinks/quarantine.h) in the transaction that moves its position. */
    ("CREATE TABLE sink_quarantine (log_partition BIGINT NOT NULL, log_offset BIGINT NOT NULL,"
     "  reason " TEXT_C ", bytes BYTEA NOT NULL, quarantined_at " TEXT_C ","
     "  PRIMARY KEY (log_partition, log_offset));"),
    /* 7: stream positions (issue 16 item 3; SQLite's version 6). A
     * position wider than 63 bits is next_offset (log_offset) -1 and its
     * stored form (core/pos.h) in next_pos (log_pos); ordinal counts the
     * records loaded, and fact_id is partition x 2^40 + ordinal: it starts
     * at next_offset, so new fact_ids follow the old ones. */
    ("ALTER TABLE sink_offsets ADD COLUMN next_pos BYTEA,"
     "  ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;"
     "UPDATE sink_offsets SET ordinal = next_offset;"
     "ALTER TABLE sink_quarantine ADD COLUMN log_pos BYTEA NOT NULL DEFAULT ''::bytea,"
     "  DROP CONSTRAINT sink_quarantine_pkey, ADD PRIMARY KEY (log_partition, log_offset, "
     "log_pos);"),
};

/* Any number: one lock per database, taken by its loader. */
#define LOADER_LOCK "7309402518"

static void pg_close(sf_warehouse *base)
{
    pg_wh *w = (pg_wh *)base;
    PQclear(w->held);
    PQclear(w->presence);
    PQclear(w->offsets);
    sf_pg_dims_reset(w); /* frees the cached texts (what it makes again holds no memory) */
    PQfinish(w->conn);   /* an open transaction is rolled back by the server */
    sf_wh_rollup_free(&w->roll);
    sf_wh_ranked_free(&w->ranked);
    for (int i = 0; i < NSTAGE; i++)
        sf_buf_free(&w->stage[i]);
    free(w->part);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* The single value of sql's first row, or NULL (no row, NULL, error):
 * malloc'd. */
static char *query_value(pg_wh *w, const char *sql, sf_error *err, int *rc)
{
    PGresult *res = PQexec(w->conn, sql);
    char *v = NULL;
    *rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        *rc = sf_pg_fail(w, res, err, "query");
    else if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) && !(v = strdup(PQgetvalue(res, 0, 0))))
        *rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    PQclear(res);
    return v;
}

/* The schema's version into *version: 0 when there is none yet. */
static int schema_version(pg_wh *w, long *version, sf_error *err)
{
    int rc;
    *version = 0;
    char *exists = query_value(w, "SELECT to_regclass('shopflow_schema')::text", err, &rc);
    if (rc < 0 || !exists)
        return rc;
    free(exists);
    char *v = query_value(w, "SELECT max(version) FROM shopflow_schema", err, &rc);
    if (rc == 0 && v)
        *version = strtol(v, NULL, 10);
    free(v);
    return rc;
}

/* Bring the schema to SCHEMA_VERSION, one migration per transaction (the
 * writer holds the loader lock, so no one else migrates meanwhile). */
static int migrate(pg_wh *w, long from, sf_error *err)
{
    int rc =
        sf_pg_exec(w, "CREATE TABLE IF NOT EXISTS shopflow_schema (version INTEGER NOT NULL)", err);
    for (long v = from + 1; rc == 0 && v <= SCHEMA_VERSION; v++) {
        char record[80];
        snprintf(record, sizeof record, "INSERT INTO shopflow_schema VALUES (%ld)", v);
        rc = sf_pg_exec(w, "BEGIN", err);
        if (rc == 0 && migration[v - 1][0])
            rc = sf_pg_exec(w, migration[v - 1], err);
        if (rc == 0)
            rc = sf_pg_exec(w, record, err);
        if (rc == 0)
            rc = sf_pg_exec(w, "COMMIT", err);
        if (rc < 0)
            PQclear(PQexec(w->conn, "ROLLBACK"));
    }
    if (rc == 0 && from > 0) {
        char q[256];
        sf_logf(SF_LOG_INFO, "warehouse_upgraded", "database=%s from=%ld to=%d",
                sf_logq(PQdb(w->conn), q, sizeof q), from, (int)SCHEMA_VERSION);
    }
    return rc;
}

static int ensure_schema(pg_wh *w, sf_error *err)
{
    long version;
    int rc = schema_version(w, &version, err);
    if (rc < 0)
        return rc;
    if (version > SCHEMA_VERSION)
        return sf_error_set(err, SF_ECORRUPT,
                            "warehouse database %s has schema version %ld, newer than this "
                            "shopflow's %d: use a newer shopflow, or another database",
                            PQdb(w->conn), version, SCHEMA_VERSION);
    if (w->reader && version != 0 && version != SCHEMA_VERSION)
        return sf_error_set(err, SF_ECORRUPT,
                            "warehouse database %s has schema version %ld; this shopflow reads "
                            "version %d: run the sink (shopflow sink warehouse) once to migrate it",
                            PQdb(w->conn), version, SCHEMA_VERSION);
    if (w->reader && version == 0) /* as a SQLite file that does not exist yet */
        return sf_error_set(err, SF_ENOENT,
                            "warehouse database %s has no shopflow tables yet (run the sink)",
                            PQdb(w->conn));
    if (w->reader || version == SCHEMA_VERSION)
        return 0;
    return migrate(w, version, err);
}

/* The loader's lock, waiting at most a minute for a previous loader. */
static int take_lock(pg_wh *w, sf_error *err)
{
    PGresult *res = PQexec(w->conn, "SET lock_timeout = '60s'; SELECT pg_advisory_lock(" LOADER_LOCK
                                    "); SET lock_timeout = 0");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK
                 ? 0
                 : sf_pg_fail(w, res, err, "the loader's lock (is another sink loading it?)");
    PQclear(res);
    return rc;
}

/* A reader's statements are index ranges whatever their parameters, so
 * plan them once: a custom plan (the first five runs of each) took a
 * sequential scan and a sort of bi_invoice_top for a year's days (1.5 ms)
 * over its index (0.8 ms), as the table is small. */
static int reader_session(pg_wh *w, sf_error *err)
{
    return sf_pg_exec(w, "SET plan_cache_mode = force_generic_plan", err);
}

/* Connect: location is a libpq URI or keyword/value string; the PG*
 * variables fill in what it leaves out. */
static int connect_db(pg_wh *w, const char *location, sf_error *err)
{
    const char *const keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
    const char *const vals[] = {location, "shopflow", "UTF8", NULL};
    w->conn = PQconnectdbParams(keys, vals, 1);
    if (!w->conn)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (PQstatus(w->conn) != CONNECTION_OK)
        return sf_pg_fail(w, NULL, err, "connect");
    return w->reader ? reader_session(w, err) : take_lock(w, err);
}

int sf_pg_reconnect(pg_wh *w, sf_error *err)
{
    PQreset(w->conn);
    memset(w->prepared, 0, sizeof w->prepared); /* they went with the old session */
    /* Perhaps another server, or a restored database: know nothing of it. */
    sf_pg_dims_reset(w);
    w->loaded = false;
    if (PQstatus(w->conn) != CONNECTION_OK)
        return sf_pg_fail(w, NULL, err, "connect again");
    int rc = w->reader ? reader_session(w, err) : take_lock(w, err);
    return rc == 0 && !w->reader ? sf_pg_stage_create(w, err) : rc;
}

/* "postgres://…" and "postgresql://…" are libpq URIs, handed over whole
 * (libpq parses them); "postgres:CONNINFO" is a keyword/value string
 * (empty: the PG* variables alone). */
static int pg_open(const sf_location *loc, const sf_warehouse_opts *opts, sf_warehouse **out,
                   sf_error *err)
{
    int rc = sf_location_no_extra(loc, "a PostgreSQL warehouse", "warehouse", opts->extra,
                                  opts->nextra, err);
    if (rc < 0)
        return rc;
    const char *location = strncmp(loc->rest, "//", 2) == 0 ? loc->text : loc->rest;
    pg_wh *w = calloc(1, sizeof *w);
    if (!w)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    w->base.ops = &sf_warehouse_postgres_ops;
    w->reader = opts->read_only;
    pthread_mutex_init(&w->lock, NULL);
    for (int i = 0; i < 2; i++)
        sf_wh_dims_init(&w->dims[i]);
    sf_wh_rollup_init(&w->roll, &sf_pg_store, w);
    rc = connect_db(w, location, err);
    if (rc == 0)
        rc = ensure_schema(w, err);
    if (rc == 0 && !w->reader)
        rc = sf_pg_stage_create(w, err);
    if (rc < 0) {
        pg_close(&w->base);
        return rc;
    }
    *out = &w->base;
    return 0;
}

/* The position of row i of res from its next_offset (text, column c) and
 * its next_pos as hex (column h). */
static int pos_of_row(const PGresult *res, int i, int c, int h, sf_pos *out, sf_error *err)
{
    const char *hex = PQgetvalue(res, i, h);
    size_t n = strlen(hex) / 2;
    uint8_t blob[SF_POS_STORED_MAX];
    if (n > sizeof blob)
        return sf_error_set(err, SF_ECORRUPT, "warehouse: a stored position of %zu bytes", n);
    for (size_t k = 0; k < n; k++) {
        unsigned byte;
        if (sscanf(hex + 2 * k, "%2x", &byte) != 1)
            return sf_error_set(err, SF_ECORRUPT, "warehouse: a stored position is not hex");
        blob[k] = (uint8_t)byte;
    }
    return sf_wh_pos_get(strtoll(PQgetvalue(res, i, c), NULL, 10), blob, n, out, err);
}

/* The positions in rows (log_partition, next_offset, ...) into next, the
 * hex of next_pos in column h. */
static int positions_of(const PGresult *res, int h, sf_pos *next, uint32_t nparts, sf_error *err)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        long long p = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (p >= 0 && p < nparts)
            rc = pos_of_row(res, i, 1, h, &next[p], err);
    }
    return rc;
}

static int pg_positions(sf_warehouse *base, sf_pos *next, uint32_t nparts, sf_error *err)
{
    pg_wh *w = (pg_wh *)base;
    for (uint32_t p = 0; p < nparts; p++)
        next[p].len = 0;
    if (w->offsets) /* inside read(): its rows, read with its BEGIN (one round trip) */
        return positions_of(w->offsets, 3, next, nparts, err);
    int rc;
    /* A sink (re)starts here: after a broken connection, connect again. */
    if (!w->in_txn && PQstatus(w->conn) == CONNECTION_BAD && (rc = sf_pg_reconnect(w, err)) < 0)
        return rc;
    char *exists = query_value(w, "SELECT to_regclass('sink_offsets')::text", err, &rc);
    if (rc < 0 || !exists)
        return rc; /* a reader before the first load */
    free(exists);
    PGresult *res = PQexec(
        w->conn, "SELECT log_partition, next_offset, encode(next_pos, 'hex') FROM sink_offsets");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = sf_pg_fail(w, res, err, "positions");
    else
        rc = positions_of(res, 2, next, nparts, err);
    PQclear(res);
    return rc;
}

static void rollback(pg_wh *w)
{
    if (w->in_txn)
        PQclear(PQexec(w->conn, "ROLLBACK"));
    w->in_txn = false;
    w->txn_records = w->txn_quarantined = 0;
    for (int i = 0; i < NSTAGE; i++)
        sf_buf_reset(&w->stage[i]);
    if (w->part)
        memset(w->part, 0, w->npart * sizeof *w->part);
    sf_wh_rollup_reset(&w->roll);
    PQclear(w->presence);
    w->presence = NULL;
}

/* Partition p's sink_offsets row in the open transaction: read and
 * locked until the commit at its first load, then as the loads moved it. */
static int part_of(pg_wh *w, uint32_t p, struct pg_part **out, sf_error *err)
{
    if (p >= w->npart) {
        uint32_t n = p + 16;
        struct pg_part *a = realloc(w->part, n * sizeof *a);
        if (!a)
            return sf_error_set(err, SF_ENOMEM, "out of memory");
        memset(a + w->npart, 0, (n - w->npart) * sizeof *a);
        w->part = a, w->npart = n;
    }
    struct pg_part *pp = *out = &w->part[p];
    if (pp->known)
        return 0;
    char sql[128];
    snprintf(sql, sizeof sql,
             "SELECT next_offset, encode(next_pos, 'hex'), ordinal FROM sink_offsets "
             "WHERE log_partition = %u FOR UPDATE",
             p);
    PGresult *res = PQexec(w->conn, sql);
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : sf_pg_fail(w, res, err, "position");
    if (rc == 0 && PQntuples(res) == 1) { /* none stored: no fence, ordinal 0 */
        rc = pos_of_row(res, 0, 0, 1, &pp->next, err);
        pp->ordinal = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
        pp->stored = true;
    }
    PQclear(res);
    pp->known = rc == 0;
    return rc;
}

/* Stream the staged facts to the server every FLUSH_BYTES. */
#define FLUSH_BYTES (8u << 20)

/* The COPY text row of record r, the ordinal-th of partition p, at
 * log_offset (sf_wh_pos_int) into b. */
static void fact_row(sf_buf *b, const sf_record *r, uint32_t p, uint64_t ordinal,
                     int64_t log_offset, const char *date)
{
    const char *kind = sf_kind_name((sf_kind)r->kind);
    sf_pg_int(b, (int64_t)(((uint64_t)p << 40) | ordinal), true);
    sf_pg_int(b, p, false);
    sf_pg_int(b, log_offset, false);
    sf_pg_text(b, r->invoice_no, r->invoice_no_len, false);
    sf_pg_text(b, r->stock_code, r->stock_code_len, false);
    sf_pg_text(b, r->description, r->description_len, false);
    sf_pg_int(b, r->quantity, false);
    sf_pg_int(b, r->unit_price, false);
    sf_pg_int(b, sf_record_amount(r), false);
    if (r->customer_id == SF_NO_CUSTOMER)
        sf_pg_null(b);
    else
        sf_pg_int(b, r->customer_id, false);
    sf_pg_text(b, date, SF_TIME_TEXT_LEN, false);
    sf_pg_text(b, date, 10, false);
    sf_pg_text(b, r->country, r->country_len, false);
    sf_pg_text(b, kind, strlen(kind), false);
    sf_pg_int(b, (r->flags & SF_FLAG_NON_PRODUCT) != 0, false);
    sf_pg_end_row(b);
}

/* The fence: a batch loads only from the partition's position, as loaded
 * earlier in this transaction or else as stored (its row locked until the
 * commit). A sink that lost the partition to another member without
 * knowing (a zombie) is refused, SF_ESTALE, rather than loading records
 * twice. (The loader's advisory lock already keeps two loaders apart; this
 * holds even if a zombie keeps its session.) */
static int fence(const struct pg_part *pp, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    if (b->count == 0 || !pp->stored || sf_pos_cmp(&pp->next, sf_stream_batch_start(b)) == 0)
        return 0;
    char from[SF_POS_TEXT_MAX], at[SF_POS_TEXT_MAX];
    sf_pos_format(sf_stream_batch_start(b), from, sizeof from);
    sf_pos_format(&pp->next, at, sizeof at);
    return sf_error_set(err, SF_ESTALE,
                        "warehouse: partition %u: a batch from offset %s, but the warehouse "
                        "is at %s (another member loaded it): refused",
                        p, from, at);
}

/* The open transaction, begun if there is none (a loader's). */
static int open_txn(pg_wh *w, sf_error *err)
{
    if (w->reader)
        return sf_error_set(err, SF_EUSAGE, "warehouse opened for reading only");
    if (w->in_txn)
        return 0;
    int rc = sf_pg_exec(w, "BEGIN", err);
    w->in_txn = rc == 0;
    return rc;
}

/* The facts and rollups of b's entries into the open transaction. */
static int stage_facts(pg_wh *w, struct pg_part *pp, uint32_t p, const sf_stream_batch *b,
                       sf_error *err)
{
    sf_buf *facts = &w->stage[STAGE_FACTS];
    int rc = sf_wh_ordinal_check(p, pp->ordinal, b->count, err);
    for (size_t i = 0; rc == 0 && i < b->count; i++) {
        sf_record r;
        char date[SF_TIME_TEXT_LEN + 1];
        rc = sf_wh_rollup_entry(&w->roll, &b->entries[i], p, &r, date, err);
        if (rc == 0)
            fact_row(facts, &r, p, pp->ordinal++, sf_wh_pos_int(&b->entries[i].pos), date);
    }
    pp->moved = true;
    if (rc == 0 && facts->len >= FLUSH_BYTES)
        rc = sf_pg_flush(w, STAGE_FACTS, err);
    return rc;
}

static int pg_load(sf_warehouse *base, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    pg_wh *w = (pg_wh *)base;
    int rc = open_txn(w, err);
    if (rc < 0)
        return rc;
    struct pg_part *pp;
    if ((rc = part_of(w, p, &pp, err)) == 0 && (rc = fence(pp, p, b, err)) == 0)
        rc = stage_facts(w, pp, p, b, err);
    if (rc == 0)
        pp->next = b->next, pp->stored = true;
    if (rc < 0)
        rollback(w);
    else
        w->txn_records += b->count;
    return rc;
}

/* The log_pos (next_pos) of pos as bytea text ("\\x..."; empty when the
 * integer column holds pos: sf_wh_pos_blob) into out. */
static void pos_hex(const sf_pos *pos, char out[2 + 2 * SF_POS_STORED_MAX + 1])
{
    uint8_t blob[SF_POS_STORED_MAX];
    size_t n = sf_wh_pos_blob(pos, blob);
    memcpy(out, "\\x", 2);
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", blob[i]);
    out[2 + 2 * n] = '\0';
}

/* sql with the text parameters params[0..n), bytes binary as parameter
 * `binary` (1-based; 0: none); the result's status must be COMMAND_OK.
 * *changed: the rows it changed. */
static int exec_params(pg_wh *w, const char *sql, int n, const char *const *params, int binary,
                       size_t blen, long *changed, sf_error *err)
{
    int lengths[8] = {0}, formats[8] = {0};
    if (binary) {
        lengths[binary - 1] = (int)blen;
        formats[binary - 1] = 1;
    }
    PGresult *res = PQexecParams(w->conn, sql, n, NULL, params, lengths, formats, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : sf_pg_fail(w, res, err, sql);
    if (rc == 0 && changed)
        *changed = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

static int pg_quarantine(sf_warehouse *base, uint32_t p, const sf_stream_entry *e,
                         const char *reason, const char *at, const sf_pos *next, sf_error *err)
{
    pg_wh *w = (pg_wh *)base;
    sf_stream_batch one = {.entries = (sf_stream_entry *)e, .count = 1};
    char part[16], offset[24], pos[2 + 2 * SF_POS_STORED_MAX + 1];
    snprintf(part, sizeof part, "%u", p);
    snprintf(offset, sizeof offset, "%lld", (long long)sf_wh_pos_int(&e->pos));
    pos_hex(&e->pos, pos);
    const char *params[] = {part, offset, reason, (const char *)e->data, at, pos};
    struct pg_part *pp;
    int rc = open_txn(w, err);
    if (rc == 0 && (rc = part_of(w, p, &pp, err)) == 0)
        rc = fence(pp, p, &one, err);
    if (rc == 0)
        rc = exec_params(w, "INSERT INTO sink_quarantine VALUES ($1, $2, $3, $4, $5, $6::bytea)", 6,
                         params, 4, e->len, NULL, err);
    if (rc == 0)
        pp->next = *next, pp->stored = pp->moved = true;
    if (rc < 0)
        rollback(w);
    else
        w->txn_quarantined++;
    return rc;
}

static int pg_retry(sf_warehouse *base, uint32_t p, const sf_stream_entry *e, sf_error *err)
{
    pg_wh *w = (pg_wh *)base;
    sf_stream_batch one = {.entries = (sf_stream_entry *)e, .count = 1};
    char part[16], offset[24], pos[2 + 2 * SF_POS_STORED_MAX + 1], text[SF_POS_TEXT_MAX];
    snprintf(part, sizeof part, "%u", p);
    snprintf(offset, sizeof offset, "%lld", (long long)sf_wh_pos_int(&e->pos));
    pos_hex(&e->pos, pos);
    sf_pos_format(&e->pos, text, sizeof text);
    const char *params[] = {part, offset, pos};
    long changed = 0;
    struct pg_part *pp;
    int rc = open_txn(w, err);
    if (rc == 0 && (rc = part_of(w, p, &pp, err)) == 0) /* its ordinal moves */
        rc = exec_params(w,
                         "DELETE FROM sink_quarantine WHERE log_partition = $1 AND log_offset = $2 "
                         "AND log_pos = $3::bytea",
                         3, params, 0, 0, &changed, err);
    if (rc == 0 && changed != 1)
        rc = sf_error_set(err, SF_ENOENT,
                          "warehouse: partition %u offset %s is not in its quarantine (retried "
                          "already?)",
                          p, text);
    if (rc == 0)
        rc = stage_facts(w, pp, p, &one, err);
    if (rc < 0)
        rollback(w);
    return rc;
}

static int pg_quarantined(sf_warehouse *base, sf_wh_quarantined_fn fn, void *ctx, sf_error *err)
{
    pg_wh *w = (pg_wh *)base;
    if (w->reader)
        pthread_mutex_lock(&w->lock);
    PGresult *res = PQexecParams(w->conn,
                                 "SELECT log_partition, log_offset, reason, quarantined_at, bytes, "
                                 "log_pos FROM sink_quarantine ORDER BY 1, log_offset < 0, 2, 6",
                                 0, NULL, NULL, NULL, NULL, 1);
    int rc =
        PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : sf_pg_fail(w, res, err, "sink_quarantine");
    for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
        char reason[SF_ERROR_MSG_MAX], at[64];
        snprintf(reason, sizeof reason, "%.*s", PQgetlength(res, i, 2), PQgetvalue(res, i, 2));
        snprintf(at, sizeof at, "%.*s", PQgetlength(res, i, 3), PQgetvalue(res, i, 3));
        sf_pos pos;
        rc = sf_wh_pos_get((int64_t)sf_get_be64((const uint8_t *)PQgetvalue(res, i, 1)),
                           PQgetvalue(res, i, 5), (size_t)PQgetlength(res, i, 5), &pos, err);
        if (rc == 0)
            rc =
                fn(ctx, (uint32_t)sf_get_be64((const uint8_t *)PQgetvalue(res, i, 0)), &pos, reason,
                   at, (const uint8_t *)PQgetvalue(res, i, 4), (size_t)PQgetlength(res, i, 4));
    }
    PQclear(res);
    if (w->reader)
        pthread_mutex_unlock(&w->lock);
    return rc;
}

static void pg_committed(sf_warehouse *base, uint64_t *records, uint64_t *quarantined)
{
    pg_wh *w = (pg_wh *)base;
    *records = atomic_load(&w->committed_records);
    *quarantined = atomic_load(&w->committed_quarantined);
}

static int pg_commit(sf_warehouse *base, sf_error *err)
{
    pg_wh *w = (pg_wh *)base;
    if (!w->in_txn)
        return 0;
    sf_buf *offsets = &w->stage[STAGE_OFFSETS];
    for (uint32_t p = 0; p < w->npart; p++)
        if (w->part[p].moved) {
            char hex[2 + 2 * SF_POS_STORED_MAX + 1];
            pos_hex(&w->part[p].next, hex);
            sf_pg_int(offsets, p, true);
            sf_pg_int(offsets, sf_wh_pos_int(&w->part[p].next), false);
            if (hex[2])
                sf_pg_text(offsets, hex, strlen(hex), false);
            else
                sf_pg_null(offsets);
            sf_pg_int(offsets, (int64_t)w->part[p].ordinal, false);
            sf_pg_end_row(offsets);
        }
    int rc = sf_pg_flush(w, STAGE_FACTS, err);
    if (rc == 0)
        rc = sf_wh_rollup_write(&w->roll, err);
    if (rc == 0)
        rc = sf_pg_merge(w, err);
    if (rc == 0)
        rc = sf_pg_exec(w, "COMMIT", err);
    w->in_txn = rc == 0 ? false : w->in_txn;
    if (rc == 0) {
        atomic_fetch_add(&w->committed_records, w->txn_records);
        atomic_fetch_add(&w->committed_quarantined, w->txn_quarantined);
    }
    rollback(w); /* after a commit: only forgets the transaction's state */
    return rc;
}

const sf_warehouse_ops sf_warehouse_postgres_ops = {
    .open = pg_open,
    .positions = pg_positions,
    .load = pg_load,
    .commit = pg_commit,
    .read = sf_pg_read,
    .sales = sf_pg_read_sales,
    .top_products = sf_pg_read_products,
    .top_customers = sf_pg_read_customers,
    .top_invoices = sf_pg_read_invoices,
    .close = pg_close,
    .quarantine = pg_quarantine,
    .retry = pg_retry,
    .quarantined = pg_quarantined,
    .committed = pg_committed,
};
