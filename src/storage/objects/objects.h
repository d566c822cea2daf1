/*
 * objects.h - the object store port (S3's role): named blobs, written whole.
 * The archive sink keeps the stream in it; `import --from-archive` and `log
 * repair` read it back.
 *
 * Adapters (objects.c's table; each a folder under storage/objects/):
 *   file  "file:DIR" or a bare path   objects are files under DIR (file/)
 *   s3    "s3://BUCKET[/PREFIX]"      objects in an S3 bucket (s3/; AWS settings
 *                                     as core/aws.h reads them)
 * The handle is opaque; callers use only the functions below.
 *
 * Exactly-once (DESIGN §3a): an object store has no transactions, so its
 * adapters give the second model, idempotent effects: a put replaces its key
 * whole, and a writer whose names are deterministic (the archive's are its
 * stream positions) rewrites the same bytes under the same key when it
 * replays after a crash. The writer's position is then what the store
 * holds (the archive lists its objects); no adapter may promise more
 * (transactions across objects, a rename, an order between two puts other
 * than put_many's batches).
 *
 * Guarantees every adapter gives:
 *  - put (and each object of put_many) is atomic: a reader sees the old
 *    object, or none, or the whole new one, never part of one;
 *  - put, put_many and del are durable when they return 0;
 *  - putting the same key again replaces the object;
 *  - keys are '/'-separated paths without "..", like S3 keys (an adapter
 *    refuses other keys with SF_EINVAL);
 *  - list sees every object whose put returned, in no particular order.
 * Every call may be made from any thread, one at a time per handle.
 */
#ifndef SF_OBJECTS_H
#define SF_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct sf_objects sf_objects;

typedef struct sf_objects_opts {
    /* Open to look only, making nothing: SF_ENOENT when there is no store
     * (the file adapter: no folder; SF_EINVAL when a file is in its
     * place). For those who only read (status, the archive import, log
     * repair): a store that does not exist is "empty", and looking must
     * not create it. Writing through such a handle is not for them. */
    bool read_only;
    /* Adapter settings as "key=value" strings (borrowed for the open;
     * --objects-opt). The file adapter takes none (SF_EUSAGE). */
    const char *const *extra;
    size_t nextra;
} sf_objects_opts;

/* One object of a put_many: its key and bytes (borrowed for the call), its
 * batch and its chain: every object of a lower batch of its chain is durable
 * before it becomes visible. Objects of different chains are in no order,
 * so an adapter may put a chain's later batches while another chain's
 * earlier ones are still on their way (S3 does: one slow PUT then holds up
 * only its own chain). One chain for all (chain 0): ordered by batch
 * throughout. An adapter may order more than asked (the file adapter orders
 * by batch only, across chains), never less. */
typedef struct sf_object_put {
    const char *key;
    const void *data;
    size_t len;
    unsigned batch;
    unsigned chain;
} sf_object_put;

/* Open the store at location (opts NULL: a writer, no settings). A writer's
 * store is made if absent. SF_EUSAGE for a scheme no adapter has or a
 * setting the adapter does not take. Close with sf_objects_close. */
int sf_objects_open(const char *location, const sf_objects_opts *opts, sf_objects **out,
                    sf_error *err);

/* Put one object (len bytes of data, copied before it returns). */
int sf_objects_put(sf_objects *o, const char *key, const void *data, size_t len, sf_error *err);

/* Put n objects with distinct keys, each atomically; all are durable when
 * it returns 0. Ordered by batch within a chain only: after a crash, objects
 * of one batch of a chain may be visible in any combination (each whole or
 * not at all), but none of them unless all of the lower batches of that
 * chain are. On an error, some may be put. */
int sf_objects_put_many(sf_objects *o, const sf_object_put *puts, size_t n, sf_error *err);

/* The object's bytes into *data (malloc'd: the caller frees it) and *len.
 * SF_ENOENT when there is none. */
int sf_objects_get(sf_objects *o, const char *key, void **data, size_t *len, sf_error *err);

/* Call fn for every key starting with prefix (any order) until fn returns
 * nonzero (then stop, and return 0). key is valid during the call. */
int sf_objects_list(sf_objects *o, const char *prefix, int (*fn)(void *ctx, const char *key),
                    void *ctx, sf_error *err);

/* Remove an object, durably. SF_ENOENT when there is none. */
int sf_objects_del(sf_objects *o, const char *key, sf_error *err);

/* Remove what writers that are gone left behind (the file adapter:
 * temporary files of puts cut short), logging each. For a writer at its
 * start; readers leave the store as it is. */
void sf_objects_clean(sf_objects *o);

/* Close the handle. NULL is fine. */
void sf_objects_close(sf_objects *o);

#endif
