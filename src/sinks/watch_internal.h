/*
 * watch_internal.h - what the watched folder (watch.c) and the watched
 * prefix of an object store (watch_objects.c) share: which names are left
 * alone, and the report of a file that failed (FILE.errors.txt).
 */
#ifndef SF_WATCH_INTERNAL_H
#define SF_WATCH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/decoder.h"
#include "sinks/import.h"

#define SF_WATCH_REPORT_ROWS_MAX 1000 /* invalid rows listed in a report */

/* Dotfiles and temporary names (*.tmp, *.part, *.tmp.*): never taken. */
bool sf_watch_temporary_name(const char *name);

/* A failed file's report: one line per invalid row, then why. The caller
 * frees text with sf_buf_free. */
typedef struct sf_watch_report {
    const char *name; /* the file's name, as the lines name it */
    sf_buf text;
    uint64_t rows;
} sf_watch_report;

/* An sf_import_on_error collecting the first SF_WATCH_REPORT_ROWS_MAX
 * invalid rows into the report ctx. */
int sf_watch_collect_error(void *ctx, const sf_decode_error *e);

/* Add how many rows were left out, and why (the import's error). */
void sf_watch_report_end(sf_watch_report *r, const char *why);

/* The line of a file imported and moved to moved ("done/NAME"), or of one
 * that failed (moved to "failed/NAME", why: the import's error). */
void sf_watch_log_done(const char *name, const sf_import_result *res, double secs,
                       const char *moved);
void sf_watch_log_failed(const char *name, const sf_import_result *res, const char *why,
                         double secs, const char *moved);

#endif
