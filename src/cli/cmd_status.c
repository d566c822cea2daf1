/*
 * cmd_status.c - `shopflow status --data DIR [--json]`: how far each sink
 * has come in the stream, partition by partition, and its lag.
 *
 * Each sink is asked where it would resume (its stored position), exactly as
 * the runner does on start, so status can never disagree with what a sink
 * will do next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "sinks/history.h"
#include "sinks/sink.h"
#include "storage/objects/objects.h"
#include "storage/store/store.h"
#include "storage/warehouse/warehouse.h"

static sf_setting settings[] = {
    {"data", SF_SET_STRING, "./var", 0, 0, "data folder", NULL, 0, 0},
    {"stream", SF_SET_STRING, "", 0, 0, "stream location (default DATA/log)", NULL, 0, 0},
    {"objects", SF_SET_STRING, "", 0, 0, "archive object store (default DATA/archive)", NULL, 0, 0},
    {"store", SF_SET_STRING, "", 0, 0, "history store (default DATA/history)", NULL, 0, 0},
    {"warehouse", SF_SET_STRING, "", 0, 0, "warehouse (default DATA/warehouse.db)", NULL, 0, 0},
    {"json", SF_SET_BOOL, "false", 0, 0, "print one JSON object", NULL, 0, 0},
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

static const char *opt(const char *name)
{
    return sf_config_get(settings, NSETTINGS, name)->text;
}

static void location_of(const char *setting, const char *default_name, char *out, size_t cap)
{
    if (*opt(setting))
        snprintf(out, cap, "%s", opt(setting));
    else
        snprintf(out, cap, "%s/%s", opt("data"), default_name);
}

/* A sink's position: next[p] for each partition. */
static int position(sf_sink *sink, uint64_t *next, uint32_t n, sf_error *err)
{
    int rc = sink->ops->resume(sink, next, n, err);
    sink->ops->close(sink);
    return rc;
}

static int archive_position(uint64_t *next, uint32_t n, sf_error *err)
{
    char at[4096];
    location_of("objects", "archive", at, sizeof at);
    sf_objects *o = NULL;
    sf_sink *sink = NULL;
    int rc = sf_objects_open(at, &o, err);
    if (rc == 0 && (rc = sf_archive_sink_new(o, NULL, &sink, err)) == 0)
        rc = position(sink, next, n, err);
    sf_objects_close(o);
    return rc;
}

/* A store never written is a sink that has not started: all zeros. */
static int history_position(uint64_t *next, uint32_t n, sf_error *err)
{
    char at[4096];
    location_of("store", "history", at, sizeof at);
    sf_store *st = NULL;
    sf_sink *sink = NULL;
    if (access(at, F_OK) != 0)
        return 0;
    int rc = sf_store_open(at, true, &st, err);
    if (rc == 0 && (rc = sf_history_sink_new(st, &sink, err)) == 0)
        rc = position(sink, next, n, err);
    sf_store_close(st);
    return rc;
}

static int warehouse_position(uint64_t *next, uint32_t n, sf_error *err)
{
    char at[4096];
    location_of("warehouse", "warehouse.db", at, sizeof at);
    sf_warehouse *wh = NULL;
    sf_sink *sink = NULL;
    if (access(at, F_OK) != 0)
        return 0;
    int rc = sf_warehouse_open(at, &wh, err);
    if (rc == 0 && (rc = sf_warehouse_sink_new(wh, &sink, err)) == 0)
        rc = position(sink, next, n, err);
    sf_warehouse_close(wh);
    return rc;
}

static uint64_t lag_of(const sf_partition_info *info, const uint64_t *at, uint32_t n)
{
    uint64_t lag = 0;
    for (uint32_t p = 0; p < n; p++)
        lag += info[p].end_offset > at[p] ? info[p].end_offset - at[p] : 0;
    return lag;
}

static const char *const sink_names[] = {"archive", "history", "warehouse"};
#define NSINKS 3

static void print(const sf_partition_info *info, uint64_t *const at[NSINKS], uint32_t n, bool json)
{
    if (!json) {
        printf("%-9s %14s", "partition", "log end");
        for (int k = 0; k < NSINKS; k++)
            printf(" %14s", sink_names[k]);
        printf("\n");
        for (uint32_t p = 0; p < n; p++) {
            printf("%-9u %14llu", p, (unsigned long long)info[p].end_offset);
            for (int k = 0; k < NSINKS; k++)
                printf(" %14llu", (unsigned long long)at[k][p]);
            printf("\n");
        }
        for (int k = 0; k < NSINKS; k++)
            printf("%s lag: %llu records\n", sink_names[k],
                   (unsigned long long)lag_of(info, at[k], n));
        return;
    }
    printf("{\"partitions\":[");
    for (uint32_t p = 0; p < n; p++)
        printf("%s{\"partition\":%u,\"end_offset\":%llu}", p ? "," : "", p,
               (unsigned long long)info[p].end_offset);
    printf("],\"sinks\":{");
    for (int k = 0; k < NSINKS; k++) {
        printf("%s\"%s\":{\"lag\":%llu,\"offsets\":[", k ? "," : "", sink_names[k],
               (unsigned long long)lag_of(info, at[k], n));
        for (uint32_t p = 0; p < n; p++)
            printf("%s%llu", p ? "," : "", (unsigned long long)at[k][p]);
        printf("]}");
    }
    printf("}}\n");
}

static int run_status(int argc, char **argv)
{
    char **rest;
    int nrest;
    bool help;
    sf_error err = {0};
    int rc = sf_config_load(settings, NSETTINGS, argc - 1, argv + 1, &rest, &nrest, &help, &err);
    free(rest);
    if (rc < 0)
        return sf_cli_usage_error(&sf_cmd_status, "%s", err.msg);
    if (help || nrest) {
        fputs(sf_cmd_status.help, stdout);
        return help ? SF_EXIT_OK : SF_EXIT_USAGE;
    }
    char location[4096];
    sf_stream_location(opt("data"), opt("stream"), location, sizeof location);
    sf_stream_opts sopts = {.read_only = true};
    sf_stream *s = NULL;
    rc = sf_stream_open(location, &sopts, &s, &err);
    uint32_t n = rc == 0 ? sf_stream_partitions(s) : 0;
    sf_partition_info *info = calloc(n ? n : 1, sizeof *info);
    uint64_t *at[NSINKS] = {calloc(n ? n : 1, sizeof(uint64_t)),
                            calloc(n ? n : 1, sizeof(uint64_t)),
                            calloc(n ? n : 1, sizeof(uint64_t))};
    if (rc == 0 && (!info || !at[0] || !at[1] || !at[2]))
        rc = sf_error_set(&err, SF_ENOMEM, "out of memory");
    for (uint32_t p = 0; rc == 0 && p < n; p++)
        rc = sf_stream_info(s, p, &info[p], &err);
    if (rc == 0)
        rc = archive_position(at[0], n, &err);
    if (rc == 0)
        rc = history_position(at[1], n, &err);
    if (rc == 0)
        rc = warehouse_position(at[2], n, &err);
    if (rc == 0)
        print(info, at, n, sf_config_get(settings, NSETTINGS, "json")->num);
    else
        fprintf(stderr, "shopflow status: %s\n", err.msg);
    free(info);
    free(at[0]);
    free(at[1]);
    free(at[2]);
    sf_stream_close(s);
    sf_config_free();
    return rc == 0 ? SF_EXIT_OK : SF_EXIT_FAIL;
}

const sf_command sf_cmd_status = {
    "status",
    "how far each sink has come in the stream, and its lag",
    "usage: shopflow status [--data DIR] [--json]\n"
    "\n"
    "For each partition of the stream log of DIR: its end offset, and the offset each sink\n"
    "would resume at (its stored position), with the lag in records. --json prints\n"
    "{\"partitions\": [...], \"sinks\": {\"archive\": {\"lag\": N, \"offsets\": [...]},\n"
    "\"history\": {...}, \"warehouse\": {...}}}.\n",
    run_status,
};
