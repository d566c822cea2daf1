/*
 * objects_adapter.h - what an object store adapter fills (the port:
 * objects.h): its ops table, and the first member of its handle. For the
 * port's front (objects.c) and the adapters under storage/objects/ only;
 * everyone else holds an opaque sf_objects.
 *
 * Each operation's contract is the one its sf_objects_* function states in
 * objects.h. The front stands in for the optional ones (NULL): put_many as
 * one put after another in batch order, clean as nothing.
 *
 * To add an adapter (docs/architecture.md, "How to add a backend"): a
 * folder storage/objects/NAME/ whose ops table is
 * `const sf_objects_ops sf_objects_NAME_ops`, one row in objects.c's table
 * with its schemes, and its files in src/CMakeLists.txt.
 */
#ifndef SF_OBJECTS_ADAPTER_H
#define SF_OBJECTS_ADAPTER_H

#include "core/location.h"
#include "storage/objects/objects.h"

typedef struct sf_objects_ops {
    /* loc->rest is what follows the scheme (the whole path when bare);
     * opts is never NULL. */
    int (*open)(const sf_location *loc, const sf_objects_opts *opts, sf_objects **out,
                sf_error *err);
    int (*put)(sf_objects *o, const char *key, const void *data, size_t len, sf_error *err);
    int (*get)(sf_objects *o, const char *key, void **data, size_t *len, sf_error *err);
    int (*list)(sf_objects *o, const char *prefix, int (*fn)(void *ctx, const char *key), void *ctx,
                sf_error *err);
    int (*del)(sf_objects *o, const char *key, sf_error *err);
    void (*close)(sf_objects *o);
    /* Optional (NULL: one put after another, lowest batch first). */
    int (*put_many)(sf_objects *o, const sf_object_put *puts, size_t n, sf_error *err);
    /* Optional (NULL: nothing to clean). */
    void (*clean)(sf_objects *o);
} sf_objects_ops;

/* Every adapter's handle starts with this. */
struct sf_objects {
    const sf_objects_ops *ops;
};

#endif
