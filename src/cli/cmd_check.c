/*
 * cmd_check.c - `shopflow check FILE...`: decode and validate files and
 * report the dataset's figures.
 *
 * Bad rows are reported on stderr as `file:line: field: reason` (the first
 * --max-errors of them, then a count), and make the exit status 1; the
 * figures cover the valid rows. A file that cannot be read or decoded at all
 * is reported and the others are still checked.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl/yajl_gen.h>

#include "check/check.h"
#include "cli/cli.h"
#include "core/decoder.h"
#include "core/money.h"
#include "core/progress.h"
#include "core/timefmt.h"

#define MAX_FILES 1024

typedef struct file_result {
    const char *path;
    sf_format format;
    sf_decode_stats stats;
    int rc;
    char error[SF_ERROR_MSG_MAX];
} file_result;

typedef struct check_run {
    sf_check *check;
    const char *path; /* file being decoded */
    long max_errors;
    uint64_t errors; /* record errors, all files */
    sf_error add_err;
} check_run;

static int on_record(void *ctx, const sf_record *r, const sf_decode_pos *pos)
{
    (void)pos;
    check_run *run = ctx;
    return sf_check_add(run->check, r, &run->add_err) < 0;
}

static int on_error(void *ctx, const sf_decode_error *e)
{
    check_run *run = ctx;
    if (e->fatal)
        return 0; /* reported with the file's result */
    if ((long)run->errors++ >= run->max_errors)
        return 0;
    char msg[SF_ERROR_MSG_MAX + 256];
    sf_decode_error_format_in(e, run->path, msg, sizeof msg);
    fprintf(stderr, "%s\n", msg);
    return 0;
}

static void print_text(const sf_check_figures *f, const file_result *files, int nfiles,
                       uint64_t rows, uint64_t invalid, double seconds)
{
    char a[SF_MONEY_TEXT_MAX], first[SF_TIME_TEXT_LEN + 1] = "-", last[SF_TIME_TEXT_LEN + 1] = "-";
    if (f->rows) {
        sf_time_format(f->first, first);
        sf_time_format(f->last, last);
    }
    printf("checked %d file%s in %.2f s\n", nfiles, nfiles == 1 ? "" : "s", seconds);
    for (int i = 0; i < nfiles; i++) {
        if (files[i].rc) /* the error names the file */
            printf("  %s\n", files[i].error);
        else
            printf("  %s (%s)\n", files[i].path, sf_format_name(files[i].format));
    }
    struct {
        const char *label;
        sf_i128 v;
    } counts[] = {
        {"rows", (int64_t)rows},
        {"invalid rows", (int64_t)invalid},
        {"invoices", (int64_t)f->invoices},
        {"stock codes", (int64_t)f->stock_codes},
        {"descriptions", (int64_t)f->descriptions},
        {"customers", (int64_t)f->customers},
        {"countries", (int64_t)f->countries},
        {"trading days", (int64_t)f->days},
        {"quantity", f->quantity},
        {"cancellation rows", (int64_t)f->cancellation_rows},
        {"adjustment rows", (int64_t)f->adjustment_rows},
        {"negative-quantity rows", (int64_t)f->negative_quantity_rows},
        {"rows without customer", (int64_t)f->no_customer_rows},
        {"exact-duplicate rows", (int64_t)f->duplicate_rows},
        {"zero-price rows", (int64_t)f->zero_price_rows},
        {"non-product rows", (int64_t)f->non_product_rows},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        sf_format_count(counts[i].v, a);
        printf("%-24s %20s\n", counts[i].label, a);
    }
    sf_format_milli(f->revenue, true, a);
    printf("%-24s %20s\n", "revenue (net)", a);
    printf("%-24s %20s\n%-24s %20s\n", "first", first, "last", last);
}

static void gen_str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_int(yajl_gen g, const char *key, int64_t v)
{
    gen_str(g, key);
    yajl_gen_integer(g, v);
}

static void print_json(const sf_check_figures *f, const file_result *files, int nfiles,
                       uint64_t rows, uint64_t invalid)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        return;
    yajl_gen_map_open(g);
    gen_int(g, "rows", (int64_t)rows);
    gen_int(g, "invalid", (int64_t)invalid);
    gen_int(g, "invoices", (int64_t)f->invoices);
    gen_int(g, "stock_codes", (int64_t)f->stock_codes);
    gen_int(g, "descriptions", (int64_t)f->descriptions);
    gen_int(g, "customers", (int64_t)f->customers);
    gen_int(g, "countries", (int64_t)f->countries);
    gen_int(g, "days", (int64_t)f->days);
    char t[SF_TIME_TEXT_LEN + 1], m[SF_MONEY_TEXT_MAX];
    gen_str(g, "first");
    if (f->rows) {
        sf_time_format(f->first, t);
        gen_str(g, t);
    } else {
        yajl_gen_null(g);
    }
    gen_str(g, "last");
    if (f->rows) {
        sf_time_format(f->last, t);
        gen_str(g, t);
    } else {
        yajl_gen_null(g);
    }
    gen_str(g, "quantity"); /* 128 bits: its digits as the number */
    yajl_gen_number(g, m, sf_format_i128(f->quantity, m));
    sf_format_milli(f->revenue, false, m);
    gen_str(g, "revenue");
    gen_str(g, m);
    gen_int(g, "cancellation_rows", (int64_t)f->cancellation_rows);
    gen_int(g, "adjustment_rows", (int64_t)f->adjustment_rows);
    gen_int(g, "negative_quantity_rows", (int64_t)f->negative_quantity_rows);
    gen_int(g, "no_customer_rows", (int64_t)f->no_customer_rows);
    gen_int(g, "duplicate_rows", (int64_t)f->duplicate_rows);
    gen_int(g, "zero_price_rows", (int64_t)f->zero_price_rows);
    gen_int(g, "non_product_rows", (int64_t)f->non_product_rows);
    gen_str(g, "files");
    yajl_gen_array_open(g);
    for (int i = 0; i < nfiles; i++) {
        yajl_gen_map_open(g);
        gen_str(g, "path");
        gen_str(g, files[i].path);
        gen_str(g, "format");
        gen_str(g, sf_format_name(files[i].format));
        gen_int(g, "rows", (int64_t)files[i].stats.records);
        gen_int(g, "invalid", (int64_t)files[i].stats.invalid);
        gen_str(g, "error");
        if (files[i].rc)
            gen_str(g, files[i].error);
        else
            yajl_gen_null(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(g, &buf, &len);
    fwrite(buf, 1, len, stdout);
    fputc('\n', stdout);
    yajl_gen_free(g);
}

static sf_setting settings[] = {
    SF_OPT_JSON("print one JSON object instead of a table"),
    SF_OPT_DECODE,
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

/* About how many rows the files hold, to size the duplicate set once: the
 * bundled data has 89 bytes a row, and gzip shrinks it about 6 times. */
static uint64_t estimate_rows(char **paths, int n)
{
    uint64_t rows = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        size_t len = strlen(paths[i]);
        if (stat(paths[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        bool gz = len > 3 && strcmp(paths[i] + len - 3, ".gz") == 0;
        rows += (uint64_t)st.st_size * (gz ? 6 : 1) / 89;
    }
    return rows;
}

/* The files to check (the words left beside the settings) and the
 * decoder's options. SF_CLI_GO, or the status to exit with. */
static int parse_args(int argc, char **argv, char ***files, int *nfiles, sf_decode_opts *opts)
{
    int status =
        sf_cli_settings(&sf_cmd_check, settings, NSETTINGS, argc, argv, INT_MAX, files, nfiles);
    if (status == SF_CLI_GO && *nfiles == 0)
        status = sf_cli_usage_error(&sf_cmd_check, "no FILE given");
    if (status == SF_CLI_GO && *nfiles > MAX_FILES)
        status = sf_cli_usage_error(&sf_cmd_check, "at most %d files at once", MAX_FILES);
    if (status == SF_CLI_GO)
        status = sf_cli_decode_opts(&sf_cmd_check, opts);
    if (status != SF_CLI_GO && *files) {
        free(*files);
        *files = NULL;
    }
    return status;
}

static int run_check(int argc, char **argv)
{
    char **paths;
    int nfiles;
    sf_decode_opts opts;
    int status = parse_args(argc, argv, &paths, &nfiles, &opts);
    if (status != SF_CLI_GO) {
        sf_cli_settings_free();
        return status;
    }
    bool json = sf_cli_num("json");
    file_result *files = calloc((size_t)nfiles, sizeof *files);
    check_run run = {.max_errors = (long)sf_cli_num("max-errors")};
    sf_cli_settings_free();
    sf_error err = {0};
    if (!files || sf_check_new(&run.check, &err) < 0) {
        fprintf(stderr, "shopflow check: out of memory\n");
        free(files);
        free(paths);
        return SF_EXIT_FAIL;
    }
    sf_check_reserve(run.check, estimate_rows(paths, nfiles));
    sf_decode_sink sink = {on_record, on_error, &run};
    uint64_t rows = 0, invalid = 0;
    status = SF_EXIT_OK;
    double start = sf_monotonic();
    for (int i = 0; i < nfiles; i++) {
        file_result *fr = &files[i];
        fr->path = run.path = paths[i];
        sf_progress progress;
        char label[64];
        snprintf(label, sizeof label, "check %d/%d", i + 1, nfiles);
        sf_progress_init(&progress, stderr, label);
        fr->rc = sf_decode_file(fr->path, &opts, &sink, &progress, &fr->stats, &err);
        sf_progress_end(&progress);
        fr->format = fr->stats.format;
        if (fr->rc == SF_ESTOPPED && run.add_err.code)
            err = run.add_err;
        if (fr->rc < 0) {
            snprintf(fr->error, sizeof fr->error, "%s", err.msg);
            fprintf(stderr, "%s\n", err.msg);
            status = SF_EXIT_FAIL;
        }
        rows += fr->stats.records;
        invalid += fr->stats.invalid;
    }
    if (run.errors > (uint64_t)run.max_errors)
        fprintf(stderr, "... and %llu more invalid rows\n",
                (unsigned long long)(run.errors - (uint64_t)run.max_errors));
    if (invalid)
        status = SF_EXIT_FAIL;
    sf_check_figures f;
    if (sf_check_figures_get(run.check, &f, &err) < 0) {
        fprintf(stderr, "shopflow check: %s\n", err.msg);
        status = SF_EXIT_FAIL;
    }
    if (json)
        print_json(&f, files, nfiles, rows, invalid);
    else
        print_text(&f, files, nfiles, rows, invalid, sf_monotonic() - start);
    sf_check_free(run.check);
    free(files);
    free(paths);
    return status;
}

const sf_command sf_cmd_check = {
    "check",
    "validate CSV/JSON files (gzip or not) and report their figures",
    "usage: shopflow check FILE... [--json] [--format auto|csv|json] [--encoding "
    "auto|utf-8|latin1]\n"
    "                      [--max-errors N]\n"
    "\n"
    "Decodes and validates each FILE (CSV with a header line, JSON objects, arrays or NDJSON;\n"
    "gzip-compressed or not; '-' reads standard input) and prints, over all valid rows: rows,\n"
    "invalid rows, distinct invoices, stock codes, descriptions, customers, countries and\n"
    "trading days, first and last date, quantity sum, net revenue (exact), and the counts of\n"
    "cancellation, adjustment, negative-quantity, no-customer, exact-duplicate, zero-price and\n"
    "non-product rows.\n"
    "\n"
    "Invalid rows are printed on stderr as FILE:LINE: FIELD: REASON.\n"
    "Exit status: 0 every row valid, 1 some row or file invalid, 2 usage error.\n",
    run_check,
};
