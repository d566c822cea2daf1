/*
 * history.c - purchase-history answers from the history store port (see
 * history.h; store.h): the port hands over an invoice's header and lines, or
 * a page of a customer's invoices with their headers, and this file writes
 * them as the API's JSON.
 *
 * A page's cursor names the last invoice listed, by its place in the
 * listing: the hex of its date as 64 bits, big-endian, plus 2^63 (so that
 * cursors sort as their dates do), then of its number's bytes. The next
 * page starts just before it (sf_store_after), so a page never repeats or
 * skips an invoice while new ones arrive. The encoding is the one cursors
 * have always had, so a cursor given before still works.
 */
#include "query/history.h"

#include <stdbool.h>
#include <string.h>

#include "core/bytes.h"
#include "core/timefmt.h"

/* The cursor's date bias: a date's cursor bytes are date + 2^63. */
#define CURSOR_BIAS (UINT64_C(1) << 63)

static void add_date(sf_buf *out, int64_t t)
{
    char text[SF_TIME_TEXT_LEN + 1];
    sf_time_format(t, text);
    sf_buf_json_string(out, text, SF_TIME_TEXT_LEN);
}

/* The fields an invoice shows in the overview and in its details. */
static void add_header(sf_buf *out, const char *invoice_no, size_t len, const sf_invoice_header *h)
{
    sf_buf_puts(out, "{\"invoice_no\":");
    sf_buf_json_string(out, invoice_no, len);
    sf_buf_puts(out, ",\"date\":");
    add_date(out, h->date);
    if (h->customer_id == SF_NO_CUSTOMER) {
        sf_buf_puts(out, ",\"customer_id\":null");
    } else {
        sf_buf_puts(out, ",\"customer_id\":");
        sf_buf_int(out, h->customer_id);
    }
    sf_buf_puts(out, ",\"country\":");
    sf_buf_json_string(out, h->country, h->country_len);
    sf_buf_puts(out, ",\"kind\":\"");
    sf_buf_puts(out, sf_kind_name((sf_kind)h->kind));
    sf_buf_puts(out, "\",\"line_count\":");
    sf_buf_int(out, h->lines);
    sf_buf_puts(out, ",\"units\":");
    sf_buf_i128(out, h->units);
    sf_buf_puts(out, ",\"total\":");
    sf_buf_json_milli(out, h->total);
}

/* What the port's callbacks write into. */
typedef struct lines_ctx {
    sf_buf *out;
    int32_t owner;
    bool started; /* the header is written */
    unsigned n;
} lines_ctx;

static int on_header(void *ctx, const char *invoice_no, size_t len, const sf_invoice_header *h)
{
    lines_ctx *c = ctx;
    if (c->owner != SF_NO_CUSTOMER && h->customer_id != c->owner)
        return SF_EPERM;
    add_header(c->out, invoice_no, len, h);
    sf_buf_puts(c->out, ",\"lines\":[");
    c->started = true;
    return 0;
}

static int add_line(void *ctx, const sf_record *r)
{
    lines_ctx *c = ctx;
    sf_buf_puts(c->out, c->n ? ",{\"line\":" : "{\"line\":");
    sf_buf_int(c->out, c->n + 1);
    sf_buf_puts(c->out, ",\"stock_code\":");
    sf_buf_json_string(c->out, r->stock_code, r->stock_code_len);
    sf_buf_puts(c->out, ",\"description\":");
    sf_buf_json_string(c->out, r->description, r->description_len);
    sf_buf_puts(c->out, ",\"quantity\":");
    sf_buf_int(c->out, r->quantity);
    sf_buf_puts(c->out, ",\"unit_price\":");
    sf_buf_json_milli(c->out, r->unit_price);
    sf_buf_puts(c->out, ",\"amount\":");
    sf_buf_json_milli(c->out, sf_record_amount(r));
    sf_buf_puts(c->out, "}");
    c->n++;
    return 0;
}

int sf_history_invoice_json(sf_store *s, const char *invoice_no, size_t len, int32_t owner,
                            sf_buf *out, sf_error *err)
{
    lines_ctx c = {out, owner, false, 0};
    int rc = sf_store_invoice(s, invoice_no, len, on_header, add_line, &c, err);
    if (c.started)
        sf_buf_puts(out, "]}");
    return rc;
}

typedef struct page_ctx {
    const sf_history_page *q;
    sf_buf *out;
    unsigned n;
    int64_t last_date; /* the last invoice listed */
    size_t last_len;
    char last_no[SF_INVOICE_NO_MAX];
} page_ctx;

/* The page's head, before its first invoice. */
static void add_page_head(sf_buf *out, int32_t customer)
{
    sf_buf_puts(out, "{\"customer_id\":");
    sf_buf_int(out, customer);
    sf_buf_puts(out, ",\"invoices\":[");
}

static int add_invoice(void *ctx, int64_t date, const char *invoice_no, size_t len,
                       const sf_invoice_header *h)
{
    page_ctx *c = ctx;
    if (c->n == 0)
        add_page_head(c->out, c->q->customer);
    else
        sf_buf_puts(c->out, ",");
    add_header(c->out, invoice_no, len, h);
    sf_buf_puts(c->out, "}");
    c->n++;
    c->last_date = date;
    c->last_len = len;
    memcpy(c->last_no, invoice_no, len);
    return 0;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The invoice a cursor names into *after; -1 if it is not a cursor. */
static int parse_cursor(const char *cursor, sf_store_after *after)
{
    uint8_t bytes[SF_HISTORY_CURSOR_MAX / 2];
    size_t n = strlen(cursor);
    if (n % 2 || n < 2 * 9 || n > SF_HISTORY_CURSOR_MAX)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(cursor[2 * i]), lo = hexval(cursor[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    after->set = true;
    after->date = (int64_t)(sf_get_be64(bytes) - CURSOR_BIAS);
    after->len = n / 2 - 8;
    memcpy(after->invoice_no, bytes + 8, after->len);
    return 0;
}

static void add_cursor(sf_buf *out, const page_ctx *c, bool more)
{
    if (!more) {
        sf_buf_puts(out, "],\"next_cursor\":null}");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    uint8_t bytes[8 + SF_INVOICE_NO_MAX];
    sf_put_be64(bytes, (uint64_t)c->last_date + CURSOR_BIAS);
    memcpy(bytes + 8, c->last_no, c->last_len);
    sf_buf_puts(out, "],\"next_cursor\":\"");
    for (size_t i = 0; i < 8 + c->last_len; i++) {
        char two[2] = {hex[bytes[i] >> 4], hex[bytes[i] & 15]};
        sf_buf_add(out, two, 2);
    }
    sf_buf_puts(out, "\"}");
}

int sf_history_customer_json(sf_store *s, const sf_history_page *q, sf_buf *out, sf_error *err)
{
    sf_store_page page = {q->customer, q->from, q->to, q->limit, {0}};
    if (q->cursor && parse_cursor(q->cursor, &page.after) < 0)
        return sf_error_set(err, SF_EINVAL, "cursor: not a cursor this API gave");
    page_ctx c = {q, out, 0, 0, 0, {0}};
    bool more = false;
    int rc = sf_store_customer_invoices(s, &page, add_invoice, &c, &more, err);
    if (rc == SF_ENOENT)
        return sf_error_set(err, SF_ENOENT, "customer %ld has no invoices", (long)q->customer);
    if (c.n == 0)
        add_page_head(out, q->customer);
    add_cursor(out, &c, more);
    return rc;
}
