/*
 * import.h - the batch import: whole files into the stream, all or nothing
 * per file, each row at most once.
 *
 * A file is decoded twice. The first pass only validates: one bad row and
 * nothing of the file is appended. The second pass appends in batches, each
 * record with a deterministic event id made of the hash of the file's
 * content (decompressed: gzipping a file does not change its ids) and
 * the row's index ("imp-<32 hex>-<row>"; a record that carries its own
 * event_id keeps it), checked against the event-id window
 * (gateway/dedup.h) that is rebuilt from the log itself. So importing the
 * same file twice loads it once, and an import cut short by a crash is
 * completed, not duplicated, by running it again.
 */
#ifndef SF_IMPORT_H
#define SF_IMPORT_H

#include <stdint.h>

#include "core/decoder.h"
#include "gateway/dedup.h"
#include "stream/stream.h"

struct sf_progress;

typedef struct sf_import_result {
    uint64_t rows;       /* records in the file */
    uint64_t invalid;    /* invalid records (then nothing was imported) */
    uint64_t imported;   /* records appended now */
    uint64_t duplicates; /* records appended by an earlier import */
} sf_import_result;

/*
 * Import the file at path into s. on_error (may be NULL) sees each invalid
 * row of the validating pass. Returns 0; SF_EINVAL when a row is invalid
 * (nothing appended); the decoder's or the stream's error otherwise (rows
 * appended before a stream error stay, and a rerun completes them).
 */
int sf_import_file(sf_stream *s, sf_dedup *d, const char *path, const sf_decode_opts *opts,
                   int (*on_error)(void *ctx, const sf_decode_error *e), void *ctx,
                   struct sf_progress *progress, sf_import_result *res, sf_error *err);

#endif
