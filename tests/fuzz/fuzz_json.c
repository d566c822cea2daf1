/*
 * fuzz_json.c - libFuzzer target for the JSON decoder.
 *
 * Input: one control byte, then the JSON. The control byte b picks a split
 * point (two feeds cut at b * n / 255) and a chunk size (1 + (b >> 4) bytes).
 *
 * The JSON is decoded several times and every run must report exactly what
 * the first one did (fuzz_common.h says what is compared); abort() otherwise:
 *   reference      sf_decoder with SF_FORMAT_JSON, one feed
 *   split          the same, two feeds cut at the split point
 *   chunks         sf_decoder in small pieces, with SF_FORMAT_AUTO when the
 *                  first non-blank byte is '{' or '[' (so detection must
 *                  agree), else SF_FORMAT_JSON
 *   direct         sf_json_decoder itself, one feed, on the input without
 *                  its BOM (sf_decoder strips it)
 *   stop           split, the sink stops at one event: nothing after it, and
 *                  SF_ESTOPPED
 * Then every valid record must satisfy record.h's invariants and survive
 * sf_json_encode + the decoder unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "fuzz_common.h"

/* decoder.c holds this many bytes to detect the format. */
#define SNIFF_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int json_feed(void *d, const char *buf, size_t len, sf_error *err)
{
    return sf_json_feed(d, buf, len, err);
}

static int json_finish(void *d, sf_error *err)
{
    return sf_json_finish(d, err);
}

static void json_stats(const void *d, sf_decode_stats *out)
{
    sf_json_stats(d, out);
}

static const fz_decoder_ops json_ops = {json_feed, json_finish, json_stats};

static void run_front_door(fz_run *r, sf_format format, const char *in, size_t n, size_t split,
                           size_t chunk)
{
    sf_decode_sink sink = fz_run_sink(r);
    sf_decode_opts opts = {format, SF_ENC_AUTO};
    sf_decoder *d;
    sf_error err;
    if (sf_decoder_new(&opts, &sink, &d, &err) != 0)
        fz_fail("sf_decoder_new: %s", err.msg);
    fz_drive(r, d, &fz_sf_decoder_ops, in, n, split, chunk);
    if (sf_decoder_format(d) != SF_FORMAT_JSON)
        fz_fail("%s: sf_decoder decoded the input as format %d", r->name,
                (int)sf_decoder_format(d));
    sf_decoder_free(d);
    if (r->ref)
        fz_run_check(r);
}

static void run_direct(fz_run *r, const char *in, size_t n)
{
    sf_decode_sink sink = fz_run_sink(r);
    sf_json_decoder *d;
    sf_error err;
    if (sf_json_decoder_new(&sink, &d, &err) != 0)
        fz_fail("sf_json_decoder_new: %s", err.msg);
    fz_drive(r, d, &json_ops, in, n, n, 0);
    sf_json_decoder_free(d);
    fz_run_check(r);
}

/* Would SF_FORMAT_AUTO pick JSON for this input? */
static bool sniffs_as_json(const char *in, size_t n)
{
    size_t i = n >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < n && i < SNIFF_MAX && strchr(" \t\r\n", in[i]) && in[i] != '\0')
        i++;
    return i < n && i < SNIFF_MAX && (in[i] == '{' || in[i] == '[');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned b = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    size_t split = (size_t)b * n / 255;
    size_t chunk = 1 + (b >> 4);

    fz_run ref, r;
    fz_run_init(&ref, "reference (sf_decoder, one feed)", NULL, 0);
    run_front_door(&ref, SF_FORMAT_JSON, in, n, n, 0);

    fz_run_init(&r, "sf_decoder, split", &ref.trace, 0);
    run_front_door(&r, SF_FORMAT_JSON, in, n, split, 0);
    if (sniffs_as_json(in, n)) {
        fz_run_init(&r, "sf_decoder (auto), small chunks", &ref.trace, 0);
        run_front_door(&r, SF_FORMAT_AUTO, in, n, 0, chunk);
    } else {
        fz_run_init(&r, "sf_decoder, small chunks", &ref.trace, 0);
        run_front_door(&r, SF_FORMAT_JSON, in, n, 0, chunk);
    }
    bool bom = n >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0;
    fz_run_init(&r, "sf_json_decoder, one feed", &ref.trace, 0);
    run_direct(&r, bom ? in + 3 : in, bom ? n - 3 : n);
    if (ref.trace.n > 0) {
        fz_run_init(&r, "stopped by the sink", &ref.trace, 1 + b % ref.trace.n);
        run_front_door(&r, SF_FORMAT_JSON, in, n, split, 0);
    }

    fz_roundtrip(&ref.trace);
    fz_run_free(&ref);
    return 0;
}
