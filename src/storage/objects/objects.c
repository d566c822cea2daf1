/*
 * objects.c - the object store port's front: the adapter table and the
 * wrappers every caller goes through (objects.h).
 */
#include <limits.h>

#include "storage/objects/objects_adapter.h"

extern const sf_objects_ops sf_objects_file_ops;
extern const sf_objects_ops sf_objects_s3_ops;

/* The adapters and their schemes; the first is the default (a bare path). */
static const sf_adapter adapters[] = {
    {{"file"}, &sf_objects_file_ops},
    {{"s3"}, &sf_objects_s3_ops},
};

int sf_objects_open(const char *location, const sf_objects_opts *opts, sf_objects **out,
                    sf_error *err)
{
    static const sf_objects_opts defaults;
    const void *ops;
    sf_location loc;
    int rc = sf_location_pick("objects", adapters, sizeof adapters / sizeof adapters[0], location,
                              &ops, &loc, err);
    return rc < 0 ? rc
                  : ((const sf_objects_ops *)ops)->open(&loc, opts ? opts : &defaults, out, err);
}

int sf_objects_put(sf_objects *o, const char *key, const void *data, size_t len, sf_error *err)
{
    return o->ops->put(o, key, data, len, err);
}

int sf_objects_put_many(sf_objects *o, const sf_object_put *puts, size_t n, sf_error *err)
{
    if (o->ops->put_many)
        return o->ops->put_many(o, puts, n, err);
    unsigned batch = 0; /* one put after another, lowest batch first */
    for (size_t done = 0; done < n; batch++) {
        unsigned next = UINT_MAX;
        for (size_t i = 0; i < n; i++) {
            if (puts[i].batch == batch) {
                int rc = o->ops->put(o, puts[i].key, puts[i].data, puts[i].len, err);
                if (rc < 0)
                    return rc;
                done++;
            } else if (puts[i].batch > batch && puts[i].batch < next) {
                next = puts[i].batch;
            }
        }
        if (next != UINT_MAX)
            batch = next - 1;
    }
    return 0;
}

int sf_objects_get(sf_objects *o, const char *key, void **data, size_t *len, sf_error *err)
{
    return o->ops->get(o, key, data, len, err);
}

int sf_objects_list(sf_objects *o, const char *prefix, int (*fn)(void *ctx, const char *key),
                    void *ctx, sf_error *err)
{
    return o->ops->list(o, prefix, fn, ctx, err);
}

int sf_objects_del(sf_objects *o, const char *key, sf_error *err)
{
    return o->ops->del(o, key, err);
}

void sf_objects_clean(sf_objects *o)
{
    if (o->ops->clean)
        o->ops->clean(o);
}

void sf_objects_close(sf_objects *o)
{
    if (o)
        o->ops->close(o);
}
