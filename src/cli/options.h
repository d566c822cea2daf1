/*
 * options.h - the rows of the commands' settings tables (core/config.h) that
 * more than one command takes, each written here once.
 *
 * A command's table lists the rows it takes: its own, written in its file,
 * and these, by name (SF_OPT_DATA("./var"), SF_OPT_PLACES, ...). A row that
 * means the same in two commands is the same row, so its flag, its
 * SHOPFLOW_* variable, its config-file name, bounds and help cannot drift
 * apart; where commands differ only in the default, the macro takes it.
 * Rows use designated initializers: the fields sf_config_load fills start
 * zeroed.
 */
#ifndef SF_CLI_OPTIONS_H
#define SF_CLI_OPTIONS_H

#include "core/config.h"
#include "replay/replay.h"
#include "stream/stream.h"

#define SF_CLI_ROW(name_, type_, def_, min_, max_, help_)                                          \
    {                                                                                              \
        .name = (name_), .type = (type_), .def = (def_), .min = (min_), .max = (max_),             \
        .help = (help_)                                                                            \
    }

/* The data folder (def NULL: none unless given). */
#define SF_OPT_DATA(def)                                                                           \
    SF_CLI_ROW("data", SF_SET_STRING, def, 0, 0, "data folder (the log, keys, the sinks' stores)")

/* Where the stream is, and settings for its adapter. */
#define SF_OPT_STREAM                                                                              \
    SF_CLI_ROW("stream", SF_SET_STRING, "", 0, 0,                                                  \
               "stream location (default DATA/log; kafka://HOST:PORT[,HOST:PORT]/TOPIC)"),         \
        SF_CLI_ROW("stream-opt", SF_SET_LIST, NULL, 0, 0,                                          \
                   "KEY=VALUE for the stream's adapter (librdkafka's SASL, TLS, tuning: "          \
                   "docs/deploy.md), or @FILE of KEY=VALUE lines")

#define SF_OPT_PARTITIONS(def)                                                                     \
    SF_CLI_ROW("partitions", SF_SET_INT, def, 1, SF_STREAM_PARTITIONS_MAX,                         \
               "partitions of a new log")

/* A port's adapter settings (cli/port_opts.c): --PORT-opt KEY=VALUE. */
#define SF_OPT_ADAPTER(port)                                                                       \
    SF_CLI_ROW(port "-opt", SF_SET_LIST, NULL, 0, 0,                                               \
               "KEY=VALUE for the " port " adapter, or @FILE of KEY=VALUE lines")

/* The sinks' stores (sinks/sink.h, sf_sink_places): all three, or one;
 * each with its adapter's settings. */
#define SF_OPT_OBJECTS                                                                             \
    SF_CLI_ROW("objects", SF_SET_STRING, "", 0, 0,                                                 \
               "archive object store (default DATA/archive; s3://BUCKET[/PREFIX] for S3, "         \
               "AWS settings as the aws CLI reads them: docs/deploy.md)"),                         \
        SF_OPT_ADAPTER("objects")
#define SF_OPT_STORE                                                                               \
    SF_CLI_ROW("store", SF_SET_STRING, "", 0, 0,                                                   \
               "history store (default DATA/history; dynamodb://TABLE for DynamoDB: "              \
               "docs/dynamodb.md)"),                                                               \
        SF_OPT_ADAPTER("store")
#define SF_OPT_WAREHOUSE                                                                           \
    SF_CLI_ROW("warehouse", SF_SET_STRING, "", 0, 0,                                               \
               "warehouse (default DATA/warehouse.db; postgres://USER@HOST/DB or "                 \
               "postgres:CONNINFO for PostgreSQL)"),                                               \
        SF_OPT_ADAPTER("warehouse")
#define SF_OPT_PLACES SF_OPT_OBJECTS, SF_OPT_STORE, SF_OPT_WAREHOUSE

/* How the sinks run: which, and what they do with an entry not a record. */
#define SF_OPT_SINKS(def)                                                                          \
    SF_CLI_ROW("sinks", SF_SET_STRING, def, 0, 0,                                                  \
               "sinks to run in this process: all, or a list of archive, history, warehouse; "     \
               "or none")
#define SF_OPT_ON_BAD_ENTRY                                                                        \
    SF_CLI_ROW("on-bad-entry", SF_SET_STRING, "stop", 0, 0,                                        \
               "an entry of the log that is not a record: a sink stops there, or quarantines it "  \
               "and goes on")

/* The archive sink's objects (sf_archive_opts). */
#define SF_OPT_ARCHIVE                                                                             \
    SF_CLI_ROW("archive-object-size", SF_SET_BYTES, "16M", 4096, 1LL << 32,                        \
               "write an archive object at this much NDJSON"),                                     \
        SF_CLI_ROW("archive-max-wait", SF_SET_DURATION, "60s", 10, 86400000,                       \
                   "write an archive object when its first record waited this long"),              \
        SF_CLI_ROW("archive-gzip-level", SF_SET_INT, "1", 1, 9,                                    \
                   "gzip level of archive objects (1 fastest, 9 smallest)")

#define SF_OPT_DEDUP_WINDOW                                                                        \
    SF_CLI_ROW("dedup-window", SF_SET_INT, "1000000", 1, 100000000,                                \
               "event ids remembered in all: each partition those of its last N/P records")

/* Reading input files (core/decoder.h): sf_cli_decode_opts. */
#define SF_OPT_DECODE                                                                              \
    SF_CLI_ROW("format", SF_SET_STRING, "auto", 0, 0,                                              \
               "auto ('{' or '[' first means JSON), csv or json"),                                 \
        SF_CLI_ROW("encoding", SF_SET_STRING, "auto", 0, 0,                                        \
                   "text of CSV files: auto (UTF-8 where valid, else ISO-8859-1), utf-8 (invalid " \
                   "UTF-8 is an error) or latin1"),                                                \
        SF_CLI_ROW("max-errors", SF_SET_INT, "20", 0, 1000000000,                                  \
                   "how many invalid rows to print (replay: refused rows too); the others are "    \
                   "counted")

#define SF_OPT_JSON(help) SF_CLI_ROW("json", SF_SET_BOOL, "false", 0, 0, help)

/* The HTTP side: where serve listens; how replay sends (demo does both). */
#define SF_OPT_LISTEN                                                                              \
    SF_CLI_ROW("listen", SF_SET_STRING, "127.0.0.1:8080", 0, 0,                                    \
               "address to listen on, HOST:PORT (port 0 picks one)")
#define SF_OPT_SEND(batch)                                                                         \
    SF_CLI_ROW("batch", SF_SET_INT, batch, 1, SF_REPLAY_BATCH_MAX, "rows per request"),            \
        SF_CLI_ROW("connections", SF_SET_INT, "4", 1, SF_REPLAY_CONNECTIONS_MAX,                   \
                   "requests in flight at once (keep-alive connections)"),                         \
        SF_CLI_ROW("send", SF_SET_STRING, "json", 0, 0,                                            \
                   "the requests' bodies: json (NDJSON) or csv (text/csv, half the bytes)")

#endif
