/*
 * batch.c - one request's rows (see internal.h).
 *
 * The body is NDJSON rather than a JSON array so that cutting rows out of it
 * (the rows a 400 answer named) is removing whole lines, and an index in the
 * server's answer is simply the line's position. A CSV body (replay's
 * --format csv) is the same with a header line kept in front: the server
 * numbers data rows from 0 after the header, as it numbers NDJSON lines. Buffers are allocated once
 * per batch and reused for every request, so the hot path allocates only
 * when a body outgrows its buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/json.h"
#include "replay/internal.h"

/* A guess at a row's size in the body (the bundled data averages ~215
 * bytes as JSON, ~125 as CSV); bodies grow past it when needed. */
#define ROW_GUESS 256

/* Room a row may take: the caller makes sure of it before encoding. */
#define ROW_ROOM (SF_JSON_RECORD_MAX > SF_CSV_RECORD_MAX ? SF_JSON_RECORD_MAX : SF_CSV_RECORD_MAX)

int sf_batch_init(sf_batch *b, uint32_t max, sf_error *err)
{
    return sf_batch_init_as(b, max, false, err);
}

int sf_batch_init_as(sf_batch *b, uint32_t max, bool csv, sf_error *err)
{
    memset(b, 0, sizeof *b);
    b->max = max;
    b->csv = csv;
    b->head = csv ? sizeof SF_CSV_HEADER - 1 : 0;
    b->cap = (size_t)max * ROW_GUESS + b->head + ROW_ROOM + 2;
    b->body = malloc(b->cap);
    b->off = malloc(((size_t)max + 1) * sizeof *b->off);
    b->row = malloc((size_t)max * sizeof *b->row);
    b->line = malloc((size_t)max * sizeof *b->line);
    if (!b->body || !b->off || !b->row || !b->line) {
        sf_batch_free(b);
        return sf_error_set(err, SF_ENOMEM, "out of memory for a batch of %u rows", max);
    }
    sf_batch_clear(b);
    return 0;
}

void sf_batch_free(sf_batch *b)
{
    free(b->body);
    free(b->off);
    free(b->row);
    free(b->line);
    memset(b, 0, sizeof *b);
}

void sf_batch_clear(sf_batch *b)
{
    if (!b->body)
        return;
    if (b->head) /* every body starts with the header line */
        memcpy(b->body, SF_CSV_HEADER, b->head);
    b->len = b->head;
    b->body[b->len] = '\0';
    b->n = 0;
    b->first_due = b->due = 0;
}

int sf_batch_add(sf_batch *b, const sf_record *r, uint64_t row, uint64_t line)
{
    if (b->len + ROW_ROOM + 2 > b->cap) {
        size_t cap = b->cap * 2;
        char *body = realloc(b->body, cap);
        if (!body)
            return SF_ENOMEM;
        b->body = body;
        b->cap = cap;
    }
    int n = b->csv ? sf_csv_encode(r, b->body + b->len, b->cap - b->len)
                   : sf_json_encode(r, b->body + b->len, b->cap - b->len);
    if (n < 0)
        return SF_ENOMEM; /* cannot happen: cap leaves ROW_ROOM */
    b->off[b->n] = (uint32_t)b->len;
    b->row[b->n] = row;
    b->line[b->n] = line;
    b->n++;
    b->len += (size_t)n;
    b->body[b->len++] = '\n';
    b->body[b->len] = '\0';
    return 0;
}

static bool dropped(uint32_t i, const uint32_t *drop, size_t n_drop)
{
    for (size_t k = 0; k < n_drop; k++)
        if (drop[k] == i)
            return true;
    return false;
}

uint32_t sf_batch_drop(sf_batch *b, const uint32_t *drop, size_t n_drop)
{
    uint32_t keep = 0;
    size_t out = b->head; /* the header stays */
    for (uint32_t i = 0; i < b->n; i++) {
        size_t start = b->off[i], end = i + 1 < b->n ? b->off[i + 1] : b->len;
        if (dropped(i, drop, n_drop))
            continue;
        memmove(b->body + out, b->body + start, end - start);
        b->off[keep] = (uint32_t)out;
        b->row[keep] = b->row[i];
        b->line[keep] = b->line[i];
        keep++;
        out += end - start;
    }
    uint32_t removed = b->n - keep;
    b->n = keep;
    b->len = out;
    if (b->cap)
        b->body[out] = '\0';
    return removed;
}
