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
static int position(const char *name, sf_pos *next, uint32_t n, sf_error *err)
{
    sf_sink_places at = sf_cli_places();
    return sf_sink_stored_position(name, &at, next, n, err);
}

/* How far a sink is behind, summed over the partitions, as the stream's
 * adapter counts it (stream.h, sf_stream_lag). */
typedef struct behind {
    uint64_t records, ms;
    bool has_records, exact, has_ms;
} behind;

static int lag_of(sf_stream *s, const sf_pos *at, uint32_t n, sf_lag *each, behind *out,
                  sf_error *err)
{
    *out = (behind){.exact = true};
    for (uint32_t p = 0; p < n; p++) {
        sf_lag lag;
        int rc = sf_stream_lag(s, p, &at[p], &lag, err);
        if (rc < 0)
            return rc;
        each[p] = lag;
        out->has_records |= lag.has_records;
        out->records += lag.records;
        out->exact &= !lag.has_records || lag.records_exact;
        if (lag.has_ms && (!out->has_ms || lag.ms > out->ms))
            out->ms = lag.ms; /* the partition furthest behind */
        out->has_ms |= lag.has_ms;
    }
    return 0;
}

/* A position in JSON: a number when it is a 64-bit offset (what every
 * local and Kafka position is), else its decimal as a string (a JSON
 * number of 56 digits would lose digits in most readers). */
static void print_json_pos(const sf_pos *pos)
{
    char text[SF_POS_TEXT_MAX];
    uint64_t v;
    sf_pos_format(pos, text, sizeof text);
    printf(sf_pos_u64(pos, &v) ? "%s" : "\"%s\"", text);
}

/* What is wrong with the log, as found: acknowledged records it does not
 * hold, sinks past its end (they will stop there: runner.c). */
static void print_damage(const sf_partition_info *info, sf_pos *const at[SF_SINKS], uint32_t n)
{
    bool damaged = false;
    for (uint32_t p = 0; p < n; p++) {
        uint64_t end = 0, pos;
        bool offsets = sf_pos_u64(&info[p].end, &end);
        if (info[p].missing && offsets) {
            damaged = true;
            printf("partition %u: found: acknowledged offsets %llu to %llu are missing from the "
                   "log\n",
                   p, (unsigned long long)(end - info[p].missing), (unsigned long long)end - 1);
        }
        for (int k = 0; k < SF_SINKS; k++)
            if (sf_pos_cmp(&at[k][p], &info[p].end) > 0 && offsets && sf_pos_u64(&at[k][p], &pos)) {
                damaged = true;
                printf("partition %u: found: the %s sink is at %llu, past the log's end (%llu): "
                       "the log lost %llu records it applied\n",
                       p, sf_sink_names[k], (unsigned long long)pos, (unsigned long long)end,
                       (unsigned long long)(pos - end));
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

/* "N records" (", at most" when an upper bound) and/or "N ms behind". */
static void print_lag(const char *name, const behind *b)
{
    printf("%s lag:", name);
    if (b->has_records || !b->has_ms)
        printf(" %s%llu records", b->exact ? "" : "at most ", (unsigned long long)b->records);
    if (b->has_ms)
        printf("%s %llu ms behind", b->has_records ? "," : "", (unsigned long long)b->ms);
    printf("\n");
}

/* The partition's number, and what it is when not open (a Kinesis shard
 * closed by a reshard, or gone past retention). */
static const char *partition_label(uint32_t p, const sf_partition_info *info, char out[32])
{
    snprintf(out, 32, "%u%s", p, info->gone ? " gone" : info->closed ? " closed" : "");
    return out;
}

/* One partition's lag as a cell: "N" records ("<=N" when an upper bound),
 * "M ms" behind, or both. */
static void lag_cell(const sf_lag *lag, char *out, size_t cap)
{
    int n = 0;
    if (lag->has_records || !lag->has_ms)
        n = snprintf(out, cap, "%s%llu", lag->records_exact || !lag->has_records ? "" : "<=",
                     (unsigned long long)lag->records);
    if (lag->has_ms && n >= 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "%s%llu ms", n ? ", " : "", (unsigned long long)lag->ms);
}

/* The lag of every sink in every partition (shard): where a sink is
 * behind, and on which partition. */
static void print_lag_table(const sf_partition_info *info, sf_lag *const each[SF_SINKS], uint32_t n)
{
    char cell[64], label[32];
    printf("%-9s", "lag");
    for (int k = 0; k < SF_SINKS; k++)
        printf(" %20s", sf_sink_names[k]);
    printf("\n");
    for (uint32_t p = 0; p < n; p++) {
        printf("%-9s", partition_label(p, &info[p], label));
        for (int k = 0; k < SF_SINKS; k++) {
            lag_cell(&each[k][p], cell, sizeof cell);
            printf(" %20s", cell);
        }
        printf("\n");
    }
}

static void print_text(const sf_partition_info *info, sf_pos *const at[SF_SINKS], uint32_t n,
                       sf_lag *const each[SF_SINKS], const behind lag[SF_SINKS],
                       const sf_archive_summary *arc)
{
    char text[SF_POS_TEXT_MAX];
    printf("%-9s %14s", "partition", "log end");
    for (int k = 0; k < SF_SINKS; k++)
        printf(" %14s", sf_sink_names[k]);
    printf("\n");
    for (uint32_t p = 0; p < n; p++) {
        char label[32];
        sf_pos_format(&info[p].end, text, sizeof text);
        printf("%-9s %14s", partition_label(p, &info[p], label), text);
        for (int k = 0; k < SF_SINKS; k++) {
            sf_pos_format(&at[k][p], text, sizeof text);
            printf(" %14s", text);
        }
        printf("\n");
    }
    print_lag_table(info, each, n);
    for (int k = 0; k < SF_SINKS; k++)
        print_lag(sf_sink_names[k], &lag[k]);
    if (arc->exists)
        printf("archive: %llu objects in %s%s%s\n", (unsigned long long)arc->objects, arc->location,
               arc->last[0] ? ", the last " : "", arc->last);
    else
        printf("archive: none yet at %s\n", arc->location);
    print_damage(info, at, n);
}

/* "lag_per_partition":[{"records":N,"exact":B,"ms":M}...] (each key only
 * when the stream tells it), with a comma after. */
static void print_lag_json(const sf_lag *each, uint32_t n)
{
    printf("\"lag_per_partition\":[");
    for (uint32_t p = 0; p < n; p++) {
        const char *sep = "";
        printf("%s{", p ? "," : "");
        if (each[p].has_records) {
            printf("\"records\":%llu,\"exact\":%s", (unsigned long long)each[p].records,
                   each[p].records_exact ? "true" : "false");
            sep = ",";
        }
        if (each[p].has_ms)
            printf("%s\"ms\":%llu", sep, (unsigned long long)each[p].ms);
        printf("}");
    }
    printf("],");
}

static void print_json(const sf_partition_info *info, sf_pos *const at[SF_SINKS], uint32_t n,
                       sf_lag *const each[SF_SINKS], const behind lag[SF_SINKS],
                       const sf_archive_summary *arc)
{
    printf("{\"partitions\":[");
    for (uint32_t p = 0; p < n; p++) {
        printf("%s{\"partition\":%u,\"end_offset\":", p ? "," : "", p);
        print_json_pos(&info[p].end);
        printf(",\"missing\":%llu,\"closed\":%s}", (unsigned long long)info[p].missing,
               info[p].closed ? "true" : "false");
    }
    printf("],\"sinks\":{");
    for (int k = 0; k < SF_SINKS; k++) {
        printf("%s\"%s\":{\"lag\":%llu,\"lag_exact\":%s", k ? "," : "", sf_sink_names[k],
               (unsigned long long)lag[k].records, lag[k].exact ? "true" : "false");
        if (lag[k].has_ms)
            printf(",\"lag_ms\":%llu", (unsigned long long)lag[k].ms);
        printf(",");
        if (k == 0)
            print_archive_json(arc);
        print_lag_json(each[k], n);
        printf("\"offsets\":[");
        for (uint32_t p = 0; p < n; p++) {
            printf("%s", p ? "," : "");
            print_json_pos(&at[k][p]);
        }
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
    sf_pos *at[SF_SINKS] = {calloc(n ? n : 1, sizeof(sf_pos)), calloc(n ? n : 1, sizeof(sf_pos)),
                            calloc(n ? n : 1, sizeof(sf_pos))};
    sf_lag *each[SF_SINKS] = {calloc(n ? n : 1, sizeof(sf_lag)), calloc(n ? n : 1, sizeof(sf_lag)),
                              calloc(n ? n : 1, sizeof(sf_lag))};
    behind lag[SF_SINKS];
    if (rc == 0 && (!info || !at[0] || !at[1] || !at[2] || !each[0] || !each[1] || !each[2]))
        rc = sf_error_set(&err, SF_ENOMEM, "out of memory");
    for (uint32_t p = 0; rc == 0 && p < n; p++)
        rc = sf_stream_info(s, p, &info[p], &err);
    for (int k = 0; rc == 0 && k < SF_SINKS; k++)
        if ((rc = position(sf_sink_names[k], at[k], n, &err)) == 0)
            rc = lag_of(s, at[k], n, each[k], &lag[k], &err);
    sf_archive_summary arc;
    sf_sink_places places = sf_cli_places();
    if (rc == 0)
        rc = sf_archive_describe(&places, &arc, &err);
    if (rc == 0 && sf_cli_num("json"))
        print_json(info, at, n, each, lag, &arc);
    else if (rc == 0)
        print_text(info, at, n, each, lag, &arc);
    else
        fprintf(stderr, "shopflow status: %s\n", err.msg);
    free(info);
    for (int k = 0; k < SF_SINKS; k++) {
        free(at[k]);
        free(each[k]);
    }
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
    "would resume at (its stored position), with the lag as the stream counts it: records\n"
    "(exact on a local log; at most that many on Kafka, whose offsets may skip) and/or time\n"
    "behind where the stream tells it (Kinesis: MillisBehindLatest), per partition (shard) and\n"
    "summed for each sink; a Kinesis shard closed by a reshard is marked `closed` (`gone`\n"
    "past its retention). Each sink's store is asked through its port, opened read-only\n"
    "(as `sink` takes them: DIR/archive, DIR/history, DIR/warehouse.db, or --objects,\n"
    "--store, --warehouse, e.g. a PostgreSQL warehouse); one not there yet is a sink that\n"
    "has not started (0), and nothing is made. Then the archive's objects: how many, where,\n"
    "and the last (an S3 archive, --objects s3://BUCKET/PREFIX, is listed as any other; one\n"
    "that cannot be reached is an error). What is found wrong follows: acknowledged offsets\n"
    "the log no longer holds, and sinks past the log's end (they stop there: run `shopflow\n"
    "log verify`, then `shopflow log repair`). --json prints {\"partitions\": [{\"partition\",\n"
    "\"end_offset\", \"missing\", \"closed\"}...], \"sinks\": {\"archive\": {\"lag\": N,\n"
    "\"lag_exact\": BOOL, [\"lag_ms\": N,] \"objects\": N, \"last_object\": KEY or null,\n"
    "\"location\": ..., \"lag_per_partition\": [{[\"records\": N, \"exact\": BOOL,] [\"ms\": "
    "N]}...],\n"
    "\"offsets\": [...]}, \"history\": {...}, \"warehouse\": {...}}}; a position wider than\n"
    "64 bits (Kinesis) is a string of its digits.\n",
    run_status,
};
