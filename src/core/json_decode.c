/*
 * json_decode.c - the streaming JSON decoder on yajl (see json.h).
 *
 * yajl calls back per token. A "record slot" is a top-level value, or an
 * element of a top-level array. An object in a slot is a record; anything
 * else in a slot is a record error ("is not a JSON object"). Inside a record,
 * a scalar after a known key is a value for that field; a nested object or
 * array is skipped (an error if the key is one of ours). `skip` counts the
 * depth of the container being skipped.
 *
 * Input is fed to yajl one line at a time so that a record's line number is
 * known when its object starts; yajl keeps its state across calls, so objects
 * spanning lines (pretty-printed arrays) work the same.
 *
 * Lone surrogates. yajl unescapes strings itself, and turns a high surrogate
 * escape (\uD800-\uDBFF) that no low one (\uDC00-\uDFFF) follows into '?',
 * or, paired with any other escape, into an unrelated character
 * ("\ud800\u0041" becomes U+10041); a lone low one becomes bytes that are
 * not UTF-8. Only the raw text tells these from real pairs, so a string value
 * of one of our fields is read again raw, but only when yajl unescaped it: a
 * string without escapes reaches on_string as a pointer into the bytes being
 * parsed, which one comparison recognises: all such a string costs. One
 * yajl unescaped costs a search back to its opening quote and a memchr for
 * backslashes over its raw text.
 *
 * A string may have begun in an earlier feed, whose bytes are gone by then,
 * so at least the last CARRY_MAX bytes of the line fed so far are kept
 * (copied once per feed, not per record, into a buffer of twice that size
 * that slides when full; a string never spans lines). That suffices for the
 * values checked, those of at most CHECKED_MAX bytes: yajl makes each
 * byte of a value from at most 7 raw ones (an escape, or a lone high
 * surrogate and the byte after it). A longer value cannot be valid with a
 * lone surrogate in it anyway: no text field holds more than CHECKED_MAX
 * bytes, and the others take only ASCII, never '?' nor what yajl makes.
 * Deciding by the value's length, not by where feeds happened to end, keeps
 * the result the same however the input is cut.
 */
#define _GNU_SOURCE /* memrchr */
#include "core/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "core/arena.h"
#include "core/builder.h"

/* yajl's own allocations for one input: handle, lexer, buffers and state
 * stack, about 450 bytes, and the lexer's 2 KiB buffer, which it allocates
 * at the end of every parse call (it appends the empty rest of the input to
 * it). With some room for a deeper stack, 3 KiB holds them all; a larger
 * buffer (a long token split across feeds) comes from malloc. */
#define YAJL_ARENA_BYTES 3072

/* Lone surrogates (above): values up to CHECKED_MAX bytes are checked, and
 * the raw text of one fits in the carry with its opening quote. */
#define CHECKED_MAX SF_DESCRIPTION_MAX
#define CARRY_MAX   4096
_Static_assert(CARRY_MAX >= 7 * CHECKED_MAX + 1,
               "the carry holds the raw text of any value checked");
_Static_assert(SF_INVOICE_NO_MAX <= CHECKED_MAX && SF_STOCK_CODE_MAX <= CHECKED_MAX &&
                   SF_COUNTRY_MAX <= CHECKED_MAX && SF_EVENT_ID_MAX <= CHECKED_MAX,
               "every text field is checked whole");

struct sf_json_decoder {
    yajl_handle yajl;
    sf_arena arena; /* yajl's memory: reused by sf_json_decoder_reset */
    yajl_alloc_funcs afs;
    sf_builder b;
    int depth;                  /* containers open */
    int array_depth;            /* 1 inside a top-level array, else 0 */
    int skip;                   /* >0 while inside a skipped container */
    bool in_record;             /* inside a record's object (at its own depth) */
    sf_field key;               /* field of the last key in the record */
    bool saw_content;           /* any non-blank byte fed */
    uint64_t line;              /* line being fed (1-based) */
    bool mid_line;              /* bytes of that line have been fed */
    uint64_t index;             /* record slots seen */
    const unsigned char *piece; /* the bytes yajl_parse is parsing */
    size_t piece_len;
    uint64_t col;     /* bytes of the line fed before piece */
    size_t carry_len; /* carry[0..carry_len): the line's bytes just before piece */
    unsigned char arena_buf[YAJL_ARENA_BYTES];
    unsigned char carry[2 * CARRY_MAX];
};

/* Is the value starting now in a record slot? */
static bool in_slot(const sf_json_decoder *d)
{
    return !d->in_record && d->depth == d->array_depth;
}

static void bad_slot(sf_json_decoder *d, const char *what)
{
    sf_builder_begin(&d->b, d->line, d->index++);
    sf_builder_fail(&d->b, SF_FIELD_NONE, "is %s, not a JSON object", what);
    sf_builder_end(&d->b);
}

/* A scalar token: a field value, an element that is no object, or noise. */
static int scalar(sf_json_decoder *d, sf_value_type type, const char *s, size_t len,
                  const char *what)
{
    if (d->skip)
        return !d->b.status;
    if (in_slot(d))
        bad_slot(d, what);
    else if (d->in_record)
        sf_builder_set(&d->b, d->key, type, s, len);
    return !d->b.status;
}

static int on_null(void *ctx)
{
    return scalar(ctx, SF_VALUE_NULL, "", 0, "null");
}

static int on_bool(void *ctx, int v)
{
    return scalar(ctx, SF_VALUE_BOOL, v ? "true" : "false", v ? 4 : 5, "a boolean");
}

static int on_number(void *ctx, const char *s, size_t len)
{
    return scalar(ctx, SF_VALUE_NUMBER, s, len, "a number");
}

/* The 4 hex digits at p (yajl has checked that they are). */
static unsigned hex4(const unsigned char *p)
{
    unsigned x = 0;
    for (int i = 0; i < 4; i++)
        x = x << 4 | (p[i] <= '9' ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
    return x;
}

/* In p[0..end], the opening quote of the string whose closing quote is
 * p[end]: the last quote before it that no backslash escapes (inside a
 * string every quote is escaped). SIZE_MAX when there is none, or when the
 * quote or its run of backslashes reaches p[0] and p does not start its line
 * (the run may go on before it). */
static size_t string_start(const unsigned char *p, size_t end, bool line_start)
{
    const unsigned char *q;
    for (size_t v = end; (q = memrchr(p, '"', v)) != NULL;) {
        v = (size_t)(q - p);
        size_t k = 0;
        while (k < v && p[v - k - 1] == '\\')
            k++;
        if (k == v && !line_start)
            return SIZE_MAX;
        if (k % 2 == 0)
            return v;
    }
    return SIZE_MAX;
}

/* The offset in the raw text of a string, p[0..n) (its escapes checked by
 * yajl), of the first surrogate escape that is not half of a pair; SIZE_MAX
 * if there is none. */
static size_t lone_surrogate(const unsigned char *p, size_t n)
{
    const unsigned char *q = p, *e = p + n;
    while (q < e) {
        if (*q != '\\' && (q = memchr(q, '\\', (size_t)(e - q))) == NULL)
            break; /* (no call when escapes follow each other) */
        if (q[1] != 'u') {
            q += 2;
            continue;
        }
        unsigned u = hex4(q + 2);
        if ((u & 0xF800) != 0xD800) {
            q += 6;
        } else if ((u & 0xFC00) == 0xD800 && e - q >= 12 && q[6] == '\\' && q[7] == 'u' &&
                   (hex4(q + 8) & 0xFC00) == 0xDC00) {
            q += 12; /* a pair */
        } else {
            return (size_t)(q - p);
        }
    }
    return SIZE_MAX;
}

/* Keep only the last CARRY_MAX bytes of the carry. */
static void slide_carry(sf_json_decoder *d)
{
    if (d->carry_len > CARRY_MAX) {
        memmove(d->carry, d->carry + d->carry_len - CARRY_MAX, CARRY_MAX);
        d->carry_len = CARRY_MAX;
    }
}

/* The string value yajl has just unescaped: fail its field if one of its
 * escapes is a surrogate that is not half of a pair. Its closing quote is the
 * byte before what yajl has consumed of the piece. Not inlined: on_string,
 * called for every string, would then save registers it never needs. */
__attribute__((noinline)) static void check_surrogates(sf_json_decoder *d)
{
    size_t consumed = d->piece ? yajl_get_bytes_consumed(d->yajl) : 0;
    size_t end = consumed - 1; /* the closing quote */
    const unsigned char *p = d->piece;
    uint64_t col = d->col; /* p[0]'s column, less one */
    size_t open = consumed ? string_start(p, end, col == 0) : SIZE_MAX;
    if (open == SIZE_MAX && consumed && end <= CARRY_MAX) {
        /* Begun in an earlier feed: the carry, with the piece after it. */
        if (d->carry_len + end > sizeof d->carry)
            slide_carry(d);
        memcpy(d->carry + d->carry_len, p, end);
        p = d->carry;
        end += d->carry_len;
        col -= d->carry_len;
        open = string_start(p, end, col == 0);
    }
    if (open == SIZE_MAX) { /* never, by CARRY_MAX; refused rather than unchecked */
        sf_builder_fail(&d->b, d->key, "could not be checked for lone surrogate escapes");
        return;
    }
    size_t bad = lone_surrogate(p + open + 1, end - open - 1);
    if (bad != SIZE_MAX)
        sf_builder_fail(&d->b, d->key, "lone surrogate escape %.6s at line %llu, column %llu",
                        (const char *)p + open + 1 + bad, (unsigned long long)d->line,
                        (unsigned long long)(col + open + 1 + bad + 1));
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    sf_json_decoder *d = ctx;
    /* Not in the piece: unescaped by yajl (or begun in an earlier feed). */
    if ((uintptr_t)s - (uintptr_t)d->piece >= d->piece_len && len <= CHECKED_MAX && d->in_record &&
        !d->skip && d->key != SF_FIELD_NONE && !d->b.failed)
        check_surrogates(d);
    return scalar(d, SF_VALUE_TEXT, (const char *)s, len, "a string");
}

static int on_key(void *ctx, const unsigned char *s, size_t len)
{
    sf_json_decoder *d = ctx;
    if (!d->skip && d->in_record)
        d->key = sf_field_lookup((const char *)s, len);
    return !d->b.status;
}

/* An object or array opens. */
static int open_container(sf_json_decoder *d, bool is_map)
{
    if (d->skip) {
        d->skip++;
    } else if (in_slot(d) && is_map) {
        sf_builder_begin(&d->b, d->line, d->index++);
        d->in_record = true;
        d->key = SF_FIELD_NONE;
    } else if (!is_map && d->depth == 0) {
        d->array_depth = 1; /* a top-level array of records */
        d->b.by_index = true;
    } else if (in_slot(d)) {
        bad_slot(d, "an array");
        d->skip = 1;
    } else {
        if (d->key != SF_FIELD_NONE)
            sf_builder_fail(&d->b, d->key, "is %s, expected a single value",
                            is_map ? "an object" : "an array");
        d->skip = 1;
    }
    d->depth++;
    return !d->b.status;
}

static int close_container(sf_json_decoder *d, bool is_map)
{
    d->depth--;
    if (d->skip) {
        d->skip--;
    } else if (is_map && d->in_record) {
        d->in_record = false;
        sf_builder_end(&d->b);
    } else if (!is_map && d->depth == 0) {
        d->array_depth = 0;
    }
    return !d->b.status;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, true);
}

static int on_end_map(void *ctx)
{
    return close_container(ctx, true);
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, false);
}

static int on_end_array(void *ctx)
{
    return close_container(ctx, false);
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

static void *arena_malloc(void *ctx, size_t n)
{
    return sf_arena_alloc(ctx, n);
}

static void *arena_realloc(void *ctx, void *p, size_t n)
{
    return sf_arena_realloc(ctx, p, n);
}

static void arena_free(void *ctx, void *p)
{
    sf_arena_free(ctx, p);
}

/* A fresh yajl handle and parse state for sink. */
static int start(sf_json_decoder *d, const sf_decode_sink *sink, sf_error *err)
{
    sf_arena_reset(&d->arena);
    d->yajl = yajl_alloc(&callbacks, &d->afs, d);
    if (!d->yajl)
        return sf_error_set(err, SF_ENOMEM, "out of memory creating a JSON decoder");
    yajl_config(d->yajl, yajl_allow_multiple_values, 1);
    sf_builder_init(&d->b, sink, SF_ENC_UTF8);
    d->depth = d->array_depth = d->skip = 0;
    d->in_record = d->saw_content = d->mid_line = false;
    d->key = SF_FIELD_NONE;
    d->line = 1;
    d->index = 0;
    d->piece = NULL;
    d->piece_len = d->carry_len = 0;
    d->col = 0;
    return 0;
}

int sf_json_decoder_new(const sf_decode_sink *sink, sf_json_decoder **out, sf_error *err)
{
    sf_json_decoder *d = malloc(sizeof *d);
    if (!d)
        return sf_error_set(err, SF_ENOMEM, "out of memory creating a JSON decoder");
    sf_arena_init(&d->arena, d->arena_buf, sizeof d->arena_buf);
    d->afs = (yajl_alloc_funcs){arena_malloc, arena_realloc, arena_free, &d->arena};
    int rc = start(d, sink, err);
    if (rc < 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int sf_json_decoder_reset(sf_json_decoder *d, const sf_decode_sink *sink, sf_error *err)
{
    if (d->yajl)
        yajl_free(d->yajl); /* its malloc'd blocks, if any; the arena is reset next */
    d->yajl = NULL;
    return start(d, sink, err);
}

void sf_json_decoder_free(sf_json_decoder *d)
{
    if (!d)
        return;
    if (d->yajl)
        yajl_free(d->yajl);
    free(d);
}

void sf_json_stats(const sf_json_decoder *d, sf_decode_stats *out)
{
    *out = d->b.stats;
    out->lines = d->line - 1 + d->mid_line; /* lines consumed, as the CSV decoder counts */
}

/* Turn a yajl status into ours, reporting syntax errors as fatal. */
static int check(sf_json_decoder *d, yajl_status st, const unsigned char *text, size_t len)
{
    if (st == yajl_status_error && !d->b.status) {
        unsigned char *msg = yajl_get_error(d->yajl, 0, text, len);
        const char *m = (const char *)msg;
        /* yajl says "parse error: <what>"; keep <what>. */
        if (strncmp(m, "parse error: ", 13) == 0)
            m += 13;
        size_t n = strcspn(m, "\n");
        sf_builder_fatal(&d->b, d->line, d->index, "invalid JSON: %.*s", (int)n, m);
        yajl_free_error(d->yajl, msg);
    }
    return d->b.status;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Keep the end of a piece that ends mid-line, for a string that ends in a
 * later one (lone surrogates, above). */
static void carry_piece(sf_json_decoder *d, const unsigned char *p, size_t n)
{
    d->col += n;
    if (n >= CARRY_MAX) {
        memcpy(d->carry, p + n - CARRY_MAX, CARRY_MAX);
        d->carry_len = CARRY_MAX;
        return;
    }
    if (d->carry_len + n > sizeof d->carry)
        slide_carry(d); /* then carry_len + n < 2 * CARRY_MAX */
    memcpy(d->carry + d->carry_len, p, n);
    d->carry_len += n;
}

int sf_json_feed(sf_json_decoder *d, const char *buf, size_t len, sf_error *err)
{
    while (len > 0 && !d->b.status) {
        const char *nl = memchr(buf, '\n', len);
        size_t take = nl ? (size_t)(nl - buf) + 1 : len;
        if (!d->saw_content && !blank(buf, take))
            d->saw_content = true;
        const unsigned char *u = (const unsigned char *)buf;
        d->mid_line = true;
        d->piece = u;
        d->piece_len = take;
        if (check(d, yajl_parse(d->yajl, u, take), u, take))
            break;
        if (nl) {
            d->line++;
            d->mid_line = false;
            d->col = d->carry_len = 0;
        } else {
            carry_piece(d, u, take);
        }
        buf += take;
        len -= take;
    }
    return sf_builder_status(&d->b, err);
}

int sf_json_finish(sf_json_decoder *d, sf_error *err)
{
    d->piece = NULL; /* yajl parses a blank of its own; no string ends there */
    d->piece_len = 0;
    if (!d->b.status && d->saw_content) {
        if (check(d, yajl_complete_parse(d->yajl), NULL, 0) == 0 && (d->depth || d->in_record))
            sf_builder_fatal(&d->b, d->line, d->index, "invalid JSON: the input ends inside %s",
                             d->in_record ? "a record" : "an array");
    }
    return sf_builder_status(&d->b, err);
}
