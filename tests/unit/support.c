/*
 * support.c - helpers shared by the unit tests (see support.h).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/csv.h"
#include "core/json.h"
#include "storage/store/store.h"
#include "support.h"

void ut_sink_init(ut_sink *s)
{
    memset(s, 0, sizeof *s);
}

void ut_sink_free(ut_sink *s)
{
    free(s->ev);
    s->ev = NULL;
    s->n = s->cap = 0;
}

static ut_event *push(ut_sink *s)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->ev = realloc(s->ev, s->cap * sizeof *s->ev);
        assert_non_null(s->ev);
    }
    ut_event *e = &s->ev[s->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* Count a callback; nonzero when this one is to stop the decoder. */
static int answer(ut_sink *s)
{
    if (s->stop_at && s->calls >= s->stop_at)
        s->called_after_stop = true;
    s->calls++;
    return s->stop_at && s->calls == s->stop_at;
}

static int on_record(void *ctx, const sf_record *r, const sf_decode_pos *pos)
{
    ut_sink *s = ctx;
    ut_event *e = push(s);
    e->rec = *r;
    e->pos = *pos;
    e->field = SF_FIELD_NONE;
    s->nrec++;
    return answer(s);
}

static int on_error(void *ctx, const sf_decode_error *err)
{
    ut_sink *s = ctx;
    ut_event *e = push(s);
    e->is_error = true;
    e->pos = err->pos;
    e->field = err->field;
    e->fatal = err->fatal;
    e->by_index = err->by_index;
    snprintf(e->reason, sizeof e->reason, "%s", err->reason);
    sf_decode_error_format(err, e->msg, sizeof e->msg);
    s->nerr++;
    return answer(s);
}

sf_decode_sink ut_sink_callbacks(ut_sink *s)
{
    sf_decode_sink k = {on_record, on_error, s};
    return k;
}

static const ut_event *nth(const ut_sink *s, size_t i, bool error)
{
    for (size_t k = 0; k < s->n; k++)
        if (s->ev[k].is_error == error && i-- == 0)
            return &s->ev[k];
    fail_msg("no %s number %zu (have %zu records, %zu errors)", error ? "error" : "record", i,
             s->nrec, s->nerr);
    return NULL;
}

const sf_record *ut_rec(const ut_sink *s, size_t i)
{
    return &nth(s, i, false)->rec;
}

const ut_event *ut_rec_event(const ut_sink *s, size_t i)
{
    return nth(s, i, false);
}

const ut_event *ut_err(const ut_sink *s, size_t i)
{
    return nth(s, i, true);
}

/* One decoder of any of the three kinds behind one set of calls. */
typedef struct driver {
    ut_path path;
    sf_decoder *front;
    sf_csv_decoder *csv;
    sf_json_decoder *json;
} driver;

static void driver_new(driver *dv, const ut_cfg *cfg, const sf_decode_sink *k)
{
    sf_error err = {0};
    int rc;
    memset(dv, 0, sizeof *dv);
    dv->path = cfg->path;
    if (cfg->path == UT_CSV) {
        rc = sf_csv_decoder_new(cfg->encoding, k, &dv->csv, &err);
        if (rc == 0)
            sf_csv_set_fast_path(dv->csv, !cfg->slow);
    } else if (cfg->path == UT_JSON) {
        rc = sf_json_decoder_new(k, &dv->json, &err);
    } else {
        sf_decode_opts o = {cfg->format, cfg->encoding};
        rc = sf_decoder_new(&o, k, &dv->front, &err);
    }
    assert_int_equal(rc, 0);
}

static int driver_feed(driver *dv, const char *p, size_t n, sf_error *err)
{
    if (dv->path == UT_CSV)
        return sf_csv_feed(dv->csv, p, n, err);
    if (dv->path == UT_JSON)
        return sf_json_feed(dv->json, p, n, err);
    return sf_decoder_feed(dv->front, p, n, err);
}

static int driver_finish(driver *dv, sf_error *err)
{
    if (dv->path == UT_CSV)
        return sf_csv_finish(dv->csv, err);
    if (dv->path == UT_JSON)
        return sf_json_finish(dv->json, err);
    return sf_decoder_finish(dv->front, err);
}

static void driver_free(driver *dv, sf_decode_stats *stats)
{
    if (dv->path == UT_CSV) {
        sf_csv_stats(dv->csv, stats);
        sf_csv_decoder_free(dv->csv);
    } else if (dv->path == UT_JSON) {
        sf_json_stats(dv->json, stats);
        sf_json_decoder_free(dv->json);
    } else {
        sf_decoder_stats(dv->front, stats);
        sf_decoder_free(dv->front);
    }
}

int ut_decode_cfg(const char *text, size_t len, const ut_cfg *cfg, ut_sink *s)
{
    ut_event *ev = s->ev; /* reuse the buffer of an earlier decode */
    size_t cap = s->cap, stop_at = s->stop_at;
    ut_sink_init(s);
    s->ev = ev;
    s->cap = cap;
    s->stop_at = stop_at;
    sf_decode_sink k = ut_sink_callbacks(s);
    driver dv;
    driver_new(&dv, cfg, &k);
    size_t chunk = cfg->chunk ? cfg->chunk : len;
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0; at += chunk)
        rc = driver_feed(&dv, text + at, len - at < chunk ? len - at : chunk, &s->err);
    if (rc == 0)
        rc = driver_finish(&dv, &s->err);
    driver_free(&dv, &s->stats);
    s->rc = rc;
    return rc;
}

int ut_decode(const char *text, sf_format format, sf_encoding enc, ut_sink *s)
{
    ut_cfg cfg = {UT_FRONT, format, enc, false, 0};
    return ut_decode_cfg(text, strlen(text), &cfg, s);
}

static void assert_same_event(const ut_event *a, const ut_event *b, size_t i)
{
    if (a->is_error != b->is_error || a->pos.line != b->pos.line || a->pos.index != b->pos.index)
        fail_msg("event %zu differs: %s at line %llu / %s at line %llu", i,
                 a->is_error ? a->msg : "record", (unsigned long long)a->pos.line,
                 b->is_error ? b->msg : "record", (unsigned long long)b->pos.line);
    if (!a->is_error) {
        assert_true(sf_record_equal(&a->rec, &b->rec));
        return;
    }
    assert_string_equal(a->msg, b->msg);
    assert_int_equal(a->field, b->field);
    assert_int_equal(a->fatal, b->fatal);
    assert_int_equal(a->by_index, b->by_index);
}

void ut_assert_same(const ut_sink *a, const ut_sink *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++)
        assert_same_event(&a->ev[i], &b->ev[i], i);
    assert_int_equal(a->rc, b->rc);
    if (a->rc)
        assert_string_equal(a->err.msg, b->err.msg);
    assert_int_equal(a->stats.records, b->stats.records);
    assert_int_equal(a->stats.invalid, b->stats.invalid);
    assert_int_equal(a->stats.lines, b->stats.lines);
    assert_int_equal(a->stats.format, b->stats.format);
}

static uint8_t set_text(char *dst, const char *src)
{
    size_t n = strlen(src);
    memcpy(dst, src, n + 1);
    return (uint8_t)n;
}

void ut_make(sf_record *r, const char *invoice, const char *stock, const char *desc,
             int32_t quantity, int64_t date, int64_t price, int32_t customer, const char *country)
{
    sf_record_clear(r);
    r->invoice_no_len = set_text(r->invoice_no, invoice);
    r->stock_code_len = set_text(r->stock_code, stock);
    r->country_len = set_text(r->country, country);
    r->description_len = (uint16_t)strlen(desc);
    memcpy(r->description, desc, r->description_len + 1u);
    r->quantity = quantity;
    r->invoice_date = date;
    r->unit_price = price;
    r->customer_id = customer;
    sf_record_derive(r);
}

void ut_make_numbered(sf_record *r, int i)
{
    char inv[16], stock[16], ev[32];
    snprintf(inv, sizeof inv, "%d", 536000 + i / 5);
    snprintf(stock, sizeof stock, "S%05d", i % 997);
    ut_make(r, inv, stock, "A THING", i % 7 + 1, UT_T0 + i, 1000 + i, 12000 + i % 50,
            "United Kingdom");
    snprintf(ev, sizeof ev, "ev-%d", i);
    memcpy(r->event_id, ev, strlen(ev));
    r->event_id_len = (uint8_t)strlen(ev);
}

void ut_tmpdir(char dir[UT_PATH_MAX])
{
    snprintf(dir, UT_PATH_MAX, "/tmp/shopflow-unit-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void ut_tmpdir_remove(const char *dir)
{
    /* Depth first, so folders (a log's partitions) go after their files. */
    assert_int_equal(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

void ut_join(char out[UT_PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, UT_PATH_MAX, "%s/%s", dir, name);
    assert_true(n > 0 && n < UT_PATH_MAX);
}

void ut_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

void ut_write_gzip(const char *path, const void *data, size_t len, int members)
{
    const char *p = data;
    size_t part = len / (size_t)members;
    for (int m = 0; m < members; m++) {
        size_t n = m == members - 1 ? len - part * (size_t)(members - 1) : part;
        gzFile g = gzopen(path, m == 0 ? "wb" : "ab"); /* "ab" starts a new member */
        assert_non_null(g);
        if (n > 0)
            assert_int_equal(gzwrite(g, p, (unsigned)n), (int)n);
        assert_int_equal(gzclose(g), Z_OK);
        p += n;
    }
}

void ut_assert_chunk_invariant(const char *text, size_t len, const ut_cfg *whole,
                               const ut_cfg *paths, size_t n)
{
    ut_sink ref, s;
    ut_sink_init(&ref);
    ut_sink_init(&s);
    ut_decode_cfg(text, len, whole, &ref);
    for (size_t chunk = 1; chunk <= len; chunk++) {
        for (size_t i = 0; i < n; i++) {
            ut_cfg cfg = paths[i];
            cfg.chunk = chunk;
            ut_decode_cfg(text, len, &cfg, &s);
            if (cfg.path != whole->path)
                s.stats.format = ref.stats.format;
            ut_assert_same(&ref, &s);
        }
    }
    ut_sink_free(&ref);
    ut_sink_free(&s);
}

static int count_header(void *ctx, const char *invoice_no, size_t len, const sf_invoice_header *h)
{
    (void)ctx, (void)invoice_no, (void)len, (void)h;
    return 0;
}

static int count_line(void *ctx, const sf_record *r)
{
    (void)r;
    (*(long *)ctx)++;
    return 0;
}

long ut_history_lines(sf_store *st)
{
    long n = 0;
    sf_error err = {0};
    assert_int_equal(sf_store_each_invoice(st, count_header, count_line, &n, &err), 0);
    return n;
}

int ut_run_per_adapter(const char *group, const struct CMUnitTest *tests, size_t n,
                       const void *rows, size_t row_size, size_t nrows)
{
    struct CMUnitTest *all = calloc(n * nrows, sizeof *all);
    char(*names)[96] = calloc(n * nrows, sizeof *names);
    assert_true(all && names);
    for (size_t r = 0; r < nrows; r++) {
        const void *row = (const char *)rows + r * row_size;
        for (size_t i = 0; i < n; i++) {
            size_t k = r * n + i;
            snprintf(names[k], sizeof names[k], "%s: %s", *(const char *const *)row, tests[i].name);
            all[k] = tests[i];
            all[k].name = names[k];
            all[k].initial_state = (void *)row;
        }
    }
    int rc = _cmocka_run_group_tests(group, all, n * nrows, NULL, NULL);
    free(all);
    free(names);
    return rc;
}

uint64_t ut_off(const sf_pos *p)
{
    uint64_t v = 0;
    if (!sf_pos_u64(p, &v))
        fail_msg("a position wider than 64 bits where an offset was expected");
    return v;
}
