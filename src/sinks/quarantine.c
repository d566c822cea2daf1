/*
 * quarantine.c - the runner's check of each entry and the choice between
 * stopping and setting an entry aside (see quarantine.h).
 *
 * The check unpacks each entry once more than the sinks do (they unpack it
 * again to apply it): a few dozen nanoseconds a record against the
 * microseconds a sink spends on it, and the sinks stay as they were: they
 * only ever see runs of records. A batch with no bad entry (every batch,
 * normally) goes to the sink whole.
 */
#define _POSIX_C_SOURCE 200809L /* gmtime_r, clock_gettime */
#include "sinks/quarantine.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/logline.h"
#include "core/pack.h"

int sf_bad_entry_parse(const char *text, sf_bad_entry *out, sf_error *err)
{
    if (strcmp(text, "stop") == 0)
        *out = SF_BAD_ENTRY_STOP;
    else if (strcmp(text, "quarantine") == 0)
        *out = SF_BAD_ENTRY_QUARANTINE;
    else
        return sf_error_set(err, SF_EUSAGE, "on-bad-entry: '%s' is not stop or quarantine", text);
    return 0;
}

void sf_quarantine_now(char out[SF_QUARANTINE_TIME_LEN + 1])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, SF_QUARANTINE_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, SF_QUARANTINE_TIME_LEN + 1 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

bool sf_entry_check(const sf_stream_entry *e, sf_record *r, char *why, size_t cap)
{
    if (sf_record_unpack(e->data, e->len, r) == 0)
        return true;
    const uint8_t *b = e->data;
    if (e->len < SF_PACK_HEADER)
        snprintf(why, cap, "%u bytes, shorter than a packed record's header (%d): not a record",
                 e->len, SF_PACK_HEADER);
    else if (b[0] != SF_PACK_VERSION)
        snprintf(why, cap,
                 "format byte 0x%02x%s%c%s, not %d: not a packed record of this shopflow "
                 "(%u bytes)",
                 b[0], isprint(b[0]) ? " ('" : "", isprint(b[0]) ? b[0] : ' ',
                 isprint(b[0]) ? "')" : "", SF_PACK_VERSION, e->len);
    else if (b[1] > SF_KIND_ADJUSTMENT)
        snprintf(why, cap, "unknown record kind %u (%u bytes)", b[1], e->len);
    else
        snprintf(why, cap,
                 "its field lengths do not add up to its %u bytes, or a text is too long or "
                 "holds a NUL: a damaged or foreign record",
                 e->len);
    return false;
}

/* The bad entry k of b: stop, or set it aside and go on. */
static int bad_entry(sf_sink *sink, uint32_t p, const sf_stream_batch *b, size_t k, const char *why,
                     bool *stopped, sf_error *err)
{
    const sf_stream_entry *e = &b->entries[k];
    const char *name = sf_sink_name(sink);
    char at[SF_POS_TEXT_MAX];
    sf_pos_format(&e->pos, at, sizeof at);
    if (sink->on_bad_entry != SF_BAD_ENTRY_QUARANTINE || !sf_sink_has_quarantine(sink)) {
        *stopped = true;
        return sf_error_set(err, SF_ECORRUPT,
                            "the %s sink stops at partition %u offset %s: %s. Nothing after it "
                            "in partition %u is applied: to set it aside and go on, run the sink "
                            "with --on-bad-entry quarantine, then see it with `shopflow "
                            "quarantine list` (docs/operations.md)",
                            name, p, at, why, p);
    }
    const sf_pos *next = k + 1 < b->count ? &b->entries[k + 1].pos : &b->next;
    int rc = sf_sink_quarantine(sink, p, e, why, next, err);
    if (rc < 0)
        return rc;
    char q[SF_QUARANTINE_REASON_MAX + 64];
    sf_logf(SF_LOG_WARN, "sink_quarantined", "sink=%s partition=%u offset=%s bytes=%u reason=%s",
            name, p, at, e->len, sf_logq(why, q, sizeof q));
    return 0;
}

/* The batch's first entry is set aside: the sink's stores fence that on
 * the entry's own position, but the sink is at the batch's start, which is
 * before it where positions skip (Kinesis's sequence numbers always do; a
 * gap of Kafka). Move the position there first, as past a gap: nothing of
 * the partition lies between. */
static int move_to_first(sf_sink *sink, uint32_t p, const sf_stream_batch *b, sf_error *err)
{
    if (sf_pos_cmp(sf_stream_batch_start(b), &b->entries[0].pos) == 0)
        return 0;
    sf_stream_batch gap = *b;
    gap.count = 0;
    gap.next = b->entries[0].pos;
    memset(&gap.hole, 0, sizeof gap.hole);
    return sf_sink_apply(sink, p, &gap, err);
}

int sf_sink_apply_checked(sf_sink *sink, uint32_t p, const sf_stream_batch *b, sf_record *scratch,
                          bool *stopped, sf_error *err)
{
    char why[SF_QUARANTINE_REASON_MAX];
    if (b->count == 0) /* a hole skipped: the sink stores its position past it */
        return sf_sink_apply(sink, p, b, err);
    for (size_t i = 0; i < b->count;) {
        size_t k = i;
        while (k < b->count && sf_entry_check(&b->entries[k], scratch, why, sizeof why))
            k++;
        if (k > i) { /* the records before it, as a batch of their own */
            sf_stream_batch run = *b;
            run.entries = b->entries + i;
            run.count = k - i;
            if (i > 0)
                run.from = b->entries[i].pos;
            run.next = k < b->count ? b->entries[k].pos : b->next;
            int rc = sf_sink_apply(sink, p, &run, err);
            if (rc < 0)
                return rc;
        }
        if (k == b->count)
            break;
        int rc = k == 0 ? move_to_first(sink, p, b, err) : 0;
        if (rc == 0)
            rc = bad_entry(sink, p, b, k, why, stopped, err);
        if (rc < 0)
            return rc;
        i = k + 1;
    }
    return 0;
}
