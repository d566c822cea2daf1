/*
 * cmd_demo.c - `shopflow demo`: the whole flow on the bundled dataset, in
 * one process a newcomer can watch.
 *
 * It starts the server stack (gateway and the three sinks, cli/stack.h) on
 * a demo data folder, replays the dataset into it over HTTP like the shop's
 * own client would, waits until every sink has caught up, prints the report
 * and the measured throughput, and keeps serving with the URLs and a ready
 * key printed until Ctrl-C (or exits at once with --exit).
 *
 * The server's structured log lines go to DIR/demo.log, not to the terminal:
 * the sinks' start and stop lines would otherwise land between the banner,
 * the progress bars and the report. The banner says where they are, and a
 * failure's message points there too.
 *
 * The demo folder is rebuilt on each run, so the figures are the same every
 * time; to protect other folders, it only ever empties a folder that holds
 * its own marker file (.shopflow-demo), and only ever starts in a folder
 * that is new, empty or marked so.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/stack.h"
#include "core/config.h"
#include "core/logline.h"
#include "core/progress.h"
#include "gateway/keys.h"
#include "gateway/token.h"
#include "replay/replay.h"

static sf_setting settings[] = {
    SF_OPT_DATA("./var/demo"),
    SF_OPT_LISTEN,
    SF_CLI_ROW("file", SF_SET_STRING, "", 0, 0,
               "the file to replay (default: the bundled dataset)"),
    /* json by default: the shop's client sends its CSV rows as JSON, and the
     * demo shows that flow; csv is the cheaper path a bulk client may take. */
    SF_OPT_SEND("5000"),
    /* 2, not serve's 8: in one process every sink is one thread whatever the
     * partitions, so more buy nothing here, and each costs an fdatasync per
     * commit round and an archive object per day (docs/benchmarks.md). */
    SF_OPT_PARTITIONS("2"),
    SF_CLI_ROW("exit", SF_SET_BOOL, "false", 0, 0, "stop after the report instead of serving"),
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

#define MARKER   ".shopflow-demo"
#define LOG_FILE "demo.log"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag;
    return ftw->level == 0 ? 0 : remove(path);
}

static bool is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)))
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

/* Empty dir if it is a demo folder (or make it); refuse any other folder. */
static int prepare_folder(const char *dir, sf_error *err)
{
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/%s", dir, MARKER);
    struct stat st;
    if (stat(dir, &st) == 0) {
        bool ours = access(marker, F_OK) == 0;
        if (!ours && !is_empty(dir))
            return sf_error_set(err, SF_EUSAGE,
                                "%s is not empty and not a demo's folder (no %s in it); give the "
                                "demo a folder of its own with --data",
                                dir, MARKER);
        if (ours && nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
            return sf_error_set(err, SF_EIO, "cannot empty %s: %s", dir, strerror(errno));
    } else {
        int rc = sf_cli_make_data_dir(dir, err); /* ./var too, for ./var/demo */
        if (rc < 0)
            return rc;
    }
    FILE *f = fopen(marker, "w");
    if (!f)
        return sf_error_set(err, SF_EIO, "%s: %s", marker, strerror(errno));
    fputs("made by `shopflow demo`, which empties this folder on each run\n", f);
    fclose(f);
    return 0;
}

typedef struct demo {
    char data[4096], listen[256], file[4096];
    bool exit_after, csv;
    uint32_t batch, connections, partitions;
    sf_stack st;
    char ingest[SF_KEY_TEXT_LEN + 1], analyst[SF_KEY_TEXT_LEN + 1];
    char *token;
    char url[300];
    int log_fd; /* DIR/demo.log once open, else -1 */
} demo;

/* Send the log lines to DIR/demo.log from here on. */
static int log_to_file(demo *d, sf_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", d->data, LOG_FILE);
    d->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (d->log_fd < 0)
        return sf_error_set(err, SF_EIO, "%s: %s", path, strerror(errno));
    sf_log_set_fd(d->log_fd);
    return 0;
}

/* Back to standard error, once nothing runs that could log to the file. */
static void log_to_stderr(demo *d)
{
    if (d->log_fd < 0)
        return;
    sf_log_set_fd(STDERR_FILENO);
    close(d->log_fd);
    d->log_fd = -1;
}

static int start_stack(demo *d, sf_error *err)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    sf_stack_config cfg = {
        .gateway = {.data_dir = d->data,
                    .listen = d->listen,
                    .max_body = 8u << 20,
                    .threads = cores >= 4 ? (unsigned)(cores / 2) : 1,
                    .max_connections = 1000,
                    .dedup_window = 1000000,
                    .timeout_s = 60,
                    .head_timeout_ms = 20000,
                    .min_body_rate = 500},
        .stream_opts = {.partitions = d->partitions},
        .places = {.data_dir = d->data},
        .sinks = {true, true, true},
    };
    int rc = sf_stack_open(&d->st, &cfg, err);
    if (rc == 0)
        snprintf(d->url, sizeof d->url, "http://%.*s:%u",
                 (int)(strrchr(d->listen, ':') - d->listen), d->listen,
                 sf_gateway_port(d->st.gateway));
    return rc;
}

/* Wait until the slowest sink has applied everything in the stream. */
static double wait_caught_up(sf_stack *st)
{
    double t0 = sf_monotonic();
    uint64_t total = sf_stream_total_end(st->stream);
    sf_progress progress;
    sf_progress_init(&progress, stderr, "sinks");
    for (;;) {
        uint64_t applied, durable;
        sf_sink_service_position(st->service, &applied, &durable);
        sf_progress_update(&progress, applied, applied, total);
        if (durable >= total)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sf_progress_end(&progress);
    return sf_monotonic() - t0;
}

static int make_keys(const char *dir, char ingest[SF_KEY_TEXT_LEN + 1],
                     char analyst[SF_KEY_TEXT_LEN + 1], char **token, sf_error *err)
{
    sf_keys *k;
    sf_key_info info;
    unsigned char secret[SF_TOKEN_SECRET_LEN];
    int rc = sf_keys_open(dir, &k, err);
    if (rc < 0)
        return rc;
    rc = sf_keys_create(k, SF_ROLE_INGEST, "demo-replay", ingest, &info, err);
    if (rc == 0)
        rc = sf_keys_create(k, SF_ROLE_ANALYST, "demo-analyst", analyst, &info, err);
    sf_keys_close(k);
    if (rc == 0)
        rc = sf_token_secret(dir, secret, err);
    if (rc == 0)
        rc = sf_token_issue(secret, 17850, 24 * 3600, token, err);
    return rc;
}

static int replay(demo *d, sf_replay_stats *rs, sf_error *err)
{
    sf_replay_opts o;
    sf_replay_opts_init(&o);
    o.url = d->url;
    o.key = d->ingest;
    o.batch = d->batch;
    o.connections = d->connections;
    o.csv = d->csv;
    sf_progress progress;
    sf_progress_init(&progress, stderr, "replay");
    o.progress = &progress;
    int rc = sf_replay_file(d->file, &o, rs, err);
    sf_progress_end(&progress);
    return rc;
}

static void print_access(const demo *d)
{
    printf("\nServing at %s (Ctrl-C stops):\n"
           "  dashboard    %s/#token=%s\n"
           "  API          %s/v1/...   (docs/api.md)\n"
           "  metrics      %s/metrics\n"
           "  analyst key  %s\n"
           "  try          curl -H 'Authorization: Bearer %s' '%s/v1/bi/sales?granularity=month'\n"
           "               curl -H 'Authorization: Bearer %s' %s/v1/invoices/536365\n"
           "  customer 17850's token (24 h):\n"
           "               curl -H 'Authorization: Bearer %s' %s/v1/customers/17850/invoices\n"
           "               %s/#token=%s   (17850's view of the dashboard)\n",
           d->url, d->url, d->analyst, d->url, d->url, d->analyst, d->analyst, d->url, d->analyst,
           d->url, d->token, d->url, d->url, d->token);
    fflush(stdout);
}

/* The figures of the run, then the report of the warehouse by month. */
static int print_results(demo *d, const sf_replay_stats *rs, double catch_up_s)
{
    double total_s = rs->seconds + catch_up_s;
    printf("\nReplayed %llu rows over HTTP in %.2f s (%.0f rows/s, batches of %u as %s, %u "
           "connections):\n  %llu accepted, %llu duplicates, %llu rejected.\n"
           "Sinks caught up %.2f s after the last row: all three stores hold every row %.2f s "
           "after the first was sent (%.0f rows/s end to end).\n\n",
           (unsigned long long)rs->rows, rs->seconds, rs->seconds > 0 ? rs->rows / rs->seconds : 0,
           d->batch, d->csv ? "CSV" : "NDJSON", d->connections, (unsigned long long)rs->accepted,
           (unsigned long long)rs->duplicates, (unsigned long long)rs->rejected, catch_up_s,
           total_s, total_s > 0 ? rs->rows / total_s : 0);
    fflush(stdout);
    char *argv[] = {"report", "--data", d->data, "--period", "year", "--limit", "5", NULL};
    return sf_cmd_report.run(7, argv);
}

/* Everything up to the report; the stack stays open for serving. */
static int run_flow(demo *d, sf_error *err)
{
    int rc = prepare_folder(d->data, err);
    if (rc == 0)
        rc = log_to_file(d, err);
    if (rc == 0)
        rc = make_keys(d->data, d->ingest, d->analyst, &d->token, err);
    if (rc == 0)
        rc = start_stack(d, err);
    if (rc < 0)
        return rc;
    printf("shopflow demo: serving %s from %s; replaying %s into it.\n"
           "Watch it arrive on the dashboard: %s/#token=%s\n"
           "The server's log: %s/%s\n",
           d->url, d->data, d->file, d->url, d->analyst, d->data, LOG_FILE);
    fflush(stdout);
    sf_replay_stats rs;
    rc = replay(d, &rs, err);
    if (rc < 0)
        return rc;
    double catch_up_s = wait_caught_up(&d->st);
    return print_results(d, &rs, catch_up_s) == SF_EXIT_OK
               ? 0
               : sf_error_set(err, SF_EFAILED, "the report failed");
}

/* SF_CLI_GO with d filled, or the exit status to return (--help, usage). */
static int load_settings(int argc, char **argv, demo *d)
{
    int status = sf_cli_settings(&sf_cmd_demo, settings, NSETTINGS, argc, argv, 0, NULL, NULL);
    if (status != SF_CLI_GO)
        return status;
    /* Copied: the report run below frees the configuration's strings. */
    snprintf(d->data, sizeof d->data, "%s", sf_cli_text("data"));
    snprintf(d->listen, sizeof d->listen, "%s", sf_cli_text("listen"));
    snprintf(d->file, sizeof d->file, "%s",
             *sf_cli_text("file") ? sf_cli_text("file") : sf_cli_bundled_data());
    d->batch = (uint32_t)sf_cli_num("batch");
    d->connections = (uint32_t)sf_cli_num("connections");
    d->partitions = (uint32_t)sf_cli_num("partitions");
    d->csv = strcmp(sf_cli_text("send"), "csv") == 0;
    if (!d->csv && strcmp(sf_cli_text("send"), "json") != 0) {
        status = sf_cli_usage_error(&sf_cmd_demo, "--send: '%s' is not csv or json",
                                    sf_cli_text("send"));
        sf_cli_settings_free();
        return status;
    }
    d->exit_after = sf_cli_num("exit");
    sf_cli_settings_free();
    return SF_CLI_GO;
}

static int run_demo(int argc, char **argv)
{
    static demo d; /* large; one per process */
    d.log_fd = -1;
    int status = load_settings(argc, argv, &d);
    if (status != SF_CLI_GO)
        return status;
    status = SF_EXIT_OK;
    /* The stop signals wait in this thread, never in the server's. */
    sigset_t stop;
    sf_stack_block_signals(&stop);
    sf_error err = {0};
    if (run_flow(&d, &err) < 0) {
        fprintf(stderr, "shopflow demo: %s\n", err.msg);
        if (d.log_fd >= 0)
            fprintf(stderr, "shopflow demo: the server's log: %s/%s\n", d.data, LOG_FILE);
        status = err.code == SF_EUSAGE ? SF_EXIT_USAGE : SF_EXIT_FAIL;
    } else if (!d.exit_after) {
        print_access(&d);
        int sig;
        sigwait(&stop, &sig);
    }
    sf_stack_close(&d.st);
    log_to_stderr(&d);
    free(d.token);
    return status;
}

const sf_command sf_cmd_demo = {
    "demo",
    "run the whole flow on the bundled Online Retail dataset",
    "usage: shopflow demo [--data ./var/demo] [--listen 127.0.0.1:8080] [--file FILE] [--exit]\n"
    "                     [--batch 5000] [--connections 4] [--send json|csv] [--partitions 2]\n"
    "\n"
    "Starts the server with its three sinks on a demo data folder (emptied first; only a\n"
    "folder a demo made is ever emptied), replays the bundled UCI Online Retail dataset\n"
    "(541,909 rows, 2010-12-01 to 2011-12-09) into it over HTTP at full speed as the shop's\n"
    "client would, waits until the archive, history and warehouse hold every row, and prints\n"
    "the throughput and the report. Then it keeps serving, with the URLs, an analyst key\n"
    "and a customer token printed, until Ctrl-C; --exit stops after the report. The\n"
    "server's log lines (one per event, as `shopflow serve` writes to standard error) go\n"
    "to DIR/demo.log.\n"
    "\n"
    "The rows go as NDJSON, as the shop's client and `shopflow replay` send them; --send csv\n"
    "posts text/csv instead: half the bytes, decoded ~3x faster by the gateway.\n"
    "\n",
    run_demo,
};
