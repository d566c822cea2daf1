/*
 * open.c - opening a sink by name over its backend (see sink.h), for the
 * commands that run sinks and the ones that report on them; and the calls
 * on a sink that the runner, the service and the commands go through.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sinks/history.h"
#include "sinks/sink.h"
#include "storage/objects/objects.h"
#include "storage/store/store.h"
#include "storage/warehouse/warehouse.h"

const char *const sf_sink_names[SF_SINKS] = {"archive", "history", "warehouse"};

void sf_sink_location(const char *name, const sf_sink_places *at, char *out, size_t cap)
{
    const char *given = strcmp(name, "archive") == 0   ? at->objects
                        : strcmp(name, "history") == 0 ? at->store
                                                       : at->warehouse;
    const char *dflt = strcmp(name, "archive") == 0   ? "archive"
                       : strcmp(name, "history") == 0 ? "history"
                                                      : "warehouse.db";
    if (given && *given)
        snprintf(out, cap, "%s", given);
    else
        snprintf(out, cap, "%s/%s", at->data_dir, dflt);
}

static void close_objects(void *b)
{
    sf_objects_close(b);
}

static void close_store(void *b)
{
    sf_store_close(b);
}

static void close_warehouse(void *b)
{
    sf_warehouse_close(b);
}

int sf_sink_open(const char *name, const sf_sink_places *at, const sf_archive_opts *aopts,
                 bool read_only, sf_sink **out, sf_error *err)
{
    char where[4096];
    sf_sink_location(name, at, where, sizeof where);
    void *backend = NULL;
    void (*close_backend)(void *) = NULL;
    int rc;
    *out = NULL;
    if (strcmp(name, "archive") == 0) {
        sf_objects *o = NULL;
        sf_objects_opts oo = {read_only, at->objects_opt.extra, at->objects_opt.nextra};
        rc = sf_objects_open(where, &oo, &o, err);
        if (rc == 0 && !read_only)
            sf_objects_clean(o); /* what a writer killed before left behind */
        if (rc == 0)
            rc = sf_archive_sink_new(o, aopts, out, err);
        backend = o, close_backend = close_objects;
    } else if (strcmp(name, "history") == 0) {
        sf_store *st = NULL;
        sf_store_opts so = {read_only, at->store_opt.extra, at->store_opt.nextra};
        if ((rc = sf_store_open(where, &so, &st, err)) == 0)
            rc = sf_history_sink_new(st, out, err);
        backend = st, close_backend = close_store;
    } else if (strcmp(name, "warehouse") == 0) {
        sf_warehouse *wh = NULL;
        sf_warehouse_opts wo = {read_only, at->warehouse_opt.extra, at->warehouse_opt.nextra};
        rc = sf_warehouse_open(where, &wo, &wh, err);
        if (rc == 0)
            rc = sf_warehouse_sink_new(wh, out, err);
        backend = wh, close_backend = close_warehouse;
    } else {
        return sf_error_set(err, SF_EUSAGE, "no sink named '%s'", name);
    }
    if (rc < 0) {
        if (backend)
            close_backend(backend);
        return rc;
    }
    (*out)->backend = backend;
    (*out)->close_backend = close_backend;
    return 0;
}

void sf_sink_close(sf_sink *s)
{
    if (!s)
        return;
    void *backend = s->backend;
    void (*close_backend)(void *) = s->close_backend;
    s->ops->close(s);
    if (backend)
        close_backend(backend);
}

const char *sf_sink_name(const sf_sink *s)
{
    return s->ops->name;
}

int sf_sink_resume(sf_sink *s, sf_pos *next, uint32_t nparts, sf_error *err)
{
    return s->ops->resume(s, next, nparts, err);
}

int sf_sink_apply(sf_sink *s, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    return s->ops->apply(s, p, b, err);
}

int sf_sink_flush(sf_sink *s, bool all, sf_error *err)
{
    return s->ops->flush(s, all, err);
}

bool sf_sink_has_quarantine(const sf_sink *s)
{
    return s->ops->quarantine != NULL;
}

int sf_sink_quarantine(sf_sink *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                       const sf_pos *next, sf_error *err)
{
    return s->ops->quarantine(s, p, e, reason, next, err);
}

int sf_sink_quarantined(sf_sink *s, int (*fn)(void *ctx, const struct sf_quarantined *q), void *ctx,
                        sf_error *err)
{
    return s->ops->quarantined(s, fn, ctx, err);
}

int sf_sink_retry(sf_sink *s, uint32_t p, const sf_pos *pos, const sf_record *r, sf_error *err)
{
    return s->ops->retry(s, p, pos, r, err);
}
