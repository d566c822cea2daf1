/*
 * ledger.h - the ledger of imported files: which rows of which file the
 * log holds, so that importing a file again loads only the rows it lacks,
 * however much was appended in between.
 *
 * Import names each row "imp-<content hash>-<row>" and each record rebuilt
 * from the archive without an id "arc-<partition>-<offset>", or, from an
 * object of a stream of wide positions, "arc-<partition>-<hash>-<index>"
 * (import.h). The ledger keeps, per key (the hash, the archive's partition,
 * or the partition and an object's hash), the rows
 * the log holds as ranges: a whole file is one range, an import cut short
 * a few. So it stays small however many rows it covers, unlike the
 * gateway's event-id window (stream/dedup.h), which holds each id and so
 * only the most recent ones.
 *
 * The log is the truth and the ledger a summary of it that can always be
 * made again: it records up to which position of each partition it has
 * read (a stream position, core/pos.h: an offset of the local log or
 * Kafka, a sequence number of Kinesis; the row ranges are of the file, not
 * of the stream), with a fingerprint of the entry before it, to tell the
 * log it was read from; on open it reads the log from there to the end and
 * adds every id of its forms it finds, whoever appended it (import, or
 * replay over HTTP, which sends import's ids). A crash between an append
 * and a ledger write therefore loses nothing. A ledger missing, damaged,
 * or made from another log is rebuilt by reading the whole log (with a log
 * line saying why; on Kinesis, the records the stream still retains). It
 * is written (temp file, fsync, rename, folder fsync) by the importer after
 * its appends, never by the gateway.
 *
 * Where: DIR/imports/log.ledger for the data folder's own log, and
 * DIR/imports/<xxh64 of the --stream value>.ledger for another stream (a Kafka
 * topic, a Kinesis stream): the data folder is where an importer of either kind has a place
 * to write, and the log's own folder stays the log adapter's. One importer
 * at a time per ledger (flock on FILE.lock). The format is in
 * docs/operations.md ("The import ledger").
 */
#ifndef SF_LEDGER_H
#define SF_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "stream/stream.h"

typedef enum sf_ledger_kind {
    SF_LEDGER_FILE = 1,    /* imp-<32 hex>-<row> */
    SF_LEDGER_ARCHIVE = 2, /* arc-<partition>-<offset> */
    SF_LEDGER_RUN = 3,     /* arc-<partition>-<32 hex>-<index>: a record of a run (below) */
} sf_ledger_kind;

/* An id without its row. Zero it before filling (compared as bytes).
 * RUN: a record without an id of its own in an archive object of a stream
 * of wide positions (sinks/archive_name.h: a run FIRST-LAST, whose records'
 * own positions are not kept): hi, lo are XXH3-128 of FIRST in decimal, the
 * row is the record's index in the object. The hash, because FIRST may have
 * 129 digits and an event id at most SF_EVENT_ID_MAX bytes. */
typedef struct sf_ledger_key {
    uint64_t hi, lo; /* FILE: the content hash (hex digits 1-16, 17-32); ARCHIVE: 0, partition;
                        RUN: the hash of FIRST */
    uint32_t kind;
    uint32_t part; /* RUN: the partition; else 0 */
} sf_ledger_key;

/* Whether id is of a ledger form, exactly as import writes it (lowercase
 * hex, decimal without leading zeros): then *key and *row. */
bool sf_ledger_parse_id(const char *id, size_t len, sf_ledger_key *key, uint64_t *row);

/* The key of a file's ids from its content hash (32 hex digits). */
int sf_ledger_file_key(const char *hash, sf_ledger_key *key);

/* The key of the records of the run of partition p that starts at first. */
void sf_ledger_run_key(uint32_t p, const sf_pos *first, sf_ledger_key *key);

/* The id prefix of key ("imp-<hash>-", "arc-<P>-", "arc-<P>-<hash>-") into
 * out (>= 64 bytes). */
void sf_ledger_key_prefix(const sf_ledger_key *key, char *out, size_t cap);

typedef struct sf_ledger sf_ledger;

/* ---- the ledger in memory (ledger.c) ---- */

/* An empty ledger of a stream of `partitions` partitions (location is only
 * noted in its file). Free with sf_ledger_free. */
int sf_ledger_new(uint32_t partitions, const char *location, sf_ledger **out, sf_error *err);
void sf_ledger_free(sf_ledger *l);

/* Rows [first, last] of key are in the log. */
int sf_ledger_add(sf_ledger *l, const sf_ledger_key *key, uint64_t first, uint64_t last,
                  sf_error *err);

/* How many rows of [first, last] of key the ledger holds (also those
 * reserved, not yet settled). */
uint64_t sf_ledger_count(sf_ledger *l, const sf_ledger_key *key, uint64_t first, uint64_t last);

/* Keys, and ranges over all keys (settled). */
size_t sf_ledger_keys(const sf_ledger *l);
size_t sf_ledger_ranges(const sf_ledger *l);

/* Where each partition has been read to (the position a read goes on
 * from), and the fingerprint of the entry before it (XXH3-64 of its bytes;
 * 0 when the position is 0, or no entry is just before it). */
uint32_t sf_ledger_partitions(const sf_ledger *l);
void sf_ledger_position(const sf_ledger *l, uint32_t partition, sf_pos *end, uint64_t *print);
void sf_ledger_set_position(sf_ledger *l, uint32_t partition, const sf_pos *end, uint64_t print);

/* The file: written atomically; read back exactly, or SF_ENOENT (none),
 * SF_EFORMAT (damaged: the message says where) or SF_EIO. */
int sf_ledger_write(const sf_ledger *l, const char *path, sf_error *err);
int sf_ledger_read(const char *path, sf_ledger **out, sf_error *err);

/* Add the ids of entries [0, n), as read from the log, to the ledger. */
int sf_ledger_add_entries(sf_ledger *l, const sf_stream_entry *e, size_t n, sf_error *err);

/* ---- an import's side: reserve, then settle (ledger.c) ---- */

/* The place of a key in l, made if new, into *h: a handle for
 * sf_ledger_reserve, valid while l lives. 0, or SF_ENOMEM. */
int sf_ledger_handle(sf_ledger *l, const sf_ledger_key *key, size_t *h, sf_error *err);

/* Row of the key at handle h: *reserved is true when the log lacks it (it
 * is now reserved: a second call answers false), false when the log holds
 * it or it is reserved already. 0, or SF_ENOMEM. */
int sf_ledger_reserve(sf_ledger *l, size_t h, uint64_t row, bool *reserved, sf_error *err);

/* From the stream's callback (any thread): an append of n packed records
 * (data, lens: as given to the stream) is durable at these partitions and
 * positions; `reserved` of them were rows reserved in l. */
void sf_ledger_landed(sf_ledger *l, const uint8_t *data, const uint32_t *lens,
                      const uint32_t *parts, const sf_pos *positions, size_t n, size_t reserved);

/* ---- with the log and the file (ledger_log.c) ---- */

/* The ledger's file for a data folder and a stream (NULL or "": the data
 * folder's own log) into out. */
void sf_ledger_path(const char *data_dir, const char *stream, char *out, size_t cap);

typedef struct sf_ledger_opened {
    bool rebuilt;                       /* read from the whole log */
    char reason[SF_ERROR_MSG_MAX + 64]; /* why, when rebuilt */
    uint64_t records_read;              /* entries of the log read on open */
    double seconds;
} sf_ledger_opened;

/*
 * Open the ledger at path for the stream s (location: its name, noted in
 * the file): lock it (SF_EBUSY if another importer holds it), read it, and
 * read the log past it; rebuild it from the whole log when it is missing,
 * damaged or not s's (logged, with a progress line on a terminal). *info
 * (may be NULL) says what was done.
 */
int sf_ledger_open(const char *path, const char *location, sf_stream *s, sf_ledger **out,
                   sf_ledger_opened *info, sf_error *err);

/*
 * After the appends (every callback has run): make the reserved rows that
 * landed part of the ledger, and write its file. When every reserved row
 * landed and, in each partition, the appends took exactly the offsets from
 * the ledger's position on, that is bookkeeping: the ledger moves to just
 * past them (records someone else appended after them are read at the next
 * open). Otherwise (an append failed, another writer's records are among
 * them, or the positions skip, as Kinesis's do, so that they cannot tell
 * whether another writer's records are among them) the log past the
 * ledger's positions is read instead. Either way the file then says what
 * the log holds up to its positions.
 */
int sf_ledger_save(sf_ledger *l, sf_stream *s, sf_error *err);

/* Free l and release its lock (without writing: sf_ledger_save does). */
void sf_ledger_close(sf_ledger *l);

#endif
