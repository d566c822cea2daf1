/*
 * archive_restore.h - the archive's records by their place in the stream:
 * what `shopflow log repair` restores a damaged log from, the archive being
 * the record of truth.
 *
 * An archive object's name says where its records were in the stream
 * (part-P-FIRST-LAST: partition P, positions FIRST to LAST, one NDJSON
 * line each, in order: archive_name.h). For an object of offsets (a local
 * log's, Kafka's) that is one record per offset, so the record at
 * (P, offset) is line offset - FIRST of the object that covers it: the
 * sink starts a new object wherever offsets skip. Repair restores a local
 * log, whose positions are 64-bit offsets: runs (the objects of a stream of
 * wider positions, Kinesis's, which keep no record's own position) are left
 * out, and an archive holding only runs is refused. The objects are found
 * and checked by the archive import's own code (import.h, sf_archive_set);
 * an object is decoded when first asked for, and kept packed until a record
 * of another object is asked for (repair asks in offset order).
 *
 * sf_archive_restore has the shape of stream/local/check.h's
 * sf_log_restore_fn; this layer passes it in, so the stream adapter never
 * knows about sinks.
 */
#ifndef SF_ARCHIVE_RESTORE_H
#define SF_ARCHIVE_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/location.h"

typedef struct sf_archive_restorer sf_archive_restorer;

/*
 * Open the archive at path (an object store holding raw/transactions/, a
 * data folder's holding archive/, or one object: sf_archive_set_add;
 * objects_opt: its adapter's settings, borrowed) for a log of nparts
 * partitions. A store without an archive holds nothing (every
 * record is "not held"); a location where nothing is is an error
 * (SF_ENOENT), so that a mistyped --archive cannot turn records into holes,
 * and so is one of runs only (SF_EUSAGE: a Kinesis stream's archive).
 * Free with sf_archive_restorer_free. *objects (may be NULL) gets the
 * objects found.
 */
int sf_archive_restorer_open(const char *path, const sf_adapter_settings *objects_opt,
                             uint32_t nparts, sf_archive_restorer **out, size_t *objects,
                             sf_error *err);

/* For i in [0, n): the packed record of partition p at offset first + i
 * into out + i * SF_PACK_MAX and its length into lens[i], or 0 when the
 * archive does not hold it. ctx is the restorer. Returns 0, or an error
 * naming the object (unreadable, not as its name says, a record of another
 * partition: not this log's archive). */
int sf_archive_restore(void *ctx, uint32_t p, uint64_t first, size_t n, uint8_t *out,
                       uint32_t *lens, sf_error *err);

void sf_archive_restorer_free(sf_archive_restorer *r);

#endif
