/*
 * timefmt.h - the shop's timestamps: parsing the forms clients send and
 * printing the one canonical form.
 *
 * A timestamp is seconds since 1970-01-01 00:00:00 on the shop's own clock.
 * The dataset carries no zone, so shopflow never applies one: the same text
 * always gives the same number, and converting back gives the same text. The
 * calendar arithmetic is done here (proleptic Gregorian, Howard Hinnant's
 * days-from-civil) rather than with timegm/localtime, which depend on TZ.
 */
#ifndef SF_TIMEFMT_H
#define SF_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Years accepted: anything else is a typo, not a transaction. */
#define SF_YEAR_MIN 1900
#define SF_YEAR_MAX 9999

/* Length of the canonical form "YYYY-MM-DD HH:MM:SS" (without the NUL). */
#define SF_TIME_TEXT_LEN 19

typedef struct sf_civil {
    int year, month, day, hour, minute, second;
} sf_civil;

/*
 * Parse one of the accepted textual forms into *out:
 *   YYYY-MM-DD HH:MM[:SS]      (the bundled file; 'T' may replace the space,
 *                               and ISO 8601's ".fff" fraction, "Z" or a
 *                               +HH:MM / -HH:MM offset may follow)
 *   M/D/YYYY H:MM[:SS]         (the widely shared data.csv export)
 * Surrounding spaces are ignored. A fraction must be zeros (the record keeps
 * whole seconds). An offset is applied, so "…T10:00:00+01:00" is 09:00:00 —
 * the one case where a zone is honoured, because the client stated it.
 * On failure returns -1 and points *why at a static reason.
 */
int sf_time_parse(const char *s, size_t len, int64_t *out, const char **why);

/* Epoch milliseconds (what dataframe libraries emit) into seconds; -1 and a
 * reason if not a whole second or out of the year range. */
int sf_time_from_epoch_ms(int64_t ms, int64_t *out, const char **why);

/* Write "YYYY-MM-DD HH:MM:SS" and a NUL; buf holds SF_TIME_TEXT_LEN + 1. */
void sf_time_format(int64_t t, char buf[SF_TIME_TEXT_LEN + 1]);

/* Calendar conversions. sf_days_from_civil takes a valid date. */
int64_t sf_days_from_civil(int year, int month, int day);
void sf_civil_from_time(int64_t t, sf_civil *c);

/* 0 = Monday ... 6 = Sunday. */
int sf_weekday(int64_t t);

#endif
