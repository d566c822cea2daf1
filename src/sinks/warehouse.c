/*
 * warehouse.c - the warehouse sink: the stream into the analytics warehouse
 * (storage/warehouse/warehouse.h), whose load stores each batch with the
 * partition's new position in one transaction.
 */
#include <stdlib.h>

#include "sinks/sink.h"
#include "storage/warehouse/warehouse.h"

typedef struct wh_sink {
    sf_sink base;
    sf_warehouse *wh;
} wh_sink;

static int wh_resume(sf_sink *s, uint64_t *next, uint32_t nparts, sf_error *err)
{
    sf_warehouse *w = ((wh_sink *)s)->wh;
    return w->ops->positions(w, next, nparts, err);
}

static int wh_apply(sf_sink *s, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    sf_warehouse *w = ((wh_sink *)s)->wh;
    return w->ops->load(w, p, b, err);
}

static int wh_flush(sf_sink *s, bool all, sf_error *err)
{
    (void)s, (void)all, (void)err;
    return 0; /* every batch is committed as it is loaded */
}

static void wh_close_sink(sf_sink *s)
{
    free(s);
}

static const sf_sink_ops warehouse_ops = {
    .name = "warehouse",
    .resume = wh_resume,
    .apply = wh_apply,
    .flush = wh_flush,
    .close = wh_close_sink,
};

int sf_warehouse_sink_new(sf_warehouse *wh, sf_sink **out, sf_error *err)
{
    wh_sink *s = calloc(1, sizeof *s);
    if (!s)
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    s->base.ops = &warehouse_ops;
    s->wh = wh;
    *out = &s->base;
    return 0;
}
