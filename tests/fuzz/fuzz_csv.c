/*
 * fuzz_csv.c - libFuzzer target for the CSV decoder.
 *
 * Input: one control byte, then the CSV. The control byte b picks
 *   - the text encoding policy: b % 3 (auto, utf-8, latin1);
 *   - a split point: the input goes in two feeds cut at b * n / 255;
 *   - a chunk size: 1 + (b >> 4) bytes, for a run fed in small pieces.
 *
 * The same CSV (with a leading UTF-8 BOM removed, as sf_decoder would) is
 * decoded several times and every run must report exactly what the first one
 * did (fuzz_common.h says what is compared); abort() otherwise:
 *   reference      fast path on,  one feed
 *   libcsv whole   fast path off (every line through libcsv), one feed
 *   fast split     fast path on,  two feeds cut at the split point
 *   libcsv split   fast path off, two feeds cut at the split point
 *   libcsv chunks  fast path off, small pieces
 *   sf_decoder     the front door with SF_FORMAT_CSV, given the raw bytes
 *                  (BOM included) in small pieces
 *   stop           fast path on, split, the sink stops at one event: nothing
 *                  after it, and SF_ESTOPPED
 * One check needs no second run: a CSV whose quotes do not pair up (an odd
 * number of '"') cannot decode without an error, since every well-formed
 * cell holds an even number of them; a stray quote is a quoting error, and
 * input that ends inside a quoted cell must be reported too (decoder.h).
 *
 * Then every valid record must satisfy record.h's invariants and survive
 * sf_json_encode + the JSON decoder unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int csv_feed(void *d, const char *buf, size_t len, sf_error *err)
{
    return sf_csv_feed(d, buf, len, err);
}

static int csv_finish(void *d, sf_error *err)
{
    return sf_csv_finish(d, err);
}

static void csv_stats(const void *d, sf_decode_stats *out)
{
    sf_csv_stats(d, out);
}

static const fz_decoder_ops csv_ops = {csv_feed, csv_finish, csv_stats};

static void run_csv(fz_run *r, sf_encoding enc, bool fast, const char *in, size_t n, size_t split,
                    size_t chunk)
{
    sf_decode_sink sink = fz_run_sink(r);
    sf_csv_decoder *d;
    sf_error err;
    if (sf_csv_decoder_new(enc, &sink, &d, &err) != 0)
        fz_fail("sf_csv_decoder_new: %s", err.msg);
    sf_csv_set_fast_path(d, fast);
    fz_drive(r, d, &csv_ops, in, n, split, chunk);
    sf_csv_decoder_free(d);
    if (r->ref)
        fz_run_check(r);
}

static void run_front_door(fz_run *r, sf_encoding enc, const char *in, size_t n, size_t chunk)
{
    sf_decode_sink sink = fz_run_sink(r);
    sf_decode_opts opts = {SF_FORMAT_CSV, enc};
    sf_decoder *d;
    sf_error err;
    if (sf_decoder_new(&opts, &sink, &d, &err) != 0)
        fz_fail("sf_decoder_new: %s", err.msg);
    fz_drive(r, d, &fz_sf_decoder_ops, in, n, 0, chunk);
    if (sf_decoder_format(d) != SF_FORMAT_CSV)
        fz_fail("sf_decoder with SF_FORMAT_CSV reports format %d", (int)sf_decoder_format(d));
    sf_decoder_free(d);
    fz_run_check(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned b = data[0];
    const char *raw = (const char *)data + 1;
    size_t raw_n = size - 1;
    const char *in = raw;
    size_t n = raw_n;
    if (n >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0) {
        in += 3;
        n -= 3;
    }
    sf_encoding enc = (sf_encoding)(b % 3);
    size_t split = (size_t)b * n / 255;
    size_t chunk = 1 + (b >> 4);

    fz_run ref, r;
    fz_run_init(&ref, "reference (fast path, one feed)", NULL, 0);
    run_csv(&ref, enc, true, in, n, n, 0);

    fz_run_init(&r, "libcsv, one feed", &ref.trace, 0);
    run_csv(&r, enc, false, in, n, n, 0);
    fz_run_init(&r, "fast path, split", &ref.trace, 0);
    run_csv(&r, enc, true, in, n, split, 0);
    fz_run_init(&r, "libcsv, split", &ref.trace, 0);
    run_csv(&r, enc, false, in, n, split, 0);
    fz_run_init(&r, "libcsv, small chunks", &ref.trace, 0);
    run_csv(&r, enc, false, in, n, 0, chunk);
    fz_run_init(&r, "sf_decoder, raw bytes, small chunks", &ref.trace, 0);
    run_front_door(&r, enc, raw, raw_n, chunk);
    if (ref.trace.n > 0) {
        fz_run_init(&r, "stopped by the sink", &ref.trace, 1 + b % ref.trace.n);
        run_csv(&r, enc, true, in, n, split, 0);
    }

    size_t quotes = 0, errors = 0;
    for (size_t i = 0; i < n; i++)
        quotes += in[i] == '"';
    for (size_t i = 0; i < ref.trace.n; i++)
        errors += ref.trace.ev[i].is_error;
    if (quotes % 2 && errors == 0)
        fz_fail("%zu quotes (odd) yet no error: a quoted cell was silently dropped", quotes);

    fz_roundtrip(&ref.trace);
    fz_run_free(&ref);
    return 0;
}
