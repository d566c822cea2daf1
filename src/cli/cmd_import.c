/*
 * cmd_import.c - `shopflow import FILE... --data DIR`: load whole files into
 * the stream log (sinks/import.h): all or nothing per file, each row once
 * however often a file is imported.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/money.h"
#include "core/progress.h"
#include "sinks/import.h"

typedef struct import_args {
    const char *data, *stream;
    sf_decode_opts opts;
    long partitions, window, max_errors;
} import_args;

typedef struct error_printer {
    const char *path;
    long max, seen;
} error_printer;

static int print_error(void *ctx, const sf_decode_error *e)
{
    error_printer *p = ctx;
    if (e->fatal || p->seen++ >= p->max)
        return 0;
    char msg[SF_ERROR_MSG_MAX + 256];
    sf_decode_error_format_in(e, p->path, msg, sizeof msg);
    fprintf(stderr, "%s\n", msg);
    return 0;
}

static int parse_args(int argc, char **argv, import_args *a)
{
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"stream", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},
        {"encoding", required_argument, NULL, 'e'},
        {"partitions", required_argument, NULL, 'p'},
        {"dedup-window", required_argument, NULL, 'w'},
        {"max-errors", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (import_args){.data = "./var", .partitions = 0, .window = 1000000, .max_errors = 20};
    int c;
    while ((c = getopt_long(argc, argv, "d:s:f:e:p:w:m:h", options, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'd':
            a->data = optarg;
            break;
        case 's':
            a->stream = optarg;
            break;
        case 'f':
            if (sf_format_parse(optarg, &a->opts.format) < 0)
                return sf_cli_usage_error(&sf_cmd_import, "unknown --format '%s'", optarg);
            break;
        case 'e':
            if (sf_encoding_parse(optarg, &a->opts.encoding) < 0)
                return sf_cli_usage_error(&sf_cmd_import, "unknown --encoding '%s'", optarg);
            break;
        case 'p':
        case 'w':
        case 'm': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < (c == 'm' ? 0 : 1) || (c == 'p' && v > SF_STREAM_PARTITIONS_MAX))
                return sf_cli_usage_error(&sf_cmd_import, "-%c takes a number in range", c);
            *(c == 'p' ? &a->partitions : c == 'w' ? &a->window : &a->max_errors) = v;
            break;
        }
        case 'h':
            fputs(sf_cmd_import.help, stdout);
            exit(SF_EXIT_OK);
        default:
            return sf_cli_usage_error(&sf_cmd_import, "unknown option");
        }
    }
    return optind < argc ? 0 : sf_cli_usage_error(&sf_cmd_import, "no FILE given");
}

static sf_cli_stream_opts stream_opts; /* --stream-opt, for the stream's adapter */

static int open_backends(const import_args *a, sf_stream **s, sf_dedup **d, sf_error *err)
{
    char location[4096];
    sf_stream_location(a->data, a->stream, location, sizeof location);
    mkdir(a->data, 0755);
    sf_stream_opts opts = {
        .partitions = (uint32_t)a->partitions, .extra = stream_opts.kv, .nextra = stream_opts.n};
    int rc = sf_stream_open(location, &opts, s, err);
    if (rc == SF_EBUSY)
        sf_error_prefix(err, "cannot import while a server writes the log (post the file to it, "
                             "or stop it): ");
    if (rc == 0 && (rc = sf_dedup_new((size_t)a->window, d, err)) == 0)
        rc = sf_dedup_load(*d, *s, err);
    return rc;
}

static int run_import(int argc, char **argv)
{
    import_args a;
    if (sf_cli_take_stream_opts(&sf_cmd_import, &argc, argv, &stream_opts) != 0)
        return SF_EXIT_USAGE;
    if (parse_args(argc, argv, &a) != 0)
        return SF_EXIT_USAGE;
    sf_stream *s = NULL;
    sf_dedup *d = NULL;
    sf_error err = {0};
    int status = SF_EXIT_OK;
    if (open_backends(&a, &s, &d, &err) < 0) {
        fprintf(stderr, "shopflow import: %s\n", err.msg);
        status = SF_EXIT_FAIL;
    }
    for (int i = optind; status == SF_EXIT_OK && i < argc; i++) {
        error_printer ep = {argv[i], a.max_errors, 0};
        sf_progress progress;
        char label[64];
        snprintf(label, sizeof label, "import %d/%d", i - optind + 1, argc - optind);
        sf_progress_init(&progress, stderr, label);
        sf_import_result res;
        int rc = sf_import_file(s, d, argv[i], &a.opts, print_error, &ep, &progress, &res, &err);
        sf_progress_end(&progress);
        if (ep.seen > a.max_errors)
            fprintf(stderr, "... and %ld more invalid rows\n", ep.seen - a.max_errors);
        if (rc < 0) {
            fprintf(stderr, "shopflow import: %s\n", err.msg);
            status = SF_EXIT_FAIL;
            break; /* files after a failed one are not imported: fix and rerun */
        }
        char rows[SF_MONEY_TEXT_MAX], imp[SF_MONEY_TEXT_MAX], dup[SF_MONEY_TEXT_MAX];
        sf_format_count((int64_t)res.rows, rows);
        sf_format_count((int64_t)res.imported, imp);
        sf_format_count((int64_t)res.duplicates, dup);
        printf("%s: %s rows, %s imported, %s already imported\n", argv[i], rows, imp, dup);
    }
    sf_dedup_free(d);
    sf_stream_close(s);
    sf_cli_stream_opts_free(&stream_opts);
    return status;
}

const sf_command sf_cmd_import = {
    "import",
    "load whole files into the stream log, all or nothing, each row once",
    "usage: shopflow import FILE... [--data DIR] [--stream LOCATION] [--partitions N]\n"
    "                       [--format auto|csv|json] [--encoding auto|utf-8|latin1]\n"
    "                       [--dedup-window N] [--max-errors N]\n"
    "\n"
    "Validates each FILE whole first (CSV or JSON, gzip or not; errors as `shopflow check`\n"
    "prints them): one invalid row and nothing of that file is imported, and the files after\n"
    "it are left alone (exit 1). A valid file is appended to the stream log of DIR (DIR/log)\n"
    "with deterministic event ids (the file's content hash and the row number), so importing\n"
    "a file again, or rerunning an import that was cut short, never duplicates a row.\n"
    "The log must not be open for writing by a running server. --stream kafka://HOST:PORT/TOPIC\n"
    "imports into a Kafka topic instead (--stream-opt KEY=VALUE for librdkafka); there the\n"
    "event ids are checked against the topic's recent records.\n",
    run_import,
};
