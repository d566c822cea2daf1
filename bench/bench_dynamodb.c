/*
 * bench_dynamodb.c - the ceiling the DynamoDB history store is measured
 * against: a bare libcurl loop of the BatchWriteItem calls that write the
 * same items (bench/dynamodb.sh runs it beside `sink history`).
 *
 *   bench_dynamodb LOG TABLE [IN_FLIGHT]
 *
 * It reads the whole log (LOG: a local log folder) and builds, as the
 * adapter does (dynamodb_int.h's pieces), every line item, one header item
 * per invoice and one customer index item per invoice with a customer, 25
 * to a BatchWriteItem body. Then, timed alone, it sends them over one curl
 * multi handle, IN_FLIGHT (default 16) at once on kept-alive connections,
 * signed by libcurl (CURLOPT_AWS_SIGV4) to AWS_ENDPOINT_URL_DYNAMODB, with
 * nothing else: no retries, no reads, no conditions; unprocessed items are
 * counted, not sent again. It prints the items, requests, wall time, items
 * per second and the CPU (user + sys) of the sending alone per item. The
 * table is made as the adapter makes it (a writer's sf_store_open).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_time.h"
#include "core/pack.h"
#include "storage/store/dynamodb/dynamodb_int.h"
#include "storage/store/store.h"
#include "stream/stream.h"

typedef struct bodies {
    sf_buf *b;
    size_t n, cap, items;
    sf_buf cur;
    unsigned in_cur;
    const char *table;
} bodies;

static void flush_body(bodies *bs)
{
    if (!bs->in_cur)
        return;
    sf_buf_puts(&bs->cur, "]}}");
    if (bs->n == bs->cap) {
        bs->cap = bs->cap ? 2 * bs->cap : 1024;
        bs->b = realloc(bs->b, bs->cap * sizeof *bs->b);
    }
    bs->b[bs->n++] = bs->cur;
    memset(&bs->cur, 0, sizeof bs->cur);
    bs->in_cur = 0;
}

/* Add one PutRequest of attrs (its JSON without braces). */
static void add_item(bodies *bs, const sf_buf *attrs)
{
    if (!bs->in_cur) {
        sf_buf_printf(&bs->cur, "{\"RequestItems\":{\"%s\":[", bs->table);
    } else
        sf_buf_add(&bs->cur, ",", 1);
    sf_buf_puts(&bs->cur, "{\"PutRequest\":{\"Item\":{");
    sf_buf_add(&bs->cur, attrs->data, attrs->len);
    sf_buf_puts(&bs->cur, "}}}");
    bs->items++;
    if (++bs->in_cur == DY_BATCH_WRITE)
        flush_body(bs);
}

typedef struct inv {
    bool open;
    sf_record first;
    uint32_t lines;
    sf_i128 total, units;
    sf_pos through;
    uint32_t p;
} inv;

static void close_invoice(bodies *bs, inv *v, sf_buf *a)
{
    if (!v->open)
        return;
    char pk[DY_KEY_MAX], t[DY_POS_TEXT_MAX], num[SF_MONEY_TEXT_MAX];
    const sf_record *r = &v->first;
    dy_invoice_pk(r->invoice_no, r->invoice_no_len, pk);
    sf_buf_reset(a);
    dy_put_key(a, pk, "#");
    sf_buf_add(a, ",", 1);
    dy_put_n(a, "d", r->invoice_date);
    if (r->customer_id != SF_NO_CUSTOMER) {
        sf_buf_add(a, ",", 1);
        dy_put_n(a, "c", r->customer_id);
    }
    sf_buf_add(a, ",", 1);
    dy_put_n(a, "k", r->kind);
    sf_buf_add(a, ",", 1);
    dy_put_s(a, "co", r->country, r->country_len);
    sf_buf_add(a, ",", 1);
    dy_put_n(a, "n", v->lines);
    sf_buf_add(a, ",", 1);
    dy_put_s(a, "t", num, sf_format_i128(v->total, num));
    sf_buf_add(a, ",", 1);
    dy_put_s(a, "u", num, sf_format_i128(v->units, num));
    sf_buf_add(a, ",", 1);
    dy_put_n(a, "p", v->p);
    sf_buf_add(a, ",", 1);
    dy_put_s(a, "th", t, dy_pos_text(&v->through, t));
    sf_buf_add(a, ",", 1);
    dy_put_n(a, "v", 1);
    add_item(bs, a);
    if (r->customer_id != SF_NO_CUSTOMER) {
        char cpk[32], csk[DY_KEY_MAX];
        snprintf(cpk, sizeof cpk, "CUST#%d", r->customer_id);
        dy_customer_sk(r->invoice_date, r->invoice_no, r->invoice_no_len, csk);
        sf_buf_reset(a);
        dy_put_key(a, cpk, csk);
        add_item(bs, a);
    }
    v->open = false;
}

static int build(const char *log, bodies *bs)
{
    sf_stream *s;
    sf_error err = {0};
    if (sf_stream_open(log, NULL, &s, &err) < 0) {
        fprintf(stderr, "bench_dynamodb: %s\n", err.msg);
        return 1;
    }
    sf_stream_batch b = {0};
    b.buf_cap = 4 << 20;
    b.buf = malloc(b.buf_cap);
    b.cap = 16384;
    b.entries = calloc(b.cap, sizeof *b.entries);
    sf_buf a = SF_BUF_INIT;
    for (uint32_t p = 0; p < sf_stream_partitions(s); p++) {
        inv v = {0};
        sf_pos at = {0};
        for (;;) {
            if (sf_stream_read(s, p, &at, &b, &err) < 0) {
                fprintf(stderr, "bench_dynamodb: %s\n", err.msg);
                return 1;
            }
            if (b.count == 0 && sf_pos_cmp(&b.next, &at) == 0)
                break;
            for (size_t i = 0; i < b.count; i++) {
                sf_record r;
                if (sf_stream_entry_record(&b.entries[i], p, &r, &err) < 0)
                    continue;
                if (v.open && (v.first.invoice_no_len != r.invoice_no_len ||
                               memcmp(v.first.invoice_no, r.invoice_no, r.invoice_no_len) != 0))
                    close_invoice(bs, &v, &a);
                if (!v.open)
                    v = (inv){true, r, 0, 0, 0, {0}, p};
                v.lines++, v.units += r.quantity, v.total += sf_record_amount(&r);
                v.through = b.entries[i].pos;
                char pk[DY_KEY_MAX], sk[DY_KEY_MAX], pt[DY_POS_TEXT_MAX], ot[DY_POS_TEXT_MAX];
                dy_invoice_pk(r.invoice_no, r.invoice_no_len, pk);
                dy_num_text(p, pt);
                dy_pos_text(&b.entries[i].pos, ot);
                snprintf(sk, sizeof sk, "L#%s#%s", pt, ot);
                sf_buf_reset(&a);
                dy_put_key(&a, pk, sk);
                sf_buf_add(&a, ",", 1);
                dy_put_b(&a, "r", b.entries[i].data, b.entries[i].len);
                add_item(bs, &a);
            }
            at = b.next;
        }
        close_invoice(bs, &v, &a);
    }
    flush_body(bs);
    sf_buf_free(&a);
    free(b.buf);
    free(b.entries);
    sf_stream_close(s);
    return 0;
}

typedef struct call {
    CURL *h;
    sf_buf resp;
} call;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    sf_buf_add(ctx, p, size * n);
    return size * n;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

typedef struct sent {
    size_t done, failed, unprocessed;
} sent;

/* Send every body, in_flight at once over one multi handle. */
static void send_all(const bodies *bs, const char *endpoint, const char *sigv4, const char *userpwd,
                     unsigned in_flight, sent *out)
{
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.0");
    hdr = curl_slist_append(hdr, "X-Amz-Target: DynamoDB_20120810.BatchWriteItem");
    CURLM *m = curl_multi_init();
    call *calls = calloc(in_flight, sizeof *calls);
    size_t next = 0;
    unsigned busy = 0;
    for (unsigned i = 0; i < in_flight; i++) {
        calls[i].h = curl_easy_init();
        curl_easy_setopt(calls[i].h, CURLOPT_URL, endpoint);
        curl_easy_setopt(calls[i].h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(calls[i].h, CURLOPT_AWS_SIGV4, sigv4);
        curl_easy_setopt(calls[i].h, CURLOPT_USERPWD, userpwd);
        curl_easy_setopt(calls[i].h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(calls[i].h, CURLOPT_WRITEDATA, &calls[i].resp);
        curl_easy_setopt(calls[i].h, CURLOPT_PRIVATE, &calls[i]);
        if (next < bs->n) {
            curl_easy_setopt(calls[i].h, CURLOPT_POSTFIELDS, bs->b[next].data);
            curl_easy_setopt(calls[i].h, CURLOPT_POSTFIELDSIZE, (long)bs->b[next++].len);
            curl_multi_add_handle(m, calls[i].h);
            busy++;
        }
    }
    while (busy > 0) {
        int running, left;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left))) {
            call *c;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result != CURLE_OK || code != 200)
                out->failed++;
            else if (c->resp.data && !strstr(c->resp.data, "\"UnprocessedItems\":{}"))
                out->unprocessed++;
            sf_buf_reset(&c->resp);
            curl_multi_remove_handle(m, c->h);
            out->done++, busy--;
            if (next < bs->n) {
                curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, bs->b[next].data);
                curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)bs->b[next++].len);
                curl_multi_add_handle(m, c->h);
                busy++;
            }
        }
        if (busy)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    for (unsigned i = 0; i < in_flight; i++) {
        curl_easy_cleanup(calls[i].h);
        sf_buf_free(&calls[i].resp);
    }
    free(calls);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_dynamodb LOG TABLE [IN_FLIGHT]\n");
        return 2;
    }
    const char *endpoint = getenv("AWS_ENDPOINT_URL_DYNAMODB"), *key = getenv("AWS_ACCESS_KEY_ID"),
               *secret = getenv("AWS_SECRET_ACCESS_KEY"), *region = getenv("AWS_REGION");
    if (!endpoint || !key || !secret || !region) {
        fprintf(stderr, "bench_dynamodb: set AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION and the keys\n");
        return 2;
    }
    unsigned in_flight = argc > 3 ? (unsigned)atoi(argv[3]) : 16;
    char loc[DY_TABLE_MAX + 16];
    snprintf(loc, sizeof loc, "dynamodb://%s", argv[2]);
    sf_store *st;
    sf_error err = {0};
    if (sf_store_open(loc, NULL, &st, &err) < 0) { /* the table, made as the adapter makes it */
        fprintf(stderr, "bench_dynamodb: %s\n", err.msg);
        return 1;
    }
    sf_store_close(st);
    bodies bs = {.table = argv[2]};
    if (build(argv[1], &bs))
        return 1;
    char sigv4[128], userpwd[512];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:dynamodb", region);
    snprintf(userpwd, sizeof userpwd, "%s:%s", key, secret);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sent n = {0};
    double t0 = bench_now(), c0 = cpu_now();
    send_all(&bs, endpoint, sigv4, userpwd, in_flight, &n);
    double wall = bench_now() - t0, cpu = cpu_now() - c0;
    printf("bare libcurl: %zu items in %zu BatchWriteItem requests (%u in flight): %.2f s wall, "
           "%.0f items/s, CPU %.2f s (%.1f us/item); %zu requests failed, %zu left items "
           "unprocessed\n",
           bs.items, n.done, in_flight, wall, bs.items / wall, cpu, cpu / bs.items * 1e6, n.failed,
           n.unprocessed);
    for (size_t i = 0; i < bs.n; i++)
        sf_buf_free(&bs.b[i]);
    free(bs.b);
    return n.failed ? 1 : 0;
}
