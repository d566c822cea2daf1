/*
 * csv.c - the CSV decoder (see csv.h).
 *
 * Input is cut into lines with memchr, which is how line numbers are known
 * exactly (libcsv reports none). A line that starts a row and holds no quote
 * and no stray CR is split on commas right here: for such a line RFC 4180
 * leaves nothing to interpret, and this path is several times faster than
 * feeding libcsv byte by byte. Every other line — quoted cells, a quoted cell
 * spanning lines, CR line ends — goes through libcsv in strict mode. Both
 * paths deliver cells to the same two functions (on_cell, on_row_end), and
 * the fuzzer checks they agree.
 *
 * A partial line is carried over between feeds in a buffer that is reused,
 * so there is no allocation per record. A line longer than CARRY_MAX is
 * streamed through libcsv in pieces instead of being buffered whole.
 */
#include "core/csv.h"

#include <csv.h> /* libcsv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/builder.h"

#define MAX_COLUMNS 256
#define CARRY_MAX   (64 * 1024)

/* libcsv's parser state between rows (ROW_NOT_BEGUN in libcsv.c); its
 * struct is public so that callers can see it. */
#define LIBCSV_ROW_NOT_BEGUN 0

struct sf_csv_decoder {
    struct csv_parser parser;
    sf_builder b;
    sf_field colmap[MAX_COLUMNS]; /* header column -> field */
    size_t ncols;                 /* columns in the header */
    size_t col;                   /* cells seen so far in the current row */
    bool header_done;
    bool in_row;             /* a cell of the current row has been delivered */
    bool fast_path;          /* split quote-free lines ourselves */
    bool line_open;          /* part of the current line has been processed */
    bool mid_line;           /* the current line is being streamed through libcsv */
    bool cr_end;             /* the last piece given to libcsv ended with a CR */
    bool skip_rest;          /* a quoting error: drop the rest of this line (or to a lone CR) */
    uint64_t line;           /* number of the line being processed (1-based) */
    uint64_t row_line;       /* line where the current row starts */
    uint64_t candidate_line; /* line where a row starting now starts */
    uint64_t index;          /* data rows finished */
    char *carry;
    size_t carry_len, carry_cap;
};

static int no_space(unsigned char c)
{
    (void)c;
    return 0; /* never trim: descriptions keep their spaces */
}

static int parser_init(sf_csv_decoder *d)
{
    if (csv_init(&d->parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return -1;
    csv_set_space_func(&d->parser, no_space);
    return 0;
}

int sf_csv_decoder_new(sf_encoding enc, const sf_decode_sink *sink, sf_csv_decoder **out,
                       sf_error *err)
{
    sf_csv_decoder *d = calloc(1, sizeof *d);
    if (!d || parser_init(d) < 0) {
        free(d);
        return sf_error_set(err, SF_ENOMEM, "out of memory creating a CSV decoder");
    }
    sf_builder_init(&d->b, sink, enc);
    d->fast_path = true;
    *out = d;
    return 0;
}

void sf_csv_decoder_free(sf_csv_decoder *d)
{
    if (!d)
        return;
    csv_free(&d->parser);
    free(d->carry);
    free(d);
}

void sf_csv_set_fast_path(sf_csv_decoder *d, bool on)
{
    d->fast_path = on;
}

void sf_csv_stats(const sf_csv_decoder *d, sf_decode_stats *out)
{
    *out = d->b.stats;
    out->lines = d->line;
}

static void header_cell(sf_csv_decoder *d, const char *s, size_t len)
{
    if (d->col >= MAX_COLUMNS) {
        sf_builder_fatal(&d->b, d->row_line, 0, "header has more than %d columns", MAX_COLUMNS);
        return;
    }
    sf_field f = sf_field_lookup(s, len);
    for (size_t i = 0; f != SF_FIELD_NONE && i < d->col; i++) {
        if (d->colmap[i] == f) {
            sf_builder_fatal(&d->b, d->row_line, 0, "header: columns %zu and %zu are both %s",
                             i + 1, d->col + 1, sf_field_name(f));
            return;
        }
    }
    d->colmap[d->col] = f;
}

static void header_end(sf_csv_decoder *d)
{
    uint32_t have = 0;
    for (size_t i = 0; i < d->col; i++)
        if (d->colmap[i] != SF_FIELD_NONE)
            have |= 1u << d->colmap[i];
    uint32_t missing = SF_FIELDS_REQUIRED & ~have;
    if (missing) {
        sf_builder_fatal(&d->b, d->row_line, 0, "header has no %s column",
                         sf_field_name((sf_field)__builtin_ctz(missing)));
        return;
    }
    d->ncols = d->col;
    d->header_done = true;
}

static void on_cell(sf_csv_decoder *d, const char *s, size_t len)
{
    if (d->b.status)
        return;
    if (!d->in_row) {
        d->in_row = true;
        d->col = 0;
        d->row_line = d->candidate_line;
        if (d->header_done)
            sf_builder_begin(&d->b, d->row_line, d->index);
    }
    if (!d->header_done)
        header_cell(d, s, len);
    else if (d->col < d->ncols)
        sf_builder_set(&d->b, d->colmap[d->col], SF_VALUE_TEXT, s, len);
    d->col++;
}

static void on_row_end(sf_csv_decoder *d)
{
    if (d->b.status || !d->in_row)
        return;
    d->in_row = false;
    if (!d->header_done) {
        header_end(d);
        return;
    }
    if (d->col != d->ncols)
        sf_builder_fail(&d->b, SF_FIELD_NONE, "has %zu cells; the header has %zu", d->col,
                        d->ncols);
    sf_builder_end(&d->b);
    d->index++;
}

static void libcsv_cell(void *s, size_t len, void *ctx)
{
    on_cell(ctx, s, len);
}

static void libcsv_row(int term, void *ctx)
{
    (void)term;
    on_row_end(ctx);
}

/* A row libcsv refused: report it, then start afresh on the next line. */
static void bad_quoting(sf_csv_decoder *d, const char *what)
{
    if (!d->header_done) {
        sf_builder_fatal(&d->b, d->candidate_line, 0, "header: %s", what);
        return;
    }
    if (!d->in_row) {
        d->row_line = d->candidate_line;
        sf_builder_begin(&d->b, d->row_line, d->index);
    }
    sf_builder_fail(&d->b, SF_FIELD_NONE, "%s", what);
    sf_builder_end(&d->b);
    d->index++;
    d->in_row = false;
    csv_free(&d->parser);
    if (parser_init(d) < 0)
        sf_builder_fatal(&d->b, d->line, 0, "out of memory");
}

static void feed_libcsv(sf_csv_decoder *d, const char *p, size_t n)
{
    size_t done = csv_parse(&d->parser, p, n, libcsv_cell, libcsv_row, d);
    if (done < n && !d->b.status) {
        if (csv_error(&d->parser) == CSV_EPARSE) {
            char what[128];
            snprintf(what, sizeof what,
                     "malformed quoting on line %llu: a quote inside an unquoted cell, or text "
                     "after a closing quote",
                     (unsigned long long)d->line);
            bad_quoting(d, what);
            d->skip_rest = true; /* also in the line's later pieces (long lines) */
        } else
            sf_builder_fatal(&d->b, d->line, 0, "%s", csv_strerror(csv_error(&d->parser)));
    }
}

/* The quote-free fast path: cells are the text between commas. */
static void split_line(sf_csv_decoder *d, const char *p, size_t n)
{
    if (n == 0)
        return; /* blank line: skipped, as libcsv does */
    const char *s = p, *end = p + n;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        if (!comma) {
            on_cell(d, s, (size_t)(end - s));
            break;
        }
        on_cell(d, s, (size_t)(comma - s));
        s = comma + 1;
    }
    on_row_end(d);
}

/* A new line begins; a row not yet begun would start on it. */
static void next_line(sf_csv_decoder *d)
{
    d->line++;
    if (d->parser.pstate == LIBCSV_ROW_NOT_BEGUN && !d->in_row)
        d->candidate_line = d->line;
}

/*
 * Give p[0..n) to libcsv. A CR that is not part of a CRLF ends a line for
 * libcsv as LF does, so it is counted as one here: rows after it start on
 * the next line, and a quoting error costs only the rest of its own line.
 */
static void feed_lines(sf_csv_decoder *d, const char *p, size_t n)
{
    /* Nothing to count. p may be NULL: sf_csv_finish ends a long last line
     * with an empty carry that was never allocated. */
    if (n == 0)
        return;
    const char *end = p + n, *cr;
    if (d->cr_end && p[0] != '\n') {
        next_line(d); /* the previous piece ended with a lone CR */
        d->skip_rest = false;
    }
    while (d->skip_rest && (cr = memchr(p, '\r', (size_t)(end - p))) != NULL && cr + 1 < end) {
        p = cr + 1; /* an earlier piece of this line had a quoting error */
        if (*p != '\n') {
            next_line(d);
            d->skip_rest = false;
        }
    }
    if (d->skip_rest) {
        d->cr_end = end[-1] == '\r';
        return;
    }
    while (!d->b.status && (cr = memchr(p, '\r', (size_t)(end - p))) != NULL && cr + 1 < end &&
           cr[1] != '\n') {
        feed_libcsv(d, p, (size_t)(cr + 1 - p));
        p = cr + 1;
        next_line(d);
        d->skip_rest = false;
    }
    feed_libcsv(d, p, (size_t)(end - p));
    d->cr_end = end[-1] == '\r';
}

/* Process p[0..n): the whole rest of a line when complete, else a piece. */
static void process(sf_csv_decoder *d, const char *p, size_t n, bool complete)
{
    if (!d->line_open) {
        d->line_open = true;
        next_line(d);
    }
    size_t body = n;
    if (complete && body && p[body - 1] == '\n')
        body--;
    if (complete && body && p[body - 1] == '\r')
        body--;
    if (complete && !d->mid_line && d->fast_path && d->parser.pstate == LIBCSV_ROW_NOT_BEGUN &&
        !memchr(p, '"', body) && !memchr(p, '\r', body))
        split_line(d, p, body);
    else
        feed_lines(d, p, n);
    d->mid_line = !complete;
    if (complete)
        d->line_open = d->cr_end = d->skip_rest = false;
}

static int carry_append(sf_csv_decoder *d, const char *p, size_t n)
{
    if (d->carry_len + n > d->carry_cap) {
        size_t cap = d->carry_cap ? d->carry_cap : 4096;
        while (cap < d->carry_len + n)
            cap *= 2;
        char *c = realloc(d->carry, cap);
        if (!c)
            return sf_builder_fatal(&d->b, d->line, 0, "out of memory");
        d->carry = c;
        d->carry_cap = cap;
    }
    memcpy(d->carry + d->carry_len, p, n);
    d->carry_len += n;
    return 0;
}

int sf_csv_feed(sf_csv_decoder *d, const char *buf, size_t len, sf_error *err)
{
    while (len > 0 && !d->b.status) {
        const char *nl = memchr(buf, '\n', len);
        size_t take = nl ? (size_t)(nl - buf) + 1 : len;
        if (!nl && d->carry_len + take <= CARRY_MAX) {
            carry_append(d, buf, take);
        } else if (!nl) {
            /* A very long line: stream it through libcsv piece by piece. */
            if (d->carry_len)
                process(d, d->carry, d->carry_len, false);
            d->carry_len = 0;
            process(d, buf, take, false);
        } else if (d->carry_len) {
            if (carry_append(d, buf, take) == 0)
                process(d, d->carry, d->carry_len, true);
            d->carry_len = 0;
        } else {
            process(d, buf, take, true);
        }
        buf += take;
        len -= take;
    }
    return sf_builder_status(&d->b, err);
}

int sf_csv_finish(sf_csv_decoder *d, sf_error *err)
{
    if (d->b.status)
        return sf_builder_status(&d->b, err);
    if (d->carry_len || d->mid_line)
        process(d, d->carry, d->carry_len, true);
    d->carry_len = 0;
    /* csv_fini returns -1, and csv_error tells why. */
    if (csv_fini(&d->parser, libcsv_cell, libcsv_row, d) != 0 &&
        csv_error(&d->parser) == CSV_EPARSE && !d->b.status) {
        char what[96];
        snprintf(what, sizeof what, "a quoted cell opened on line %llu is never closed",
                 (unsigned long long)d->candidate_line);
        bad_quoting(d, what);
    }
    if (!d->header_done && !d->b.status)
        sf_builder_fatal(&d->b, d->line ? d->line : 1, 0,
                         "the input is empty: there is no header line");
    return sf_builder_status(&d->b, err);
}
