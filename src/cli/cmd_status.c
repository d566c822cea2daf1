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
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "sinks/sink.h"

static sf_setting settings[] = {
    SF_OPT_DATA("./var"),
    SF_OPT_STREAM,
    SF_OPT_PLACES,
    SF_OPT_JSON("print one JSON object"),
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

/* A sink's position: next[p] for each partition; zeros for a sink whose
 * backend was never created (it has not started). */
static int position(const char *name, uint64_t *next, uint32_t n, sf_error *err)
{
    sf_sink_places at = sf_cli_places();
    return sf_sink_stored_position(name, &at, next, n, err);
}

static uint64_t lag_of(const sf_partition_info *info, const uint64_t *at, uint32_t n)
{
    uint64_t lag = 0;
    for (uint32_t p = 0; p < n; p++)
        lag += info[p].end_offset > at[p] ? info[p].end_offset - at[p] : 0;
    return lag;
}

/* What is wrong with the log, as found: acknowledged records it does not
 * hold, sinks past its end (they will stop there: runner.c). */
static void print_damage(const sf_partition_info *info, uint64_t *const at[SF_SINKS], uint32_t n)
{
    bool damaged = false;
    for (uint32_t p = 0; p < n; p++) {
        if (info[p].missing) {
            damaged = true;
            printf("partition %u: found: acknowledged offsets %llu to %llu are missing from the "
                   "log\n",
                   p, (unsigned long long)(info[p].end_offset - info[p].missing),
                   (unsigned long long)info[p].end_offset - 1);
        }
        for (int k = 0; k < SF_SINKS; k++)
            if (at[k][p] > info[p].end_offset) {
                damaged = true;
                printf("partition %u: found: the %s sink is at %llu, past the log's end (%llu): "
                       "the log lost %llu records it applied\n",
                       p, sf_sink_names[k], (unsigned long long)at[k][p],
                       (unsigned long long)info[p].end_offset,
                       (unsigned long long)(at[k][p] - info[p].end_offset));
            }
    }
    if (damaged)
        printf("The log is damaged: run `shopflow log verify --data %s`, then `shopflow log "
               "repair --data %s` (docs/operations.md, \"When a disk goes bad\").\n",
               sf_cli_text("data"), sf_cli_text("data"));
}

/* "objects":N,"last_object":KEY|null,"location":"..." (with a comma after). */
static void print_archive_json(const sf_archive_summary *arc)
{
    sf_buf b = SF_BUF_INIT;
    sf_buf_printf(&b, "\"objects\":%llu,\"last_object\":", (unsigned long long)arc->objects);
    if (arc->last[0])
        sf_buf_json_string(&b, arc->last, strlen(arc->last));
    else
        sf_buf_puts(&b, "null");
    sf_buf_puts(&b, ",\"location\":");
    sf_buf_json_string(&b, arc->location, strlen(arc->location));
    sf_buf_puts(&b, ",");
    if (!sf_buf_failed(&b))
        fputs(b.data, stdout);
    sf_buf_free(&b);
}

static void print(const sf_partition_info *info, uint64_t *const at[SF_SINKS], uint32_t n,
                  const sf_archive_summary *arc, bool json)
{
    if (!json) {
        printf("%-9s %14s", "partition", "log end");
        for (int k = 0; k < SF_SINKS; k++)
            printf(" %14s", sf_sink_names[k]);
        printf("\n");
        for (uint32_t p = 0; p < n; p++) {
            printf("%-9u %14llu", p, (unsigned long long)info[p].end_offset);
            for (int k = 0; k < SF_SINKS; k++)
                printf(" %14llu", (unsigned long long)at[k][p]);
            printf("\n");
        }
        for (int k = 0; k < SF_SINKS; k++)
            printf("%s lag: %llu records\n", sf_sink_names[k],
                   (unsigned long long)lag_of(info, at[k], n));
        if (arc->exists)
            printf("archive: %llu objects in %s%s%s\n", (unsigned long long)arc->objects,
                   arc->location, arc->last[0] ? ", the last " : "", arc->last);
        else
            printf("archive: none yet at %s\n", arc->location);
        print_damage(info, at, n);
        return;
    }
    printf("{\"partitions\":[");
    for (uint32_t p = 0; p < n; p++)
        printf("%s{\"partition\":%u,\"end_offset\":%llu,\"missing\":%llu}", p ? "," : "", p,
               (unsigned long long)info[p].end_offset, (unsigned long long)info[p].missing);
    printf("],\"sinks\":{");
    for (int k = 0; k < SF_SINKS; k++) {
        printf("%s\"%s\":{\"lag\":%llu,", k ? "," : "", sf_sink_names[k],
               (unsigned long long)lag_of(info, at[k], n));
        if (k == 0)
            print_archive_json(arc);
        printf("\"offsets\":[");
        for (uint32_t p = 0; p < n; p++)
            printf("%s%llu", p ? "," : "", (unsigned long long)at[k][p]);
        printf("]}");
    }
    printf("}}\n");
}

static int run_status(int argc, char **argv)
{
    sf_error err = {0};
    int rc = sf_cli_settings(&sf_cmd_status, settings, NSETTINGS, argc, argv, 0, NULL, NULL);
    if (rc != SF_CLI_GO)
        return rc;
    char location[4096];
    sf_cli_stream_location(location, sizeof location);
    sf_stream_opts sopts = sf_cli_stream_opts(true);
    sf_stream *s = NULL;
    rc = sf_stream_open(location, &sopts, &s, &err);
    uint32_t n = rc == 0 ? sf_stream_partitions(s) : 0;
    sf_partition_info *info = calloc(n ? n : 1, sizeof *info);
    uint64_t *at[SF_SINKS] = {calloc(n ? n : 1, sizeof(uint64_t)),
                              calloc(n ? n : 1, sizeof(uint64_t)),
                              calloc(n ? n : 1, sizeof(uint64_t))};
    if (rc == 0 && (!info || !at[0] || !at[1] || !at[2]))
        rc = sf_error_set(&err, SF_ENOMEM, "out of memory");
    for (uint32_t p = 0; rc == 0 && p < n; p++)
        rc = sf_stream_info(s, p, &info[p], &err);
    for (int k = 0; rc == 0 && k < SF_SINKS; k++)
        rc = position(sf_sink_names[k], at[k], n, &err);
    sf_archive_summary arc;
    sf_sink_places places = sf_cli_places();
    if (rc == 0)
        rc = sf_archive_describe(&places, &arc, &err);
    if (rc == 0)
        print(info, at, n, &arc, sf_cli_num("json"));
    else
        fprintf(stderr, "shopflow status: %s\n", err.msg);
    free(info);
    free(at[0]);
    free(at[1]);
    free(at[2]);
    sf_stream_close(s);
    sf_cli_settings_free();
    return rc == 0 ? SF_EXIT_OK : SF_EXIT_FAIL;
}

const sf_command sf_cmd_status = {
    "status",
    "how far each sink has come in the stream, and its lag",
    "usage: shopflow status [--data DIR] [--stream LOCATION [--stream-opt KEY=VALUE]...] [--json]\n"
    "                       [--objects LOCATION] [--store LOCATION] [--warehouse LOCATION]\n"
    "\n"
    "For each partition of the stream log of DIR: its end offset, and the offset each sink\n"
    "would resume at (its stored position), with the lag in records. Each sink's store is\n"
    "asked through its port, opened read-only (as `sink` takes them: DIR/archive,\n"
    "DIR/history, DIR/warehouse.db, or --objects, --store, --warehouse, e.g. a PostgreSQL\n"
    "warehouse); one not there yet is a sink that has not started (0), and nothing is made.\n"
    "Then the archive's objects: how many, where, and the last (an S3 archive, --objects\n"
    "s3://BUCKET/PREFIX, is listed as any other; one that cannot be reached is an error).\n"
    "What is found wrong follows: acknowledged offsets the log no longer holds, and sinks\n"
    "past the log's end (they stop there: run `shopflow log verify`, then `shopflow log\n"
    "repair`). --json prints {\"partitions\": [{\"partition\", \"end_offset\", \"missing\"}...],\n"
    "\"sinks\": {\"archive\": {\"lag\": N, \"objects\": N, \"last_object\": KEY or null,\n"
    "\"location\": ..., \"offsets\": [...]}, \"history\": {...}, \"warehouse\": {...}}}.\n",
    run_status,
};
