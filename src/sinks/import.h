/*
 * import.h - the batch import: whole files into the stream, all or nothing
 * per file, each row at most once.
 *
 * A file is decoded twice. The first pass only validates: one bad row and
 * nothing of the file is appended. The second pass appends in batches, each
 * record with a deterministic event id made of the hash of the file's
 * content (decompressed: gzipping a file does not change its ids) and
 * the row's index ("imp-<32 hex>-<row>"; a record that carries its own
 * event_id keeps it). A row is appended only if the import ledger
 * (ledger.h: per file, the ranges of rows the log holds, kept with the log
 * and rebuilt from it) lacks it. So importing a file again loads nothing,
 * however much was appended since, and an import cut short by a crash is
 * completed, not duplicated, by running it again.
 *
 * A record that carries an event id of its own is checked against the
 * ledger when its id is of the ledger's forms, and otherwise against the
 * gateway's event-id window (stream/dedup.h), as if it had been posted:
 * that window is made and loaded from the log only when a file first has
 * such a record.
 *
 * The archive's own objects import the same way (import_archive.c), with
 * ids from their place in the archive ("arc-<partition>-<offset>", also in
 * the ledger) instead of a content hash.
 */
#ifndef SF_IMPORT_H
#define SF_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/decoder.h"
#include "core/location.h"
#include "stream/dedup.h"
#include "sinks/ledger.h"
#include "stream/stream.h"

struct sf_progress;

/* Where an import appends, and what it checks rows against. */
typedef struct sf_import_target {
    sf_stream *s;
    sf_ledger *ledger;
    size_t window; /* the event-id window's size for records with ids of their
                    * own (dedup.h: ids in all); 0 = every id of the log */
    sf_dedup *d;   /* that window: made and loaded on first need */
} sf_import_target;

/*
 * Open the stream at location (opts: for a new log) for writing, and the
 * import ledger at ledger_path (sf_ledger_path) for it. SF_EBUSY when a
 * server writes the log or another import holds the ledger, with a message
 * that says so.
 */
int sf_import_open(const char *location, const sf_stream_opts *opts, const char *ledger_path,
                   size_t window, sf_import_target *t, sf_error *err);

/* Save the ledger (after every import: also after a failed one, so that it
 * says what the log holds) and close t's stream, ledger and window. Returns
 * the save's error. A zeroed t is fine. */
int sf_import_close(sf_import_target *t, sf_error *err);

typedef struct sf_import_result {
    uint64_t rows;       /* records in the file */
    uint64_t invalid;    /* invalid records (then nothing was imported) */
    uint64_t imported;   /* records appended now */
    uint64_t duplicates; /* records the log held already (earlier imports) */
    bool input_error;    /* the error was the input's (unreadable, undecodable,
                          * invalid rows), not the stream's */
} sf_import_result;

typedef int (*sf_import_on_error)(void *ctx, const sf_decode_error *e);

/*
 * Import the file at path into t. on_error (may be NULL) sees each invalid
 * row of the validating pass. Returns 0; SF_EINVAL when a row is invalid
 * (nothing appended); the decoder's or the stream's error otherwise (rows
 * appended before a stream error stay, and a rerun completes them).
 * res->input_error says whose error it was.
 */
int sf_import_file(sf_import_target *t, const char *path, const sf_decode_opts *opts,
                   sf_import_on_error on_error, void *ctx, struct sf_progress *progress,
                   sf_import_result *res, sf_error *err);

/* The validating pass alone, over len bytes in memory named name (an
 * archive object: sf_decode_bytes): counting into *st, each invalid row to
 * on_error (may be NULL). 0, SF_EINVAL if a row is invalid, or the
 * decoder's error. */
int sf_import_validate_bytes(const char *name, const void *data, size_t len,
                             const sf_decode_opts *opts, sf_import_on_error on_error, void *ctx,
                             sf_decode_stats *st, sf_error *err);

/*
 * The appending pass, for importers of many files (one appender across
 * them, so small files share batches and their syncs). The caller validated
 * each file first. Free with sf_importer_free, which releases the ids of a
 * batch never appended.
 */
typedef struct sf_importer sf_importer;

int sf_importer_new(sf_import_target *t, sf_importer **out, sf_error *err);

/* Append the records of path the log lacks; a record without an event id
 * gets "<key's prefix><id_base + its index in the file>" (row id_base +
 * index of key in the ledger). Records may stay batched until the next call
 * or sf_importer_flush. */
int sf_importer_add_file(sf_importer *im, const char *path, const sf_decode_opts *opts,
                         const sf_ledger_key *key, uint64_t id_base, struct sf_progress *progress,
                         sf_error *err);

/* The same for an object's bytes in memory (sf_decode_bytes), named name
 * in messages. */
int sf_importer_add_bytes(sf_importer *im, const char *name, const void *data, size_t len,
                          const sf_decode_opts *opts, const sf_ledger_key *key, uint64_t id_base,
                          sf_error *err);

/* Append what is batched. */
int sf_importer_flush(sf_importer *im, sf_error *err);

/* Counts so far: imported (appended) and duplicates. */
void sf_importer_totals(const sf_importer *im, uint64_t *imported, uint64_t *duplicates);

void sf_importer_free(sf_importer *im);

/*
 * Importing the archive (import_archive.c): the archive sink's objects,
 * raw/transactions/dt=DAY/part-P-FIRST-LAST.ndjson.gz, back into a stream,
 * so that a data folder can be rebuilt from its archive alone. The objects
 * are listed and read through the objects port, so any of its adapters
 * holds an archive that can be imported.
 *
 * The objects are imported by partition, then first position: each
 * partition's records in their original order, so a new log with as many
 * partitions gives every record of an archive of offsets its original
 * partition (and, without gaps, its original offset). A Kinesis stream's
 * shards are not partitions of the new log (records are routed by their
 * invoice's hash key there): its records go where the new log puts their
 * invoices, each invoice's lines still in their order. A record keeps its
 * event id; one without gets its place in the archive: "arc-P-OFFSET" in an
 * object of offsets, "arc-P-HASH-INDEX" in a run (an object of wide
 * positions, whose records' own positions are not kept: archive_name.h;
 * HASH is of its FIRST, INDEX the record's line), so a rebuild run twice
 * loads each record once (the ledger knows both import's and these ids; for
 * other ids of their own, give t an unbounded window). All or nothing:
 * every object is validated (each record, and that it holds as many as its
 * name says: LAST - FIRST + 1 of offsets, one for a run whose FIRST is its
 * LAST, two or more for another) before anything is appended.
 */
typedef struct sf_archive_part {
    char *path;      /* owned: where the object is, for messages (its store's location/key) */
    const char *key; /* into path: its key in its store */
    uint32_t store;  /* its store: the set's stores[store] */
    uint32_t partition;
    sf_pos first, last;
    bool run; /* of wide positions: its lines are its records (archive_name.h) */
} sf_archive_part;

struct sf_objects;

typedef struct sf_archive_set {
    sf_archive_part *parts; /* sorted by sf_archive_set_finish */
    size_t n, cap;
    struct sf_objects **stores; /* opened read-only (objects.h), owned */
    uint32_t nstores;
    uint32_t partitions; /* highest partition + 1 */
    uint64_t records;    /* what the names of offsets say they hold (not the runs') */
    size_t runs;         /* objects that are runs: only their content says how many */
    uint64_t missing;    /* offsets before or between objects of offsets that none holds
                            (between runs nothing can tell) */
    char gap[160];       /* the first of them, in words */
    /* Settings for the stores' adapter (--objects-opt): set before the
     * first add, borrowed. */
    sf_adapter_settings objects_opt;
} sf_archive_set;

/* Add the objects at location, each read through the objects port (any
 * adapter: objects.h), opened read-only: an archive object (a location whose
 * last part is named as one: its store is the location above it), an archive
 * (a store holding raw/transactions/), or a data folder's (a store holding
 * one under archive/). SF_ENOENT when nothing is there; SF_EUSAGE for a file
 * not named as an object, or a store without an archive. */
int sf_archive_set_add(sf_archive_set *set, const char *location, sf_error *err);

/* Sort, drop an object given twice, refuse overlapping ones (SF_EFORMAT),
 * count what is missing. */
int sf_archive_set_finish(sf_archive_set *set, sf_error *err);

/* Read part's object whole with its store's get into *data (malloc'd: the
 * caller frees it), *len; decode it with sf_decode_bytes. */
int sf_archive_part_read(const sf_archive_set *set, const sf_archive_part *part, void **data,
                         size_t *len, sf_error *err);

void sf_archive_set_free(sf_archive_set *set);

/* Import every object of set into s. on_error (may be NULL) sees each
 * invalid record with its object's path. Returns 0 or the first error
 * (SF_EINVAL / SF_EFORMAT: the archive's; nothing appended); res as for
 * sf_import_file, over all objects. */
int sf_import_archive(sf_import_target *t, const sf_archive_set *set,
                      int (*on_error)(void *ctx, const char *path, const sf_decode_error *e),
                      void *ctx, struct sf_progress *progress, sf_import_result *res,
                      sf_error *err);

#endif
