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

#include "core/error.h"

typedef struct sf_syncpool sf_syncpool;

/* A pool of `threads` helpers (0 = sync in the caller only). */
sf_syncpool *sf_syncpool_new(unsigned threads);

/* fdatasync every fd of fds[0..n). 0 when all succeeded; SF_EIO when one
 * failed, with the index of the first that did in *failed and its errno in
 * *err_no (the caller names the file). Not re-entrant: one caller at a time
 * (the commit thread). seconds[i] receives each sync's duration. */
int sf_syncpool_sync(sf_syncpool *p, const int *fds, size_t n, double *seconds, size_t *failed,
                     int *err_no);

void sf_syncpool_free(sf_syncpool *p);

#endif
