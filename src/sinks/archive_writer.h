/*
 * archive_writer.h - (internal to the archive sink) compresses and puts the
 * archive's closed objects in the background, in an order that keeps the
 * sink's position exact.
 *
 * The archive sink's position is the names of its objects: on start it
 * resumes each partition after the highest LAST it finds. That is exact only
 * if no object of a partition is ever visible before the ones before it are
 * durable. Putting objects one by one (two syncs each) gives that but costs
 * a few thousand device syncs for the bundled file; this writer gives it
 * with far fewer:
 *
 *  - closed objects collect in a generation; flush compresses it on every
 *    core and hands it to the writer thread, and the sink goes on reading
 *    (and compressing the next one) while it is written: the writer's time
 *    is spent waiting for the device, so the two overlap. The next flush
 *    waits if the writer is still busy: two generations at most;
 *  - the writer puts a generation with one sf_objects_put_many, numbered in
 *    batches so that each batch holds at most one object of a partition
 *    and, as far as the partitions' days agree, objects of one day only
 *    (one folder, so one folder sync); each partition is a chain of its
 *    own, since only a partition's own objects need an order (S3 then puts
 *    one partition's next object while another's is still on its way);
 *  - generations are put one after the other.
 *
 * A crash loses only objects not yet put, whose records the sink reads again.
 */
#ifndef SF_ARCHIVE_WRITER_H
#define SF_ARCHIVE_WRITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "sinks/archive_name.h"

struct sf_objects;
typedef struct sf_archive_writer sf_archive_writer;

/* A writer putting into objects (borrowed; outlives the writer) at gzip
 * level `level`, for nparts partitions. Starts its thread. The records of
 * each object it puts are added to *committed (may be NULL; atomic: read by
 * other threads) once the object is put. */
int sf_archive_writer_new(struct sf_objects *objects, int level, uint32_t nparts,
                          _Atomic uint64_t *committed, sf_archive_writer **out, sf_error *err);

/*
 * Add a closed object of partition p holding `records` records of `day`
 * (days since the epoch) under key. Its NDJSON is taken over, not copied:
 * the writer frees *text (with *len bytes, *cap allocated) and sets the
 * three to NULL / 0.
 */
int sf_archive_writer_add(sf_archive_writer *w, uint32_t p, int64_t day, uint64_t records,
                          const char *key, char **text, size_t *len, size_t *cap, sf_error *err);

/* Hand what was added since the last flush to the writer thread (waiting
 * for the previous generation first). With wait, return only when all of it
 * is durable. Returns 0, or the error of any earlier put: after one, the
 * sink must be closed and opened again (it resumes from the objects). */
int sf_archive_writer_flush(sf_archive_writer *w, bool wait, sf_error *err);

/* Finish the put under way (not the pending generation), stop the thread,
 * free everything. NULL is fine. */
void sf_archive_writer_free(sf_archive_writer *w);

#endif
