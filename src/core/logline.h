/*
 * logline.h - structured logging: one line per event, logfmt.
 *
 *   ts=2026-11-26T07:14:00.123Z level=info event=server_started listen=127.0.0.1:8080
 *
 * Each line is formatted in full and written with one write(2), so lines from
 * different threads never interleave. Values with spaces or quotes must be
 * quoted by the caller with %q-style care: use sf_logq() for free text.
 */
#ifndef SF_LOGLINE_H
#define SF_LOGLINE_H

#include <stddef.h>

typedef enum sf_log_level {
    SF_LOG_DEBUG = 0,
    SF_LOG_INFO,
    SF_LOG_WARN,
    SF_LOG_ERROR,
} sf_log_level;

/* Lines below level are dropped (default: info). */
void sf_log_set_level(sf_log_level level);

/* Parse "debug", "info", "warn", "error"; -1 if unknown. */
int sf_log_level_parse(const char *name, sf_log_level *out);

/* Where lines go (default: standard error). */
void sf_log_set_fd(int fd);

/* Write one line: ts, level, event, then the caller's key=value pairs. */
void sf_logf(sf_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Quote free text for a logfmt value: "...", with \" and \\ and control
 * bytes escaped. Returns out. */
const char *sf_logq(const char *text, char *out, size_t cap);

#endif
