/*
 * cmd_report.c - `shopflow report --data DIR`: the BI answers (query/bi.h)
 * as tables on a terminal, or as JSON or CSV.
 *
 * Every figure comes from sf_bi_parse + sf_bi_run, the same functions that
 * answer GET /v1/bi/..., so the report and the API cannot disagree; this
 * file only lays them out. The questions asked: sales per period, the
 * profile by hour of day and by weekday, the top products by units and by
 * revenue, the top customers and the top invoices of each period.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/money.h"
#include "query/bi.h"

static sf_setting settings[] = {
    SF_OPT_DATA("./var"),
    SF_OPT_WAREHOUSE,
    SF_CLI_ROW("period", SF_SET_STRING, "month", 0, 0, "day, month or year"),
    SF_CLI_ROW("at", SF_SET_STRING, "", 0, 0, "only this period (2011, 2011-11, 2011-11-05)"),
    SF_CLI_ROW("from", SF_SET_STRING, "", 0, 0, "first period (default: the first sale)"),
    SF_CLI_ROW("to", SF_SET_STRING, "", 0, 0, "last period, included (default: the last sale)"),
    SF_CLI_ROW("limit", SF_SET_INT, "5", 1, SF_BI_LIMIT_MAX, "items per period in rankings"),
    SF_CLI_ROW("format", SF_SET_STRING, "text", 0, 0, "text, json or csv"),
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

/* --period, or when only --at is given, the grain --at names. */
static const char *period(void)
{
    size_t at = strlen(sf_cli_text("at"));
    if (at == 0 || sf_cli_source("period") != SF_SRC_DEFAULT)
        return sf_cli_text("period");
    return at == 4 ? "year" : at == 7 ? "month" : "day";
}

/* One report section: a question and the parameters that differ. */
typedef struct section {
    const char *name; /* key in JSON, table in CSV */
    const char *question;
    const char *by;
    const char *title;
} section;

static const section sections[] = {
    {"sales", "sales", NULL, "Sales"},
    {"profile_hour_of_day", "profile", "hour_of_day", "Revenue by hour of day"},
    {"profile_weekday", "profile", "weekday", "Revenue by weekday"},
    {"top_products_by_units", "top-products", "units", "Top products by units"},
    {"top_products_by_revenue", "top-products", "revenue", "Top products by revenue"},
    {"top_customers", "top-customers", NULL, "Top customers by revenue"},
    {"top_invoices", "top-invoices", NULL, "Top invoices by revenue"},
};
#define NSECTIONS ((int)(sizeof sections / sizeof sections[0]))

/* The parameters of a section, from the command line. */
static const char *param(void *ctx, const char *name)
{
    const section *s = ctx;
    const char *v = NULL;
    bool sales = strcmp(s->question, "sales") == 0, profile = strcmp(s->question, "profile") == 0;
    if (strcmp(name, "by") == 0)
        return s->by;
    if ((strcmp(name, "granularity") == 0 && sales) ||
        (strcmp(name, "period") == 0 && !sales && !profile))
        return period();
    if ((strcmp(name, "from") == 0 || strcmp(name, "to") == 0) && *sf_cli_text("at"))
        return sf_cli_text("at"); /* sales and the profile of the one period */
    if (strcmp(name, "from") == 0 || strcmp(name, "to") == 0 || strcmp(name, "at") == 0 ||
        strcmp(name, "limit") == 0)
        v = sf_cli_text(name);
    return v && *v ? v : NULL;
}

/* Figures as text (128-bit totals: money.h); each buffer holds one. */
typedef char text_buf[SF_MONEY_TEXT_MAX + 4];

static const char *money(sf_i128 milli, text_buf buf)
{
    char t[SF_MONEY_TEXT_MAX];
    sf_format_milli(milli < 0 ? -milli : milli, true, t);
    snprintf(buf, sizeof(text_buf), "%s£%s", milli < 0 ? "-" : "", t);
    return buf;
}

static const char *count(sf_i128 v, text_buf buf)
{
    sf_format_count(v, buf);
    return buf;
}

/* v in plain decimal, for CSV. */
static const char *plain(sf_i128 v, text_buf buf)
{
    sf_format_i128(v, buf);
    return buf;
}

static const char *avg(sf_i128 x, int64_t n, text_buf buf)
{
    return n > 0 ? money(sf_bi_div_round(x, n), buf) : "-";
}

static void text_sales(const sf_bi_result *r)
{
    text_buf a, b, c, d, e, f;
    printf("%-14s %18s %12s %10s %9s %9s %14s\n", "period", "revenue", "units", "lines", "invoices",
           "customers", "avg invoice");
    sf_i128 rev = 0;
    for (size_t i = 0; i < r->nbuckets; i++) {
        const sf_bi_bucket *k = &r->buckets[i];
        rev += k->revenue_milli;
        printf("%-14s %18s %12s %10s %9s %9s %14s\n", k->period, money(k->revenue_milli, a),
               count(k->units, b), count(k->lines, c), count(k->invoices, d),
               count(k->customers, e), avg(k->revenue_milli, k->invoices, f));
    }
    printf("%-14s %18s\n", "total", money(rev, a));
    printf("average per %s: %s over %zu with sales; %s over %lld calendar %ss\n",
           sf_grain_name(r->q.grain), avg(rev, (int64_t)r->nbuckets, a), r->nbuckets,
           avg(rev, r->calendar_buckets, b), (long long)r->calendar_buckets,
           sf_grain_name(r->q.grain));
}

static void text_profile(const sf_bi_result *r)
{
    static const char *const days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                       "Friday", "Saturday", "Sunday"};
    text_buf a, b, c;
    printf("(%lld days with sales, %lld calendar days)\n", (long long)r->days_with_sales,
           (long long)r->calendar_days);
    printf("%-10s %18s %10s %20s %20s\n", r->q.by_weekday ? "weekday" : "hour", "revenue", "days",
           "avg/day with sales", "avg/calendar day");
    for (int i = 0; i < r->nprofile; i++) {
        const sf_bi_profile_row *p = &r->profile[i];
        char key[16];
        snprintf(key, sizeof key, "%02d:00", p->key);
        printf("%-10s %18s %10lld %20s %20s\n", r->q.by_weekday ? days[p->key] : key,
               money(p->revenue_milli, a), (long long)p->days_with_sales,
               avg(p->revenue_milli, p->days_with_sales, b),
               avg(p->revenue_milli, p->calendar_days, c));
    }
}

static void text_ranking(const sf_bi_result *r)
{
    text_buf a, b;
    for (size_t i = 0; i < r->nitems; i++) {
        const sf_bi_item *it = &r->items[i];
        const char *t = sf_bi_item_text(r, it);
        if (r->q.question == SF_BI_TOP_PRODUCTS)
            printf("%-11s %3u  %-12s %-36.36s %10s %16s\n", it->period, it->rank, it->key, t,
                   count(it->units, a), money(it->revenue_milli, b));
        else if (r->q.question == SF_BI_TOP_CUSTOMERS)
            printf("%-11s %3u  %-8d %-22.22s %16s %6lld invoices\n", it->period, it->rank,
                   (int)it->customer_id, t, money(it->revenue_milli, a), (long long)it->invoices);
        else
            printf("%-11s %3u  %-9s %-8s %s %16s\n", it->period, it->rank, it->key,
                   it->customer_id == SF_NO_CUSTOMER ? "-" : count(it->customer_id, b), it->date,
                   money(it->revenue_milli, a));
    }
}

/* CSV: one table per section, each with its own header line. */
static void csv_section(const section *s, const sf_bi_result *r)
{
    if (r->q.question == SF_BI_SALES) {
        printf("table,period,revenue,units,lines,invoices,customers\n");
        for (size_t i = 0; i < r->nbuckets; i++) {
            const sf_bi_bucket *k = &r->buckets[i];
            char m[SF_MONEY_TEXT_MAX];
            text_buf u;
            sf_format_milli(k->revenue_milli, false, m);
            printf("%s,%s,%s,%s,%lld,%lld,%lld\n", s->name, k->period, m, plain(k->units, u),
                   (long long)k->lines, (long long)k->invoices, (long long)k->customers);
        }
        return;
    }
    if (r->q.question == SF_BI_PROFILE) {
        printf("table,key,revenue,units,lines,days_with_sales,calendar_days\n");
        for (int i = 0; i < r->nprofile; i++) {
            const sf_bi_profile_row *p = &r->profile[i];
            char m[SF_MONEY_TEXT_MAX];
            text_buf u;
            sf_format_milli(p->revenue_milli, false, m);
            printf("%s,%d,%s,%s,%lld,%lld,%lld\n", s->name, p->key, m, plain(p->units, u),
                   (long long)p->lines, (long long)p->days_with_sales, (long long)p->calendar_days);
        }
        return;
    }
    printf("table,period,rank,key,customer_id,text,units,revenue,invoices,date\n");
    for (size_t i = 0; i < r->nitems; i++) {
        const sf_bi_item *it = &r->items[i];
        char m[SF_MONEY_TEXT_MAX];
        text_buf u;
        sf_format_milli(it->revenue_milli, false, m);
        const char *t = sf_bi_item_text(r, it);
        printf("%s,%s,%u,\"%s\",", s->name, it->period, it->rank, it->key);
        if (it->customer_id != SF_NO_CUSTOMER)
            printf("%d", (int)it->customer_id);
        printf(",\"");
        for (const char *c = t; *c; c++)
            printf(*c == '"' ? "\"\"" : "%c", *c);
        printf("\",%s,%s,%lld,%s\n", plain(it->units, u), m, (long long)it->invoices, it->date);
    }
}

static void text_section(const section *s, const sf_bi_result *r)
{
    char recs[SF_MONEY_TEXT_MAX];
    uint64_t n = 0;
    for (uint32_t p = 0; p < r->noffsets; p++)
        n += r->offsets[p];
    sf_format_count((int64_t)n, recs);
    printf("%s", s->title);
    if (r->q.question >= SF_BI_TOP_PRODUCTS)
        printf(", top %u per %s", r->q.limit, sf_grain_name(r->q.grain));
    else if (r->q.question == SF_BI_SALES)
        printf(" per %s", sf_grain_name(r->q.grain));
    printf(", %s to %s (warehouse: %s records)\n", r->first[0] ? r->first : "-",
           r->last[0] ? r->last : "-", recs);
    if (r->q.question == SF_BI_SALES)
        text_sales(r);
    else if (r->q.question == SF_BI_PROFILE)
        text_profile(r);
    else
        text_ranking(r);
    printf("\n");
}

/* --at alone, as the rankings take it: its error names --at, not the from
 * and to that sales and the profile are given from it. */
static const char *at_param(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "period") == 0 ? period()
           : strcmp(name, "at") == 0   ? sf_cli_text("at")
                                       : NULL;
}

/* Every section's question, parsed before anything is printed: a bad
 * parameter prints nothing but its error. */
static int parse_all(sf_bi_query q[NSECTIONS], sf_error *err)
{
    sf_bi_query probe;
    int rc = *sf_cli_text("at") ? sf_bi_parse("top-products", at_param, NULL, &probe, err) : 0;
    for (int i = 0; rc == 0 && i < NSECTIONS; i++)
        rc = sf_bi_parse(sections[i].question, param, (void *)&sections[i], &q[i], err);
    return rc;
}

static int report(sf_warehouse *wh, const char *format, sf_error *err)
{
    bool json = strcmp(format, "json") == 0, csv = strcmp(format, "csv") == 0;
    sf_bi_query queries[NSECTIONS];
    int rc = parse_all(queries, err);
    if (rc < 0)
        return rc;
    if (json)
        printf("{");
    for (int i = 0; i < NSECTIONS; i++) {
        const section *s = &sections[i];
        sf_bi_result r;
        if ((rc = sf_bi_run(wh, &queries[i], &r, err)) < 0) {
            sf_bi_result_free(&r);
            return rc;
        }
        if (json) {
            sf_buf b = SF_BUF_INIT;
            sf_bi_json(&r, NULL, 0, &b);
            printf("%s\"%s\":%.*s", i ? "," : "", s->name, (int)(b.len ? b.len - 1 : 0),
                   b.data ? b.data : "");
            sf_buf_free(&b);
        } else if (csv) {
            if (i)
                printf("\n");
            csv_section(s, &r);
        } else {
            text_section(s, &r);
        }
        sf_bi_result_free(&r);
    }
    if (json)
        printf("}\n");
    return 0;
}

static int run_report(int argc, char **argv)
{
    sf_error err = {0};
    int rc = sf_cli_settings(&sf_cmd_report, settings, NSETTINGS, argc, argv, 0, NULL, NULL);
    if (rc != SF_CLI_GO)
        return rc;
    const char *format = sf_cli_text("format");
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "csv"))
        return sf_cli_usage_error(&sf_cmd_report, "--format: \"%s\" is not text, json or csv",
                                  format);
    char where[4096];
    if (*sf_cli_text("warehouse"))
        snprintf(where, sizeof where, "%s", sf_cli_text("warehouse"));
    else if (snprintf(where, sizeof where, "%s/warehouse.db", sf_cli_text("data")) >=
             (int)sizeof where)
        return sf_cli_usage_error(&sf_cmd_report, "--data: the path is too long");
    sf_warehouse *wh = NULL;
    sf_adapter_settings kv = sf_cli_port_opts("warehouse");
    sf_warehouse_opts wo = {true, kv.extra, kv.nextra};
    rc = sf_warehouse_open(where, &wo, &wh, &err);
    if (rc == 0)
        rc = report(wh, format, &err);
    sf_warehouse_close(wh);
    sf_cli_settings_free();
    if (rc == SF_EINVAL)
        return sf_cli_usage_error(&sf_cmd_report, "%s", err.msg);
    if (rc < 0) {
        fprintf(stderr, "shopflow report: %s\n", err.msg);
        return SF_EXIT_FAIL;
    }
    return SF_EXIT_OK;
}

const sf_command sf_cmd_report = {
    "report",
    "the BI figures (sales, profile, top products/customers/invoices) as tables",
    "usage: shopflow report [--data DIR] [--period day|month|year] [--at PERIOD]\n"
    "                       [--from PERIOD --to PERIOD] [--limit N] [--format text|json|csv]\n"
    "\n"
    "Reads the warehouse (DIR/warehouse.db, or --warehouse postgres://..., loaded by\n"
    "`shopflow sink warehouse`) and prints sales per period (revenue, units, lines, invoices,\n"
    "customers, average invoice value, and the average per period over periods with sales and\n"
    "over calendar periods), revenue by hour of day and by weekday, and the top products (by\n"
    "units and by revenue), customers and invoices of each period. --at names one period (its\n"
    "precision gives the period); --from/--to bound the range, both included. Definitions:\n"
    "docs/metrics.md. The figures are those of the HTTP API's /v1/bi/... routes; --format\n"
    "json prints each route's answer under one key per section.\n",
    run_report,
};
