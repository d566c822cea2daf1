/*
 * builder.c - the record under construction (see builder.h).
 */
#include "core/builder.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sf_builder_init(sf_builder *b, const sf_decode_sink *sink, sf_encoding enc)
{
    memset(b, 0, sizeof *b);
    b->sink = *sink;
    b->enc = enc;
    b->err_field = SF_FIELD_NONE;
    sf_record_clear(&b->rec);
}

void sf_builder_begin(sf_builder *b, uint64_t line, uint64_t index)
{
    sf_record_clear(&b->rec);
    b->pos.line = line;
    b->pos.index = index;
    b->seen = 0;
    b->failed = false;
    b->err_field = SF_FIELD_NONE;
}

void sf_builder_set(sf_builder *b, sf_field f, sf_value_type type, const char *s, size_t len)
{
    if (b->failed || f == SF_FIELD_NONE)
        return;
    uint32_t bit = 1u << f;
    if (b->seen & bit) {
        sf_builder_fail(b, f, "is given twice");
        return;
    }
    b->seen |= bit;
    if (sf_field_set(&b->rec, f, type, s, len, b->enc, b->why) < 0) {
        b->failed = true;
        b->err_field = f;
    }
}

void sf_builder_fail(sf_builder *b, sf_field f, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->why, sizeof b->why, fmt, ap);
    va_end(ap);
    b->failed = true;
    b->err_field = f;
}

static int report(sf_builder *b, const sf_decode_error *e)
{
    if (b->sink.on_error && b->sink.on_error(b->sink.ctx, e) != 0)
        b->status = SF_ESTOPPED;
    return b->status;
}

int sf_builder_end(sf_builder *b)
{
    if (b->status)
        return b->status;
    b->stats.records++;
    if (!b->failed && sf_record_finish(&b->rec, b->seen, &b->err_field, b->why) < 0)
        b->failed = true;
    if (b->failed) {
        b->stats.invalid++;
        sf_decode_error e = {b->pos, b->err_field, b->why, false, b->by_index};
        return report(b, &e);
    }
    if (b->sink.on_record && b->sink.on_record(b->sink.ctx, &b->rec, &b->pos) != 0)
        b->status = SF_ESTOPPED;
    return b->status;
}

int sf_builder_fatal(sf_builder *b, uint64_t line, uint64_t index, const char *fmt, ...)
{
    if (b->status)
        return b->status;
    char reason[SF_ERROR_MSG_MAX - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    /* Fatal errors are about the text, so they are named by line. */
    sf_decode_error e = {{line, index}, SF_FIELD_NONE, reason, true, false};
    char msg[SF_ERROR_MSG_MAX];
    sf_decode_error_format(&e, msg, sizeof msg);
    sf_error_set(&b->fatal, SF_EFORMAT, "%s", msg);
    b->status = SF_EFORMAT;
    if (b->sink.on_error)
        b->sink.on_error(b->sink.ctx, &e);
    return b->status;
}

int sf_builder_status(const sf_builder *b, sf_error *err)
{
    if (b->status == SF_EFORMAT && err)
        *err = b->fatal;
    else if (b->status == SF_ESTOPPED)
        sf_error_set(err, SF_ESTOPPED, "stopped by the caller");
    return b->status;
}
