/*
 * quarantine.h - entries of the stream that are not records, and what a
 * sink does with them (--on-bad-entry).
 *
 * Every path shopflow itself appends by packs records (core/pack.h), but a
 * stream can hold other bytes: a message another producer wrote to a shared
 * Kafka topic, a record of a newer format. Such an entry used to fail the
 * sink at its offset on every run, forever. Now the runner checks each entry
 * before handing it to the sink, and then either
 *  - stops (the default): the sink commits what came before and stops with
 *    a message naming the partition, the offset, why, and the way out; or
 *  - quarantines: the sink sets the entry aside (partition, offset, reason,
 *    its bytes, the time) in a dead-letter area of its own store, in the
 *    transaction that moves its position past it. So after a crash the entry
 *    is set aside once, never skipped and never twice, exactly like a
 *    record is applied once. The entry is counted and logged, never
 *    dropped in silence.
 *
 * `shopflow quarantine list|show|retry` reads these areas and applies an
 * entry again once it is fixed (cli/cmd_quarantine.c, docs/operations.md).
 */
#ifndef SF_QUARANTINE_H
#define SF_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "sinks/sink.h"

/* One entry set aside, as a sink's store holds it. Pointers are valid
 * during the callback that receives it only. */
typedef struct sf_quarantined {
    uint32_t partition;
    sf_pos pos;          /* its position in the partition */
    const char *reason;  /* why it is not a record */
    const char *at;      /* when it was set aside: "2026-12-05T17:20:30.123Z" (UTC) */
    const uint8_t *data; /* its bytes, as read from the stream */
    size_t len;
} sf_quarantined;

/* The time now as the quarantine records it (UTC, milliseconds). */
#define SF_QUARANTINE_TIME_LEN 24
void sf_quarantine_now(char out[SF_QUARANTINE_TIME_LEN + 1]);

/* The longest reason sf_entry_check writes (with its NUL). */
#define SF_QUARANTINE_REASON_MAX 160

/* Whether e is a record of this shopflow: true and *r filled, or false and
 * why (for people: "format byte 0x7b ('{'), not 1: not a packed record")
 * in why[cap]. */
bool sf_entry_check(const sf_stream_entry *e, sf_record *r, char *why, size_t cap);

/*
 * Apply batch b of partition p through sink, its entries checked first:
 * the runs of records go to the sink's apply, each entry that is not a
 * record is handled as sink->on_bad_entry says. scratch is the caller's
 * (no allocation per entry). Returns 0; or, with stop, SF_ECORRUPT naming
 * the entry and *stopped set; or the sink's error.
 */
int sf_sink_apply_checked(sf_sink *sink, uint32_t p, const sf_stream_batch *b, sf_record *scratch,
                          bool *stopped, sf_error *err);

#endif
