/*
 * cmd_status.c - `shopflow status --data DIR [--json]`: how far each sink
 * has come in the stream, partition by partition, and its lag.
 *
 * Each sink is asked where it would resume (its stored position), exactly as
 * the runner does on start, so status can never disagree with what a sink
 * will do next. Sinks not built yet are not listed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "core/config.h"
#include "sinks/sink.h"
#include "storage/objects/objects.h"

static sf_setting settings[] = {
    {"data", SF_SET_STRING, "./var", 0, 0, "data folder", NULL, 0, 0},
    {"stream", SF_SET_STRING, "", 0, 0, "stream location (default DATA/log)", NULL, 0, 0},
    {"objects", SF_SET_STRING, "", 0, 0, "archive object store (default DATA/archive)", NULL, 0, 0},
    {"json", SF_SET_BOOL, "false", 0, 0, "print one JSON object", NULL, 0, 0},
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

static const char *opt(const char *name)
{
    return sf_config_get(settings, NSETTINGS, name)->text;
}

/* The archive's position: next[p] for each partition. */
static int archive_position(uint64_t *next, uint32_t n, sf_error *err)
{
    char at[4096];
    snprintf(at, sizeof at, "%s", *opt("objects") ? opt("objects") : "");
    if (!*at)
        snprintf(at, sizeof at, "%s/archive", opt("data"));
    sf_objects *o = NULL;
    sf_sink *sink = NULL;
    int rc = sf_objects_open(at, &o, err);
    if (rc == 0)
        rc = sf_archive_sink_new(o, NULL, &sink, err);
    if (rc == 0)
        rc = sink->ops->resume(sink, next, n, err);
    if (sink)
        sink->ops->close(sink);
    sf_objects_close(o);
    return rc;
}

static void print(const sf_partition_info *info, const uint64_t *archive, uint32_t n, bool json)
{
    uint64_t lag = 0;
    for (uint32_t p = 0; p < n; p++)
        lag += info[p].end_offset > archive[p] ? info[p].end_offset - archive[p] : 0;
    if (!json) {
        printf("%-9s %14s %14s %10s\n", "partition", "log end", "archive", "lag");
        for (uint32_t p = 0; p < n; p++)
            printf("%-9u %14llu %14llu %10llu\n", p, (unsigned long long)info[p].end_offset,
                   (unsigned long long)archive[p],
                   (unsigned long long)(info[p].end_offset - archive[p]));
        printf("archive lag: %llu records\n", (unsigned long long)lag);
        return;
    }
    printf("{\"partitions\":[");
    for (uint32_t p = 0; p < n; p++)
        printf("%s{\"partition\":%u,\"end_offset\":%llu}", p ? "," : "", p,
               (unsigned long long)info[p].end_offset);
    printf("],\"sinks\":{\"archive\":{\"lag\":%llu,\"offsets\":[", (unsigned long long)lag);
    for (uint32_t p = 0; p < n; p++)
        printf("%s%llu", p ? "," : "", (unsigned long long)archive[p]);
    printf("]}}}\n");
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
    uint64_t *archive = calloc(n ? n : 1, sizeof *archive);
    if (rc == 0 && (!info || !archive))
        rc = sf_error_set(&err, SF_ENOMEM, "out of memory");
    for (uint32_t p = 0; rc == 0 && p < n; p++)
        rc = sf_stream_info(s, p, &info[p], &err);
    if (rc == 0)
        rc = archive_position(archive, n, &err);
    if (rc == 0)
        print(info, archive, n, sf_config_get(settings, NSETTINGS, "json")->num);
    else
        fprintf(stderr, "shopflow status: %s\n", err.msg);
    free(info);
    free(archive);
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
    "{\"partitions\": [...], \"sinks\": {\"archive\": {\"lag\": N, \"offsets\": [...]}}}.\n"
    "Only the archive sink exists so far.\n",
    run_status,
};
