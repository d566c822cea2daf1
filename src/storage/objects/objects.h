/*
 * objects.h - the object store port (S3's role): named blobs, written whole.
 *
 * Guarantees every adapter gives: put (and each object of put_many) is
 * atomic (a reader sees the old object, or none, or the whole new one, never
 * part of one) and durable when it returns; putting the same key again replaces the object. Keys
 * are
 * '/'-separated paths without "..", like S3 keys.
 *
 * Adapters: "file:DIR" (or a bare path; objects are files under DIR).
 */
#ifndef SF_OBJECTS_H
#define SF_OBJECTS_H

#include <stddef.h>

#include "core/error.h"

typedef struct sf_objects sf_objects;

/* One object of a put_many: its key and bytes (borrowed for the call), and
 * its batch: every object of a lower batch is durable before any object of
 * a higher batch becomes visible. */
typedef struct sf_object_put {
    const char *key;
    const void *data;
    size_t len;
    unsigned batch;
} sf_object_put;

typedef struct sf_objects_ops {
    const char *scheme;
    int (*open)(const char *location, sf_objects **out, sf_error *err);
    int (*put)(sf_objects *o, const char *key, const void *data, size_t len, sf_error *err);
    /* *data is malloc'd; the caller frees it. SF_ENOENT when there is none. */
    int (*get)(sf_objects *o, const char *key, void **data, size_t *len, sf_error *err);
    /* Calls fn for every key starting with prefix (any order); fn returns
     * nonzero to stop. */
    int (*list)(sf_objects *o, const char *prefix, int (*fn)(void *ctx, const char *key), void *ctx,
                sf_error *err);
    void (*close)(sf_objects *o);
    /* Put n objects with distinct keys, each atomically; all are durable
     * when it returns 0. Ordered by batch only: after a crash, objects of
     * one batch may be visible in any combination (each whole or not at
     * all), but none of a batch unless all of the lower batches are.
     * Optional: NULL means one put after another in batch order. On an
     * error, some may be put. */
    int (*put_many)(sf_objects *o, const sf_object_put *puts, size_t n, sf_error *err);
    /* Remove an object, durably. SF_ENOENT when there is none. */
    int (*del)(sf_objects *o, const char *key, sf_error *err);
    /* Optional: remove what writers that are gone left behind (the file
     * adapter: temporary files of puts cut short), logging each. For a
     * writer at its start; readers leave the store as it is. */
    void (*clean)(sf_objects *o);
    /* Optional: open for reading only (sf_objects_open_reader). NULL: open
     * makes nothing and says SF_ENOENT when there is no store. */
    int (*open_reader)(const char *location, sf_objects **out, sf_error *err);
} sf_objects_ops;

struct sf_objects {
    const sf_objects_ops *ops;
};

int sf_objects_open(const char *location, sf_objects **out, sf_error *err);

/* Open the store at location to read it, making nothing there: SF_ENOENT
 * when there is no store (the file adapter: no folder; SF_EINVAL when a
 * file is in its place). For those who only look (status, the archive
 * import, log repair): a store that does not exist is "empty", and looking
 * must not create it. Writing through the handle is not for them. */
int sf_objects_open_reader(const char *location, sf_objects **out, sf_error *err);
int sf_objects_put(sf_objects *o, const char *key, const void *data, size_t len, sf_error *err);
int sf_objects_put_many(sf_objects *o, const sf_object_put *puts, size_t n, sf_error *err);
int sf_objects_get(sf_objects *o, const char *key, void **data, size_t *len, sf_error *err);
int sf_objects_list(sf_objects *o, const char *prefix, int (*fn)(void *ctx, const char *key),
                    void *ctx, sf_error *err);
int sf_objects_del(sf_objects *o, const char *key, sf_error *err);
void sf_objects_clean(sf_objects *o);
void sf_objects_close(sf_objects *o);

#endif
