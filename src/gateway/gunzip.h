/*
 * gunzip.h - inflating a gzip request body as it arrives (Content-Encoding:
 * gzip), for the gateway's ingest route.
 *
 * Streaming: each piece of the compressed body is inflated at once through
 * a fixed buffer and handed on, so memory stays flat whatever the ratio,
 * and the caller can stop at any byte (a body over max-body once inflated:
 * a zip bomb is refused after max-body bytes, not after it all). Several
 * gzip members one after another are one body (RFC 1952, `cat a.gz b.gz`);
 * anything else after a member is an error.
 */
#ifndef SF_GATEWAY_GUNZIP_H
#define SF_GATEWAY_GUNZIP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sf_gunzip sf_gunzip;

/* Where inflated bytes go: return 0 to go on, anything else to stop (feed
 * then returns SF_ESTOPPED and inflates nothing more). */
typedef int (*sf_gunzip_out)(void *ctx, const char *buf, size_t len);

/* Make *gz ready for a new body: a new one when *gz is NULL, else the same
 * one reset (a connection keeps its own, so a gzip body after the first
 * allocates nothing). Returns 0 or SF_ENOMEM. Free with sf_gunzip_free. */
int sf_gunzip_begin(sf_gunzip **gz, sf_error *err);

/* Inflate the next n compressed bytes into out. Returns 0, SF_ESTOPPED,
 * SF_EFORMAT (not gzip, or damaged: the message says at which compressed
 * byte) or SF_ENOMEM. After an error, do not feed again. */
int sf_gunzip_feed(sf_gunzip *gz, const char *in, size_t n, sf_gunzip_out out, void *ctx,
                   sf_error *err);

/* The body ended: SF_EFORMAT when it ended inside a member, else 0. */
int sf_gunzip_finish(const sf_gunzip *gz, sf_error *err);

void sf_gunzip_free(sf_gunzip *gz);

#endif
