/*
 * stack.h - the server process's parts, put together once for `serve` and
 * `demo`: the stream, the history store and a warehouse connection that the
 * read routes borrow, the sinks in their threads, and the gateway.
 *
 * The stack owns everything it opens. Closing goes in the one safe order:
 * the gateway stops taking requests, then the sinks stop (each flushes),
 * then the stores and the stream close.
 */
#ifndef SF_CLI_STACK_H
#define SF_CLI_STACK_H

#include <signal.h>
#include <stdbool.h>

#include "gateway/gateway.h"
#include "sinks/service.h"
#include "sinks/sink.h"
#include "storage/store/store.h"
#include "storage/warehouse/warehouse.h"
#include "stream/stream.h"

typedef struct sf_stack_config {
    /* Everything but the borrowed handles and the metrics hook, which the
     * stack fills in. */
    sf_gateway_config gateway;
    const char *stream; /* stream location; NULL or "" = DATA/log */
    sf_stream_opts stream_opts;
    sf_sink_places places;
    bool sinks[SF_SINKS]; /* which sinks to run, by sf_sink_names */
    sf_archive_opts archive;
    sf_bad_entry on_bad_entry; /* the sinks' (quarantine.h) */
} sf_stack_config;

typedef struct sf_stack {
    sf_stream *stream;
    sf_store *history;
    sf_warehouse *warehouse; /* the read routes' own connection */
    sf_sink *sinks[SF_SINKS];
    size_t nsinks;
    sf_sink_service *service;
    sf_gateway *gateway;
} sf_stack;

/* Block SIGINT and SIGTERM in this thread and every thread it starts
 * after (the server's), filling *stop so the caller can sigwait for them;
 * ignore SIGPIPE (a client that goes away is not a reason to die). Call it
 * before sf_stack_open. */
void sf_stack_block_signals(sigset_t *stop);

/* Parse a --sinks list ("archive,history", "all", "none") into which[]. */
int sf_stack_parse_sinks(const char *list, bool which[SF_SINKS], sf_error *err);

/* Open and start everything. On failure what was opened is closed again. */
int sf_stack_open(sf_stack *st, const sf_stack_config *cfg, sf_error *err);

/* Stop and close everything (a zeroed or partly opened stack is fine). */
void sf_stack_close(sf_stack *st);

#endif
