/*
 * archive_name.h - the names of the archive's objects and what a name
 * promises: the archive sink writes them (archive.c), `import
 * --from-archive` and `log repair` read them (import_archive.c,
 * archive_restore.h), `status` lists them.
 *
 *   raw/transactions/dt=YYYY-MM-DD/part-PPPP-FIRST-LAST.ndjson.gz
 *
 * PPPP is the partition, zero-padded to 4 digits; FIRST and LAST are the
 * positions of the object's first and last record, in decimal: zero-padded
 * to 20 digits when they are 64-bit offsets (the names of every archive
 * written before positions were wider: keys sort in stream order), in full
 * otherwise (Kinesis's sequence numbers, 56 digits and up to 129). The
 * object holds one NDJSON line per record, in stream order. What else a
 * name promises depends on LAST:
 *
 *  - LAST below 2^64 (the local log, Kafka): one record per position from
 *    FIRST to LAST, so LAST - FIRST + 1 lines, and FIRST + line index is
 *    each record's position. The sink starts a new object wherever
 *    positions skip (a hole of the local log, a gap of Kafka), so that
 *    holds for every such object it writes.
 *  - LAST of 2^64 or more (a run: Kinesis, whose positions skip between any
 *    two records): every record of the partition from FIRST to LAST, in
 *    order, and no other; how many is the object's line count, and the
 *    positions between FIRST and LAST are not kept. Runs of a partition
 *    never overlap nor interleave: the sink closes a partition's open
 *    object before an entry it sets aside (the quarantine, archive.c) and
 *    wherever a day, the size or the age ends it. That is all any reader
 *    needs: the sink resumes after the highest LAST; `import
 *    --from-archive` appends a partition's runs in order of FIRST and names
 *    a record without an event id by its run and index (arc-P-HASH-INDEX,
 *    ledger.h), never by its own position; `log repair` restores local
 *    logs, whose names stay dense (it reads no run).
 *
 * A record retried out of the quarantine is an object of its own,
 * part-PPPP-POS-POS: one record, at POS, of either kind.
 */
#ifndef SF_ARCHIVE_NAME_H
#define SF_ARCHIVE_NAME_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pos.h"

#define SF_ARCHIVE_PREFIX "raw/transactions/"

/* The longest key an object of the archive has: its prefix and day, the
 * partition, and two positions of up to 129 digits. */
#define SF_ARCHIVE_KEY_MAX 336

/* A position as object names write it (see above) into out. */
void sf_archive_pos_text(const sf_pos *pos, char out[SF_POS_TEXT_MAX]);

/* Whether an object whose last record is at last is a run (see above). */
bool sf_archive_is_run(const sf_pos *last);

/* Whether a record at `at` may follow, in the same object, the record at
 * last: the next position in a dense object, any later one in a run (a
 * position of 64 bits after one wider never is: a new object). */
bool sf_archive_follows(const sf_pos *at, const sf_pos *last);

/* "part-PPPP-FIRST-LAST.ndjson.gz" (the name only, no folder) exactly as
 * the sink writes it, FIRST <= LAST: true, and *part, *first, *last. */
bool sf_archive_name_parse(const char *name, uint32_t *part, sf_pos *first, sf_pos *last);

#endif
