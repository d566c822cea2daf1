/*
 * service.h - sinks run inside a long-lived process (`shopflow serve`): one
 * thread per sink, each following the stream's end with the shared runner,
 * and their figures as Prometheus text for /metrics.
 *
 * A sink that fails (a full disk, a locked database) does not stop the
 * process: its thread logs the error, waits (1 s, doubling to 30 s) and
 * runs again from the sink's durable position, which is exactly where its
 * effects end, so nothing is lost or applied twice. Its error count and
 * last error show in /metrics.
 */
#ifndef SF_SINK_SERVICE_H
#define SF_SINK_SERVICE_H

#include <stddef.h>

#include "core/buf.h"
#include "sinks/sink.h"

typedef struct sf_sink_service sf_sink_service;

/* Start a thread for each of sinks[0..n) over stream (both borrowed: they
 * must outlive the service). */
int sf_sink_service_start(sf_stream *stream, sf_sink **sinks, size_t n, sf_sink_service **out,
                          sf_error *err);

/* Append the sinks' metrics (applied records, lag, apply rate, errors). */
void sf_sink_service_metrics(void *service, sf_buf *out);

/* The sum of the sinks' lags (records behind the stream's end). */
uint64_t sf_sink_service_lag(sf_sink_service *svc);

/* How far the slowest sink has got, as the least over the sinks of their
 * positions (sum of next offsets over the partitions; 0 before a sink has
 * resumed): *applied counts what was handed to the sinks, *durable what
 * their stores hold for certain (as of their last flush of everything).
 * When *durable reaches the stream's total end offset, every sink has
 * caught up and its effects are durable. */
void sf_sink_service_position(sf_sink_service *svc, uint64_t *applied, uint64_t *durable);

/* Failed runs of the sinks so far (each is retried); when any, *last (may
 * be NULL) gets the latest failure's message, with its sink's name. */
uint64_t sf_sink_service_failures(sf_sink_service *svc, sf_error *last);

/* Stop the threads (each flushes what it holds first) and free the
 * service. NULL is fine. */
void sf_sink_service_stop(sf_sink_service *svc);

#endif
