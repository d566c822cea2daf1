/*
 * cmd_sink.c - `shopflow sink NAME --data DIR [--once]`: run a stream
 * processor as its own process (sinks/sink.h). For now the archive sink.
 *
 * The sink reads the log of DIR read-only, beside a running server, and
 * keeps its position with its effects, so it can be stopped (SIGTERM/SIGINT,
 * or SIGKILL) and started again at any moment without losing or repeating a
 * record.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/money.h"
#include "core/progress.h"
#include "sinks/sink.h"

static sf_setting settings[] = {
    SF_OPT_DATA("./var"), SF_OPT_STREAM,
    SF_OPT_PLACES,        SF_CLI_ROW("once", SF_SET_BOOL, "false", 0, 0, "stop when caught up"),
    SF_OPT_ON_BAD_ENTRY,  SF_OPT_ARCHIVE,
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

static volatile sig_atomic_t stop;
static sf_bad_entry on_bad_entry; /* --on-bad-entry */

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int run_one(const char *name, bool show_progress, sf_error *err)
{
    char location[4096];
    sf_cli_stream_location(location, sizeof location);
    sf_stream_opts sopts = sf_cli_stream_opts(true);
    sf_stream *s = NULL;
    sf_sink *sink = NULL;
    sf_sink_places at = sf_cli_places();
    sf_archive_opts aopts = sf_cli_archive_opts();
    int rc = sf_stream_open(location, &sopts, &s, err);
    if (rc == 0)
        rc = sf_sink_open(name, &at, &aopts, false, &sink, err);
    if (rc == 0) {
        sink->on_bad_entry = on_bad_entry;
        sf_progress progress;
        sf_runner_stats st = {0};
        bool once = sf_cli_num("once");
        char label[32];
        snprintf(label, sizeof label, "sink %s", name);
        sf_progress_init(&progress, stderr, label);
        rc =
            sf_runner_run(s, sink, once, &stop, once && show_progress ? &progress : NULL, &st, err);
        sf_progress_end(&progress);
        char applied[SF_MONEY_TEXT_MAX];
        sf_format_count((int64_t)st.applied, applied);
        if (rc == 0)
            printf("%s: %s records applied by this run, lag %llu\n", name, applied,
                   (unsigned long long)st.lag);
        if (rc == 0 && st.quarantined)
            printf("%s: %llu entries that are not records set aside (shopflow quarantine list)\n",
                   name, (unsigned long long)st.quarantined);
    }
    sf_sink_close(sink);
    sf_stream_close(s);
    return rc;
}

typedef struct sink_thread {
    const char *name;
    int rc;
    sf_error err;
} sink_thread;

static void *sink_main(void *arg)
{
    sink_thread *t = arg;
    t->rc = run_one(t->name, false, &t->err);
    if (t->rc < 0)
        stop = 1; /* one failed: stop the others too, and say which */
    return NULL;
}

/* The three sinks at once, one thread each (each with its own read of the
 * log and its own store). The first failure is returned. */
static int run_all(sf_error *err)
{
    sink_thread t[3];
    pthread_t th[3];
    int started = 0, rc = 0;
    for (int i = 0; i < 3; i++) {
        t[i] = (sink_thread){sf_sink_names[i], 0, {0}};
        if (pthread_create(&th[i], NULL, sink_main, &t[i]) != 0) {
            rc = sf_error_set(err, SF_ENOMEM, "cannot start the %s sink", sf_sink_names[i]);
            stop = 1;
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        if (t[i].rc < 0 && rc == 0) {
            rc = t[i].rc;
            *err = t[i].err;
            sf_error_prefix(err, "%s sink: ", t[i].name);
        }
    }
    return rc;
}

static int run_sink(int argc, char **argv)
{
    char **rest;
    int nrest;
    sf_error err = {0};
    int rc = sf_cli_settings(&sf_cmd_sink, settings, NSETTINGS, argc, argv, 1, &rest, &nrest);
    if (rc != SF_CLI_GO)
        return rc;
    const char *name = nrest == 1 ? rest[0] : NULL;
    free(rest);
    if (!name || (strcmp(name, "archive") && strcmp(name, "history") && strcmp(name, "warehouse") &&
                  strcmp(name, "all"))) {
        sf_cli_settings_free();
        return sf_cli_usage_error(&sf_cmd_sink,
                                  "say which sink: archive, history, warehouse or all");
    }
    if (sf_bad_entry_parse(sf_cli_text("on-bad-entry"), &on_bad_entry, &err) < 0) {
        sf_cli_settings_free();
        return sf_cli_usage_error(&sf_cmd_sink, "%s", err.msg);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* for the stores; a Kafka stream needs no folder */
    rc = sf_cli_make_data_dir(sf_cli_text("data"), &err);
    if (rc == 0)
        rc = strcmp(name, "all") == 0 ? run_all(&err) : run_one(name, true, &err);
    sf_cli_settings_free();
    if (rc < 0) {
        fprintf(stderr, "shopflow sink: %s\n", err.msg);
        return SF_EXIT_FAIL;
    }
    return SF_EXIT_OK;
}

const sf_command sf_cmd_sink = {
    "sink",
    "run a stream processor (archive, history, warehouse or all) as its own process",
    "usage: shopflow sink archive|history|warehouse|all [--data DIR] [--once] [options]\n"
    "\n"
    "all runs the three at once, one thread each.\n"
    "\n"
    "archive: every record of the stream log of DIR, raw, as NDJSON.gz objects under\n"
    "DIR/archive/raw/transactions/dt=YYYY-MM-DD/part-PPPP-FIRST-LAST.ndjson.gz (on Kinesis\n"
    "each object a run: every record of the partition from sequence number FIRST to LAST).\n"
    "The object names are the sink's position: it can be stopped or killed at any moment and\n"
    "started again, and every record still lands in exactly one object. --once stops when\n"
    "caught up; otherwise it follows the log until SIGTERM/SIGINT.\n"
    "\n"
    "history: each invoice with all its lines, and each customer's invoices by date, in\n"
    "an LMDB store (DIR/history). Each batch is one transaction that also stores the\n"
    "partition's position, so a kill at any moment loses and repeats nothing.\n"
    "\n"
    "warehouse: the star schema and BI rollups of docs/warehouse.md in SQLite\n"
    "(DIR/warehouse.db, WAL), committed with the positions every 65,536 records or second\n"
    "and when caught up; readable by sqlite3 meanwhile. --warehouse postgres://USER@HOST/DB\n"
    "(or postgres:CONNINFO; the PG* variables apply) loads a PostgreSQL database instead.\n"
    "\n"
    "An entry of the log that is not a record (a message another producer wrote to a shared\n"
    "Kafka topic, a record of a newer format) stops the sink there by default\n"
    "(--on-bad-entry stop): it commits what came before and exits 1, naming the partition,\n"
    "the offset and why. --on-bad-entry quarantine sets such an entry aside in the sink's own\n"
    "store (its bytes, the reason, the time), in the transaction that moves the sink past\n"
    "it, logs it (event=sink_quarantined) and goes on; `shopflow quarantine` lists, shows\n"
    "and retries those entries (docs/operations.md).\n"
    "\n"
    "On a Kafka stream (--stream kafka://...; --stream-opt KEY=VALUE for librdkafka) each\n"
    "sink joins its consumer group, so several processes of one sink share the partitions;\n"
    "positions stay in the sink's own store (docs/deploy.md).\n"
    "On Kinesis (--stream kinesis://STREAM_NAME) each sink reads every shard, its positions\n"
    "(sequence numbers) in its own store, and follows a reshard (a split or merge) as it\n"
    "runs: a shard is read once its parents are read to their end. One process per sink:\n"
    "each holds a lease in a DynamoDB table (--stream-opt lease-table=NAME, default\n"
    "shopflow-leases; none: no lease), and a second one is refused, naming the holder; a\n"
    "lease left by a killed process expires after lease-seconds (10), or at once on the same\n"
    "host (docs/operations.md).\n"
    "\n",
    run_sink,
};
