/*
 * input.h - reading an input file in blocks, gzip or not.
 *
 * Files are read through zlib's gzread, which reads gzip (one member or
 * several) and plain files alike, so callers never care which they were
 * given. Decompression runs in a thread of its own, a few blocks ahead of the
 * caller: inflating the bundled 7.6 MB file takes about as long as decoding
 * its 48 MB of CSV, and on two cores the two overlap.
 *
 * A truncated or corrupt gzip file is an error (SF_EIO, "unexpected end of
 * file") reported when the reader reaches it, after the blocks before it.
 */
#ifndef SF_INPUT_H
#define SF_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sf_input sf_input;

/* Open path ("-" is standard input). The caller closes *out. */
int sf_input_open(const char *path, sf_input **out, sf_error *err);

/*
 * The next block of (decompressed) bytes in *data, *len. *len is 0 at the
 * end of the input. The block stays valid until the next call or close.
 * Returns 0 or SF_EIO (with the file name and zlib's reason).
 */
int sf_input_read(sf_input *in, const char **data, size_t *len, sf_error *err);

/* How far the reader is in the file as stored (compressed bytes), and its
 * size (0 when unknown, as for a pipe). Safe to call at any time. */
void sf_input_progress(const sf_input *in, uint64_t *done, uint64_t *total);

/* True when the file is gzip-compressed. */
bool sf_input_is_gzip(const sf_input *in);

void sf_input_close(sf_input *in);

#endif
