/*
 * store.h - the history store port (DynamoDB's role in the seed design):
 * each invoice with its lines, and each customer's invoices by date, at the
 * level of what the history sink writes and the purchase-history API reads.
 *
 * It is not a generic key-value store: DynamoDB cannot serve one with
 * transactions and ordered scans over the whole key space, and its
 * transactions stop at 100 items. So the port speaks of invoices, lines,
 * pages and positions, and each adapter lays them out as its engine wants
 * (the LMDB adapter's keys: storage/store/lmdb/history_keys.h).
 *
 * Adapters (store.c's table; each a folder under storage/store/):
 *   lmdb      "lmdb:DIR" or a bare path   one LMDB environment (lmdb/)
 *   dynamodb  "dynamodb://TABLE"           one DynamoDB table (dynamodb/,
 *                                          docs/dynamodb.md): the second
 *                                          model below
 * The handle is opaque; callers use only the functions below.
 *
 * ---- Writing: a unit of work, exactly once ----
 * The writer (the history sink) applies batches of the stream into the open
 * unit of work (apply, set_aside, retry: the first one begins it) and makes
 * it durable with commit. Every record's line is kept, identical lines of
 * one invoice included: they are distinct rows of the data, in stream order
 * (an invoice's lines are all in one partition). Each partition's position
 * (where its next batch starts) is stored with the effects, and what an
 * adapter promises about the two is one of the models of DESIGN §3a:
 *  - one transaction holding the effects and the positions (lmdb): commit
 *    makes both durable and visible at once, or neither; a crash, a failed
 *    call or rollback leaves the store as the last commit left it;
 *  - idempotent effects and a checkpoint written last (an adapter without
 *    big transactions, such as DynamoDB): every effect of a record has a
 *    key fixed by the record's partition and position, so writing it again
 *    writes the same thing, and a header's totals say which positions they
 *    count, so a record is never counted twice; commit writes the effects,
 *    then each partition's position, conditional on the position it read
 *    (the fence below). After a crash the effects past a position may be
 *    stored, and are written again, identically, when their batch is.
 * Either way, positions() answers only positions whose effects are all
 * durable, and a sink resuming from them applies each record once.
 *
 * The fence: a batch (or an entry set aside) must start at its partition's
 * stored position. One that does not is refused with SF_ESTALE, by apply
 * or set_aside, or at the latest by commit (an adapter whose fence is the
 * checkpoint's conditional write), and nothing of the open unit of work
 * counts: another member of the sink's group applied those records (a
 * zombie that lost the partition without knowing still writes from where
 * it was). With no position stored yet there is nothing to fence.
 *
 * ---- Reading ----
 * Each read call (invoice, customer_invoices, each_invoice, positions,
 * quarantined) is answered from committed data only, and never shows an
 * invoice whose header disagrees with the lines it shows:
 *  - lmdb: each call is one read transaction, one consistent snapshot; a
 *    unit of work open or half-applied is invisible;
 *  - an adapter without transactions may store an invoice's new lines
 *    before its header (with the new totals) and the header before the
 *    position; it must then answer with the lines the header counts and no
 *    others (or with totals recomputed from the lines it shows), and list
 *    an invoice in a customer's pages only once its header is stored. So
 *    an answer may be a little behind the writer, never torn.
 * Readers may call from any number of threads at once, beside the writer.
 *
 * ---- Threads and ownership ----
 * Writer calls (positions, apply, set_aside, retry, commit, rollback) come
 * from one thread at a time. Pointers handed to callbacks are valid during
 * the call only; batches and entries given are borrowed for the call.
 */
#ifndef SF_STORE_H
#define SF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "core/money.h"
#include "core/record.h"

typedef struct sf_store sf_store;

typedef struct sf_store_opts {
    /* Open to read only, making nothing: SF_ENOENT when there is no store
     * yet (for those who only look, such as status). */
    bool read_only;
    /* Adapter settings as "key=value" strings (borrowed for the open;
     * --store-opt). The LMDB adapter takes none (SF_EUSAGE); DynamoDB's:
     * storage/store/dynamodb/dynamodb.c. */
    const char *const *extra;
    size_t nextra;
} sf_store_opts;

/* Open the store at location (opts NULL: a writer, no settings): made if
 * absent, unless read_only. SF_EUSAGE for a scheme no adapter has or a
 * setting the adapter does not take. Close with sf_store_close. */
int sf_store_open(const char *location, const sf_store_opts *opts, sf_store **out, sf_error *err);

/* Close the store; a unit of work still open is rolled back. NULL is fine. */
void sf_store_close(sf_store *s);

/* An invoice as the store keeps it: the header of its lines. */
typedef struct sf_invoice_header {
    int64_t date;        /* of its first line */
    sf_i128 total;       /* sum of quantity x price, milli-units (128 bits: money.h) */
    sf_i128 units;       /* sum of quantities */
    int32_t customer_id; /* of its first line; SF_NO_CUSTOMER if none */
    uint32_t lines;      /* lines stored */
    uint8_t kind;        /* sf_kind, of its first line */
    uint8_t country_len;
    char country[SF_COUNTRY_MAX + 1]; /* of its first line */
} sf_invoice_header;

/* The length of the time an entry set aside keeps: "2026-12-05T17:20:30.123Z". */
#define SF_STORE_TIME_LEN 24

/* ---- the writer ---- */

/* next[0..nparts): where each partition resumes (0 if none is stored), as
 * committed: an open unit of work is not seen. */
int sf_store_positions(sf_store *s, sf_pos *next, uint32_t nparts, sf_error *err);

/* Add batch b of partition p (its entries packed records, in order) and
 * p's new position (b->next) to the open unit of work, fenced (an
 * empty batch, a hole skipped, only moves the position). Each record is
 * a line of its invoice after those stored; a new invoice takes the date,
 * customer, country and kind of its first line and, with a customer, a
 * place in that customer's pages. On failure (an entry that is not a
 * record: SF_ECORRUPT) the open unit of work is rolled back. */
int sf_store_apply(sf_store *s, uint32_t p, const sf_stream_batch *b, sf_error *err);

/* Add entry e of partition p, which is not a record, to the dead-letter
 * area (reason: why, cut to 65,535 bytes; at: SF_STORE_TIME_LEN bytes of
 * time), and p's new position next, to the open unit of work, fenced as
 * apply: e must be at p's position. On failure the unit is rolled back. */
int sf_store_set_aside(sf_store *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                       const char *at, const sf_pos *next, sf_error *err);

/* Add the record packed in e as the entry set aside at (p, e->pos) (a
 * line after its invoice's stored ones), and that entry's removal, to the
 * open unit of work; positions stay. SF_ENOENT, the unit rolled back, when
 * no such entry is set aside. */
int sf_store_retry(sf_store *s, uint32_t p, const sf_stream_entry *e, sf_error *err);

/* Make the open unit of work durable, effects and positions together (the
 * model above); readers see it after. A no-op when none is open. On
 * failure (SF_ESTALE: fenced, above) nothing of the unit counts (its
 * positions are not stored). */
int sf_store_commit(sf_store *s, sf_error *err);

/* Drop the open unit of work (none: nothing). Nothing of it counts. */
void sf_store_rollback(sf_store *s);

/* fn for each entry set aside, by partition and position, until fn returns
 * nonzero (then that is returned). reason and at are NUL-terminated. */
typedef int (*sf_store_quarantined_fn)(void *ctx, uint32_t p, const sf_pos *pos, const char *reason,
                                       const char *at, const uint8_t *data, size_t len);
int sf_store_quarantined(sf_store *s, sf_store_quarantined_fn fn, void *ctx, sf_error *err);

/* ---- the reader ---- */

/* An invoice's header, then each of its lines in order (the record it was
 * applied from). A callback returns 0 to go on, or a negative SF_E* code
 * to stop with it (on_header: SF_EPERM when it is not the caller's). */
typedef int (*sf_store_header_fn)(void *ctx, const char *invoice_no, size_t len,
                                  const sf_invoice_header *h);
typedef int (*sf_store_line_fn)(void *ctx, const sf_record *line);

/* The invoice invoice_no[0..len): on_header, then on_line for each line.
 * SF_ENOENT (no message) when there is no such invoice; SF_ECORRUPT when
 * what is stored is damaged. */
int sf_store_invoice(sf_store *s, const char *invoice_no, size_t len, sf_store_header_fn on_header,
                     sf_store_line_fn on_line, void *ctx, sf_error *err);

/* Where a customer's page starts: just before the invoice (date,
 * invoice_no) listed last on the page before. Adapter-neutral: an invoice's
 * place in the listing is its date, then its number compared as bytes (a
 * shorter number before a longer one it begins). */
typedef struct sf_store_after {
    bool set; /* false: from the newest */
    int64_t date;
    size_t len;
    char invoice_no[SF_INVOICE_NO_MAX];
} sf_store_after;

typedef struct sf_store_page {
    int32_t customer;
    int64_t from, to;     /* invoice dates to include, both inclusive */
    unsigned limit;       /* invoices at most */
    sf_store_after after; /* start after this one (newest first) */
} sf_store_page;

/* An invoice of a page: its place (date, number) and its header. */
typedef int (*sf_store_listed_fn)(void *ctx, int64_t date, const char *invoice_no, size_t len,
                                  const sf_invoice_header *h);

/* The customer's invoices dated from q->from to q->to that come after
 * q->after, newest first (by date, then number, both descending), at most
 * q->limit of them, each with its header through fn (which returns 0 to go
 * on or a negative SF_E* code to stop with it); *more says whether another
 * one follows. SF_ENOENT (no message) when the customer has no invoice at
 * all; SF_ECORRUPT for a listed invoice that is not stored. */
int sf_store_customer_invoices(sf_store *s, const sf_store_page *q, sf_store_listed_fn fn,
                               void *ctx, bool *more, sf_error *err);

/* Every invoice with its lines, each once, in no particular order (a full
 * scan: for checks, exports and moving a history from one adapter to
 * another, not for serving). */
int sf_store_each_invoice(sf_store *s, sf_store_header_fn on_header, sf_store_line_fn on_line,
                          void *ctx, sf_error *err);

#endif
