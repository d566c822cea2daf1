/*
 * decode_file.c - decoding a whole file: the reader of input.h feeding a
 * decoder of decoder.h, block by block.
 */
#include <string.h>

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
