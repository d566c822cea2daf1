/*
 * internal.h - the parts of the replay client that do not touch the network
 * (internal to src/replay; the unit tests use them directly):
 *   - the pacer: when each row is due, for --rate and --speedup;
 *   - the backoff: how long to wait before retry n;
 *   - the batch: an NDJSON body plus, per row, where it came from in the
 *     file, so the indexes of a 400 answer name rows of the file, and the
 *     rows it names can be cut out of the body;
 *   - the server's answers: {"accepted","duplicates"} and the 400 error list.
 */
#ifndef SF_REPLAY_INTERNAL_H
#define SF_REPLAY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/record.h"
#include "replay/replay.h"

/* ---- pacing ---- */

typedef struct sf_pacer {
    sf_replay_pace mode;
    double value;       /* rows/s or speedup */
    uint64_t n;         /* rows paced so far */
    int64_t first_date; /* invoice date of the first row */
    int64_t last_date;  /* latest invoice date so far (dates never go back) */
} sf_pacer;

void sf_pacer_init(sf_pacer *p, sf_replay_pace mode, double value);

/* Seconds after the start at which the next row, dated invoice_date, may be
 * sent: 0 for SF_REPLAY_MAX, n / rate for SF_REPLAY_RATE, (date - first
 * date) / speedup for SF_REPLAY_SPEEDUP, where a date earlier than one
 * already seen counts as that one (the clock never runs backwards). */
double sf_pacer_next(sf_pacer *p, int64_t invoice_date);

/* ---- backoff ---- */

/* The wait before retry `attempt` (1 for the first retry): base x
 * 2^(attempt-1), at most cap, scaled by 0.5 + jitter/2 (jitter in [0, 1),
 * so concurrent clients spread out), and never less than retry_after (the
 * server's Retry-After in seconds, or a negative number for none). */
double sf_backoff_delay(uint32_t attempt, double base, double cap, double retry_after,
                        double jitter);

/* ---- batches ---- */

typedef struct sf_batch {
    char *body; /* NDJSON, one canonical record per line; or CSV: the header
                   line (head bytes), then one row per record */
    size_t len, cap;
    size_t head; /* bytes of the body before the first row (CSV's header) */
    bool csv;
    uint32_t *off;  /* off[i]: where row i's line starts in body */
    uint64_t *row;  /* row[i]: its 0-based data row in the file */
    uint64_t *line; /* line[i]: the line of the file it starts on */
    uint32_t n, max;
    double first_due, due; /* when its first and last rows were due */
} sf_batch;

/* Room for max rows (bodies grow as needed), as NDJSON. Free with
 * sf_batch_free. */
int sf_batch_init(sf_batch *b, uint32_t max, sf_error *err);

/* The same with a CSV body when csv is true: SF_CSV_HEADER, then one row
 * per record (sf_csv_encode), for Content-Type text/csv. */
int sf_batch_init_as(sf_batch *b, uint32_t max, bool csv, sf_error *err);
void sf_batch_free(sf_batch *b);
void sf_batch_clear(sf_batch *b);

/* Append r (with the event id it has) as one NDJSON line (or CSV row).
 * Returns 0 or SF_ENOMEM. The caller checks b->n < b->max first. */
int sf_batch_add(sf_batch *b, const sf_record *r, uint64_t row, uint64_t line);

/* Remove the rows whose indexes are in drop (n_drop of them, any order,
 * repeats and out-of-range indexes ignored), keeping the others in order.
 * Returns how many rows were removed. */
uint32_t sf_batch_drop(sf_batch *b, const uint32_t *drop, size_t n_drop);

/* ---- answers ---- */

/* {"accepted":A,"duplicates":D}: 0, or SF_EFORMAT if body is not that. */
int sf_answer_accepted(const char *body, uint64_t *accepted, uint64_t *duplicates);

/* One entry of a 400 answer's error list. */
typedef struct sf_answer_error {
    int64_t index;  /* -1 when the entry names no record */
    char field[32]; /* "" when none */
    char reason[SF_ERROR_MSG_MAX];
    bool fatal;
} sf_answer_error;

/* The error of an error answer: code and message, and for invalid_records
 * its entries, through on_entry (may be NULL; return non-zero to stop).
 * *truncated is set when the server listed only some of the invalid records.
 * Returns 0, or SF_EFORMAT when body is not the error shape of docs/api.md
 * (code and message then say so). */
int sf_answer_error_parse(const char *body, char code[64], char message[SF_ERROR_MSG_MAX],
                          bool *truncated, int (*on_entry)(void *ctx, const sf_answer_error *e),
                          void *ctx);

/*
 * Apply a 400 answer (body, NUL-terminated) to the batch it answered. Each
 * record the answer names by index is passed to on_named with its row and
 * line in the file, and cut out of the batch, so what is left can be sent
 * again (a 400 appended nothing). When the answer is about the body as a
 * whole (a fatal entry, an index out of range, no entries, or not a
 * shopflow answer), *whole is set, nothing is cut or named, and message
 * says why: every row is then refused. At most SF_INVALID_MAX rows are cut
 * at once; the others are named again when the rest is resent. Returns the
 * number of rows cut.
 */
#define SF_INVALID_MAX 128
uint32_t sf_batch_apply_invalid(sf_batch *b, const char *body, char message[SF_ERROR_MSG_MAX],
                                bool *whole,
                                void (*on_named)(void *ctx, uint64_t row, uint64_t line,
                                                 const char *field, const char *reason),
                                void *ctx);

/* The seconds of a "Retry-After: N" header line (any case, trailing CRLF),
 * or -1 if the line is not one (or gives a date). */
double sf_answer_retry_after(const char *header, size_t len);

#endif
