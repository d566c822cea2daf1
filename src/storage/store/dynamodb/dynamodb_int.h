/*
 * dynamodb_int.h - (internal) what the files of the "dynamodb" history store
 * share: dynamodb.c (open, the table, the clients, requests and the item
 * layout's small pieces), writer.c (the unit of work) and reader.c
 * (invoices, customers' pages, the dead-letter area, positions).
 *
 * The layout is docs/dynamodb.md's, written down once here:
 *
 * One table, key pk (S, HASH) + sk (S, RANGE):
 *   pk "INV#" no     sk "#"                    invoice header: d date (N),
 *        c customer (N, absent without one), k kind (N), co country (S),
 *        n lines (N), t total milli-units (S), u units (S), p partition (N),
 *        th the position its totals count through (S, POS TEXT), rt the
 *        retried lines it counts (L of S "P#POS", absent when none), v version
 *        (N), w the writer that put it (S: a random id per open handle)
 *   pk "INV#" no     sk "L#" P "#" POS         a line from the stream: r the
 *                                               packed record (B, core/pack.h)
 *   pk "INV#" no     sk "R#" P "#" POS         a line retried from the
 *                                               dead-letter area: r as above
 *   pk "CUST#" id    sk DATE16 no              a customer's invoice (no
 *                                               attributes but the key)
 *   pk "POS#" P      sk "#"                    a partition's checkpoint: at (S, POS
 *                                               TEXT), w the writer that put it (S)
 *   pk "Q"           sk P "#" POS              an entry set aside: at (S), why
 *                                               (S), e the entry's bytes (B)
 * POS TEXT is a position as decimal digits after their count in three
 * digits ("0010" is 0, "003536" is 536), so that text order is number order
 * for any width (an sf_pos has up to 129 digits: dy_pos_text is the one
 * place that writes them). P is a partition in the same form. DATE16 is the
 * date + 2^63 as 16 lowercase hex digits: (date, number) order as bytes,
 * which is the port's listing order (store.h, sf_store_after).
 */
#ifndef SF_STORE_DYNAMODB_INT_H
#define SF_STORE_DYNAMODB_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "core/aws.h"
#include "core/buf.h"
#include "core/pos.h"
#include "storage/store/store_adapter.h"

#define DY_TABLE_MAX    256
#define DY_POS_TEXT_MAX (3 + SF_POS_DIGITS_MAX + 1) /* count, digits, NUL */
#define DY_POOL_MAX     16                          /* idle reader clients kept */
#define DY_BATCH_WRITE  25                          /* BatchWriteItem's limit */
#define DY_BATCH_GET    100                         /* BatchGetItem's limit */
#define DY_KEY_MAX      (5 + SF_INVOICE_NO_MAX + 2 * DY_POS_TEXT_MAX + 8)

typedef struct dy_unit dy_unit; /* the open unit of work (writer.c) */

typedef struct dynamo {
    sf_store base;
    char table[DY_TABLE_MAX];
    char where[DY_TABLE_MAX + 16]; /* "dynamodb://TABLE", for messages */
    sf_aws_config config;
    sf_aws_opts aws_opts;
    sf_aws *w; /* the writer's client */
    pthread_mutex_t pool_mu;
    sf_aws *pool[DY_POOL_MAX]; /* idle clients for readers */
    unsigned pooled;
    dy_unit *unit; /* NULL when none is open */
    /* The checkpoints this writer knows (read by positions or at a first
     * apply, then its own commits): the fence's "previous checkpoint". */
    sf_pos *known;
    bool *known_set, *known_stored;
    uint32_t nknown;
    char writer[20];             /* this handle's random id, in its headers and checkpoints ("w") */
    sf_aws_stats retries_logged; /* the writer's client's, as last said in the log */
} dynamo;

/* ---- requests (dynamodb.c) ---- */

/* A client for a reader: one from the pool, or a new one. */
int dy_client_take(dynamo *d, sf_aws **out, sf_error *err);
void dy_client_put(dynamo *d, sf_aws *a);

/* One JSON request: op on the table with body; *out the parsed answer
 * (yajl_tree_free it; may be NULL for an empty one). rc as the client's
 * (SF_ESTALE: a condition failed; SF_ENOENT: no such table). */
int dy_call(dynamo *d, sf_aws *a, const char *op, const sf_buf *body, const char *resource,
            yajl_val *out, sf_error *err);

/* v's text ("" when v is not a string). */
static inline const char *dy_str(yajl_val v)
{
    return v && v->type == yajl_t_string ? v->u.string : "";
}

/* Parse an answer's body (NUL added) into *out; SF_EIO when it is not JSON. */
int dy_parse(dynamo *d, const char *op, sf_buf *resp, yajl_val *out, sf_error *err);

/* The string, number text or binary (base64) of attribute name of item;
 * NULL when absent or of another type. */
const char *dy_attr(yajl_val item, const char *name, const char *type);

/* ---- the layout's pieces (dynamodb.c) ---- */

/* A position's text (see above) into out; its length. */
size_t dy_pos_text(const sf_pos *pos, char out[DY_POS_TEXT_MAX]);
/* The same form of a partition number. */
size_t dy_num_text(uint64_t v, char out[DY_POS_TEXT_MAX]);
/* Back from text[0..len); SF_ECORRUPT when it is not one. */
int dy_pos_parse(const char *text, size_t len, sf_pos *pos, sf_error *err);

/* Append `"name":{"S":"..."}` (JSON-escaped), `{"N":...}`, `{"B":base64}`. */
void dy_put_s(sf_buf *b, const char *name, const char *s, size_t n);
void dy_put_n(sf_buf *b, const char *name, long long v);
void dy_put_b(sf_buf *b, const char *name, const uint8_t *data, size_t n);
/* The key attributes of an item: "pk":{"S":pk},"sk":{"S":sk}. */
void dy_put_key(sf_buf *b, const char *pk, const char *sk);

/* Decode base64 text into out (cap bytes); its length, or -1 if invalid or
 * too long. */
long dy_unbase64(const char *text, uint8_t *out, size_t cap);

/* "INV#no" and a customer's sk, NUL-terminated into out. */
void dy_invoice_pk(const char *invoice_no, size_t len, char out[DY_KEY_MAX]);
void dy_customer_sk(int64_t date, const char *invoice_no, size_t len, char out[DY_KEY_MAX]);

/* ---- BatchGetItem of many keys (dynamodb.c) ---- */

/* fn for each item found among keys[0..n) ("pk\0sk" pairs), in no
 * particular order, read consistently; UnprocessedKeys asked again. */
typedef int (*dy_item_fn)(void *ctx, yajl_val item);
int dy_batch_get(dynamo *d, sf_aws *a, const char *const *pks, const char *const *sks, size_t n,
                 dy_item_fn fn, void *ctx, sf_error *err);

/* ---- many item writes at once (dynamodb.c) ---- */

/* Items (PutRequest or DeleteRequest JSON) sent by BatchWriteItem, 25 to a
 * request, up to the client's in-flight at once, UnprocessedItems sent
 * again with backoff. */
typedef struct dy_writes dy_writes;
int dy_writes_new(dynamo *d, sf_aws *a, dy_writes **out, sf_error *err);
/* Add a put of item (its attributes' JSON, without braces, the key's
 * included), to be sent soon. */
int dy_writes_put(dy_writes *w, const char *pk, const char *sk, const sf_buf *attrs, sf_error *err);
/* Send what is ready without waiting (0), or the first failure. */
int dy_writes_pump(dy_writes *w, sf_error *err);
/* Send everything and wait until it is stored (0), or the first failure. */
int dy_writes_finish(dy_writes *w, sf_error *err);
/* Forget every item added (requests in flight end first). */
void dy_writes_reset(dy_writes *w);
void dy_writes_free(dy_writes *w);

/* ---- the port's operations (writer.c, reader.c) ---- */
int sf_dynamo_positions(sf_store *s, sf_pos *next, uint32_t nparts, sf_error *err);
int sf_dynamo_apply(sf_store *s, uint32_t p, const sf_stream_batch *b, sf_error *err);
int sf_dynamo_set_aside(sf_store *s, uint32_t p, const sf_stream_entry *e, const char *reason,
                        const char *at, const sf_pos *next, sf_error *err);
int sf_dynamo_retry(sf_store *s, uint32_t p, const sf_stream_entry *e, sf_error *err);
int sf_dynamo_commit(sf_store *s, sf_error *err);
void sf_dynamo_rollback(sf_store *s);
void sf_dynamo_unit_free(dynamo *d);
int sf_dynamo_quarantined(sf_store *s, sf_store_quarantined_fn fn, void *ctx, sf_error *err);
int sf_dynamo_invoice(sf_store *s, const char *invoice_no, size_t len, sf_store_header_fn on_header,
                      sf_store_line_fn on_line, void *ctx, sf_error *err);
int sf_dynamo_customer_invoices(sf_store *s, const sf_store_page *q, sf_store_listed_fn fn,
                                void *ctx, bool *more, sf_error *err);
int sf_dynamo_each_invoice(sf_store *s, sf_store_header_fn on_header, sf_store_line_fn on_line,
                           void *ctx, sf_error *err);

/* A header item into *h, with its partition, counted-through position and
 * version; SF_ECORRUPT when damaged (reader.c). */
typedef struct dy_header {
    sf_invoice_header h;
    uint32_t partition;
    bool through_set; /* false: it counts no line from the stream */
    sf_pos through;
    long long version;
    char writer[20];  /* who wrote it ("" if not said) */
    yajl_val retried; /* the rt list (in the parsed item), or NULL */
    yajl_val earlier; /* the pt list (in the parsed item), or NULL */
} dy_header;
int dy_header_decode(yajl_val item, dy_header *out, sf_error *err);

#endif
