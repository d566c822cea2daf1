/*
 * replay.h - the streaming client: a file's rows posted to a shopflow
 * server's POST /v1/transactions, the way a shop would send them.
 *
 * The file (CSV in either date style, or NDJSON; gzip or not) is decoded by
 * the same decoder the server uses, each row is given the event id `shopflow
 * import` would give it ("imp-<content hash>-<row>", core/filehash.h; a row
 * that carries its own event_id keeps it), encoded as canonical JSON and sent
 * in NDJSON batches over a few keep-alive connections (libcurl multi); or,
 * with opts.csv, as CSV rows under a header line (text/csv, which the
 * gateway also takes and decodes ~3x faster: what `shopflow demo` sends).
 * Because the ids are those of an import, a re-run, a retry, or a replay
 * after an import of the same file never appends a row twice: the server
 * counts them as duplicates.
 *
 * Rows are streamed: only the batch being filled and the batches in flight
 * are in memory ((connections + 1) x batch rows), whatever the file's size.
 *
 * A row the decoder rejects is not sent (the server would refuse it for the
 * same reason, and with it the other rows of its request: a request is all or
 * nothing); it is reported and counted as rejected. Should the server reject
 * rows anyway (a server with other rules), the rows its 400 answer names are
 * reported by their line in the file, and the rest of the batch is sent again
 * without them. 429, 503, other 5xx, connection errors and timeouts are
 * retried with exponential backoff (at least the server's Retry-After);
 * 401, 403, 404, 405, 413 and 415 stop the replay at once: retrying cannot
 * help. So does a server certificate that cannot be verified (https: the
 * check is always on), and a TLS handshake that fails before the server has
 * answered anything (most likely https:// to a port that speaks HTTP).
 */
#ifndef SF_REPLAY_H
#define SF_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/decoder.h"
#include "core/error.h"

struct sf_progress;

typedef enum sf_replay_pace {
    SF_REPLAY_MAX = 0, /* as fast as the server takes them */
    SF_REPLAY_RATE,    /* opts.rate rows per second */
    SF_REPLAY_SPEEDUP, /* the shop's rhythm: gaps between invoice dates / opts.speedup */
} sf_replay_pace;

/* What a replay did; filled as it runs (the progress callback sees it) and
 * complete when sf_replay_file returns, also on failure. */
typedef struct sf_replay_stats {
    uint64_t rows;        /* rows taken from the file (after from_row, up to limit) */
    uint64_t sent;        /* rows posted at least once */
    uint64_t accepted;    /* rows the server appended */
    uint64_t duplicates;  /* rows the server already had (same event id) */
    uint64_t rejected;    /* invalid rows: by the decoder here, or by the server */
    uint64_t failed;      /* rows never answered: given up after retries, or stopped */
    uint64_t requests;    /* HTTP requests made, retries included */
    uint64_t retries;     /* requests repeated after a retryable failure */
    uint64_t errors;      /* retryable failures seen (429, 503, connection errors...) */
    uint64_t bytes;       /* request bytes sent, retries included */
    uint64_t input_done;  /* bytes of the file read so far, as stored (compressed) */
    uint64_t input_total; /* its size (0 if unknown) */
    double seconds;       /* since the start (after hashing the file) */
    double hash_seconds;  /* hashing the file for its event ids */
    char last_error[160]; /* the latest retryable failure, "" if none */
} sf_replay_stats;

/* A rejected row, for opts.on_reject. Pointers valid during the call only. */
typedef struct sf_replay_reject {
    uint64_t row;        /* 0-based data row: the number in its event id */
    uint64_t line;       /* 1-based line of the file where it starts */
    bool by_server;      /* the server's 400 named it (else the local decoder) */
    const char *message; /* "FILE:LINE: Field: reason" */
} sf_replay_reject;

typedef struct sf_replay_opts {
    const char *url;      /* the server, "http://HOST:PORT" or "https://HOST:PORT";
                             "/v1/transactions" is added unless the URL already ends with it */
    const char *cacert;   /* https: PEM file of the CA certificates that vouch for the
                             server, instead of the system's; NULL: the system's */
    const char *key;      /* an API key with the ingest or admin role */
    uint32_t batch;       /* rows per request, 1 .. SF_REPLAY_BATCH_MAX */
    uint32_t connections; /* requests in flight at most, 1 .. SF_REPLAY_CONNECTIONS_MAX */
    sf_replay_pace pace;
    double rate;        /* rows per second, for SF_REPLAY_RATE */
    double speedup;     /* for SF_REPLAY_SPEEDUP: 3600 = an hour of trading per second */
    double linger;      /* paced runs: seconds a batch may wait for more rows */
    uint64_t limit;     /* rows at most; 0 = all */
    uint64_t from_row;  /* skip the data rows before this one (0-based, as in ids) */
    uint32_t retries;   /* retries of one request before giving up */
    double backoff;     /* first retry delay, seconds; doubled each time */
    double backoff_max; /* longest delay between retries */
    double timeout;     /* seconds a request may take */
    sf_decode_opts decode;
    bool csv; /* send text/csv bodies (a header line, then rows) instead of NDJSON */
    /* Each rejected row (may be NULL). */
    void (*on_reject)(void *ctx, const sf_replay_reject *r);
    /* About ten times a second and once at the end (may be NULL). Return
     * non-zero to stop: no more rows are read, requests in flight finish,
     * and sf_replay_file returns SF_ESTOPPED. */
    int (*on_progress)(void *ctx, const sf_replay_stats *st);
    void *ctx;
    /* When not NULL, drawn with rows, rate, ETA, errors and retries (the
     * caller initialises it, and ends it after the run). */
    struct sf_progress *progress;
} sf_replay_opts;

#define SF_REPLAY_BATCH_MAX       100000
#define SF_REPLAY_CONNECTIONS_MAX 256

/* Fill *o with the defaults: batch 500, 4 connections, as fast as possible,
 * linger 0.1 s, 10 retries from 0.1 s up to 10 s apart, 30 s per request.
 * url and key stay NULL: the caller sets them. */
void sf_replay_opts_init(sf_replay_opts *o);

/*
 * Replay the file at path to opts->url. *st (required) receives the counts,
 * also when an error is returned. Returns 0 when every row taken from the
 * file was accepted or was already there; otherwise, with a message in *err:
 *   SF_EINVAL   rows were rejected (the others were delivered);
 *   SF_EIO      the server could not be reached, or kept failing, after the
 *               retries (rows after the failure were not sent);
 *   SF_EUSAGE   bad options (a URL neither http:// nor https://, a cacert
 *               that cannot be read), or the server refused the key, route or
 *               batch size (401, 403, 404, 405, 413, 415), or TLS failed:
 *               the server's certificate is not trusted, or no handshake;
 *   SF_ESTOPPED on_progress asked to stop;
 *   SF_ENOENT, SF_EIO, SF_EFORMAT  the file cannot be read or decoded;
 *   SF_ENOMEM.
 * Calls curl_global_init itself (and the matching cleanup).
 */
int sf_replay_file(const char *path, const sf_replay_opts *opts, sf_replay_stats *st,
                   sf_error *err);

/* The end-of-run summary, one line per figure (rows, accepted, duplicates,
 * rejected, failed, requests, retries, seconds, rows/s). */
void sf_replay_print_summary(FILE *out, const sf_replay_stats *st);

#endif
