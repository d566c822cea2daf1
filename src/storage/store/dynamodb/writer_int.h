/*
 * writer_int.h - (internal) the DynamoDB store's open unit of work, shared
 * by writer.c (apply, set aside, retry: what goes into it) and commit.c
 * (what commit writes, in which order).
 */
#ifndef SF_STORE_DYNAMODB_WRITER_INT_H
#define SF_STORE_DYNAMODB_WRITER_INT_H

#include "core/pack.h"
#include "storage/store/dynamodb/dynamodb_int.h"

typedef struct u_invoice {
    char no[SF_INVOICE_NO_MAX + 1];
    uint8_t len;
    uint32_t partition;
    sf_invoice_header first; /* from its first line in the unit; lines 0 */
    size_t line0, nlines;    /* its lines: lines[line0..] chained by next */
    size_t last;
    bool found; /* a stored header was read */
    dy_header stored;
    sf_buf rt; /* the stored rt list's elements, JSON */
    sf_buf pt; /* the stored pt list's elements, JSON, and those commit adds */
} u_invoice;

typedef struct u_line {
    uint32_t p;
    sf_pos pos;
    int64_t amount;
    int32_t qty;
    size_t next; /* the invoice's next line, or SIZE_MAX */
} u_line;

typedef struct u_retry {
    uint32_t p;
    sf_pos pos;
    size_t len;
    uint8_t data[SF_PACK_MAX];
} u_retry;

typedef struct u_part {
    bool in_unit; /* the unit moves its position */
    sf_pos next;
} u_part;

struct dy_unit {
    dy_writes *writes;
    u_invoice *inv;
    size_t ninv, cap_inv;
    uint32_t *slots; /* invoice index + 1 by hash; 0: empty */
    size_t nslots;
    u_line *lines;
    size_t nlines, cap_lines;
    u_retry *retries;
    size_t nretries;
    u_part *parts;
    uint32_t nparts;
};

/* The sort keys of a line ('L' from the stream, 'R' retried) and of an
 * entry set aside, into out. */
void dy_line_sk(uint32_t p, const sf_pos *pos, char lead, char out[DY_KEY_MAX]);
void dy_quarantine_sk(uint32_t p, const sf_pos *pos, char out[DY_KEY_MAX]);

/* The unit's invoice invoice_no[0..len), or NULL. */
u_invoice *dy_unit_find(dy_unit *u, const char *invoice_no, size_t len);

/* rc, after rolling the unit back when it is a failure. */
int dy_ended(dynamo *d, int rc);

#endif
