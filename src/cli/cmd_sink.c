/*
 * cmd_sink.c - `shopflow sink NAME --data DIR [--once]`: run a stream
 * processor as its own process (sinks/sink.h). For now the archive sink.
 *
 * The sink reads the log of DIR read-only, beside a running server, and
 * keeps its position with its effects, so it can be stopped (SIGTERM/SIGINT,
 * or SIGKILL) and started again at any moment without losing or repeating a
 * record.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/money.h"
#include "core/progress.h"
#include "sinks/sink.h"
#include "storage/objects/objects.h"

static sf_setting settings[] = {
    {"data", SF_SET_STRING, "./var", 0, 0, "data folder", NULL, 0, 0},
    {"stream", SF_SET_STRING, "", 0, 0, "stream location (default DATA/log)", NULL, 0, 0},
    {"objects", SF_SET_STRING, "", 0, 0, "archive object store (default DATA/archive)", NULL, 0, 0},
    {"once", SF_SET_BOOL, "false", 0, 0, "stop when caught up", NULL, 0, 0},
    {"archive-object-size", SF_SET_BYTES, "16M", 4096, 1LL << 32,
     "write an archive object at this much NDJSON", NULL, 0, 0},
    {"archive-max-wait", SF_SET_DURATION, "60s", 10, 86400000,
     "write an archive object when its first record waited this long", NULL, 0, 0},
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static const char *opt(const char *name)
{
    return sf_config_get(settings, NSETTINGS, name)->text;
}

static int64_t num(const char *name)
{
    return sf_config_get(settings, NSETTINGS, name)->num;
}

static int run_archive(sf_error *err)
{
    char location[4096], objects_at[4096];
    sf_stream_location(opt("data"), opt("stream"), location, sizeof location);
    snprintf(objects_at, sizeof objects_at, "%s", *opt("objects") ? opt("objects") : "");
    if (!*objects_at)
        snprintf(objects_at, sizeof objects_at, "%s/archive", opt("data"));
    sf_stream_opts sopts = {.read_only = true};
    sf_stream *s = NULL;
    sf_objects *o = NULL;
    sf_sink *sink = NULL;
    int rc = sf_stream_open(location, &sopts, &s, err);
    if (rc == 0)
        rc = sf_objects_open(objects_at, &o, err);
    sf_archive_opts aopts = {(uint64_t)num("archive-object-size"),
                             (unsigned)num("archive-max-wait")};
    if (rc == 0)
        rc = sf_archive_sink_new(o, &aopts, &sink, err);
    if (rc == 0) {
        sf_progress progress;
        sf_runner_stats st;
        bool once = num("once");
        sf_progress_init(&progress, stderr, "sink archive");
        rc = sf_runner_run(s, sink, once, &stop, once ? &progress : NULL, &st, err);
        sf_progress_end(&progress);
        char applied[SF_MONEY_TEXT_MAX];
        sf_format_count((int64_t)st.applied, applied);
        if (rc == 0)
            printf("archive: %s records archived by this run, lag %llu\n", applied,
                   (unsigned long long)st.lag);
    }
    if (sink)
        sink->ops->close(sink);
    sf_objects_close(o);
    sf_stream_close(s);
    return rc;
}

static int run_sink(int argc, char **argv)
{
    char **rest;
    int nrest;
    bool help;
    sf_error err = {0};
    int rc = sf_config_load(settings, NSETTINGS, argc - 1, argv + 1, &rest, &nrest, &help, &err);
    const char *name = nrest == 1 ? rest[0] : NULL;
    free(rest);
    if (rc < 0)
        return sf_cli_usage_error(&sf_cmd_sink, "%s", err.msg);
    if (help) {
        fputs(sf_cmd_sink.help, stdout);
        sf_config_usage(settings, NSETTINGS);
        return SF_EXIT_OK;
    }
    if (!name || strcmp(name, "archive") != 0)
        return sf_cli_usage_error(&sf_cmd_sink, "say which sink: archive (history and "
                                                "warehouse are not built yet)");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = run_archive(&err);
    sf_config_free();
    if (rc < 0) {
        fprintf(stderr, "shopflow sink: %s\n", err.msg);
        return SF_EXIT_FAIL;
    }
    return SF_EXIT_OK;
}

const sf_command sf_cmd_sink = {
    "sink",
    "run a stream processor (archive) as its own process",
    "usage: shopflow sink archive [--data DIR] [--once] [options]\n"
    "\n"
    "archive: every record of the stream log of DIR, raw, as NDJSON.gz objects under\n"
    "DIR/archive/raw/transactions/dt=YYYY-MM-DD/part-PPPP-FIRST-LAST.ndjson.gz. The object\n"
    "names are the sink's position: it can be stopped or killed at any moment and started\n"
    "again, and every record still lands in exactly one object. --once stops when caught\n"
    "up; otherwise it follows the log until SIGTERM/SIGINT.\n"
    "\n",
    run_sink,
};
