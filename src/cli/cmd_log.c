/*
 * cmd_log.c - `shopflow log stat|dump|tail`: look inside the stream log of a
 * data folder, read-only, also while a server is writing to it; `verify`
 * and `repair` are in cmd_log_check.c.
 *
 * dump and tail print one JSON object per line: "partition" and "offset",
 * then the record in its canonical form (core/json.h), event_id included
 * when the record has one.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/json.h"
#include "core/money.h"
#include "core/pack.h"
#include "stream/stream.h"

static sf_setting settings[] = {
    SF_OPT_DATA(NULL),
    SF_OPT_STREAM,
    SF_OPT_JSON("stat, verify: print one JSON object"),
    SF_CLI_ROW("partition", SF_SET_INT, NULL, 0, SF_STREAM_PARTITIONS_MAX - 1,
               "dump, tail: this partition only (default: all)"),
    SF_CLI_ROW("from", SF_SET_INT, "0", 0, INT64_MAX, "dump: from this offset on"),
    SF_CLI_ROW("limit", SF_SET_INT, "0", 0, INT64_MAX, "dump: N records at most (0: no limit)"),
    SF_CLI_ROW("lines", SF_SET_INT, "10", 0, INT64_MAX,
               "tail: the last N records of each partition"),
    SF_CLI_ROW("follow", SF_SET_BOOL, "false", 0, 0,
               "tail (-f): keep printing new records as they are appended, until Ctrl-C"),
    SF_CLI_ROW("archive", SF_SET_STRING, "", 0, 0,
               "repair: the archive to restore from (default DATA/archive): an archive, a data "
               "folder, or an object"),
    SF_CLI_ROW("dry-run", SF_SET_BOOL, "false", 0, 0,
               "repair: say what it would do, write nothing"),
    SF_OPT_PLACES,
};
#define NSETTINGS ((int)(sizeof settings / sizeof settings[0]))

/* The verbs, and the settings only some of them take (as flags: a value
 * from the environment or a file applies where it applies). */
static const char *const verbs[] = {"stat", "dump", "tail", "verify", "repair"};
static const struct {
    const char *setting;
    const char *verbs; /* ' '-separated */
} only[] = {
    {"json", "stat verify"},
    {"partition", "dump tail"},
    {"from", "dump"},
    {"limit", "dump"},
    {"lines", "tail"},
    {"follow", "tail"},
    {"archive", "repair"},
    {"dry-run", "repair"},
    {"objects", "verify repair"},
    {"store", "verify repair"},
    {"warehouse", "verify repair"},
    {"objects-opt", "verify repair"},
    {"store-opt", "verify repair"},
    {"warehouse-opt", "verify repair"},
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* The partition asked for, or -1 for all. */
static long partition(void)
{
    return sf_cli_source("partition") == SF_SRC_DEFAULT ? -1 : (long)sf_cli_num("partition");
}

/* verb is one of verbs[], every flag given is one of its, and there is a
 * log to read. SF_CLI_GO, or SF_EXIT_USAGE after saying why. */
static int check_verb(const char *verb)
{
    bool known = false;
    for (size_t i = 0; verb && i < sizeof verbs / sizeof verbs[0]; i++)
        known = known || strcmp(verb, verbs[i]) == 0;
    if (!verb)
        return sf_cli_usage_error(&sf_cmd_log, "say stat, dump, tail, verify or repair");
    if (!known)
        return sf_cli_usage_error(&sf_cmd_log, "unknown subcommand '%s'", verb);
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++) {
        bool takes = false;
        for (const char *v = only[i].verbs; *v; v += strspn(v, " ")) {
            size_t n = strcspn(v, " ");
            takes = takes || (n == strlen(verb) && strncmp(v, verb, n) == 0);
            v += n;
        }
        if (!takes && sf_cli_source(only[i].setting) == SF_SRC_FLAG)
            return sf_cli_usage_error(&sf_cmd_log, "%s: --%s is not one of its options", verb,
                                      only[i].setting);
    }
    if (sf_cli_source("data") == SF_SRC_DEFAULT && !*sf_cli_text("stream"))
        return sf_cli_usage_error(&sf_cmd_log, "--data DIR is required");
    return SF_CLI_GO;
}

static int open_stream(sf_stream **s)
{
    char location[4096];
    sf_cli_stream_location(location, sizeof location);
    sf_stream_opts opts = sf_cli_stream_opts(true);
    sf_error err = {0};
    if (sf_stream_open(location, &opts, s, &err) < 0) {
        fprintf(stderr, "shopflow log: %s\n", err.msg);
        return -1;
    }
    if (partition() >= (long)sf_stream_partitions(*s)) {
        fprintf(stderr, "shopflow log: no partition %ld (the log has %u)\n", partition(),
                sf_stream_partitions(*s));
        sf_stream_close(*s);
        return -1;
    }
    return 0;
}

static int stat_log(sf_stream *s, bool json)
{
    uint32_t n = sf_stream_partitions(s);
    uint64_t records = 0, bytes = 0;
    if (!json)
        printf("%-9s %14s %14s %14s %9s\n", "partition", "start", "end", "bytes", "segments");
    else
        printf("{\"partitions\":[");
    for (uint32_t i = 0; i < n; i++) {
        sf_partition_info info;
        sf_error err = {0};
        if (sf_stream_info(s, i, &info, &err) < 0) {
            fprintf(stderr, "shopflow log: %s\n", err.msg);
            return SF_EXIT_FAIL;
        }
        sf_lag stored;
        uint64_t end = 0;
        char start_text[SF_POS_TEXT_MAX], end_text[SF_POS_TEXT_MAX];
        sf_pos_format(&info.start, start_text, sizeof start_text);
        sf_pos_format(&info.end, end_text, sizeof end_text);
        if (sf_stream_lag(s, i, &info.start, &stored, &err) == 0 && stored.has_records)
            records += stored.records;
        bytes += info.bytes;
        if (info.missing && sf_pos_u64(&info.end, &end))
            fprintf(stderr,
                    "shopflow log: partition %u: found: acknowledged offsets %llu to %llu are "
                    "missing; run `shopflow log verify`, then `shopflow log repair`\n",
                    i, (unsigned long long)(end - info.missing), (unsigned long long)end - 1);
        char label[32];
        snprintf(label, sizeof label, "%u%s", i,
                 info.gone     ? " gone"
                 : info.closed ? " closed"
                               : "");
        if (json)
            printf("%s{\"partition\":%u,\"start_offset\":%s,\"end_offset\":%s,\"bytes\":%llu,"
                   "\"segments\":%u,\"missing\":%llu,\"closed\":%s}",
                   i ? "," : "", i, start_text, end_text, (unsigned long long)info.bytes,
                   info.segments, (unsigned long long)info.missing, info.closed ? "true" : "false");
        else
            printf("%-9s %14s %14s %14llu %9u\n", label, start_text, end_text,
                   (unsigned long long)info.bytes, info.segments);
    }
    if (json) {
        printf("],\"records\":%llu,\"bytes\":%llu}\n", (unsigned long long)records,
               (unsigned long long)bytes);
    } else {
        char r[SF_MONEY_TEXT_MAX], b[SF_MONEY_TEXT_MAX];
        sf_format_count((int64_t)records, r);
        sf_format_count((int64_t)bytes, b);
        printf("%u partitions, %s records stored, %s bytes\n", n, r, b);
    }
    return SF_EXIT_OK;
}

/* A hole as a line of its own: the offsets no record will ever have. */
static void print_hole(uint32_t p, const sf_stream_hole *h)
{
    char reason[2 * SF_STREAM_HOLE_REASON_MAX + 8], when[32];
    time_t t = (time_t)h->marked_at;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(when, sizeof when, "%lld", (long long)h->marked_at);
    sf_json_quote(h->reason, reason, sizeof reason);
    uint64_t from = 0, to = 0; /* holes are the local log's: offsets */
    sf_pos_u64(&h->from, &from);
    sf_pos_u64(&h->to, &to);
    printf("{\"partition\":%u,\"offset\":%llu,\"hole\":{\"last_offset\":%llu,\"count\":%llu,"
           "\"marked_at\":\"%s\",\"reason\":%s}}\n",
           p, (unsigned long long)from, (unsigned long long)to - 1, (unsigned long long)(to - from),
           when, reason);
}

/* Print entries of one partition from *from on, up to *budget of them
 * (0 = no limit); advances *from. Returns 0 or SF_EXIT_FAIL. */
static int print_partition(sf_stream *s, uint32_t p, sf_pos *from, uint64_t *budget, bool limited,
                           sf_stream_batch *b)
{
    char json[SF_JSON_RECORD_MAX], at[SF_POS_TEXT_MAX];
    for (;;) {
        sf_error err = {0};
        int rc = sf_stream_read(s, p, from, b, &err);
        bool ahead = sf_pos_cmp(&b->next, from) > 0;
        if (rc == SF_ERANGE && ahead) {
            *from = b->next; /* removed by retention: start where the log starts */
            continue;
        }
        if (rc < 0) {
            if (strncmp(err.msg, "partition ", 10) == 0)
                fprintf(stderr, "shopflow log: %s\n", err.msg);
            else
                fprintf(stderr, "shopflow log: partition %u: %s\n", p, err.msg);
            return SF_EXIT_FAIL;
        }
        if (b->count == 0 && ahead) {
            if (limited && *budget == 0)
                return 0;
            if (sf_pos_cmp(&b->hole.to, &b->hole.from) > 0)
                print_hole(p, &b->hole);
            *budget -= limited;
            *from = b->next;
            continue;
        }
        if (b->count == 0)
            return 0;
        for (size_t i = 0; i < b->count; i++) {
            sf_record r;
            if (limited && *budget == 0)
                return 0;
            if (sf_stream_entry_record(&b->entries[i], p, &r, &err) < 0 ||
                sf_json_encode(&r, json, sizeof json) < 0) {
                fprintf(stderr, "shopflow log: %s\n",
                        err.code ? err.msg : "a record too large to print");
                return SF_EXIT_FAIL;
            }
            sf_pos_format(&b->entries[i].pos, at, sizeof at);
            printf("{\"partition\":%u,\"offset\":%s,%s\n", p, at, json + 1);
            if (limited)
                (*budget)--;
        }
        *from = b->next;
    }
}

static int dump_log(sf_stream *s, sf_stream_batch *b)
{
    uint32_t n = sf_stream_partitions(s);
    uint64_t limit = (uint64_t)sf_cli_num("limit"), budget = limit;
    for (uint32_t p = 0; p < n; p++) {
        if (partition() >= 0 && (uint32_t)partition() != p)
            continue;
        sf_pos from;
        sf_pos_from_u64(&from, (uint64_t)sf_cli_num("from"));
        if (print_partition(s, p, &from, &budget, limit != 0, b) != 0)
            return SF_EXIT_FAIL;
    }
    return SF_EXIT_OK;
}

static int tail_log(sf_stream *s, sf_stream_batch *b)
{
    uint32_t n = sf_stream_partitions(s);
    uint64_t last = (uint64_t)sf_cli_num("lines");
    bool follow = sf_cli_num("follow");
    sf_pos *next = calloc(n, sizeof *next);
    if (!next)
        return SF_EXIT_FAIL;
    int status = SF_EXIT_OK;
    for (uint32_t p = 0; p < n && status == SF_EXIT_OK; p++) {
        sf_error err = {0};
        if (sf_stream_tail_start(s, p, last, &next[p], &err) < 0)
            status = SF_EXIT_FAIL;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    while (status == SF_EXIT_OK && !interrupted) {
        for (uint32_t p = 0; p < n && status == SF_EXIT_OK; p++) {
            uint64_t budget = 0;
            if (partition() < 0 || (uint32_t)partition() == p)
                status = print_partition(s, p, &next[p], &budget, false, b);
        }
        fflush(stdout);
        if (!follow)
            break;
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    free(next);
    return status;
}

/* -f, the one short option (tail's), as --follow. */
static void short_options(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "-f") == 0)
            argv[i] = "--follow";
}

static int read_log(const char *verb)
{
    sf_stream *s;
    if (open_stream(&s) < 0)
        return SF_EXIT_FAIL;
    sf_stream_batch b;
    sf_error err = {0};
    int status = SF_EXIT_FAIL;
    if (sf_stream_batch_init(&b, 4096, 1 << 20, &err) == 0) {
        if (strcmp(verb, "stat") == 0)
            status = stat_log(s, sf_cli_num("json"));
        else if (strcmp(verb, "dump") == 0)
            status = dump_log(s, &b);
        else
            status = tail_log(s, &b);
        sf_stream_batch_free(&b);
    }
    sf_stream_close(s);
    return status;
}

static int run_log(int argc, char **argv)
{
    char **words;
    int nwords;
    short_options(argc, argv);
    int status = sf_cli_settings(&sf_cmd_log, settings, NSETTINGS, argc, argv, 1, &words, &nwords);
    if (status != SF_CLI_GO)
        return status;
    const char *verb = nwords ? words[0] : NULL;
    free(words);
    status = check_verb(verb);
    if (status == SF_CLI_GO)
        status = strcmp(verb, "verify") == 0   ? sf_cli_log_verify()
                 : strcmp(verb, "repair") == 0 ? sf_cli_log_repair()
                                               : read_log(verb);
    sf_cli_settings_free();
    return status;
}

const sf_command sf_cmd_log = {
    "log",
    "look inside the stream log, verify it, repair it: stat, dump, tail, verify, repair",
    "usage: shopflow log stat --data DIR [--json]\n"
    "       shopflow log dump --data DIR [--partition P] [--from OFFSET] [--limit N]\n"
    "       shopflow log tail --data DIR [--partition P] [--lines N] [--follow]\n"
    "       shopflow log verify --data DIR [--json]\n"
    "       shopflow log repair --data DIR [--archive LOCATION] [--dry-run]\n"
    "\n"
    "Reads the stream log of the data folder DIR (DIR/log; --stream LOCATION names another),\n"
    "read-only, also while a server writes to it. Only durable records are shown.\n"
    "On Kafka (--stream kafka://HOST:PORT/TOPIC, --stream-opt KEY=VALUE for librdkafka)\n"
    "start and end are the partitions' watermarks; bytes and segments are not known (0).\n"
    "On Kinesis (--stream kinesis://STREAM_NAME) partitions are shards by number, start and\n"
    "end sequence numbers; a shard closed by a reshard is marked `closed` (\"closed\": true),\n"
    "and its end is its own (the last sequence number it could hold, + 1).\n"
    "\n"
    "  stat    per partition: first and end offset, bytes, segments (--json: one object);\n"
    "          acknowledged offsets the log no longer holds are named on stderr\n"
    "  dump    records as NDJSON, one per line, partition by partition: \"partition\",\n"
    "          \"offset\", then the record (\"event_id\" when it has one); offsets lost for\n"
    "          good (a hole) as {\"partition\",\"offset\",\"hole\":{\"last_offset\",\"count\",\n"
    "          \"marked_at\",\"reason\"}}\n"
    "  tail    the last N records (default 10) of each partition; --follow (-f) keeps\n"
    "          printing new records as they are appended, until Ctrl-C\n"
    "  verify  read every entry of every partition (a local log; also beside a server):\n"
    "          checksums, offsets dense or holes recorded, segments contiguous, the index,\n"
    "          every record readable and in its partition, and nothing missing that was\n"
    "          acknowledged (the log's mark, and the stored positions of the sinks of DIR,\n"
    "          or of --objects, --store, --warehouse).\n"
    "          One line per problem: partition, segment file, byte, offsets. Exit 1 on any\n"
    "          problem, 0 when sound. --json: {\"findings\":[...],\"problems\":N,\"clean\":B,...}\n"
    "  repair  with no server running: restore every damaged or missing acknowledged\n"
    "          record from the archive (DIR/archive or --objects, or --archive LOCATION:\n"
    "          an archive, a data folder, or an object, read through the objects port),\n"
    "          and mark what it does not hold as lost for good (a hole: readers skip it\n"
    "          and say so; its offsets are never given again). Damaged segments are\n"
    "          written again atomically. Prints each range restored or marked lost;\n"
    "          --dry-run writes nothing.\n"
    "\n"
    "When serve refuses to start over a damaged log: docs/operations.md, \"When a disk goes\n"
    "bad\".\n",
    run_log,
};
