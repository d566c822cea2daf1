/*
 * cmd_import.c - `shopflow import FILE... --data DIR`: load whole files into
 * the stream log (sinks/import.h): all or nothing per file, each row once
 * however often a file is imported. Two more sources: `--from-archive` (the
 * archive's objects, to rebuild a data folder) and `--watch DIR` (the
 * scheduled batch job over a folder, sinks/watch.h).
 */
#include <limits.h>
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

static sf_setting settings[] = {
    SF_OPT_DATA("./var"),
    SF_OPT_STREAM,
    SF_OPT_PARTITIONS(NULL),
    SF_OPT_DECODE,
    SF_OPT_DEDUP_WINDOW,
    SF_CLI_ROW("from-archive", SF_SET_BOOL, "false", 0, 0,
               "the words are archives (or objects) to rebuild the log from"),
    SF_CLI_ROW("watch", SF_SET_STRING, "", 0, 0,
               "the scheduled batch job: import the files dropped into this folder"),
    SF_CLI_ROW("every", SF_SET_DURATION, "60s", 10, 1LL << 50,
               "--watch: scan the folder this often"),
    SF_CLI_ROW("settle", SF_SET_DURATION, "10s", 0, 1LL << 50,
               "--watch: leave a file modified less than this long ago"),
    SF_CLI_ROW("once", SF_SET_BOOL, "false", 0, 0, "--watch: one scan, then exit"),
    SF_OPT_SINKS("none"),
    SF_OPT_ON_BAD_ENTRY,
    SF_OPT_PLACES,
    SF_OPT_ARCHIVE,
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

typedef struct import_args {
    const char *data, *stream, *watch;
    char **words; /* the files or archives (malloc'd array into argv) */
    int nwords;
    sf_decode_opts opts;
    long partitions, window, max_errors;
    bool from_archive, once, sinks;
    bool which[SF_SINKS]; /* the --sinks */
    double every_s, settle_s;
    sf_bad_entry on_bad_entry; /* of the --sinks */
} import_args;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
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
    if (a->sinks && (*a->watch || a->from_archive))
        return sf_cli_usage_error(&sf_cmd_import, "--sinks goes with FILE... only");
    if (*a->watch && (has_files || a->from_archive))
        return sf_cli_usage_error(&sf_cmd_import,
                                  "--watch DIR takes no FILE and no --from-archive");
    if (*a->watch)
        return SF_CLI_GO;
    if (a->once)
        return sf_cli_usage_error(&sf_cmd_import, "--once goes with --watch");
    return has_files ? SF_CLI_GO
                     : sf_cli_usage_error(&sf_cmd_import,
                                          a->from_archive ? "no ARCHIVE given" : "no FILE given");
}

/* The settings into *a (its strings point into them: keep them loaded). */
static int parse_args(int argc, char **argv, import_args *a)
{
    *a = (import_args){0};
    int status = sf_cli_settings(&sf_cmd_import, settings, NSETTINGS, argc, argv, INT_MAX,
                                 &a->words, &a->nwords);
    if (status != SF_CLI_GO)
        return status;
    sf_error err = {0};
    a->data = sf_cli_text("data");
    a->stream = sf_cli_text("stream");
    a->watch = sf_cli_text("watch");
    a->partitions = (long)sf_cli_num("partitions");
    a->window = (long)sf_cli_num("dedup-window");
    a->max_errors = (long)sf_cli_num("max-errors");
    a->from_archive = sf_cli_num("from-archive");
    a->once = sf_cli_num("once");
    a->every_s = (double)sf_cli_num("every") / 1000;
    a->settle_s = (double)sf_cli_num("settle") / 1000;
    if (sf_stack_parse_sinks(sf_cli_text("sinks"), a->which, &err) < 0 ||
        sf_bad_entry_parse(sf_cli_text("on-bad-entry"), &a->on_bad_entry, &err) < 0)
        return sf_cli_usage_error(&sf_cmd_import, "%s", err.msg);
    for (int i = 0; i < SF_SINKS; i++)
        a->sinks = a->sinks || a->which[i];
    status = sf_cli_decode_opts(&sf_cmd_import, &a->opts);
    return status == SF_CLI_GO ? check_mode(a, a->nwords > 0) : status;
}

static int open_backends(const import_args *a, sf_import_target *t, sf_error *err)
{
    char location[4096], ledger[4096];
    sf_stream_location(a->data, a->stream, location, sizeof location);
    sf_ledger_path(a->data, a->stream, ledger, sizeof ledger);
    int rc = sf_cli_make_data_dir(a->data, err);
    if (rc < 0)
        return rc;
    sf_stream_opts opts = sf_cli_stream_opts(false);
    opts.partitions = (uint32_t)a->partitions;
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
    sf_sink_places at = sf_cli_places(); /* --objects, --store, --warehouse */
    sf_archive_opts aopts = sf_cli_archive_opts();
    int rc = 0;
    for (int i = 0; rc == 0 && i < SF_SINKS; i++)
        if (a->which[i] &&
            (rc = sf_sink_open(sf_sink_names[i], &at, &aopts, false, &is->sinks[is->n], err)) == 0)
            is->sinks[is->n++]->on_bad_entry = a->on_bad_entry;
    /* Before the first append: a sink past the log's end would skip the
     * records given its lost offsets (runner.c). */
    for (size_t i = 0; rc == 0 && i < is->n; i++)
        rc = sf_runner_check_sink(s, is->sinks[i], err);
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

static int import_files(const import_args *a)
{
    sf_import_target t = {0};
    sf_error err = {0};
    import_sinks is = {0};
    int status = SF_EXIT_OK;
    if (open_backends(a, &t, &err) < 0 || (a->sinks && start_sinks(a, t.s, &is, &err) < 0)) {
        fprintf(stderr, "shopflow import: %s\n", err.msg);
        status = SF_EXIT_FAIL;
    }
    for (int i = 0; status == SF_EXIT_OK && i < a->nwords; i++) {
        const char *path = a->words[i];
        error_printer ep = {path, a->max_errors, 0};
        sf_progress progress;
        char label[64];
        snprintf(label, sizeof label, "import %d/%d", i + 1, a->nwords);
        sf_progress_init(&progress, stderr, label);
        sf_import_result res;
        int rc = sf_import_file(&t, path, &a->opts, print_error, &ep, &progress, &res, &err);
        sf_progress_end(&progress);
        if (ep.seen > a->max_errors)
            fprintf(stderr, "... and %ld more invalid rows\n", ep.seen - a->max_errors);
        if (rc < 0) {
            fprintf(stderr, "shopflow import: %s\n", err.msg);
            status = SF_EXIT_FAIL;
            break; /* files after a failed one are not imported: fix and rerun */
        }
        print_result(path, &res);
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
static int import_archive(import_args *a)
{
    sf_archive_set set = {.objects_opt = sf_cli_port_opts("objects")};
    sf_error err = {0};
    int rc = 0;
    for (int i = 0; rc == 0 && i < a->nwords; i++)
        rc = sf_archive_set_add(&set, a->words[i], &err);
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
    } else if (set.runs) { /* a Kinesis stream's: its shards are not this log's partitions */
        fprintf(stderr,
                "note: the archive holds runs of sequence numbers (a Kinesis stream's): records "
                "go to the partitions this log gives their invoices, each invoice's lines in "
                "their order (--partitions 1 keeps the stream's order, partition after "
                "partition)\n");
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
    bool store = sf_watch_is_store(a->watch); /* an object store's prefix: no folder lock */
    int rc = store ? 0 : sf_watch_lock(a->watch, &lock, &err);
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
        if (lock >= 0)
            close(lock);
        return SF_EXIT_FAIL;
    }
    sf_watch_opts o = {a->watch,          location, ledger,      (uint32_t)a->partitions,
                       (size_t)a->window, a->opts,  a->settle_s, sf_cli_port_opts("objects")};
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sf_logf(SF_LOG_INFO, "watch_started", "dir=%s every=%.3f settle=%.3f once=%d",
            sf_logq(a->watch, q, sizeof q), a->every_s, a->settle_s, a->once);
    int status = SF_EXIT_OK;
    do {
        sf_watch_stats st;
        if ((store ? sf_watch_scan_store : sf_watch_scan)(&o, &stop, &st, &err) < 0) {
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
    if (lock >= 0)
        close(lock);
    return a->once ? status : SF_EXIT_OK;
}

static int run_import(int argc, char **argv)
{
    import_args a;
    int status = parse_args(argc, argv, &a);
    if (status == SF_CLI_GO)
        status = *a.watch         ? watch_folder(&a)
                 : a.from_archive ? import_archive(&a)
                                  : import_files(&a);
    free(a.words);
    sf_cli_settings_free();
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
    "         [--objects LOCATION] [--store LOCATION] [--warehouse LOCATION]\n"
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
    "imports into a Kafka topic instead (--stream-opt KEY=VALUE for librdkafka), --stream\n"
    "kinesis://NAME into a Kinesis stream (made with --partitions shards if absent); the\n"
    "ledger is then DIR/imports/<hash of the location>.ledger, made by reading the stream (on\n"
    "Kinesis, whose positions skip, an import also reads its own records back before saving\n"
    "it: they cannot show that no other writer appended among them).\n"
    "--sinks all (or a list): run those sinks in this process while the files are appended,\n"
    "as `serve` does, and exit when they hold every record of the log (their stores are\n"
    "DIR/archive, DIR/history and DIR/warehouse.db, or --objects, --store and --warehouse as\n"
    "for `shopflow sink`, e.g. a PostgreSQL warehouse; exactly-once as with `shopflow sink`).\n"
    "--on-bad-entry: what those sinks do with an entry of the log that is not a record\n"
    "(`shopflow help sink`).\n"
    "\n"
    "--from-archive: each ARCHIVE is an archive folder (holding raw/transactions/), a data\n"
    "folder (holding archive/), or an object part-P-FIRST-LAST.ndjson.gz. Every object is\n"
    "validated first, then all are appended by partition and first position, so a new log\n"
    "(it gets the archive's partition count unless --partitions says otherwise) holds every\n"
    "record at its original partition and offset. A Kinesis stream's archive (its objects\n"
    "are runs of sequence numbers) keeps each invoice's lines in their order, in the\n"
    "partitions the new log gives them (a Kinesis shard is not a local partition); with\n"
    "--partitions 1, every record in the stream's order, partition after partition. Records\n"
    "keep their event ids; one without gets arc-P-OFFSET, or in a run arc-P-HASH-INDEX (kept\n"
    "in the ledger too). Running it again imports nothing (ids of other forms are looked up\n"
    "among every id of the log). The recovery path: rebuild a data folder from its archive\n"
    "alone, then run the sinks (docs/operations.md).\n"
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
    "opened only while there are files to import, so a server can use it in between.\n"
    "--watch s3://BUCKET/PREFIX/ (any --objects location): the same over the objects directly\n"
    "under PREFIX/, moved to PREFIX/done/ or PREFIX/failed/ by a copy and a delete (a scan\n"
    "killed in between is completed by the next); no --settle (a put is whole), no lock (one\n"
    "watcher per prefix); --objects-opt for its adapter.\n",
    run_import,
};
