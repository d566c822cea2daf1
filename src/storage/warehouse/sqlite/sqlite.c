/*
 * sqlite.c - the "sqlite" warehouse: one SQLite file in WAL mode holding the
 * star schema and the BI rollups of docs/warehouse.md.
 *
 * Loading (sqlite_load.c): a transaction spans several batches (the sink
 * commits every ~64k records or second, and when caught up). The caller's
 * thread decodes and aggregates; a writer thread inserts the fact rows,
 * FACT_ROWS to a prepared multi-row INSERT; the rollups and dimensions are
 * aggregated in memory (rollup.c) and written once per key when the
 * transaction commits, so the rows of a day cost one upsert per product
 * rather than one per line.
 * fact_sales is a rowid table whose rowid is the record's place in its
 * partition's load (partition × 2^40 + ordinal, the records of the
 * partition loaded before it: sink_offsets.ordinal), an integer that only
 * grows whatever the stream's positions look like: a B-tree keyed by one, which
 * SQLite appends to fastest, and no secondary index (the BI questions read
 * the rollups; measured in docs/benchmarks.md).
 *
 * Durability: the port's commit() returns once everything is on disk; its
 * commit_later() may return before (warehouse.h). The writer's connection
 * commits with synchronous=NORMAL, which in WAL mode keeps every commit
 * atomic and in order but leaves the WAL's fsync to the next sync: for a
 * commit() the writer syncs the WAL itself before it answers
 * (sqlite_load.c), and the loader's read connection (synchronous=FULL)
 * syncs it at each checkpoint, once per transaction. So a commit_later()
 * that is not yet on disk can be lost only with the machine (power, kernel),
 * never with the process, and then with its sink_offsets, which are in the
 * same transaction: the sink resumes before it and loads those records again
 * from the log, which was durable before the sink could read them. Nothing
 * is lost or loaded twice, and the writer thread no longer waits for an
 * fsync per transaction (docs/benchmarks.md, session 4).
 * The read connection checkpoints the WAL after handing over each commit,
 * off the writer thread; the writer checkpoints itself only if the WAL
 * passes 256 MiB (a reader holding an old snapshot). secure_delete (on in Debian's
 * build) is turned off: it zeroes freed space in pages, for deleted data's
 * privacy; nothing is deleted here, rollup rows are only rewritten.
 *
 * The file is an ordinary SQLite database: `sqlite3 DIR/warehouse.db` and
 * any BI client can read it while the sink writes (WAL lets them).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/logline.h"
#include "core/pack.h"
#include "core/timefmt.h"
#include "storage/warehouse/sqlite/sqlite_int.h"

#define SCHEMA_VERSION                                                                             \
    6 /* 3: bi_rank_head; 4: 128-bit totals (revenue_hi, units_hi); 5: sink_quarantine;            \
         6: stream positions (next_pos, ordinal; log_pos) */

static const char pragmas[] = "PRAGMA journal_mode=WAL;"
                              "PRAGMA synchronous=FULL;"
                              "PRAGMA wal_autocheckpoint=65536;"
                              "PRAGMA cache_size=-16384;"
                              "PRAGMA secure_delete=OFF;";

/* A 128-bit total is two columns (money.h, sf_i128_split): X (its value
 * below 10^18, with its sign) and X_hi (the multiples of 10^18), last in the
 * table so that version 3 files gain them by ALTER TABLE and both hold the
 * same columns in the same order. */
#define TOTALS_HI " revenue_hi INTEGER NOT NULL DEFAULT 0, units_hi INTEGER NOT NULL DEFAULT 0"

/* The top invoices of a day, month or year: one range of an index that
 * holds the rows (revenue compared as (hi, lo): money.h). */
#define INVOICE_INDEX(grain, len)                                                                  \
    "CREATE INDEX IF NOT EXISTS bi_invoice_" grain " ON bi_invoice (substr(invoice_date, 1, " len  \
    "), revenue_hi DESC, revenue_milli DESC, invoice_no, customer_id, invoice_date, units, "       \
    "units_hi, lines);"
#define INVOICE_INDEXES                                                                            \
    INVOICE_INDEX("day", "10") INVOICE_INDEX("month", "7") INVOICE_INDEX("year", "4")

/* The rows with a total past 10^18 (a high half): none in any real data, so
 * these indexes stay empty and tell a read in one probe that it need not
 * read the high halves (sqlite_bi.c). */
#define WIDE_INDEX(table)                                                                          \
    "CREATE INDEX IF NOT EXISTS " table "_wide ON " table " (revenue_hi)"                          \
    " WHERE revenue_hi <> 0 OR units_hi <> 0;"

static const char schema[] =
    ("CREATE TABLE IF NOT EXISTS fact_sales ("
     "  fact_id INTEGER PRIMARY KEY,"
     "  log_partition INTEGER NOT NULL, log_offset INTEGER NOT NULL,"
     "  invoice_no TEXT NOT NULL, stock_code TEXT NOT NULL, description TEXT NOT NULL,"
     "  quantity INTEGER NOT NULL, unit_price_milli INTEGER NOT NULL,"
     "  amount_milli INTEGER NOT NULL, customer_id INTEGER, invoice_date TEXT NOT NULL,"
     "  date_key TEXT NOT NULL, country TEXT NOT NULL, kind TEXT NOT NULL,"
     "  non_product INTEGER NOT NULL);"
     "CREATE TABLE IF NOT EXISTS dim_product (stock_code TEXT PRIMARY KEY,"
     "  description TEXT NOT NULL, non_product INTEGER NOT NULL, last_seen TEXT NOT NULL);"
     "CREATE TABLE IF NOT EXISTS dim_customer (customer_id INTEGER PRIMARY KEY,"
     "  country TEXT NOT NULL, last_seen TEXT NOT NULL);"
     "CREATE TABLE IF NOT EXISTS dim_date (date_key TEXT PRIMARY KEY, year INTEGER NOT NULL,"
     "  month INTEGER NOT NULL, day INTEGER NOT NULL, weekday INTEGER NOT NULL);"
     /* 6: a position wider than 63 bits is next_offset -1 and its stored
      * form in next_pos (NULL otherwise); ordinal: records loaded */
     "CREATE TABLE IF NOT EXISTS sink_offsets (log_partition INTEGER PRIMARY KEY,"
     "  next_offset INTEGER NOT NULL, next_pos BLOB, ordinal INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE IF NOT EXISTS bi_sales (grain TEXT NOT NULL, period TEXT NOT NULL,"
     "  revenue_milli INTEGER NOT NULL, units INTEGER NOT NULL, lines INTEGER NOT NULL,"
     "  invoices INTEGER NOT NULL, customers INTEGER NOT NULL," TOTALS_HI ","
     "  PRIMARY KEY (grain, period)) WITHOUT ROWID;"
     "CREATE TABLE IF NOT EXISTS bi_product (grain TEXT NOT NULL, period TEXT NOT NULL,"
     "  products INTEGER NOT NULL, by_units TEXT NOT NULL, by_revenue TEXT NOT NULL,"
     "  PRIMARY KEY (grain, period)) WITHOUT ROWID;"
     "CREATE TABLE IF NOT EXISTS bi_customer (grain TEXT NOT NULL, period TEXT NOT NULL,"
     "  customers INTEGER NOT NULL, by_revenue TEXT NOT NULL,"
     "  PRIMARY KEY (grain, period)) WITHOUT ROWID;"
     "CREATE TABLE IF NOT EXISTS bi_invoice (invoice_no TEXT PRIMARY KEY, customer_id INTEGER,"
     "  invoice_date TEXT NOT NULL, revenue_milli INTEGER NOT NULL, units INTEGER NOT NULL,"
     "  lines INTEGER NOT NULL," TOTALS_HI ") WITHOUT ROWID;" INVOICE_INDEXES
     "CREATE TABLE IF NOT EXISTS bi_presence (invoice_no TEXT NOT NULL,"
     "  customer_id INTEGER NOT NULL, hours TEXT NOT NULL,"
     "  PRIMARY KEY (invoice_no, customer_id)) WITHOUT ROWID;"
     "CREATE TABLE IF NOT EXISTS bi_rank_head (list TEXT NOT NULL, grain TEXT NOT NULL,"
     "  period TEXT NOT NULL, entries INTEGER NOT NULL, head TEXT NOT NULL,"
     "  PRIMARY KEY (list, grain, period)) WITHOUT ROWID;" WIDE_INDEX("bi_sales")
         WIDE_INDEX("bi_invoice")
     /* 5: the entries of the log that are not records, set aside by the sink
      * (sinks/quarantine.h) in the transaction that moves its position. */
     "CREATE TABLE IF NOT EXISTS sink_quarantine (log_partition INTEGER NOT NULL,"
     "  log_offset INTEGER NOT NULL, reason TEXT NOT NULL, bytes BLOB NOT NULL,"
     "  quarantined_at TEXT NOT NULL, log_pos BLOB NOT NULL DEFAULT x'',"
     "  PRIMARY KEY (log_partition, log_offset, log_pos));");

/* Totals add in 128 bits: the stored (hi, lo) plus the transaction's
 * (dhi, dlo), by shopflow_hi and shopflow_lo (add_functions, below: on the
 * loader's connection only). Every SET sees the row as it was. */
#define ADD_TOTAL(lo, hi, dlo, dhi)                                                                \
    lo " = shopflow_lo(" hi ", " lo ", " dhi ", " dlo "), " hi " = shopflow_hi(" hi ", " lo        \
       ", " dhi ", " dlo ")"
#define ADD_REVENUE(dlo, dhi) ADD_TOTAL("revenue_milli", "revenue_hi", dlo, dhi)
#define ADD_UNITS(dlo, dhi)   ADD_TOTAL("units", "units_hi", dlo, dhi)
#define SALES_TOTALS          ADD_REVENUE("?3", "?8") ", " ADD_UNITS("?4", "?9")
#define INVOICE_TOTALS        ADD_REVENUE("?4", "?7") ", " ADD_UNITS("?5", "?8")

/* Sums add up; distinct counts are added by rollup.c only when the key is
 * new to the bucket (see there); dimensions keep their latest line's text. */
static const char *const statements[NSTMT] = {
    [ST_FACT] = "INSERT INTO fact_sales VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [ST_OFFSET] = ("INSERT INTO sink_offsets VALUES (?,?,?,?) ON CONFLICT (log_partition) DO "
                   "UPDATE SET next_offset = excluded.next_offset, next_pos = excluded.next_pos, "
                   "ordinal = excluded.ordinal"),
    [ST_POSITION] =
        "SELECT next_offset, next_pos, ordinal FROM sink_offsets WHERE log_partition = ?",
    [ST_SALES] = ("INSERT OR FAIL INTO bi_sales VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT "
                  "DO UPDATE SET " SALES_TOTALS ", lines = lines + ?5, "
                  "invoices = invoices + ?6, customers = customers + ?7"),
    [ST_PRODUCTS_GET] = "SELECT by_units FROM bi_product WHERE grain = ? AND period = ?",
    [ST_PRODUCTS_PUT] = ("INSERT INTO bi_product VALUES (?1,?2,?3,?4,?5) ON CONFLICT DO UPDATE SET "
                         "products = ?3, by_units = ?4, by_revenue = ?5"),
    [ST_CUSTOMERS_GET] = "SELECT by_revenue FROM bi_customer WHERE grain = ? AND period = ?",
    [ST_CUSTOMERS_PUT] = ("INSERT INTO bi_customer VALUES (?1,?2,?3,?4) ON CONFLICT DO UPDATE "
                          "SET customers = ?3, by_revenue = ?4"),
    [ST_INVOICE] = ("INSERT OR FAIL INTO bi_invoice VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT "
                    "DO UPDATE SET customer_id = coalesce(min(customer_id, ?2), customer_id, ?2), "
                    "invoice_date = min(invoice_date, ?3), " INVOICE_TOTALS ", lines = lines + ?6"),
    [ST_PRESENCE_GET] = "SELECT customer_id, hours FROM bi_presence WHERE invoice_no = ?",
    [ST_PRESENCE_PUT] = ("INSERT INTO bi_presence VALUES (?1,?2,?3) ON CONFLICT DO UPDATE SET "
                         "hours = ?3"),
    /* A product's description (a customer's country) is that of its latest
     * line, ties broken by the text itself: the same whatever order the
     * partitions are loaded in, so a rerun after a crash ends identical. */
    [ST_DIM_PRODUCT] = ("INSERT INTO dim_product VALUES (?1,?2,?3,?4) ON CONFLICT (stock_code) "
                        "DO UPDATE SET description = excluded.description, last_seen = "
                        "excluded.last_seen WHERE (excluded.last_seen, excluded.description) > "
                        "(last_seen, description)"),
    [ST_DIM_CUSTOMER] = ("INSERT INTO dim_customer VALUES (?1,?2,?3) ON CONFLICT (customer_id) "
                         "DO UPDATE SET country = excluded.country, last_seen = "
                         "excluded.last_seen WHERE (excluded.last_seen, excluded.country) > "
                         "(last_seen, country)"),
    [ST_DIM_DATE] = "INSERT OR IGNORE INTO dim_date VALUES (?,?,?,?,?)",
    [ST_HEAD_PUT] = "INSERT OR REPLACE INTO bi_rank_head VALUES (?,?,?,?,?)",
    [ST_QUARANTINE] = "INSERT INTO sink_quarantine VALUES (?,?,?,?,?,?)",
    [ST_UNQUARANTINE] = ("DELETE FROM sink_quarantine WHERE log_partition = ? AND log_offset = ? "
                         "AND log_pos = ?"),
};

int sf_wh_fail(sqlite_wh *w, sf_error *err, const char *what)
{
    /* SQLite says "disk I/O error" (or "database or disk is full") when a
     * write fails for want of space: say what it is, and where. */
    int code = sqlite3_extended_errcode(w->db), sys = sqlite3_system_errno(w->db);
    if ((code & 0xff) == SQLITE_FULL || ((code & 0xff) == SQLITE_IOERR && sys == ENOSPC)) {
        const char *file = sqlite3_db_filename(w->db, "main");
        size_t fl = file ? strlen(file) : 0, wl = strlen(what);
        if (fl == 0 || (wl <= fl && strcmp(file + fl - wl, what) == 0)) /* what is the path */
            return sf_error_set(err, SF_EIO, "warehouse: %s: no space left on device",
                                fl ? file : what);
        return sf_error_set(err, SF_EIO, "warehouse: %s: %s: no space left on device", file, what);
    }
    return sf_error_set(err, SF_EIO, "warehouse: %s: %s", what, sqlite3_errmsg(w->db));
}

int sf_wh_run(sqlite_wh *w, sqlite3_stmt *s, sf_error *err)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : sf_wh_fail(w, err, "write");
}

void sf_wh_text(sqlite3_stmt *s, int col, const char *t, size_t n)
{
    sqlite3_bind_text(s, col, t, (int)n, SQLITE_STATIC);
}

static void wh_close(sf_warehouse *base)
{
    sqlite_wh *w = (sqlite_wh *)base;
    sf_wh_pipe_stop(w);
    if (w->rd)
        wh_close(&w->rd->base);
    if (w->in_txn)
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < NSTMT; i++)
        sqlite3_finalize(w->st[i]);
    sqlite3_finalize(w->facts);
    sf_wh_queries_free(w);
    sqlite3_close(w->db);
    sf_wh_rollup_free(&w->roll);
    sf_buf_free(&w->ops);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Version 2 or 3 -> 4: the high halves of the totals (0: every total
 * stored so far fitted 64 bits, and (0, v) is v's stored form, money.h),
 * and the invoice indexes ordered by (hi, lo), dropped here and made again
 * by the schema text with the tables it adds. */
static const char upgrade_4[] =
    ("ALTER TABLE bi_sales ADD COLUMN revenue_hi INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE bi_sales ADD COLUMN units_hi INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE bi_invoice ADD COLUMN revenue_hi INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE bi_invoice ADD COLUMN units_hi INTEGER NOT NULL DEFAULT 0;"
     "DROP INDEX bi_invoice_day; DROP INDEX bi_invoice_month; DROP INDEX bi_invoice_year;");

/* Version 5 -> 6, stream positions (issue 16 item 3): each partition's
 * ordinal starts at its next offset, so the fact_ids to come (partition ×
 * 2^40 + ordinal) follow those of the offsets loaded so far and never meet
 * one; positions written so far all fit next_offset. The quarantine gains
 * log_pos in its key (a table of a few rows, copied). Before version 5 it
 * does not exist yet: the schema text makes it. */
static const char upgrade_6_offsets[] =
    ("ALTER TABLE sink_offsets ADD COLUMN next_pos BLOB;"
     "ALTER TABLE sink_offsets ADD COLUMN ordinal INTEGER NOT NULL DEFAULT 0;"
     "UPDATE sink_offsets SET ordinal = next_offset;");
static const char upgrade_6_quarantine[] =
    ("ALTER TABLE sink_quarantine RENAME TO sink_quarantine_5;"
     "CREATE TABLE sink_quarantine (log_partition INTEGER NOT NULL,"
     "  log_offset INTEGER NOT NULL, reason TEXT NOT NULL, bytes BLOB NOT NULL,"
     "  quarantined_at TEXT NOT NULL, log_pos BLOB NOT NULL DEFAULT x'',"
     "  PRIMARY KEY (log_partition, log_offset, log_pos));"
     "INSERT INTO sink_quarantine SELECT *, x'' FROM sink_quarantine_5;"
     "DROP TABLE sink_quarantine_5;");

/* Bring a version 2 to 5 file to this version, in the caller's transaction. */
static int upgrade(sqlite_wh *w, int64_t version, sf_error *err)
{
    if ((version < 4 && sqlite3_exec(w->db, upgrade_4, NULL, NULL, NULL) != SQLITE_OK) ||
        sqlite3_exec(w->db, upgrade_6_offsets, NULL, NULL, NULL) != SQLITE_OK ||
        (version == 5 &&
         sqlite3_exec(w->db, upgrade_6_quarantine, NULL, NULL, NULL) != SQLITE_OK) ||
        sqlite3_exec(w->db, schema, NULL, NULL, NULL) != SQLITE_OK) /* 5: sink_quarantine */
        return sf_wh_fail(w, err, "upgrade the schema");
    return version == 2 ? sf_wh_sqlite_fill_heads(w, err) : 0; /* 3: bi_rank_head */
}

/* Check that an existing schema is this version's (PRAGMA user_version):
 * never read or write tables of another shape. A writer creates a missing
 * schema, and upgrades a version 2, 3 or 4 file in place, saying so in the
 * log; a file already at this version is not written to at all, so
 * `status` beside a loading sink takes no lock. */
static int ensure_schema(sqlite_wh *w, const char *location, sf_error *err)
{
    int64_t exists =
        query_int(w->db, "SELECT count(*) FROM sqlite_master WHERE name = 'fact_sales'");
    int64_t version = query_int(w->db, "PRAGMA user_version");
    bool old = version >= 2 && version<SCHEMA_VERSION, upgrading = exists> 0 && old && !w->reader;
    /* A reader of a version 5 file (written by shopflow before positions
     * were wide) reads it as it is: its positions are next_offset. */
    bool readable = w->reader && version == SCHEMA_VERSION - 1;
    w->version = exists > 0 && !upgrading ? version : SCHEMA_VERSION;
    if (exists > 0 && version != SCHEMA_VERSION && !upgrading && !readable)
        return sf_error_set(err, SF_ECORRUPT,
                            "warehouse %s has schema version %lld; this shopflow uses version %d: "
                            "%s",
                            location, (long long)version, SCHEMA_VERSION,
                            old ? "run the sink (shopflow sink warehouse) once to upgrade it"
                                : "move it away and run the sink (shopflow sink "
                                  "warehouse), which rebuilds it from the log");
    if (w->reader || (exists > 0 && !upgrading))
        return 0;
    char version_sql[64];
    snprintf(version_sql, sizeof version_sql, "PRAGMA user_version = %d", SCHEMA_VERSION);
    int rc = 0;
    if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        rc = sf_wh_fail(w, err, location);
    else if (upgrading)
        rc = upgrade(w, version, err);
    else if (sqlite3_exec(w->db, schema, NULL, NULL, NULL) != SQLITE_OK)
        rc = sf_wh_fail(w, err, location);
    if (rc == 0 && (sqlite3_exec(w->db, version_sql, NULL, NULL, NULL) != SQLITE_OK ||
                    sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK))
        rc = sf_wh_fail(w, err, location);
    if (rc < 0) {
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
    } else if (upgrading) {
        char q[512];
        sf_logf(SF_LOG_INFO, "warehouse_upgraded", "warehouse=%s from=%lld to=%d",
                sf_logq(location, q, sizeof q), (long long)version, SCHEMA_VERSION);
    }
    return rc;
}

/* shopflow_hi(hi, lo, dhi, dlo) and shopflow_lo(...): the stored form of
 * the sum of two totals in stored form (money.h), for the upserts of
 * ADD_TOTAL; user data tells which half. */
static const int high_half = 1;

static void add_totals(sqlite3_context *c, int n, sqlite3_value **v)
{
    (void)n;
    sf_i128 sum = sf_i128_join(sqlite3_value_int64(v[0]), sqlite3_value_int64(v[1])) +
                  sf_i128_join(sqlite3_value_int64(v[2]), sqlite3_value_int64(v[3]));
    int64_t hi, lo;
    sf_i128_split(sum, &hi, &lo);
    sqlite3_result_int64(c, sqlite3_user_data(c) == &high_half ? hi : lo);
}

static int add_functions(sqlite_wh *w, sf_error *err)
{
    static int low_half;
    const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    if (sqlite3_create_function_v2(w->db, "shopflow_hi", 4, flags, (void *)&high_half, add_totals,
                                   NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function_v2(w->db, "shopflow_lo", 4, flags, &low_half, add_totals, NULL,
                                   NULL, NULL) != SQLITE_OK)
        return sf_wh_fail(w, err, "register functions");
    return 0;
}

#define FACT_COLUMNS 15

/* "INSERT INTO fact_sales VALUES (?,...),(?,...)...": FACT_ROWS rows. */
static int prepare_facts(sqlite_wh *w, sf_error *err)
{
    sf_buf sql = SF_BUF_INIT;
    sf_buf_puts(&sql, "INSERT INTO fact_sales VALUES ");
    for (int i = 0; i < FACT_ROWS; i++)
        sf_buf_puts(&sql,
                    i ? ",(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    int rc = 0;
    if (sf_buf_failed(&sql))
        rc = sf_error_set(err, SF_ENOMEM, "out of memory");
    else if (sqlite3_prepare_v3(w->db, sql.data, -1, SQLITE_PREPARE_PERSISTENT, &w->facts, NULL) !=
             SQLITE_OK)
        rc = sf_wh_fail(w, err, "prepare");
    sf_buf_free(&sql);
    return rc;
}

/* SQLite counts every allocation under a global mutex for
 * sqlite3_memory_used(), which nothing here reads; Debian's build has no
 * lookaside, so every statement's cursors and records are malloc'd: without
 * the counting the writer thread runs 3.6 % fewer instructions. Only
 * possible before SQLite is first used in the process (this adapter is its
 * only user); later it fails and the counting goes on, which is harmless. */
static void no_memstatus(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* A handle with no connection yet (NULL when out of memory). */
static sqlite_wh *handle_new(bool reader, const wh_store_ops *store)
{
    sqlite_wh *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->base.ops = &sf_warehouse_sqlite_ops;
    w->reader = reader;
    pthread_mutex_init(&w->lock, NULL);
    sf_wh_rollup_init(&w->roll, store, w);
    return w;
}

/* One connection per handle, used by one thread at a time (the loader's
 * writer thread, the loader's caller, or a reader under w->lock): SQLite's
 * own mutexes are not needed. */
static int connect_db(sqlite_wh *w, const char *location, bool create, const char *setup,
                      sf_error *err)
{
    int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(location, &w->db, oflags, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(w->db, 5000) != SQLITE_OK ||
        sqlite3_exec(w->db, setup, NULL, NULL, NULL) != SQLITE_OK)
        return sf_wh_fail(w, err, location);
    return 0;
}

/* The loader's second connection: the rollups read the committed tables
 * through it while the writer thread inserts (sqlite_load.c). */
static int open_rollup_reader(sqlite_wh *w, const char *location, sf_error *err)
{
    static const int reads[] = {ST_PRESENCE_GET, ST_PRODUCTS_GET, ST_CUSTOMERS_GET};
    if (!(w->rd = handle_new(true, &sf_wh_sqlite_store)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    sqlite_wh *r = w->rd;
    int rc =
        connect_db(r, location, false, "PRAGMA synchronous=FULL; PRAGMA secure_delete=OFF", err);
    for (size_t i = 0; rc == 0 && i < sizeof reads / sizeof *reads; i++)
        if (sqlite3_prepare_v3(r->db, statements[reads[i]], -1, SQLITE_PREPARE_PERSISTENT,
                               &r->st[reads[i]], NULL) != SQLITE_OK)
            rc = sf_wh_fail(r, err, "prepare");
    return rc;
}

static int wh_open(const sf_location *loc, const sf_warehouse_opts *opts, sf_warehouse **out,
                   sf_error *err)
{
    const char *location = loc->rest;
    bool reader = opts->read_only;
    int bad = sf_location_no_extra(loc, "a SQLite warehouse", "warehouse", opts->extra,
                                   opts->nextra, err);
    if (bad < 0)
        return bad;
    if (reader && access(location, F_OK) != 0)
        return sf_error_set(err, SF_ENOENT, "warehouse %s does not exist yet (run the sink)",
                            location);
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, no_memstatus);
    sqlite_wh *w = handle_new(reader, &sf_wh_sqlite_deferred);
    if (!w)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    int rc = connect_db(w, location, !reader, reader ? "PRAGMA query_only=1" : pragmas, err);
    if (rc == 0)
        rc = ensure_schema(w, location, err);
    if (rc == 0 && !reader)
        rc = add_functions(w, err);
    for (int i = 0; rc == 0 && !reader && i < NSTMT; i++)
        if (sqlite3_prepare_v2(w->db, statements[i], -1, &w->st[i], NULL) != SQLITE_OK)
            rc = sf_wh_fail(w, err, "prepare");
    if (rc == 0 && !reader && sqlite3_exec(w->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL))
        rc = sf_wh_fail(w, err, location); /* the loads' commits: see the top of the file */
    if (rc == 0 && !reader)
        rc = prepare_facts(w, err);
    if (rc == 0 && !reader)
        rc = open_rollup_reader(w, location, err);
    if (rc == 0 && !reader)
        rc = sf_wh_pipe_start(w, err);
    if (rc < 0) {
        wh_close(&w->base);
        return rc;
    }
    *out = &w->base;
    return 0;
}

static int wh_positions(sf_warehouse *base, sf_pos *next, uint32_t nparts, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    int sync = w->pipe ? sf_wh_pipe_sync(w, err) : 0;
    if (sync < 0)
        return sync;
    for (uint32_t p = 0; p < nparts; p++)
        next[p].len = 0;
    if (query_int(w->db, "SELECT count(*) FROM sqlite_master WHERE name = 'sink_offsets'") <= 0)
        return 0; /* a reader before the first load */
    sqlite3_stmt *q;
    const char *sql = w->version >= 6
                          ? "SELECT log_partition, next_offset, next_pos FROM sink_offsets"
                          : "SELECT log_partition, next_offset, NULL FROM sink_offsets";
    if (sqlite3_prepare_v2(w->db, sql, -1, &q, NULL) != SQLITE_OK)
        return sf_wh_fail(w, err, "positions");
    int rc, bad = 0;
    while (bad == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t p = sqlite3_column_int64(q, 0);
        if (p >= 0 && p < nparts)
            bad = sf_wh_pos_get(sqlite3_column_int64(q, 1), sqlite3_column_blob(q, 2),
                                (size_t)sqlite3_column_bytes(q, 2), &next[p], err);
    }
    sqlite3_finalize(q);
    return bad < 0 ? bad : rc == SQLITE_DONE ? 0 : sf_wh_fail(w, err, "positions");
}

static int wh_load(sf_warehouse *base, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    if (w->reader)
        return sf_error_set(err, SF_EUSAGE, "warehouse opened for reading only");
    return sf_wh_pipe_load(w, p, b, err);
}

static int wh_commit(sf_warehouse *base, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    return w->reader ? 0 : sf_wh_pipe_commit(w, true, err);
}

static int wh_commit_later(sf_warehouse *base, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    return w->reader ? 0 : sf_wh_pipe_commit(w, false, err);
}

/* On a loader, a read waits for the writer thread to be idle (it owns the
 * connection while it runs). */
static int wh_read(sf_warehouse *base, int (*fn)(sf_warehouse *w, void *ctx, sf_error *err),
                   void *ctx, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    int rc = w->pipe ? sf_wh_pipe_sync(w, err) : 0;
    return rc < 0 ? rc : sf_wh_read(base, fn, ctx, err);
}

static int wh_quarantine(sf_warehouse *base, uint32_t p, const sf_stream_entry *e,
                         const char *reason, const char *at, const sf_pos *next, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    if (w->reader)
        return sf_error_set(err, SF_EUSAGE, "warehouse opened for reading only");
    return sf_wh_pipe_quarantine(w, p, e, reason, at, next, err);
}

static int wh_retry(sf_warehouse *base, uint32_t p, const sf_stream_entry *e, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    if (w->reader)
        return sf_error_set(err, SF_EUSAGE, "warehouse opened for reading only");
    return sf_wh_pipe_retry(w, p, e, err);
}

static int wh_quarantined(sf_warehouse *base, sf_wh_quarantined_fn fn, void *ctx, sf_error *err)
{
    sqlite_wh *w = (sqlite_wh *)base;
    int rc = w->pipe ? sf_wh_pipe_sync(w, err) : 0; /* the writer owns the connection */
    sqlite3_stmt *q = NULL;
    bool locked = rc == 0 && w->reader; /* readers: one at a time */
    if (locked)
        pthread_mutex_lock(&w->lock);
    /* by partition and position: the wide ones (log_offset -1) last */
    const char *sql = w->version >= 6
                          ? "SELECT log_partition, log_offset, reason, quarantined_at, bytes, "
                            "log_pos FROM sink_quarantine ORDER BY 1, log_offset < 0, 2, 6"
                          : "SELECT log_partition, log_offset, reason, quarantined_at, bytes, "
                            "x'' FROM sink_quarantine ORDER BY 1, 2";
    if (rc == 0 && sqlite3_prepare_v2(w->db, sql, -1, &q, NULL) != SQLITE_OK)
        rc = sf_wh_fail(w, err, "sink_quarantine");
    int step = SQLITE_DONE, stop = 0;
    while (rc == 0 && !stop && (step = sqlite3_step(q)) == SQLITE_ROW) {
        sf_pos pos;
        if ((rc = sf_wh_pos_get(sqlite3_column_int64(q, 1), sqlite3_column_blob(q, 5),
                                (size_t)sqlite3_column_bytes(q, 5), &pos, err)) < 0)
            break;
        stop = fn(ctx, (uint32_t)sqlite3_column_int64(q, 0), &pos,
                  (const char *)sqlite3_column_text(q, 2), (const char *)sqlite3_column_text(q, 3),
                  sqlite3_column_blob(q, 4), (size_t)sqlite3_column_bytes(q, 4));
    }
    if (rc == 0 && !stop && step != SQLITE_DONE)
        rc = sf_wh_fail(w, err, "sink_quarantine");
    sqlite3_finalize(q);
    if (locked)
        pthread_mutex_unlock(&w->lock);
    return rc < 0 ? rc : stop;
}

static void wh_committed(sf_warehouse *base, uint64_t *records, uint64_t *quarantined)
{
    sqlite_wh *w = (sqlite_wh *)base;
    *records = atomic_load(&w->committed_records);
    *quarantined = atomic_load(&w->committed_quarantined);
}

const sf_warehouse_ops sf_warehouse_sqlite_ops = {
    .open = wh_open,
    .positions = wh_positions,
    .load = wh_load,
    .commit = wh_commit,
    .read = wh_read,
    .sales = sf_wh_read_sales,
    .top_products = sf_wh_read_products,
    .top_customers = sf_wh_read_customers,
    .top_invoices = sf_wh_read_invoices,
    .close = wh_close,
    .commit_later = wh_commit_later,
    .quarantine = wh_quarantine,
    .retry = wh_retry,
    .quarantined = wh_quarantined,
    .committed = wh_committed,
};
