/*
 * cmd_import.c - `shopflow import FILE... --data DIR`: load whole files into
 * the stream log (sinks/import.h): all or nothing per file, each row once
 * however often a file is imported. Two more sources: `--from-archive` (the
 * archive's objects, to rebuild a data folder) and `--watch DIR` (the
 * scheduled batch job over a folder, sinks/watch.h).
 */
#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/stack.h"
#include "core/logline.h"
#include "core/money.h"
#include "core/progress.h"
#include "sinks/import.h"
#include "sinks/service.h"
#include "sinks/watch.h"

typedef struct import_args {
    const char *data, *stream, *watch, *sinks;
    sf_decode_opts opts;
    long partitions, window, max_errors;
    bool from_archive, once;
    double every_s, settle_s;
    sf_bad_entry on_bad_entry; /* of the --sinks */
} import_args;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* "60s", "500ms", "5m", "1h", "2d" or plain seconds; -1 if not one. */
static double parse_duration(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || v < 0)
        return -1;
    if (*end == '\0' || strcmp(end, "s") == 0)
        return v;
    if (strcmp(end, "ms") == 0)
        return v / 1000;
    if (strcmp(end, "m") == 0)
        return v * 60;
    if (strcmp(end, "h") == 0)
        return v * 3600;
    if (strcmp(end, "d") == 0)
        return v * 86400;
    return -1;
}

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

static int print_object_error(void *ctx, const char *path, const sf_decode_error *e)
{
    ((error_printer *)ctx)->path = path;
    return print_error(ctx, e);
}

/* The options that choose a mode (files, --from-archive, --watch) go together
 * only in the ways the help describes. */
static int check_mode(const import_args *a, bool has_files)
{
    if (a->sinks && (a->watch || a->from_archive))
        return sf_cli_usage_error(&sf_cmd_import, "--sinks goes with FILE... only");
    if (a->watch && (has_files || a->from_archive))
        return sf_cli_usage_error(&sf_cmd_import,
                                  "--watch DIR takes no FILE and no --from-archive");
    if (a->watch)
        return 0;
    if (a->once)
        return sf_cli_usage_error(&sf_cmd_import, "--once goes with --watch");
    return has_files ? 0
                     : sf_cli_usage_error(&sf_cmd_import,
                                          a->from_archive ? "no ARCHIVE given" : "no FILE given");
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
        {"from-archive", no_argument, NULL, 'A'},
        {"watch", required_argument, NULL, 'W'},
        {"every", required_argument, NULL, 'E'},
        {"settle", required_argument, NULL, 'S'},
        {"once", no_argument, NULL, 'O'},
        {"sinks", required_argument, NULL, 'K'},
        {"on-bad-entry", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (import_args){.data = "./var",
                       .partitions = 0,
                       .window = 1000000,
                       .max_errors = 20,
                       .every_s = 60,
                       .settle_s = 10};
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
        case 'A':
            a->from_archive = true;
            break;
        case 'W':
            a->watch = optarg;
            break;
        case 'O':
            a->once = true;
            break;
        case 'K':
            a->sinks = optarg;
            break;
        case 'B':
            if (sf_bad_entry_parse(optarg, &a->on_bad_entry, NULL) < 0)
                return sf_cli_usage_error(&sf_cmd_import, "--on-bad-entry: stop or quarantine");
            break;
        case 'E':
        case 'S': {
            double v = parse_duration(optarg);
            if (v < 0 || (c == 'E' && v < 0.01))
                return sf_cli_usage_error(&sf_cmd_import, "--%s takes a duration (60s, 5m, 500ms)",
                                          c == 'E' ? "every" : "settle");
            *(c == 'E' ? &a->every_s : &a->settle_s) = v;
            break;
        }
        case 'h':
            fputs(sf_cmd_import.help, stdout);
            exit(SF_EXIT_OK);
        default:
            return sf_cli_usage_error(&sf_cmd_import, "unknown option");
        }
    }
    return check_mode(a, optind < argc);
}

static sf_cli_stream_opts stream_opts; /* --stream-opt, for the stream's adapter */

static int open_backends(const import_args *a, sf_import_target *t, sf_error *err)
{
    char location[4096], ledger[4096];
    sf_stream_location(a->data, a->stream, location, sizeof location);
    sf_ledger_path(a->data, a->stream, ledger, sizeof ledger);
    int rc = sf_cli_make_data_dir(a->data, err);
    if (rc < 0)
        return rc;
    sf_stream_opts opts = {
        .partitions = (uint32_t)a->partitions, .extra = stream_opts.kv, .nextra = stream_opts.n};
    return sf_import_open(location, &opts, ledger, (size_t)a->window, t, err);
}

static void print_result(const char *what, const sf_import_result *res)
{
    char rows[SF_MONEY_TEXT_MAX], imp[SF_MONEY_TEXT_MAX], dup[SF_MONEY_TEXT_MAX];
    sf_format_count((int64_t)res->rows, rows);
    sf_format_count((int64_t)res->imported, imp);
    sf_format_count((int64_t)res->duplicates, dup);
    if (res->rows && res->imported == 0 && res->duplicates == res->rows)
        printf("%s: already imported: %s rows, 0 loaded\n", what, rows);
    else
        printf("%s: %s rows, %s imported, %s already imported\n", what, rows, imp, dup);
}

/* Save the ledger and close; a failure to save fails the command (the log
 * holds what was imported: the next import reads it again). */
static int close_backends(sf_import_target *t, int status)
{
    sf_error err = {0};
    if (sf_import_close(t, &err) < 0) {
        fprintf(stderr, "shopflow import: %s\n", err.msg);
        status = SF_EXIT_FAIL;
    }
    return status;
}

/* --sinks: the sinks run in threads of this process, following the log
 * while the files are appended, as `serve` runs them. */
typedef struct import_sinks {
    sf_sink *sinks[SF_SINKS];
    size_t n;
    sf_sink_service *svc;
    double started;
} import_sinks;

static int start_sinks(const import_args *a, sf_stream *s, import_sinks *is, sf_error *err)
{
    bool which[SF_SINKS];
    const char *list = strcmp(a->sinks, "all") == 0 ? "archive,history,warehouse" : a->sinks;
    int rc = sf_stack_parse_sinks(list, which, err);
    sf_sink_places at = {a->data, NULL, NULL, NULL};
    for (int i = 0; rc == 0 && i < SF_SINKS; i++)
        if (which[i] &&
            (rc = sf_sink_open(sf_sink_names[i], &at, NULL, false, &is->sinks[is->n], err)) == 0)
            is->sinks[is->n++]->on_bad_entry = a->on_bad_entry;
    is->started = sf_monotonic();
    return rc == 0 && is->n ? sf_sink_service_start(s, is->sinks, is->n, &is->svc, err) : rc;
}

/* Wait until every sink holds all the log has, durably; a sink's failure
 * ends the wait (the sinks resume from their stores when run again). */
static int wait_sinks(import_sinks *is, sf_stream *s, sf_error *err)
{
    if (!is->svc)
        return 0;
    double t0 = sf_monotonic();
    uint64_t total = sf_stream_total_end(s), applied, durable;
    sf_progress progress;
    sf_progress_init(&progress, stderr, "sinks");
    int rc = 0;
    for (;;) {
        sf_sink_service_position(is->svc, &applied, &durable);
        sf_progress_update(&progress, applied, applied, total);
        if (durable >= total)
            break;
        if (sf_sink_service_failures(is->svc, err)) {
            rc = SF_EFAILED;
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sf_progress_end(&progress);
    if (rc == 0)
        printf("sinks (%zu) caught up %.2f s after the import, %.2f s after they started\n", is->n,
               sf_monotonic() - t0, sf_monotonic() - is->started);
    return rc;
}

static void stop_sinks(import_sinks *is)
{
    sf_sink_service_stop(is->svc);
    for (size_t i = 0; i < is->n; i++)
        sf_sink_close(is->sinks[i]);
}

static int import_files(const import_args *a, int argc, char **argv)
{
    sf_import_target t = {0};
    sf_error err = {0};
    import_sinks is = {0};
    int status = SF_EXIT_OK;
    if (open_backends(a, &t, &err) < 0 || (a->sinks && start_sinks(a, t.s, &is, &err) < 0)) {
        fprintf(stderr, "shopflow import: %s\n", err.msg);
        status = SF_EXIT_FAIL;
    }
    for (int i = optind; status == SF_EXIT_OK && i < argc; i++) {
        error_printer ep = {argv[i], a->max_errors, 0};
        sf_progress progress;
        char label[64];
        snprintf(label, sizeof label, "import %d/%d", i - optind + 1, argc - optind);
        sf_progress_init(&progress, stderr, label);
        sf_import_result res;
        int rc = sf_import_file(&t, argv[i], &a->opts, print_error, &ep, &progress, &res, &err);
        sf_progress_end(&progress);
        if (ep.seen > a->max_errors)
            fprintf(stderr, "... and %ld more invalid rows\n", ep.seen - a->max_errors);
        if (rc < 0) {
            fprintf(stderr, "shopflow import: %s\n", err.msg);
            status = SF_EXIT_FAIL;
            break; /* files after a failed one are not imported: fix and rerun */
        }
        print_result(argv[i], &res);
    }
    if (status == SF_EXIT_OK && wait_sinks(&is, t.s, &err) < 0) {
        fprintf(stderr, "shopflow import: %s\n", err.msg);
        status = SF_EXIT_FAIL;
    }
    stop_sinks(&is);
    return close_backends(&t, status);
}

/* --from-archive: gather the objects first (they say how many partitions the
 * new log needs and how many ids the window must hold), then import. */
static int import_archive(import_args *a, int argc, char **argv)
{
    sf_archive_set set = {0};
    sf_error err = {0};
    int rc = 0;
    for (int i = optind; rc == 0 && i < argc; i++)
        rc = sf_archive_set_add(&set, argv[i], &err);
    if (rc == 0)
        rc = sf_archive_set_finish(&set, &err);
    if (rc == 0 && set.n == 0)
        rc = sf_error_set(&err, SF_EUSAGE, "the archive holds no objects");
    if (rc < 0) {
        fprintf(stderr, "shopflow import: %s\n", err.msg);
        sf_archive_set_free(&set);
        return rc == SF_EUSAGE ? SF_EXIT_USAGE : SF_EXIT_FAIL;
    }
    if (set.missing)
        fprintf(stderr,
                "note: %llu records are not in the archive (%s%s); the rest is imported, "
                "but offsets after a gap differ from the original log's\n",
                (unsigned long long)set.missing, set.gap, set.missing > 1 ? ", ..." : "");
    if (!a->partitions)
        a->partitions = set.partitions;
    /* A rerun must see every record as imported: the ledger knows the ids
     * import and this rebuild make; for ids of other kinds (sent with the
     * records over HTTP), the window holds every id of the log. */
    a->window = 0;
    sf_import_target t = {0};
    int status = SF_EXIT_OK;
    if (open_backends(a, &t, &err) < 0) {
        fprintf(stderr, "shopflow import: %s\n", err.msg);
        status = SF_EXIT_FAIL;
    } else if (sf_stream_partitions(t.s) != set.partitions) {
        fprintf(stderr,
                "note: the log has %u partitions, the archive %u: records land in other "
                "partitions and offsets than the original's\n",
                sf_stream_partitions(t.s), set.partitions);
    }
    if (status == SF_EXIT_OK) {
        error_printer ep = {NULL, a->max_errors, 0};
        sf_progress progress;
        sf_progress_init(&progress, stderr, "import archive");
        sf_import_result res;
        rc = sf_import_archive(&t, &set, print_object_error, &ep, &progress, &res, &err);
        sf_progress_end(&progress);
        if (ep.seen > a->max_errors)
            fprintf(stderr, "... and %ld more invalid rows\n", ep.seen - a->max_errors);
        if (rc < 0) {
            fprintf(stderr, "shopflow import: %s\n", err.msg);
            status = SF_EXIT_FAIL;
        } else {
            char what[64];
            snprintf(what, sizeof what, "archive (%zu objects)", set.n);
            print_result(what, &res);
        }
    }
    sf_archive_set_free(&set);
    return close_backends(&t, status);
}

static void nap(double seconds)
{
    /* In slices, so that a signal ends the wait promptly. */
    for (double left = seconds; left > 0 && !stop; left -= 0.1) {
        struct timespec ts = {0, (long)((left < 0.1 ? left : 0.1) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* --watch DIR: scan, sleep, scan... until SIGTERM/SIGINT; --once scans once. */
static int watch_folder(const import_args *a)
{
    sf_error err = {0};
    int lock = -1;
    int rc = sf_watch_lock(a->watch, &lock, &err);
    if (rc < 0) {
        if (rc == SF_EUSAGE)
            return sf_cli_usage_error(&sf_cmd_import, "%s", err.msg);
        fprintf(stderr, "shopflow import: %s\n", err.msg);
        return SF_EXIT_FAIL;
    }
    char location[4096], ledger[4096], q[4400];
    sf_stream_location(a->data, a->stream, location, sizeof location);
    sf_ledger_path(a->data, a->stream, ledger, sizeof ledger);
    if (sf_cli_make_data_dir(a->data, &err) < 0) {
        fprintf(stderr, "shopflow import: %s\n", err.msg);
        close(lock);
        return SF_EXIT_FAIL;
    }
    sf_watch_opts o = {a->watch,          location, ledger,     (uint32_t)a->partitions,
                       (size_t)a->window, a->opts,  a->settle_s};
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sf_logf(SF_LOG_INFO, "watch_started", "dir=%s every=%.3f settle=%.3f once=%d",
            sf_logq(a->watch, q, sizeof q), a->every_s, a->settle_s, a->once);
    int status = SF_EXIT_OK;
    do {
        sf_watch_stats st;
        if (sf_watch_scan(&o, &stop, &st, &err) < 0) {
            char qe[SF_ERROR_MSG_MAX + 64];
            sf_logf(SF_LOG_ERROR, "watch_scan_failed", "dir=%s reason=%s",
                    sf_logq(a->watch, q, sizeof q), sf_logq(err.msg, qe, sizeof qe));
            status = SF_EXIT_FAIL; /* in a loop: retried at the next scan */
        } else if (a->once) {
            status = st.failed ? SF_EXIT_FAIL : SF_EXIT_OK;
        }
        if (!a->once)
            nap(a->every_s);
    } while (!a->once && !stop);
    sf_logf(SF_LOG_INFO, "watch_stopped", "dir=%s", sf_logq(a->watch, q, sizeof q));
    close(lock);
    return a->once ? status : SF_EXIT_OK;
}

static int run_import(int argc, char **argv)
{
    import_args a;
    if (sf_cli_take_stream_opts(&sf_cmd_import, &argc, argv, &stream_opts) != 0)
        return SF_EXIT_USAGE;
    int status = SF_EXIT_USAGE;
    if (parse_args(argc, argv, &a) == 0)
        status = a.watch          ? watch_folder(&a)
                 : a.from_archive ? import_archive(&a, argc, argv)
                                  : import_files(&a, argc, argv);
    sf_cli_stream_opts_free(&stream_opts);
    return status;
}

const sf_command sf_cmd_import = {
    "import",
    "load whole files into the stream log, all or nothing, each row once",
    "usage: shopflow import FILE... [--data DIR] [options]\n"
    "       shopflow import --from-archive ARCHIVE... [--data DIR] [options]\n"
    "       shopflow import --watch DIR [--every 60s] [--settle 10s] [--once] [--data DIR]\n"
    "                       [options]\n"
    "options: [--stream LOCATION] [--partitions N] [--format auto|csv|json]\n"
    "         [--encoding auto|utf-8|latin1] [--dedup-window N] [--max-errors N]\n"
    "         [--sinks all|archive,history,warehouse] [--on-bad-entry stop|quarantine]\n"
    "\n"
    "Validates each FILE whole first (CSV or JSON, gzip or not; errors as `shopflow check`\n"
    "prints them): one invalid row and nothing of that file is imported, and the files after\n"
    "it are left alone (exit 1). A valid file is appended to the stream log of DIR (DIR/log),\n"
    "each row with the event id imp-HASH-ROW (the hash of the file's content, gzipped or not,\n"
    "and the row number), but only the rows the log does not hold yet: the import ledger\n"
    "(DIR/imports/log.ledger, per file the ranges of rows in the log; read from the log\n"
    "itself when missing or damaged) says which. So a file imported again, however much was\n"
    "imported since, loads nothing (\"FILE: already imported: N rows, 0 loaded\"), and a rerun\n"
    "of an import that was cut short loads exactly the rows it had not loaded.\n"
    "A record that has an event_id of its own keeps it: one of import's forms is looked up in\n"
    "the ledger; any other, as the server does for posted records, among the ids of each\n"
    "partition's last --dedup-window/P records (default 1000000 in all, P = partitions).\n"
    "The log must not be open for writing by a running server. --stream kafka://HOST:PORT/TOPIC\n"
    "imports into a Kafka topic instead (--stream-opt KEY=VALUE for librdkafka); its ledger\n"
    "is DIR/imports/<hash of the location>.ledger, made by reading the topic.\n"
    "--sinks all (or a list): run those sinks in this process while the files are appended,\n"
    "as `serve` does, and exit when they hold every record of the log (their stores are\n"
    "DIR/archive, DIR/history and DIR/warehouse.db; exactly-once as with `shopflow sink`).\n"
    "--on-bad-entry: what those sinks do with an entry of the log that is not a record\n"
    "(`shopflow help sink`).\n"
    "\n"
    "--from-archive: each ARCHIVE is an archive folder (holding raw/transactions/), a data\n"
    "folder (holding archive/), or an object part-P-FIRST-LAST.ndjson.gz. Every object is\n"
    "validated first, then all are appended by partition and first offset, so a new log\n"
    "(it gets the archive's partition count unless --partitions says otherwise) holds every\n"
    "record at its original partition and offset. Records keep their event ids; one without\n"
    "gets arc-P-OFFSET (kept in the ledger too). Running it again imports nothing (ids of\n"
    "other forms are looked up among every id of the log). The recovery path: rebuild a data\n"
    "folder from its archive alone, then run the sinks (docs/operations.md).\n"
    "\n"
    "--watch DIR: the scheduled batch job. Every --every (default 60s) DIR is scanned; each\n"
    "file in it (CSV or NDJSON, gzip or not) is imported as above (one dropped in again loads\n"
    "nothing), then moved to DIR/done/, or, if it cannot be imported, to DIR/failed/ with\n"
    "FILE.errors.txt beside it (one line per invalid row: FILE:LINE: FIELD: reason, then\n"
    "why). Dotfiles and names ending in .tmp or .part are left alone, and so is a file\n"
    "modified less than --settle (default 10s) ago: it may still be being written (better:\n"
    "write it under such a name and rename it into DIR). One logfmt line per file on stderr\n"
    "(event=import_file, rows, imported, duplicates, seconds). SIGTERM/SIGINT: the file under\n"
    "way is finished, then exit 0.\n"
    "--once: one scan, then exit (1 if a file failed or the scan could not run). The log is\n"
    "opened only while there are files to import, so a server can use it in between.\n",
    run_import,
};
