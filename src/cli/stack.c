/*
 * stack.c - the server process put together (see stack.h).
 */
#include "cli/stack.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gateway/static.h"
#include "sinks/history.h"

void sf_stack_block_signals(sigset_t *stop)
{
    sigemptyset(stop);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int sf_stack_parse_sinks(const char *list, bool which[SF_SINKS], sf_error *err)
{
    memset(which, 0, SF_SINKS * sizeof which[0]);
    if (strcmp(list, "none") == 0 || *list == '\0')
        return 0;
    if (strcmp(list, "all") == 0)
        list = "archive,history,warehouse";
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < SF_SINKS; i++)
            if (strlen(sf_sink_names[i]) == n && strncmp(p, sf_sink_names[i], n) == 0)
                found = i;
        if (found < 0)
            return sf_error_set(
                err, SF_EUSAGE,
                "sinks: '%.*s' is not a sink (archive, history, warehouse, all, none)", (int)n, p);
        which[found] = true;
        p += n + (p[n] == ',');
    }
    return 0;
}

static int open_sinks(sf_stack *st, const sf_stack_config *cfg, sf_error *err)
{
    for (int i = 0; i < SF_SINKS; i++) {
        if (!cfg->sinks[i])
            continue;
        sf_sink **slot = &st->sinks[st->nsinks];
        /* One LMDB environment per process: the history sink writes through
         * the store the read routes read. */
        int rc =
            strcmp(sf_sink_names[i], "history") == 0
                ? sf_history_sink_new(st->history, slot, err)
                : sf_sink_open(sf_sink_names[i], &cfg->places, &cfg->archive, false, slot, err);
        if (rc < 0)
            return rc;
        (*slot)->on_bad_entry = cfg->on_bad_entry;
        st->nsinks++;
        /* Before the gateway takes a write: a sink past the log's end
         * would skip the records given its lost offsets (runner.c). */
        if ((rc = sf_runner_check_sink(st->stream, *slot, err)) < 0)
            return rc;
    }
    return sf_sink_service_start(st->stream, st->sinks, st->nsinks, &st->service, err);
}

/* The read routes' own read-only connection. A folder whose warehouse
 * sink has not run yet gets an empty warehouse first (BI answers "no
 * sales" rather than 503), which the sink fills when it runs. */
static int open_warehouse_reader(const char *where, const sf_adapter_settings *kv,
                                 sf_warehouse **out, sf_error *err)
{
    sf_warehouse_opts reader = {true, kv->extra, kv->nextra},
                      writer = {false, kv->extra, kv->nextra};
    int rc = sf_warehouse_open(where, &reader, out, err);
    if (rc != SF_ENOENT)
        return rc;
    sf_warehouse *w;
    if ((rc = sf_warehouse_open(where, &writer, &w, err)) < 0)
        return rc;
    sf_warehouse_close(w);
    return sf_warehouse_open(where, &reader, out, err);
}

static int open_parts(sf_stack *st, const sf_stack_config *cfg, sf_error *err)
{
    char where[4096];
    sf_stream_location(cfg->places.data_dir, cfg->stream, where, sizeof where);
    int rc = sf_stream_open(where, &cfg->stream_opts, &st->stream, err);
    if (rc < 0)
        return rc;
    sf_sink_location("history", &cfg->places, where, sizeof where);
    sf_store_opts so = {false, cfg->places.store_opt.extra, cfg->places.store_opt.nextra};
    if ((rc = sf_store_open(where, &so, &st->history, err)) < 0)
        return rc;
    if ((rc = open_sinks(st, cfg, err)) < 0)
        return rc;
    sf_sink_location("warehouse", &cfg->places, where, sizeof where);
    if ((rc = open_warehouse_reader(where, &cfg->places.warehouse_opt, &st->warehouse, err)) < 0)
        return rc;
    sf_gateway_config g = cfg->gateway;
    g.stream = st->stream;
    g.history = st->history;
    g.warehouse = st->warehouse;
    if (!g.assets)
        g.assets = &sf_web_assets; /* the dashboard this binary was built with */
    if (!g.openapi)
        g.openapi = &sf_openapi_doc; /* and its OpenAPI document, or none */
    g.more_metrics = sf_sink_service_metrics;
    g.more_metrics_ctx = st->service;
    return sf_gateway_start(&g, &st->gateway, err);
}

int sf_stack_open(sf_stack *st, const sf_stack_config *cfg, sf_error *err)
{
    memset(st, 0, sizeof *st);
    int rc = open_parts(st, cfg, err);
    if (rc < 0)
        sf_stack_close(st);
    return rc;
}

void sf_stack_close(sf_stack *st)
{
    sf_gateway_stop(st->gateway);
    sf_sink_service_stop(st->service);
    for (size_t i = 0; i < st->nsinks; i++)
        sf_sink_close(st->sinks[i]);
    sf_warehouse_close(st->warehouse);
    sf_store_close(st->history);
    sf_stream_close(st->stream); /* drains and flushes queued appends */
    memset(st, 0, sizeof *st);
}
