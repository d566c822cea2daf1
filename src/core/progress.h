/*
 * progress.h - a one-line progress display for long commands.
 *
 * Shown only when the stream is a terminal, redrawn at most ten times a
 * second (so the display costs nothing measurable), and erased when done, so
 * output piped to a file or another program never contains it.
 */
#ifndef SF_PROGRESS_H
#define SF_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sf_progress {
    FILE *out;
    bool enabled;
    bool drawn;
    double start;
    double last_draw;
    char label[64];
    char note[128]; /* drawn after the figures (sf_progress_note) */
} sf_progress;

/* Seconds on a monotonic clock. */
double sf_monotonic(void);

/* Start a display on out (usually stderr), enabled when out is a terminal. */
void sf_progress_init(sf_progress *p, FILE *out, const char *label);

/* Redraw if due: rows so far, and bytes done of total (0 = unknown) for the
 * percentage and ETA. */
void sf_progress_update(sf_progress *p, uint64_t rows, uint64_t done, uint64_t total);

/* Text drawn after the figures from the next redraw on ("  errors 2"). */
void sf_progress_note(sf_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Erase the line. */
void sf_progress_end(sf_progress *p);

#endif
