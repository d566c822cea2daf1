/*
 * syncpool.h - fdatasync of several files at once (src/stream/local only).
 *
 * A commit round that wrote k partitions must sync k files. One after the
 * other, a round costs k device flushes in a row; issued together from a few
 * threads, the device sees them at once and the round costs about one. The
 * caller thread works too, so a one-file round never involves another thread.
 */
#ifndef SF_SYNCPOOL_H
#define SF_SYNCPOOL_H

#include <stddef.h>

typedef struct sf_syncpool sf_syncpool;

/* A pool of `threads` helpers (0 = sync in the caller only). */
sf_syncpool *sf_syncpool_new(unsigned threads);

/* fdatasync every fd of fds[0..n); returns the index of the first that
 * failed (errno of it in *err_no), or -1 when all succeeded. Not
 * re-entrant: one caller at a time (the commit thread). seconds[i] receives
 * each sync's duration. */
long sf_syncpool_sync(sf_syncpool *p, const int *fds, size_t n, double *seconds, int *err_no);

void sf_syncpool_free(sf_syncpool *p);

#endif
