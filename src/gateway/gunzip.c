/*
 * gunzip.c - a gzip request body, inflated as it arrives (gunzip.h).
 *
 * zlib's inflate with windowBits 16 + 15 reads exactly one gzip member
 * (header, deflate data, CRC-32 and length, both checked); at a member's
 * end the next bytes must start another one.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <zlib.h>

#include "gateway/gunzip.h"

#define OUT_BYTES 16384

struct sf_gunzip {
    z_stream z;
    bool ready;     /* inflateInit2 done */
    bool in_member; /* bytes of a member were read and its end not yet */
    uint64_t in;    /* compressed bytes read, for messages */
    uint64_t ended; /* members read to their end */
    uint64_t start; /* where the member being read starts */
    char out[OUT_BYTES];
};

int sf_gunzip_begin(sf_gunzip **gzp, sf_error *err)
{
    sf_gunzip *gz = *gzp;
    if (gz) {
        gz->in = gz->ended = gz->start = 0;
        gz->in_member = false;
        if (inflateReset(&gz->z) == Z_OK)
            return 0;
        sf_gunzip_free(gz);
        *gzp = NULL;
    }
    if (!(gz = calloc(1, sizeof *gz)))
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    if (inflateInit2(&gz->z, 16 + MAX_WBITS) != Z_OK) {
        free(gz);
        return sf_error_set(err, SF_ENOMEM, "out of memory (zlib)");
    }
    gz->ready = true;
    *gzp = gz;
    return 0;
}

static int damaged(const sf_gunzip *gz, sf_error *err)
{
    uint64_t at = gz->in - gz->z.avail_in;
    if (gz->z.total_out == 0 && at - gz->start <= 10) { /* within a member's header */
        if (gz->ended)
            return sf_error_set(err, SF_EFORMAT,
                                "the gzip body goes on after its end with bytes that are not "
                                "gzip, at compressed byte %llu",
                                (unsigned long long)gz->start);
        return sf_error_set(err, SF_EFORMAT,
                            "the body is not gzip, though Content-Encoding says it is (%s)",
                            gz->z.msg ? gz->z.msg : "bad header");
    }
    return sf_error_set(err, SF_EFORMAT, "the gzip body is damaged at compressed byte %llu: %s",
                        (unsigned long long)at, gz->z.msg ? gz->z.msg : "bad data");
}

int sf_gunzip_feed(sf_gunzip *gz, const char *in, size_t n, sf_gunzip_out out, void *ctx,
                   sf_error *err)
{
    gz->z.next_in = (Bytef *)in;
    gz->z.avail_in = (uInt)n; /* pieces of a body are far below 4 GiB */
    gz->in += n;
    while (gz->z.avail_in > 0) {
        if (!gz->in_member && gz->ended) { /* another member */
            if (inflateReset(&gz->z) != Z_OK)
                return sf_error_set(err, SF_ENOMEM, "out of memory (zlib)");
            gz->start = gz->in - gz->z.avail_in;
        }
        gz->in_member = true;
        gz->z.next_out = (Bytef *)gz->out;
        gz->z.avail_out = OUT_BYTES;
        int rc = inflate(&gz->z, Z_NO_FLUSH);
        size_t made = OUT_BYTES - gz->z.avail_out;
        if (rc == Z_MEM_ERROR)
            return sf_error_set(err, SF_ENOMEM, "out of memory (zlib)");
        /* Z_BUF_ERROR (no progress) cannot happen with input and room for
         * output; taken as damage rather than looping on it. */
        if (rc != Z_OK && rc != Z_STREAM_END)
            return damaged(gz, err);
        if (made > 0 && out(ctx, gz->out, made) != 0)
            return SF_ESTOPPED;
        if (rc == Z_STREAM_END) {
            gz->in_member = false; /* what follows must be another member */
            gz->ended++;
        }
    }
    return 0;
}

int sf_gunzip_finish(const sf_gunzip *gz, sf_error *err)
{
    if (gz->in_member)
        return sf_error_set(err, SF_EFORMAT,
                            "the gzip body ends early, inside a member, at compressed byte %llu "
                            "(cut short?)",
                            (unsigned long long)gz->in);
    return 0;
}

void sf_gunzip_free(sf_gunzip *gz)
{
    if (!gz)
        return;
    if (gz->ready)
        inflateEnd(&gz->z);
    free(gz);
}
