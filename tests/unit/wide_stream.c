/*
 * wide_stream.c - a stream of wide, sparse positions over a local log, for
 * the unit tests (see wide_stream.h). An adapter of the stream port of the
 * tests' own: it fills the ops table of stream_adapter.h and is made by
 * ut_wide_stream, not found by a scheme.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "stream/stream_adapter.h"
#include "support.h"
#include "wide_stream.h"

#define WIDE_LEN   24 /* bytes of every position: 2^184 + 1024 * o */
#define WIDE_SHIFT 10

typedef struct wide {
    sf_stream base;
    sf_stream *inner;
    uint64_t *hidden; /* per partition: reads start no lower */
    uint32_t shown;   /* partitions shown (0: all) */
} wide;

sf_pos ut_parsed(const char *text)
{
    sf_pos p;
    assert_int_equal(sf_pos_parse(text, strlen(text), &p, NULL), 0);
    return p;
}

sf_pos ut_wide_pos(uint64_t o)
{
    sf_pos p = {.len = WIDE_LEN};
    p.b[0] = 1;
    uint64_t v = o << WIDE_SHIFT;
    for (int i = 0; i < 8; i++)
        p.b[WIDE_LEN - 1 - i] = (uint8_t)(v >> (8 * i));
    return p;
}

/* The first offset whose position is at or after p. */
static uint64_t offset_at(const sf_pos *p)
{
    if (p->len < WIDE_LEN)
        return 0;
    bool high = p->len > WIDE_LEN || p->b[0] > 1;
    for (int i = 1; !high && i < WIDE_LEN - 8; i++)
        high = p->b[i] != 0;
    if (high)
        return UINT64_MAX >> WIDE_SHIFT;
    uint64_t v = 0;
    for (int i = WIDE_LEN - 8; i < WIDE_LEN; i++)
        v = v << 8 | p->b[i];
    return (v >> WIDE_SHIFT) + ((v & ((1u << WIDE_SHIFT) - 1)) != 0);
}

/* What an append's callback needs to map its positions. */
typedef struct pending {
    sf_append_done done;
    void *ctx;
    size_t n;
} pending;

static void appended(void *ctx, int status, const uint32_t *parts, const sf_pos *positions,
                     const char *errmsg)
{
    pending *pe = ctx;
    sf_pos *mapped = status == 0 ? calloc(pe->n ? pe->n : 1, sizeof *mapped) : NULL;
    for (size_t i = 0; mapped && i < pe->n; i++)
        mapped[i] = ut_wide_pos(ut_off(&positions[i]));
    pe->done(pe->ctx, status, parts, mapped, errmsg);
    free(mapped);
    free(pe);
}

static int w_append(sf_stream *s, const uint8_t *data, const uint32_t *lens, size_t n,
                    sf_append_done done, void *ctx, sf_error *err)
{
    wide *w = (wide *)s;
    pending *pe = malloc(sizeof *pe);
    assert_non_null(pe);
    *pe = (pending){done, ctx, n};
    int rc = sf_stream_append_packed_async(w->inner, data, lens, n, appended, pe, err);
    if (rc < 0)
        free(pe);
    return rc;
}

static int w_read(sf_stream *s, uint32_t p, const sf_pos *from, sf_stream_batch *b, sf_error *err)
{
    wide *w = (wide *)s;
    uint64_t o = offset_at(from);
    sf_partition_info info;
    int rc = sf_stream_info(w->inner, p, &info, err);
    if (rc < 0)
        return rc;
    if (o < w->hidden[p])
        o = w->hidden[p];
    if (o > ut_off(&info.end)) /* past everything: the local log refuses it, Kinesis gives none */
        o = ut_off(&info.end);
    rc = sf_stream_read(w->inner, p, UT_AT(o), b, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < b->count; i++)
        b->entries[i].pos = ut_wide_pos(ut_off(&b->entries[i].pos));
    b->next = *from;
    if (b->count) {
        b->next = b->entries[b->count - 1].pos;
        sf_pos_add_one(&b->next, NULL);
    }
    return 0;
}

static uint32_t w_partitions(const sf_stream *s)
{
    const wide *w = (const wide *)s;
    uint32_t n = sf_stream_partitions(w->inner);
    return w->shown && w->shown < n ? w->shown : n;
}

static int w_info(sf_stream *s, uint32_t p, sf_partition_info *out, sf_error *err)
{
    wide *w = (wide *)s;
    int rc = sf_stream_info(w->inner, p, out, err);
    uint64_t end = ut_off(&out->end);
    out->start = ut_wide_pos(0);
    out->end = out->start;
    if (end) {
        out->end = ut_wide_pos(end - 1);
        sf_pos_add_one(&out->end, NULL);
    }
    return rc;
}

static int w_lag(sf_stream *s, uint32_t p, const sf_pos *from, sf_lag *out, sf_error *err)
{
    wide *w = (wide *)s;
    return sf_stream_lag(w->inner, p, UT_AT(offset_at(from)), out, err);
}

static int w_tail_start(sf_stream *s, uint32_t p, uint64_t max_records, sf_pos *out, sf_error *err)
{
    wide *w = (wide *)s;
    int rc = sf_stream_tail_start(w->inner, p, max_records, out, err);
    if (rc == 0)
        *out = ut_off(out) ? ut_wide_pos(ut_off(out)) : (sf_pos){0};
    return rc;
}

static void w_stats(sf_stream *s, sf_stream_stats *out)
{
    sf_stream_stats_get(((wide *)s)->inner, out);
}

static void w_close(sf_stream *s)
{
    wide *w = (wide *)s;
    sf_stream_close(w->inner);
    free(w->hidden);
    free(w);
}

static const sf_stream_ops wide_ops = {
    .append_async = w_append,
    .read = w_read,
    .partitions = w_partitions,
    .info = w_info,
    .lag = w_lag,
    .tail_start = w_tail_start,
    .stats = w_stats,
    .close = w_close,
    .end_is_witness = false,
};

sf_stream *ut_wide_stream(sf_stream *inner)
{
    wide *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->base.ops = &wide_ops;
    w->inner = inner;
    w->hidden = calloc(sf_stream_partitions(inner), sizeof *w->hidden);
    assert_non_null(w->hidden);
    return &w->base;
}

void ut_wide_hide(sf_stream *s, uint32_t p, uint64_t below)
{
    ((wide *)s)->hidden[p] = below;
}

void ut_wide_show(sf_stream *s, uint32_t n)
{
    ((wide *)s)->shown = n;
}
