/*
 * decode_file.c - decoding a whole input: a file (the reader of input.h) or
 * bytes in memory (zlib's inflate when gzip) feeding a decoder of
 * decoder.h, block by block.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/decoder.h"
#include "core/input.h"
#include "core/progress.h"

int sf_decode_file(const char *path, const sf_decode_opts *opts, const sf_decode_sink *sink,
                   sf_progress *progress, sf_decode_stats *stats, sf_error *err)
{
    sf_input *in = NULL;
    sf_decoder *dec = NULL;
    sf_decode_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    int rc = sf_input_open(path, &in, err);
    if (rc < 0)
        return rc;
    rc = sf_decoder_new(opts, sink, &dec, err);
    if (rc < 0)
        goto done;
    for (;;) {
        const char *block;
        size_t len;
        rc = sf_input_read(in, &block, &len, err);
        if (rc < 0 || len == 0)
            break;
        rc = sf_decoder_feed(dec, block, len, err);
        if (rc < 0) {
            sf_error_prefix(err, "%s:", path);
            break;
        }
        if (progress) {
            uint64_t done, total;
            sf_decoder_stats(dec, stats);
            sf_input_progress(in, &done, &total);
            sf_progress_update(progress, stats->records, done, total);
        }
    }
    if (rc == 0 && (rc = sf_decoder_finish(dec, err)) < 0)
        sf_error_prefix(err, "%s:", path);
    sf_decoder_stats(dec, stats);
done:
    sf_decoder_free(dec);
    sf_input_close(in);
    return rc;
}

#define INFLATE_BLOCK (256u << 10)

/* Inflate gzip members (one after another, as gzip -d reads them) from
 * in[0..len) into dec, a block at a time. */
static int feed_gzip(const char *name, const unsigned char *in, size_t len, sf_decoder *dec,
                     sf_error *err)
{
    z_stream z = {0};
    unsigned char *out = malloc(INFLATE_BLOCK);
    if (!out || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        free(out);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    z.next_in = (unsigned char *)in;
    int rc = 0, zrc = Z_OK;
    for (size_t left = len; rc == 0 && (left > 0 || zrc == Z_OK);) {
        uInt chunk = left > (1u << 30) ? 1u << 30 : (uInt)left;
        z.avail_in = chunk;
        z.next_out = out;
        z.avail_out = INFLATE_BLOCK;
        zrc = inflate(&z, Z_NO_FLUSH);
        left -= chunk - z.avail_in;
        if (zrc == Z_STREAM_END && left > 0) { /* another member follows */
            zrc = inflateReset(&z);
            if (zrc != Z_OK)
                rc = sf_error_set(err, SF_ENOMEM, "out of memory (zlib)");
        } else if (zrc != Z_OK && zrc != Z_STREAM_END) {
            rc = sf_error_set(err, SF_EIO, "%s: %s", name,
                              zrc == Z_BUF_ERROR && left == 0 ? "unexpected end of file"
                              : z.msg                         ? z.msg
                                                              : "damaged gzip data");
        }
        size_t made = INFLATE_BLOCK - z.avail_out;
        if (rc == 0 && made && (rc = sf_decoder_feed(dec, (char *)out, made, err)) < 0)
            sf_error_prefix(err, "%s:", name);
        if (zrc == Z_STREAM_END)
            break;
    }
    inflateEnd(&z);
    free(out);
    return rc;
}

int sf_decode_bytes(const char *name, const void *data, size_t len, const sf_decode_opts *opts,
                    const sf_decode_sink *sink, sf_decode_stats *stats, sf_error *err)
{
    sf_decoder *dec = NULL;
    sf_decode_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    const unsigned char *b = data;
    bool gzip = len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
    int rc = sf_decoder_new(opts, sink, &dec, err);
    if (rc < 0)
        return rc;
    if (gzip)
        rc = feed_gzip(name, b, len, dec, err);
    else if ((rc = sf_decoder_feed(dec, data, len, err)) < 0)
        sf_error_prefix(err, "%s:", name);
    if (rc == 0 && (rc = sf_decoder_finish(dec, err)) < 0)
        sf_error_prefix(err, "%s:", name);
    sf_decoder_stats(dec, stats);
    sf_decoder_free(dec);
    return rc;
}
