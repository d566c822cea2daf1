/*
 * batch.c - read batches and the unpacking of their entries (see batch.h).
 */
#include "core/batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/pack.h"

int sf_stream_batch_init(sf_stream_batch *b, size_t max_entries, size_t buf_bytes, sf_error *err)
{
    memset(b, 0, sizeof *b);
    if (buf_bytes < SF_STREAM_ENTRY_MAX)
        buf_bytes = SF_STREAM_ENTRY_MAX; /* one entry always fits */
    if (max_entries == 0)
        max_entries = 1;
    b->buf = malloc(buf_bytes);
    b->entries = calloc(max_entries, sizeof *b->entries);
    if (!b->buf || !b->entries) {
        sf_stream_batch_free(b);
        return sf_error_set(err, SF_ENOMEM, "out of memory for a read batch");
    }
    b->buf_cap = buf_bytes;
    b->cap = max_entries;
    return 0;
}

void sf_stream_batch_free(sf_stream_batch *b)
{
    free(b->buf);
    free(b->entries);
    memset(b, 0, sizeof *b);
}

int sf_stream_entry_record(const sf_stream_entry *e, uint32_t p, sf_record *r, sf_error *err)
{
    if (sf_record_unpack(e->data, e->len, r) < 0) {
        char at[SF_POS_TEXT_MAX];
        sf_pos_format(&e->pos, at, sizeof at);
        return sf_error_set(err, SF_ECORRUPT, "partition %u offset %s: not a record", p, at);
    }
    return 0;
}
