/*
 * progress.c - terminal progress line (see progress.h).
 */
#include "core/progress.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/money.h"

double sf_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sf_progress_init(sf_progress *p, FILE *out, const char *label)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->enabled = out && isatty(fileno(out));
    p->start = p->last_draw = sf_monotonic();
    snprintf(p->label, sizeof p->label, "%s", label);
}

void sf_progress_update(sf_progress *p, uint64_t rows, uint64_t done, uint64_t total)
{
    if (!p->enabled)
        return;
    double now = sf_monotonic();
    if (now - p->last_draw < 0.1)
        return;
    p->last_draw = now;
    double elapsed = now - p->start;
    char count[SF_MONEY_TEXT_MAX], rate[SF_MONEY_TEXT_MAX];
    sf_format_count((int64_t)rows, count);
    sf_format_count(elapsed > 0 ? (int64_t)((double)rows / elapsed) : 0, rate);
    fprintf(p->out, "\r\033[K%s  %s rows  %s rows/s", p->label, count, rate);
    if (total > 0 && done > 0 && done <= total) {
        double eta = elapsed * (double)(total - done) / (double)done;
        fprintf(p->out, "  %3.0f%%  ETA %.1fs", 100.0 * (double)done / (double)total, eta);
    }
    fputs(p->note, p->out);
    fflush(p->out);
    p->drawn = true;
}

void sf_progress_note(sf_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->note, sizeof p->note, fmt, ap);
    va_end(ap);
}

void sf_progress_end(sf_progress *p)
{
    if (p->enabled && p->drawn) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    p->drawn = false;
}
