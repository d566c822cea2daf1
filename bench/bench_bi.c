/*
 * bench_bi.c - time each BI question over a full year, beside the same
 * question asked of SQLite over the raw rows (fact_sales).
 *
 *   bench_bi [-n RUNS] [-r] [-q TEXT] WAREHOUSE.db [FROM TO]   (default 2011-01 2011-12)
 *
 * -r: skip the raw SQL; -q TEXT: only the questions whose name holds TEXT
 * (for profiling one question under perf or callgrind).
 *
 * Each BI question is answered by sf_bi_answer, exactly as the gateway
 * calls it (parse, read the rollups in one snapshot, render the JSON), RUNS
 * times (default 200) on one warm reader handle; p50, p99 and mean are
 * printed. Each raw query is the same question in SQL over fact_sales with
 * the same range, every row of its result stepped through, RUNS / 20 times
 * (at least 3). Wall time, CLOCK_MONOTONIC. Results in docs/benchmarks.md.
 *
 * WAREHOUSE may be any warehouse location (postgres://... too: bench/postgres.sh);
 * the raw SQL is timed only for a SQLite file.
 */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "query/bi.h"

static void report(const char *name, double *t, int n, const char *extra)
{
    bench_summary s = bench_summarise(t, n);
    printf("%-44s %5d runs  p50 %9.3f ms  p99 %9.3f ms  mean %9.3f ms%s\n", name, n, s.p50 * 1e3,
           s.p99 * 1e3, s.mean * 1e3, extra);
}

static const char *const *params_of;

static const char *param(void *ctx, const char *name)
{
    (void)ctx;
    for (const char *const *kv = params_of; kv[0]; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

typedef struct question {
    const char *name, *q;
    const char *kv[12];
    const char *raw; /* the same question over fact_sales; ?1 = from, ?2 = to (exclusive) */
} question;

#define RANGE "invoice_date >= ?1 AND invoice_date < ?2"
#define SALES(len)                                                                                 \
    ("SELECT substr(invoice_date, 1, " len "), sum(amount_milli), sum(quantity), count(*), "       \
     "count(DISTINCT invoice_no), count(DISTINCT customer_id) FROM fact_sales WHERE " RANGE        \
     " GROUP BY 1 ORDER BY 1")
#define TOP_PRODUCTS(len, order)                                                                   \
    ("WITH p AS (SELECT substr(invoice_date, 1, " len ") AS m, stock_code, sum(quantity) AS u, "   \
     "sum(amount_milli) AS r FROM fact_sales WHERE " RANGE " AND non_product = 0 GROUP BY 1, 2), " \
     "k AS (SELECT *, row_number() OVER (PARTITION BY m ORDER BY " order " DESC, stock_code) "     \
     "AS n FROM p) SELECT * FROM k WHERE n <= 10 ORDER BY m, n")
#define TOP_CUSTOMERS(len)                                                                         \
    ("WITH c AS (SELECT substr(invoice_date, 1, " len ") AS m, customer_id, "                      \
     "sum(amount_milli) AS r, count(DISTINCT invoice_no) FROM fact_sales WHERE " RANGE             \
     " AND customer_id IS NOT NULL GROUP BY 1, 2), k AS (SELECT *, row_number() OVER "             \
     "(PARTITION BY m ORDER BY r DESC, customer_id) AS n FROM c) SELECT * FROM k WHERE n <= 10 "   \
     "ORDER BY m, n")
#define TOP_INVOICES(len)                                                                          \
    ("WITH i AS (SELECT invoice_no, min(invoice_date) AS d, sum(amount_milli) AS r FROM "          \
     "fact_sales GROUP BY 1 HAVING min(invoice_date) >= ?1 AND min(invoice_date) < ?2), k AS "     \
     "(SELECT *, row_number() OVER (PARTITION "                                                    \
     "BY substr(d, 1, " len ") ORDER BY r DESC, invoice_no) AS n FROM i) SELECT * FROM k "         \
     "WHERE n <= 10 ORDER BY d, n")

static const question questions[] = {
    {"sales granularity=year", "sales", {"granularity", "year", NULL}, SALES("4")},
    {"sales granularity=month", "sales", {"granularity", "month", NULL}, SALES("7")},
    {"sales granularity=day", "sales", {"granularity", "day", NULL}, SALES("10")},
    {"sales granularity=hour", "sales", {"granularity", "hour", NULL}, SALES("13")},
    {"profile by=hour_of_day",
     "profile",
     {"by", "hour_of_day", NULL},
     ("SELECT substr(invoice_date, 12, 2), sum(amount_milli), count(DISTINCT date_key) "
      "FROM fact_sales WHERE " RANGE " GROUP BY 1 ORDER BY 1")},
    {"profile by=weekday",
     "profile",
     {"by", "weekday", NULL},
     ("SELECT strftime('%w', date_key), sum(amount_milli), count(DISTINCT date_key) "
      "FROM fact_sales WHERE " RANGE " GROUP BY 1 ORDER BY 1")},
    {"top-products period=month by=units",
     "top-products",
     {"period", "month", "by", "units", NULL},
     TOP_PRODUCTS("7", "u")},
    {"top-products period=month by=revenue",
     "top-products",
     {"period", "month", "by", "revenue", NULL},
     TOP_PRODUCTS("7", "r")},
    {"top-products period=day by=units",
     "top-products",
     {"period", "day", "by", "units", NULL},
     TOP_PRODUCTS("10", "u")},
    {"top-products period=day by=revenue",
     "top-products",
     {"period", "day", "by", "revenue", NULL},
     TOP_PRODUCTS("10", "r")},
    {"top-products period=year by=revenue",
     "top-products",
     {"period", "year", "by", "revenue", NULL},
     TOP_PRODUCTS("4", "r")},
    {"top-customers period=month", "top-customers", {"period", "month", NULL}, TOP_CUSTOMERS("7")},
    {"top-customers period=day", "top-customers", {"period", "day", NULL}, TOP_CUSTOMERS("10")},
    {"top-customers period=year", "top-customers", {"period", "year", NULL}, TOP_CUSTOMERS("4")},
    {"top-invoices period=month", "top-invoices", {"period", "month", NULL}, TOP_INVOICES("7")},
    {"top-invoices period=day", "top-invoices", {"period", "day", NULL}, TOP_INVOICES("10")},
    {"top-invoices period=year", "top-invoices", {"period", "year", NULL}, TOP_INVOICES("4")},
    /* Past the heads (100 entries): each day's whole list is read. */
    {"top-products period=day limit=150",
     "top-products",
     {"period", "day", "limit", "150", NULL},
     NULL},
};
#define NQUESTIONS (sizeof questions / sizeof questions[0])

static void time_raw(sqlite3 *db, const question *q, const char *from, const char *to, int runs)
{
    double *t = calloc((size_t)runs, sizeof *t);
    long rows = 0;
    for (int i = 0; i < runs; i++) {
        double t0 = bench_now();
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db, q->raw, -1, &s, NULL) != SQLITE_OK) {
            fprintf(stderr, "bench_bi: %s: %s\n", q->name, sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
        rows = 0;
        while (sqlite3_step(s) == SQLITE_ROW)
            rows++;
        sqlite3_finalize(s);
        t[i] = bench_now() - t0;
    }
    char extra[64];
    snprintf(extra, sizeof extra, "  (%ld rows)", rows);
    char name[96];
    snprintf(name, sizeof name, "  raw SQL over fact_sales");
    report(name, t, runs, extra);
    free(t);
}

int main(int argc, char **argv)
{
    int runs = 200, a = 1;
    bool skip_raw = false;
    const char *only = NULL;
    for (;;) {
        if (argc - a > 1 && strcmp(argv[a], "-n") == 0)
            runs = atoi(argv[a + 1]), a += 2;
        else if (argc - a > 1 && strcmp(argv[a], "-q") == 0)
            only = argv[a + 1], a += 2;
        else if (argc - a > 0 && strcmp(argv[a], "-r") == 0)
            skip_raw = true, a++;
        else
            break;
    }
    if (argc - a < 1 || runs < 1) {
        fprintf(stderr, "usage: bench_bi [-n RUNS] [-r] [-q TEXT] WAREHOUSE [FROM TO]\n");
        return 1;
    }
    const char *path = argv[a], *from = argc - a >= 3 ? argv[a + 1] : "2011-01";
    const char *to = argc - a >= 3 ? argv[a + 2] : "2011-12";
    sf_error err = {0};
    sf_warehouse *wh;
    sqlite3 *db = NULL;
    bool raw = !skip_raw && strncmp(path, "postgres", 8) != 0;
    if (sf_warehouse_open(path, &(sf_warehouse_opts){.read_only = true}, &wh, &err) < 0 ||
        (raw && sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)) {
        fprintf(stderr, "bench_bi: %s\n", err.msg);
        return 1;
    }
    /* The raw queries' range: [from, the period after to). */
    char to_excl[16];
    snprintf(to_excl, sizeof to_excl, "%s~", to);
    double *t = calloc((size_t)runs, sizeof *t);
    for (size_t k = 0; k < NQUESTIONS; k++) {
        const question *q = &questions[k];
        if (only && !strstr(q->name, only))
            continue;
        const char *kv[16];
        size_t n = 0;
        for (; q->kv[n]; n++)
            kv[n] = q->kv[n];
        kv[n++] = "from", kv[n++] = from, kv[n++] = "to", kv[n++] = to, kv[n] = NULL;
        params_of = kv;
        size_t bytes = 0;
        for (int i = 0; i < runs; i++) {
            double t0 = bench_now();
            char *json;
            if (sf_bi_answer(wh, q->q, param, NULL, NULL, 0, &json, &bytes, &err) < 0) {
                fprintf(stderr, "bench_bi: %s: %s\n", q->name, err.msg);
                return 1;
            }
            free(json);
            t[i] = bench_now() - t0;
        }
        char extra[64];
        snprintf(extra, sizeof extra, "  (%zu bytes of JSON)", bytes);
        report(q->name, t, runs, extra);
        if (raw && q->raw)
            time_raw(db, q, from, to_excl, runs / 20 > 3 ? runs / 20 : 3);
    }
    free(t);
    sqlite3_close(db);
    sf_warehouse_close(wh);
    return 0;
}
