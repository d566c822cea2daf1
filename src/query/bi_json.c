/*
 * bi_json.c - the JSON form of a BI answer (docs/api.md, "BI").
 *
 * Money is an exact decimal string ("139.12"); averages are rounded to
 * 0.001, halves away from zero, and printed the same way; an average over
 * zero buckets is null. Every answer says how far the warehouse has come
 * (its offsets, and its lag when the stream's end is known).
 */
#include <string.h>

#include "query/bi.h"

/* Fast appends for the per-item loops: a listing of every day renders
 * ~3,000 items (300 KB), and printf was most of the answer's time. */
static void put(sf_buf *b, const char *s)
{
    sf_buf_add(b, s, strlen(s));
}

/* key (,"name":) and v */
static void field_int(sf_buf *b, const char *key, int64_t v)
{
    put(b, key);
    sf_buf_int(b, v);
}

static void field_total(sf_buf *b, const char *key, sf_i128 v)
{
    put(b, key);
    sf_buf_i128(b, v);
}

static void key_or_null(sf_buf *b, const char *name, const char *v)
{
    sf_buf_printf(b, ",\"%s\":", name);
    if (v[0])
        sf_buf_json_string(b, v, strlen(v));
    else
        sf_buf_puts(b, "null");
}

/* x / n as a decimal string, or null when n is 0; x in milli-units. */
static void average(sf_buf *b, const char *key, sf_i128 x, int64_t n)
{
    put(b, key);
    if (n > 0)
        sf_buf_json_milli(b, sf_bi_div_round(x, n));
    else
        sf_buf_puts(b, "null");
}

static void warehouse(sf_buf *b, const sf_bi_result *res, const uint64_t *end, uint32_t nparts)
{
    uint32_t n = end && nparts > res->noffsets ? nparts : res->noffsets;
    uint64_t records = 0, lag = 0;
    sf_buf_puts(b, ",\"warehouse\":{\"offsets\":[");
    for (uint32_t p = 0; p < n; p++) {
        uint64_t at = p < res->noffsets ? res->offsets[p] : 0;
        records += at;
        if (end && p < nparts && end[p] > at)
            lag += end[p] - at;
        sf_buf_printf(b, "%s%llu", p ? "," : "", (unsigned long long)at);
    }
    sf_buf_printf(b, "],\"records\":%llu", (unsigned long long)records);
    if (end)
        sf_buf_printf(b, ",\"lag\":%llu", (unsigned long long)lag);
    sf_buf_puts(b, "}");
}

static void sales(sf_buf *b, const sf_bi_result *res)
{
    sf_i128 rev = 0, units = 0;
    int64_t lines = 0;
    sf_buf_puts(b, ",\"buckets\":[");
    for (size_t i = 0; i < res->nbuckets; i++) {
        const sf_bi_bucket *k = &res->buckets[i];
        rev += k->revenue_milli, units += k->units, lines += k->lines;
        put(b, i ? ",{\"period\":\"" : "{\"period\":\"");
        put(b, k->period);
        put(b, "\",\"revenue\":");
        sf_buf_json_milli(b, k->revenue_milli);
        field_total(b, ",\"units\":", k->units);
        field_int(b, ",\"lines\":", k->lines);
        field_int(b, ",\"invoices\":", k->invoices);
        field_int(b, ",\"customers\":", k->customers);
        average(b, ",\"average_invoice_value\":", k->revenue_milli, k->invoices);
        sf_buf_puts(b, "}");
    }
    sf_buf_puts(b, "],\"totals\":{\"revenue\":");
    sf_buf_json_milli(b, rev);
    field_total(b, ",\"units\":", units);
    field_int(b, ",\"lines\":", lines);
    sf_buf_puts(b, "}");
    int64_t with = (int64_t)res->nbuckets, cal = res->calendar_buckets;
    sf_buf_printf(b, ",\"buckets_with_sales\":%lld,\"calendar_buckets\":%lld", (long long)with,
                  (long long)cal);
    sf_buf_puts(b, ",\"average_per_bucket_with_sales\":{\"divisor\":\"buckets with sales\"");
    average(b, ",\"revenue\":", rev, with);
    average(b, ",\"units\":", units * 1000, with);
    sf_buf_puts(b, "},\"average_per_calendar_bucket\":{\"divisor\":\"calendar buckets\"");
    average(b, ",\"revenue\":", rev, cal);
    average(b, ",\"units\":", units * 1000, cal);
    sf_buf_puts(b, "}");
}

static void profile(sf_buf *b, const sf_bi_result *res)
{
    static const char *const days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                       "Friday", "Saturday", "Sunday"};
    bool weekday = res->q.by_weekday;
    sf_buf_printf(b, ",\"days_with_sales\":%lld,\"calendar_days\":%lld,\"items\":[",
                  (long long)res->days_with_sales, (long long)res->calendar_days);
    for (int i = 0; i < res->nprofile; i++) {
        const sf_bi_profile_row *p = &res->profile[i];
        if (weekday)
            sf_buf_printf(b, "%s{\"weekday\":%d,\"name\":\"%s\"", i ? "," : "", p->key,
                          days[p->key]);
        else
            sf_buf_printf(b, "%s{\"hour\":%d", i ? "," : "", p->key);
        sf_buf_puts(b, ",\"revenue\":");
        sf_buf_json_milli(b, p->revenue_milli);
        field_total(b, ",\"units\":", p->units);
        sf_buf_printf(b, ",\"lines\":%lld,\"days_with_sales\":%lld,\"calendar_days\":%lld",
                      (long long)p->lines, (long long)p->days_with_sales,
                      (long long)p->calendar_days);
        average(b, ",\"average_per_day_with_sales\":", p->revenue_milli, p->days_with_sales);
        average(b, ",\"average_per_calendar_day\":", p->revenue_milli, p->calendar_days);
        sf_buf_puts(b, "}");
    }
    sf_buf_puts(b, "]");
}

static void item(sf_buf *b, const sf_bi_result *res, const sf_bi_item *it)
{
    const char *text = sf_bi_item_text(res, it);
    put(b, "{\"rank\":");
    sf_buf_int(b, it->rank);
    switch (res->q.question) {
    case SF_BI_TOP_PRODUCTS:
        put(b, ",\"stock_code\":");
        sf_buf_json_string(b, it->key, strlen(it->key));
        put(b, ",\"description\":");
        sf_buf_json_string(b, text, strlen(text));
        field_total(b, ",\"units\":", it->units);
        put(b, ",\"revenue\":");
        sf_buf_json_milli(b, it->revenue_milli);
        break;
    case SF_BI_TOP_CUSTOMERS:
        field_int(b, ",\"customer_id\":", it->customer_id);
        put(b, ",\"country\":");
        sf_buf_json_string(b, text, strlen(text));
        put(b, ",\"revenue\":");
        sf_buf_json_milli(b, it->revenue_milli);
        field_int(b, ",\"invoices\":", it->invoices);
        break;
    default:
        put(b, ",\"invoice_no\":");
        sf_buf_json_string(b, it->key, strlen(it->key));
        if (it->customer_id == SF_NO_CUSTOMER)
            put(b, ",\"customer_id\":null");
        else
            field_int(b, ",\"customer_id\":", it->customer_id);
        put(b, ",\"date\":\"");
        put(b, it->date);
        put(b, "\",\"revenue\":");
        sf_buf_json_milli(b, it->revenue_milli);
        break;
    }
    put(b, "}");
}

static void rankings(sf_buf *b, const sf_bi_result *res)
{
    const sf_bi_query *q = &res->q;
    if (q->question == SF_BI_TOP_PRODUCTS)
        sf_buf_printf(b, ",\"by\":\"%s\",\"include_non_products\":%s",
                      q->by_revenue ? "revenue" : "units",
                      q->include_non_products ? "true" : "false");
    else
        sf_buf_puts(b, ",\"by\":\"revenue\"");
    sf_buf_printf(b, ",\"limit\":%u,\"periods\":[", q->limit);
    for (size_t i = 0; i < res->nperiods; i++) {
        const sf_bi_period *p = &res->periods[i];
        put(b, i ? ",{\"period\":\"" : "{\"period\":\"");
        put(b, p->period);
        put(b, "\",\"items\":[");
        for (size_t k = 0; k < p->count; k++) {
            if (k)
                put(b, ",");
            item(b, res, &res->items[p->first + k]);
        }
        put(b, "]}");
    }
    sf_buf_puts(b, "]");
}

void sf_bi_json(const sf_bi_result *res, const uint64_t *stream_end, uint32_t nparts, sf_buf *b)
{
    static const char *const grains[] = {"hour", "day", "month", "year"};
    const sf_bi_query *q = &res->q;
    sf_buf_printf(b, "{\"question\":\"%s\"", sf_bi_question_name(q->question));
    if (q->question == SF_BI_SALES)
        sf_buf_printf(b, ",\"granularity\":\"%s\"", grains[q->grain]);
    else if (q->question == SF_BI_PROFILE)
        sf_buf_printf(b, ",\"by\":\"%s\"", q->by_weekday ? "weekday" : "hour_of_day");
    else
        sf_buf_printf(b, ",\"period\":\"%s\"", grains[q->grain]);
    key_or_null(b, "from", res->first);
    key_or_null(b, "to", res->last);
    warehouse(b, res, stream_end, nparts);
    if (q->question == SF_BI_SALES)
        sales(b, res);
    else if (q->question == SF_BI_PROFILE)
        profile(b, res);
    else
        rankings(b, res);
    sf_buf_puts(b, "}\n");
}
