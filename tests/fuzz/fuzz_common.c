/*
 * fuzz_common.c - recording, comparing and checking decoder runs (see
 * fuzz_common.h).
 */
#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/text.h"
#include "core/timefmt.h"

void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nFUZZ CHECK FAILED: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        fz_fail("out of memory");
    return p;
}

/* The canonical JSON of a record, for messages (static buffer). */
static const char *show(const sf_record *r)
{
    static char buf[SF_JSON_RECORD_MAX];
    if (sf_json_encode(r, buf, sizeof buf) < 0)
        return "(record does not encode)";
    return buf;
}

static void show_event(const char *label, const fz_event *e)
{
    fprintf(stderr, "  %s: %s at line %llu index %llu: %s%s\n", label,
            e->is_error ? "error" : "record", (unsigned long long)e->pos.line,
            (unsigned long long)e->pos.index, e->is_error ? e->msg : show(e->rec),
            e->is_error && e->fatal ? " (fatal)" : "");
}

/* ---- runs ------------------------------------------------------------- */

void fz_run_init(fz_run *r, const char *name, const fz_trace *ref, size_t stop_after)
{
    memset(r, 0, sizeof *r);
    r->name = name;
    r->ref = ref;
    r->stop_after = stop_after;
}

void fz_run_free(fz_run *r)
{
    for (size_t i = 0; i < r->trace.n; i++) {
        free(r->trace.ev[i].rec);
        free(r->trace.ev[i].msg);
    }
    free(r->trace.ev);
    memset(&r->trace, 0, sizeof r->trace);
}

/* One event arrives: record it, or compare it with the reference. Returns
 * what the sink returns (non-zero at the stopping event). */
static int arrive(fz_run *r, const fz_event *e)
{
    if (r->stopped)
        fz_fail("%s: the sink was called again after it asked the decoder to stop (event %zu)",
                r->name, r->seen);
    size_t i = r->seen++;
    if (!r->ref) {
        if (r->trace.n == r->trace.cap) {
            r->trace.cap = r->trace.cap ? 2 * r->trace.cap : 64;
            r->trace.ev = realloc(r->trace.ev, r->trace.cap * sizeof *r->trace.ev);
            if (!r->trace.ev)
                fz_fail("out of memory");
        }
        fz_event *k = &r->trace.ev[r->trace.n++];
        *k = *e;
        if (e->is_error) {
            k->msg = strdup(e->msg);
            if (!k->msg)
                fz_fail("out of memory");
        } else {
            k->rec = xmalloc(sizeof *k->rec);
            *k->rec = *e->rec;
        }
    } else {
        if (i >= r->ref->n) {
            fprintf(stderr, "\n%s: event %zu is extra (the reference had %zu events)\n", r->name, i,
                    r->ref->n);
            show_event("this run", e);
            fz_fail("%s: more events than the reference", r->name);
        }
        const fz_event *w = &r->ref->ev[i];
        bool same = e->is_error == w->is_error && e->pos.line == w->pos.line &&
                    e->pos.index == w->pos.index &&
                    (e->is_error ? e->fatal == w->fatal && strcmp(e->msg, w->msg) == 0
                                 : sf_record_equal(e->rec, w->rec));
        if (!same) {
            fprintf(stderr, "\n%s: event %zu differs from the reference\n", r->name, i);
            show_event("reference", w);
            show_event("this run ", e);
            fz_fail("%s: event %zu differs", r->name, i);
        }
    }
    if (r->stop_after && r->seen == r->stop_after) {
        r->stopped = true;
        return 1;
    }
    return 0;
}

static int on_record(void *ctx, const sf_record *rec, const sf_decode_pos *pos)
{
    fz_event e = {false, false, *pos, (sf_record *)rec, NULL};
    return arrive(ctx, &e);
}

static int on_error(void *ctx, const sf_decode_error *err)
{
    char msg[SF_ERROR_MSG_MAX + 64];
    int len = sf_decode_error_format(err, msg, sizeof msg);
    if (len < 0 || (size_t)len >= sizeof msg)
        fz_fail("an error message does not fit %zu bytes", sizeof msg);
    if (strlen(msg) != (size_t)len)
        fz_fail("sf_decode_error_format returned %d for a %zu-byte message", len, strlen(msg));
    fz_event e = {true, err->fatal, err->pos, NULL, msg};
    return arrive(ctx, &e);
}

sf_decode_sink fz_run_sink(fz_run *r)
{
    sf_decode_sink s = {on_record, on_error, r};
    return s;
}

/* One feed or finish returned rc: keep the first failure, and check that
 * every call after a failure returns the same. */
static void returned(fz_run *r, const char *what, int rc, const sf_error *err)
{
    if (rc > 0)
        fz_fail("%s: %s returned %d", r->name, what, rc);
    if (r->trace.rc == 0) {
        if (rc != 0) {
            r->trace.rc = rc;
            if (err->code != rc)
                fz_fail("%s: %s returned %d but its sf_error says %d (%s)", r->name, what, rc,
                        err->code, err->msg);
            snprintf(r->trace.msg, sizeof r->trace.msg, "%s", err->msg);
        }
    } else if (rc != r->trace.rc) {
        fz_fail("%s: %s returned %d after an earlier call had failed with %d", r->name, what, rc,
                r->trace.rc);
    }
}

void fz_drive(fz_run *r, void *dec, const fz_decoder_ops *ops, const char *in, size_t n,
              size_t split, size_t chunk)
{
    sf_error err;
    if (chunk == 0) {
        if (split > n)
            split = n;
        sf_error_clear(&err);
        returned(r, "feed", ops->feed(dec, in, split, &err), &err);
        sf_error_clear(&err);
        returned(r, "feed", ops->feed(dec, in + split, n - split, &err), &err);
    } else {
        for (size_t off = 0; off < n; off += chunk) {
            size_t len = n - off < chunk ? n - off : chunk;
            sf_error_clear(&err);
            returned(r, "feed", ops->feed(dec, in + off, len, &err), &err);
        }
    }
    sf_error_clear(&err);
    returned(r, "finish", ops->finish(dec, &err), &err);
    ops->stats(dec, &r->trace.stats);

    const sf_decode_stats *s = &r->trace.stats;
    if (s->invalid > s->records)
        fz_fail("%s: stats count %llu invalid of %llu records", r->name,
                (unsigned long long)s->invalid, (unsigned long long)s->records);
}

void fz_run_check(const fz_run *r)
{
    const fz_trace *ref = r->ref, *t = &r->trace;
    if (r->stop_after) {
        /* The sink stopped at event stop_after: nothing after it, and feed or
         * finish said SF_ESTOPPED (unless that event was a fatal error,
         * which ends decoding anyway). */
        size_t want = r->stop_after < ref->n ? r->stop_after : ref->n;
        if (r->seen != want)
            fz_fail("%s: %zu events before stopping, expected %zu", r->name, r->seen, want);
        if (r->stop_after <= ref->n) {
            bool fatal = ref->ev[r->stop_after - 1].is_error && ref->ev[r->stop_after - 1].fatal;
            int rc = fatal ? SF_EFORMAT : SF_ESTOPPED;
            if (t->rc != rc)
                fz_fail("%s: returned %d after the sink stopped it, expected %d", r->name, t->rc,
                        rc);
        }
        return;
    }
    if (r->seen != ref->n)
        fz_fail("%s: %zu events, the reference had %zu", r->name, r->seen, ref->n);
    if (t->rc != ref->rc || strcmp(t->msg, ref->msg) != 0)
        fz_fail("%s: returned %d \"%s\", the reference %d \"%s\"", r->name, t->rc, t->msg, ref->rc,
                ref->msg);
    if (t->stats.records != ref->stats.records || t->stats.invalid != ref->stats.invalid ||
        t->stats.lines != ref->stats.lines)
        fz_fail("%s: stats records/invalid/lines %llu/%llu/%llu, the reference %llu/%llu/%llu",
                r->name, (unsigned long long)t->stats.records, (unsigned long long)t->stats.invalid,
                (unsigned long long)t->stats.lines, (unsigned long long)ref->stats.records,
                (unsigned long long)ref->stats.invalid, (unsigned long long)ref->stats.lines);
    size_t nrec = 0, nerr = 0;
    for (size_t i = 0; i < ref->n; i++) {
        if (!ref->ev[i].is_error)
            nrec++;
        else if (!ref->ev[i].fatal)
            nerr++;
    }
    if (t->stats.records != nrec + nerr || t->stats.invalid != nerr)
        fz_fail("%s: stats say %llu records, %llu invalid; the sink saw %zu records, %zu "
                "record errors",
                r->name, (unsigned long long)t->stats.records, (unsigned long long)t->stats.invalid,
                nrec, nerr);
}

static int sf_feed(void *d, const char *buf, size_t len, sf_error *err)
{
    return sf_decoder_feed(d, buf, len, err);
}

static int sf_finish(void *d, sf_error *err)
{
    return sf_decoder_finish(d, err);
}

static void sf_stats(const void *d, sf_decode_stats *out)
{
    sf_decoder_stats(d, out);
}

const fz_decoder_ops fz_sf_decoder_ops = {sf_feed, sf_finish, sf_stats};

/* ---- valid records ---------------------------------------------------- */

static void check_text(const sf_record *r, const char *field, const char *s, size_t len, size_t max,
                       bool required)
{
    if (len > max)
        fz_fail("record %s: %s is %zu bytes, more than %zu", show(r), field, len, max);
    if (s[len] != '\0' || memchr(s, '\0', len))
        fz_fail("record: %s is not a NUL-terminated text of its length %zu", field, len);
    if (!sf_utf8_valid(s, len))
        fz_fail("record %s: %s is not valid UTF-8", show(r), field);
    if (required && len == 0)
        fz_fail("record %s: %s is empty", show(r), field);
}

/* The invariants of record.h. */
static void check_record(const sf_record *r)
{
    check_text(r, "invoice_no", r->invoice_no, r->invoice_no_len, SF_INVOICE_NO_MAX, true);
    check_text(r, "stock_code", r->stock_code, r->stock_code_len, SF_STOCK_CODE_MAX, true);
    check_text(r, "country", r->country, r->country_len, SF_COUNTRY_MAX, true);
    check_text(r, "description", r->description, r->description_len, SF_DESCRIPTION_MAX, false);
    check_text(r, "event_id", r->event_id, r->event_id_len, SF_EVENT_ID_MAX, false);
    int64_t amount;
    if (__builtin_mul_overflow((int64_t)r->quantity, r->unit_price, &amount) ||
        amount > SF_AMOUNT_MAX || amount < -SF_AMOUNT_MAX)
        fz_fail("record %s: the line amount is out of range", show(r));
    if (r->quantity > SF_QUANTITY_MAX || r->quantity < -SF_QUANTITY_MAX ||
        r->unit_price > SF_PRICE_MAX || r->unit_price < -SF_PRICE_MAX)
        fz_fail("record %s: quantity or price beyond its limit", show(r));
    if (r->customer_id <= 0 && r->customer_id != SF_NO_CUSTOMER)
        fz_fail("record %s: customer_id %d", show(r), (int)r->customer_id);
    sf_civil c;
    sf_civil_from_time(r->invoice_date, &c);
    if (c.year < SF_YEAR_MIN || c.year > SF_YEAR_MAX)
        fz_fail("record %s: invoice_date %lld is in year %d", show(r), (long long)r->invoice_date,
                c.year);
    sf_record d = *r;
    sf_record_derive(&d);
    if (d.kind != r->kind || d.flags != r->flags)
        fz_fail("record %s: kind/flags %d/%d, derived %d/%d", show(r), r->kind, r->flags, d.kind,
                d.flags);
}

typedef struct rt_ctx {
    const fz_trace *t;
    size_t next; /* index in t->ev of the record expected next */
    const char *json;
} rt_ctx;

static size_t next_record(const fz_trace *t, size_t i)
{
    while (i < t->n && t->ev[i].is_error)
        i++;
    return i;
}

static int rt_record(void *ctx, const sf_record *rec, const sf_decode_pos *pos)
{
    rt_ctx *c = ctx;
    if (c->next >= c->t->n)
        fz_fail("round trip: an extra record %s", show(rec));
    const sf_record *want = c->t->ev[c->next].rec;
    if (!sf_record_equal(rec, want)) {
        fprintf(stderr, "\nround trip, JSON line %llu:\n  record:  %s\n",
                (unsigned long long)pos->line, show(want));
        fprintf(stderr, "  decoded: %s\n", show(rec));
        fz_fail("round trip through JSON changed a record");
    }
    c->next = next_record(c->t, c->next + 1);
    return 0;
}

static int rt_error(void *ctx, const sf_decode_error *err)
{
    (void)ctx;
    char msg[SF_ERROR_MSG_MAX];
    sf_decode_error_format(err, msg, sizeof msg);
    fz_fail("round trip: decoding the canonical JSON failed: %s", msg);
}

void fz_roundtrip(const fz_trace *t)
{
    size_t cap = 4096, len = 0;
    char *nd = xmalloc(cap);
    char *enc = xmalloc(SF_JSON_RECORD_MAX);
    for (size_t i = 0; i < t->n; i++) {
        if (t->ev[i].is_error)
            continue;
        const sf_record *r = t->ev[i].rec;
        check_record(r);
        int n = sf_json_encode(r, enc, SF_JSON_RECORD_MAX);
        if (n < 0 || (size_t)n >= SF_JSON_RECORD_MAX || enc[n] != '\0' || strlen(enc) != (size_t)n)
            fz_fail("sf_json_encode returned %d at SF_JSON_RECORD_MAX", n);
        /* Exactly n + 1 bytes are enough, n are not; ASan watches the edges. */
        char *exact = xmalloc((size_t)n + 1);
        if (sf_json_encode(r, exact, (size_t)n + 1) != n || memcmp(exact, enc, (size_t)n + 1))
            fz_fail("sf_json_encode differs with an exact-size buffer");
        if (sf_json_encode(r, exact, (size_t)n) != -1)
            fz_fail("sf_json_encode did not refuse a buffer one byte short");
        free(exact);
        if (len + (size_t)n + 1 > cap) {
            while (len + (size_t)n + 1 > cap)
                cap *= 2;
            nd = realloc(nd, cap);
            if (!nd)
                fz_fail("out of memory");
        }
        memcpy(nd + len, enc, (size_t)n);
        len += (size_t)n;
        nd[len++] = '\n';
    }
    free(enc);

    rt_ctx c = {t, next_record(t, 0), nd};
    sf_decode_sink sink = {rt_record, rt_error, &c};
    sf_decode_opts opts = {SF_FORMAT_JSON, SF_ENC_UTF8};
    sf_decoder *d;
    sf_error err;
    if (sf_decoder_new(&opts, &sink, &d, &err) != 0)
        fz_fail("sf_decoder_new: %s", err.msg);
    if (sf_decoder_feed(d, nd, len, &err) != 0 || sf_decoder_finish(d, &err) != 0)
        fz_fail("round trip: %s", err.msg);
    if (c.next != t->n)
        fz_fail("round trip: records are missing after decoding the canonical JSON");
    sf_decoder_free(d);
    free(nd);
}
