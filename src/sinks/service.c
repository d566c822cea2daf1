/*
 * service.c - sinks in threads of a long-lived process (see service.h).
 *
 * The apply rate shown in /metrics is measured between scrapes (at least a
 * second apart), so it needs no timer thread: Prometheus's own rate() over
 * shopflow_sink_applied_records_total says the same thing over any window.
 * The applied and quarantined counts are what the sinks' stores committed
 * (sink.h): a run that fails and is rolled back adds nothing, and its
 * records count once, when the next run commits them.
 *
 * A sink that stops at an entry that is not a record (on_bad_entry stop)
 * is not run again: the entry does not change, so a retry would stop there
 * again. Its thread ends with the message (sink_stopped_at_bad_entry); the
 * other sinks go on, and a restart with --on-bad-entry quarantine moves it
 * past the entry.
 */
#include "sinks/service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/logline.h"
#include "core/progress.h"

typedef struct worker {
    sf_sink_service *svc;
    sf_sink *sink;
    pthread_t thread;
    bool started;
    sf_runner_stats stats; /* of the current run; stats.parts is per partition */
    _Atomic uint64_t errors;
    _Atomic bool stopped; /* at an entry that is not a record: not run again */
    pthread_mutex_t lock; /* guards last_error and the rate sample */
    char last_error[SF_ERROR_MSG_MAX];
    double rate_at;        /* when rate was measured */
    uint64_t rate_applied; /* applied then */
    double rate;           /* records/s between the last two scrapes */
} worker;

struct sf_sink_service {
    sf_stream *stream;
    volatile sig_atomic_t stop;
    worker *w;
    size_t n;
};

/* Sleep up to ms, waking early when the service stops. */
static void pause_ms(sf_sink_service *svc, unsigned ms)
{
    for (unsigned slept = 0; slept < ms && !svc->stop; slept += 50) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The sink stopped at an entry that is not a record: say so, once. */
static void stop_for_good(worker *w, const sf_error *err)
{
    pthread_mutex_lock(&w->lock);
    memcpy(w->last_error, err->msg, sizeof w->last_error);
    w->last_error[sizeof w->last_error - 1] = '\0';
    pthread_mutex_unlock(&w->lock);
    atomic_store(&w->stopped, true);
    char q[SF_ERROR_MSG_MAX + 64];
    sf_logf(SF_LOG_ERROR, "sink_stopped_at_bad_entry", "sink=%s msg=%s", sf_sink_name(w->sink),
            sf_logq(err->msg, q, sizeof q));
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    sf_sink_service *svc = w->svc;
    unsigned backoff_ms = 1000;
    while (!svc->stop) {
        sf_error err = {0};
        double started = sf_monotonic();
        int rc = sf_runner_run(svc->stream, w->sink, false, &svc->stop, NULL, &w->stats, &err);
        if (rc == 0)
            break; /* stopped */
        atomic_fetch_add(&w->errors, 1);
        if (atomic_load(&w->stats.bad_entry)) {
            stop_for_good(w, &err);
            break;
        }
        /* What the failed run applied may not have reached the store: until
         * the retry says otherwise, the sink is where its durable position
         * is, and behind by everything after it. */
        uint64_t durable = atomic_load(&w->stats.durable), end = sf_stream_total_end(svc->stream);
        atomic_store(&w->stats.position, durable);
        atomic_store(&w->stats.lag, end > durable ? end - durable : 0);
        if (sf_monotonic() - started > 60)
            backoff_ms = 1000; /* it ran a good while: a new failure, not the same one */
        pthread_mutex_lock(&w->lock);
        memcpy(w->last_error, err.msg, sizeof w->last_error);
        w->last_error[sizeof w->last_error - 1] = '\0';
        pthread_mutex_unlock(&w->lock);
        char q[SF_ERROR_MSG_MAX + 64];
        sf_logf(SF_LOG_ERROR, "sink_failed", "sink=%s retry_in_ms=%u msg=%s", sf_sink_name(w->sink),
                backoff_ms, sf_logq(err.msg, q, sizeof q));
        pause_ms(svc, backoff_ms);
        backoff_ms = backoff_ms * 2 > 30000 ? 30000 : backoff_ms * 2;
    }
    return NULL;
}

int sf_sink_service_start(sf_stream *stream, sf_sink **sinks, size_t n, sf_sink_service **out,
                          sf_error *err)
{
    sf_sink_service *svc = calloc(1, sizeof *svc);
    worker *w = calloc(n ? n : 1, sizeof *w);
    if (!svc || !w) {
        free(svc);
        free(w);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    svc->stream = stream;
    svc->w = w;
    svc->n = n;
    uint32_t nparts = sf_stream_partitions(stream);
    for (size_t i = 0; i < n; i++) {
        w[i].svc = svc;
        w[i].sink = sinks[i];
        w[i].stats.parts = calloc(nparts ? nparts : 1, sizeof *w[i].stats.parts);
        w[i].stats.nparts = w[i].stats.parts ? nparts : 0; /* no memory: no per-partition series */
        w[i].rate_at = sf_monotonic();
        pthread_mutex_init(&w[i].lock, NULL);
        if (pthread_create(&w[i].thread, NULL, run_worker, &w[i]) != 0) {
            sf_sink_service_stop(svc);
            return sf_error_set(err, SF_ENOMEM, "cannot start a thread for the %s sink",
                                sf_sink_name(sinks[i]));
        }
        w[i].started = true;
        sf_logf(SF_LOG_INFO, "sink_started", "sink=%s", sf_sink_name(sinks[i]));
    }
    *out = svc;
    return 0;
}

static uint64_t applied_of(worker *w)
{
    return atomic_load(&w->sink->committed);
}

uint64_t sf_sink_service_lag(sf_sink_service *svc)
{
    uint64_t lag = 0;
    for (size_t i = 0; i < svc->n; i++)
        lag += atomic_load(&svc->w[i].stats.lag);
    return lag;
}

void sf_sink_service_position(sf_sink_service *svc, uint64_t *applied, uint64_t *durable)
{
    *applied = *durable = svc->n ? UINT64_MAX : 0;
    for (size_t i = 0; i < svc->n; i++) {
        uint64_t a = atomic_load(&svc->w[i].stats.position);
        uint64_t d = atomic_load(&svc->w[i].stats.durable);
        *applied = a < *applied ? a : *applied;
        *durable = d < *durable ? d : *durable;
    }
}

uint64_t sf_sink_service_failures(sf_sink_service *svc, sf_error *last)
{
    uint64_t failed = 0;
    for (size_t i = 0; i < svc->n; i++) {
        worker *w = &svc->w[i];
        uint64_t n = atomic_load(&w->errors);
        if (n && last) {
            pthread_mutex_lock(&w->lock);
            sf_error_set(last, SF_EFAILED, "%s sink: %s", sf_sink_name(w->sink), w->last_error);
            pthread_mutex_unlock(&w->lock);
        }
        failed += n;
    }
    return failed;
}

/* The apply rate, remeasured when the last sample is a second old. */
static double rate_of(worker *w)
{
    double now = sf_monotonic();
    uint64_t applied = applied_of(w);
    pthread_mutex_lock(&w->lock);
    if (now - w->rate_at >= 1.0) {
        w->rate = (double)(applied - w->rate_applied) / (now - w->rate_at);
        w->rate_at = now;
        w->rate_applied = applied;
    }
    double r = w->rate;
    pthread_mutex_unlock(&w->lock);
    return r;
}

/* Each sink's lag in each partition (shard), where the stream tells it:
 * records (local log, Kafka) and time behind (Kinesis's MillisBehindLatest).
 * A series is left out while its figure is unknown (not looked at yet, or
 * not told by this stream). */
static void partition_lag_metrics(const sf_sink_service *svc, sf_buf *out)
{
    static const struct {
        const char *name, *help;
    } m[] = {
        {"shopflow_sink_partition_lag_records",
         "Records of a partition the sink has not read yet, where the stream counts them "
         "(at most that many on Kafka)."},
        {"shopflow_sink_partition_lag_ms",
         "How far behind the newest record of a partition (a Kinesis shard) the sink reads, in "
         "milliseconds (MillisBehindLatest)."},
    };
    for (int k = 0; k < 2; k++) {
        sf_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", m[k].name, m[k].help, m[k].name);
        for (size_t i = 0; i < svc->n; i++) {
            const worker *w = &svc->w[i];
            for (uint32_t p = 0; p < w->stats.nparts; p++) {
                sf_part_lag *pl = &w->stats.parts[p];
                if (!atomic_load(k == 0 ? &pl->has_records : &pl->has_ms))
                    continue;
                sf_buf_printf(out, "%s{sink=\"%s\",partition=\"%u\"} %llu\n", m[k].name,
                              sf_sink_name(w->sink), p,
                              (unsigned long long)atomic_load(k == 0 ? &pl->records : &pl->ms));
            }
        }
    }
}

void sf_sink_service_metrics(void *service, sf_buf *out)
{
    sf_sink_service *svc = service;
    if (svc->n == 0)
        return; /* serve --sinks none: no series to show */
    static const struct {
        const char *name, *type, *help;
    } m[] = {
        {"shopflow_sink_applied_records_total", "counter", "Records applied by each sink."},
        {"shopflow_sink_lag_records", "gauge",
         "Records of the stream a sink's store does not hold yet (not read, or not committed)."},
        {"shopflow_sink_apply_rate", "gauge", "Records applied per second (between scrapes)."},
        {"shopflow_sink_errors_total", "counter",
         "Failed runs of each sink (each is retried, but for a stop at an entry that is not a "
         "record)."},
        {"shopflow_sink_quarantined_total", "counter",
         "Entries that are not records, set aside in each sink's quarantine."},
        {"shopflow_sink_stopped", "gauge",
         "1 when a sink stopped at an entry that is not a record (--on-bad-entry stop)."},
    };
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        sf_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m[k].name, m[k].help, m[k].name,
                      m[k].type);
        for (size_t i = 0; i < svc->n; i++) {
            worker *w = &svc->w[i];
            sf_buf_printf(out, "%s{sink=\"%s\"} ", m[k].name, sf_sink_name(w->sink));
            if (k == 0)
                sf_buf_printf(out, "%llu\n", (unsigned long long)applied_of(w));
            else if (k == 1)
                sf_buf_printf(out, "%llu\n", (unsigned long long)atomic_load(&w->stats.lag));
            else if (k == 2)
                sf_buf_printf(out, "%.1f\n", rate_of(w));
            else if (k == 3)
                sf_buf_printf(out, "%llu\n", (unsigned long long)atomic_load(&w->errors));
            else if (k == 4)
                sf_buf_printf(out, "%llu\n",
                              (unsigned long long)atomic_load(&w->sink->quarantined));
            else
                sf_buf_printf(out, "%d\n", atomic_load(&w->stopped) ? 1 : 0);
        }
    }
    partition_lag_metrics(svc, out);
}

void sf_sink_service_stop(sf_sink_service *svc)
{
    if (!svc)
        return;
    svc->stop = 1;
    for (size_t i = 0; i < svc->n; i++) {
        if (svc->w[i].started) {
            pthread_join(svc->w[i].thread, NULL);
            sf_logf(SF_LOG_INFO, "sink_stopped", "sink=%s applied=%llu quarantined=%llu",
                    sf_sink_name(svc->w[i].sink), (unsigned long long)applied_of(&svc->w[i]),
                    (unsigned long long)atomic_load(&svc->w[i].sink->quarantined));
        }
        pthread_mutex_destroy(&svc->w[i].lock);
        free(svc->w[i].stats.parts);
    }
    free(svc->w);
    free(svc);
}
