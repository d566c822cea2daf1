/*
 * pace.c - when rows are due, and how long to wait before a retry (see
 * internal.h). Pure arithmetic, kept apart from the network code so the
 * unit tests can check it exactly.
 */
#include <math.h>

#include "replay/internal.h"

void sf_pacer_init(sf_pacer *p, sf_replay_pace mode, double value)
{
    *p = (sf_pacer){.mode = mode, .value = value};
}

double sf_pacer_next(sf_pacer *p, int64_t invoice_date)
{
    uint64_t k = p->n++;
    switch (p->mode) {
    case SF_REPLAY_RATE:
        return p->value > 0 ? (double)k / p->value : 0;
    case SF_REPLAY_SPEEDUP:
        if (k == 0)
            p->first_date = p->last_date = invoice_date;
        else if (invoice_date > p->last_date)
            p->last_date = invoice_date;
        return p->value > 0 ? (double)(p->last_date - p->first_date) / p->value : 0;
    case SF_REPLAY_MAX:
    default:
        return 0;
    }
}

double sf_backoff_delay(uint32_t attempt, double base, double cap, double retry_after,
                        double jitter)
{
    double d = base;
    for (uint32_t i = 1; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    d *= 0.5 + jitter / 2;
    return retry_after > d ? retry_after : d;
}
