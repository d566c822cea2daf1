/*
 * decoder.c - the front door of decoding (see decoder.h): byte-order mark,
 * format detection, and dispatch to the CSV or JSON decoder.
 *
 * Until the format is known, the first bytes are held in a small buffer: a
 * BOM may be split across feeds, and a blank prefix says nothing. Once a
 * non-blank byte is seen (or SNIFF_MAX bytes, or the end), the held bytes go
 * to the chosen decoder and every later feed goes straight through.
 */
#include "core/decoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/csv.h"
#include "core/json.h"

#define SNIFF_MAX 4096

struct sf_decoder {
    sf_decode_opts opts;
    sf_decode_sink sink;
    sf_format format; /* AUTO until chosen */
    sf_csv_decoder *csv;
    sf_json_decoder *json;
    char held[SNIFF_MAX];
    size_t held_len;
    int status;
};

int sf_format_parse(const char *name, sf_format *out)
{
    if (strcasecmp(name, "auto") == 0)
        *out = SF_FORMAT_AUTO;
    else if (strcasecmp(name, "csv") == 0)
        *out = SF_FORMAT_CSV;
    else if (strcasecmp(name, "json") == 0 || strcasecmp(name, "ndjson") == 0 ||
             strcasecmp(name, "jsonl") == 0)
        *out = SF_FORMAT_JSON;
    else
        return -1;
    return 0;
}

const char *sf_format_name(sf_format f)
{
    switch (f) {
    case SF_FORMAT_CSV:
        return "csv";
    case SF_FORMAT_JSON:
        return "json";
    default:
        return "auto";
    }
}

int sf_decode_error_format_in(const sf_decode_error *e, const char *source, char *buf, size_t cap)
{
    char where[48];
    if (e->by_index)
        snprintf(where, sizeof where, "%srecord %llu", source ? ": " : "",
                 (unsigned long long)e->pos.index);
    else
        snprintf(where, sizeof where, "%s%llu", source ? ":" : "line ",
                 (unsigned long long)e->pos.line);
    if (!source)
        source = "";
    if (e->field == SF_FIELD_NONE)
        return snprintf(buf, cap, "%s%s: %s", source, where, e->reason);
    return snprintf(buf, cap, "%s%s: %s: %s", source, where, sf_field_name(e->field), e->reason);
}

int sf_decode_error_format(const sf_decode_error *e, char *buf, size_t cap)
{
    return sf_decode_error_format_in(e, NULL, buf, cap);
}

int sf_decoder_new(const sf_decode_opts *opts, const sf_decode_sink *sink, sf_decoder **out,
                   sf_error *err)
{
    sf_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return sf_error_set(err, SF_ENOMEM, "out of memory creating a decoder");
    if (opts)
        d->opts = *opts;
    d->sink = *sink;
    *out = d;
    return 0;
}

int sf_decoder_reset(sf_decoder *d, const sf_decode_opts *opts, const sf_decode_sink *sink,
                     sf_error *err)
{
    sf_csv_decoder_free(d->csv); /* CSV bodies are batches: their decoder is not worth keeping */
    d->csv = NULL;
    d->opts = opts ? *opts : (sf_decode_opts){0};
    d->format = SF_FORMAT_AUTO;
    d->held_len = 0;
    d->status = 0;
    d->sink = *sink;
    if (d->json && sf_json_decoder_reset(d->json, sink, err) < 0) {
        sf_json_decoder_free(d->json);
        d->json = NULL;
        return d->status = SF_ENOMEM;
    }
    return 0;
}

void sf_decoder_free(sf_decoder *d)
{
    if (!d)
        return;
    sf_csv_decoder_free(d->csv);
    sf_json_decoder_free(d->json);
    free(d);
}

sf_format sf_decoder_format(const sf_decoder *d)
{
    return d->format;
}

void sf_decoder_stats(const sf_decoder *d, sf_decode_stats *out)
{
    memset(out, 0, sizeof *out);
    if (d->format == SF_FORMAT_CSV)
        sf_csv_stats(d->csv, out);
    else if (d->format == SF_FORMAT_JSON)
        sf_json_stats(d->json, out);
    out->format = d->format;
}

static int inner_feed(sf_decoder *d, const char *buf, size_t len, sf_error *err)
{
    if (d->format == SF_FORMAT_CSV)
        return sf_csv_feed(d->csv, buf, len, err);
    return sf_json_feed(d->json, buf, len, err);
}

static const char bom[3] = {'\xEF', '\xBB', '\xBF'};

/* Decide the format from the held bytes and start the inner decoder. With
 * final set, decide whatever was seen. 0 (d->format is still
 * SF_FORMAT_AUTO when it waits for more bytes), or an error. */
static int decide(sf_decoder *d, bool final, sf_error *err)
{
    size_t skip = 0;
    if (d->held_len >= 3 && memcmp(d->held, bom, 3) == 0)
        skip = 3;
    else if (!final && d->held_len < 3 && memcmp(d->held, bom, d->held_len) == 0)
        return 0; /* could still be a BOM */
    sf_format f = d->opts.format;
    if (f == SF_FORMAT_AUTO) {
        size_t i = skip;
        while (i < d->held_len && strchr(" \t\r\n", d->held[i]))
            i++;
        if (i == d->held_len && !final && d->held_len < SNIFF_MAX)
            return 0;
        f = (i < d->held_len && (d->held[i] == '{' || d->held[i] == '[')) ? SF_FORMAT_JSON
                                                                          : SF_FORMAT_CSV;
    }
    int rc = f == SF_FORMAT_CSV ? sf_csv_decoder_new(d->opts.encoding, &d->sink, &d->csv, err)
             : d->json          ? 0 /* kept, and reset, by sf_decoder_reset */
                                : sf_json_decoder_new(&d->sink, &d->json, err);
    if (rc < 0)
        return d->status = rc;
    d->format = f;
    rc = inner_feed(d, d->held + skip, d->held_len - skip, err);
    d->held_len = 0;
    return rc < 0 ? (d->status = rc) : 0;
}

int sf_decoder_feed(sf_decoder *d, const char *buf, size_t len, sf_error *err)
{
    if (d->status)
        return d->status;
    if (d->format != SF_FORMAT_AUTO) {
        int rc = inner_feed(d, buf, len, err);
        return rc < 0 ? (d->status = rc) : 0;
    }
    while (len > 0 && d->format == SF_FORMAT_AUTO) {
        size_t n = SNIFF_MAX - d->held_len;
        if (n > len)
            n = len;
        memcpy(d->held + d->held_len, buf, n);
        d->held_len += n;
        buf += n;
        len -= n;
        int rc = decide(d, false, err);
        if (rc < 0)
            return rc;
    }
    return len > 0 ? sf_decoder_feed(d, buf, len, err) : 0;
}

int sf_decoder_finish(sf_decoder *d, sf_error *err)
{
    if (d->status)
        return d->status;
    if (d->format == SF_FORMAT_AUTO) {
        int rc = decide(d, true, err);
        if (rc < 0)
            return rc;
    }
    int rc = d->format == SF_FORMAT_CSV ? sf_csv_finish(d->csv, err) : sf_json_finish(d->json, err);
    return rc < 0 ? (d->status = rc) : 0;
}
