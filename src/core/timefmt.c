/*
 * timefmt.c - timestamp parsing and printing (see timefmt.h).
 *
 * The parsers are small hand-written scanners rather than strptime: strptime
 * accepts far too much (leading zeros optional everywhere, locale-dependent),
 * gives no reason when it fails, and is slow on the decode hot path.
 */
#include "core/timefmt.h"

#include <stdbool.h>

typedef struct scanner {
    const char *p, *end;
} scanner;

static bool at(const scanner *sc, char c)
{
    return sc->p < sc->end && *sc->p == c;
}

/* Read between min and max digits; -1 when fewer than min. */
static int digits(scanner *sc, int min, int max)
{
    int v = 0, n = 0;
    while (n < max && sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9') {
        v = v * 10 + (*sc->p++ - '0');
        n++;
    }
    return n >= min ? v : -1;
}

static bool expect(scanner *sc, char c)
{
    if (!at(sc, c))
        return false;
    sc->p++;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int64_t sf_days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void sf_civil_from_time(int64_t t, sf_civil *c)
{
    int64_t z = floor_div(t, 86400);
    int64_t secs = t - z * 86400;
    c->hour = (int)(secs / 3600);
    c->minute = (int)(secs / 60 % 60);
    c->second = (int)(secs % 60);
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->year = (int)(yoe + era * 400 + (c->month <= 2));
}

int sf_weekday(int64_t t)
{
    int64_t days = floor_div(t, 86400);
    /* 1970-01-01 was a Thursday (3 with Monday = 0). */
    int64_t w = (days + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static int fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

static int check_civil(const sf_civil *c, const char **why)
{
    if (c->year < SF_YEAR_MIN || c->year > SF_YEAR_MAX)
        return fail(why, "year is out of range (1900-9999)");
    if (c->month < 1 || c->month > 12)
        return fail(why, "month is out of range");
    if (c->day < 1 || c->day > days_in_month(c->year, c->month))
        return fail(why, "day does not exist in that month");
    if (c->hour > 23 || c->minute > 59 || c->second > 59)
        return fail(why, "time of day is out of range");
    return 0;
}

static int64_t civil_to_time(const sf_civil *c)
{
    return sf_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 + c->minute * 60 +
           c->second;
}

/* ":SS" (optional), then ISO's ".fff", "Z" or "+HH:MM" when iso is set.
 * *offset receives the zone offset in seconds east. */
static int parse_seconds_and_zone(scanner *sc, bool iso, sf_civil *c, int *offset, const char **why)
{
    *offset = 0;
    if (expect(sc, ':') && (c->second = digits(sc, 2, 2)) < 0)
        return fail(why, "seconds must be two digits");
    if (!iso)
        return 0;
    if (expect(sc, '.')) {
        if (digits(sc, 1, 9) < 0)
            return fail(why, "fraction of a second must be digits");
        for (const char *q = sc->p - 1; *q != '.'; q--)
            if (*q != '0')
                return fail(why, "has a fraction of a second; records keep whole seconds");
    }
    if (expect(sc, 'Z'))
        return 0;
    if (at(sc, '+') || at(sc, '-')) {
        int sign = *sc->p++ == '-' ? -1 : 1;
        int hh = digits(sc, 2, 2);
        expect(sc, ':');
        int mm = digits(sc, 2, 2);
        if (hh < 0 || mm < 0 || hh > 23 || mm > 59)
            return fail(why, "zone offset must be +HH:MM or -HH:MM");
        *offset = sign * (hh * 3600 + mm * 60);
    }
    return 0;
}

/* YYYY-MM-DD[ T]HH:MM[:SS][.fff][Z|+HH:MM] */
static int parse_iso(scanner *sc, sf_civil *c, int *offset, const char **why)
{
    if ((c->year = digits(sc, 4, 4)) < 0 || !expect(sc, '-') || (c->month = digits(sc, 2, 2)) < 0 ||
        !expect(sc, '-') || (c->day = digits(sc, 2, 2)) < 0)
        return fail(why, "date must be YYYY-MM-DD");
    if (!expect(sc, ' ') && !expect(sc, 'T'))
        return fail(why, "date must be followed by a time (HH:MM:SS)");
    if ((c->hour = digits(sc, 2, 2)) < 0 || !expect(sc, ':') || (c->minute = digits(sc, 2, 2)) < 0)
        return fail(why, "time must be HH:MM:SS");
    return parse_seconds_and_zone(sc, true, c, offset, why);
}

/* M/D/YYYY H:MM[:SS] */
static int parse_us(scanner *sc, sf_civil *c, int *offset, const char **why)
{
    if ((c->month = digits(sc, 1, 2)) < 0 || !expect(sc, '/') || (c->day = digits(sc, 1, 2)) < 0 ||
        !expect(sc, '/') || (c->year = digits(sc, 4, 4)) < 0)
        return fail(why, "date must be M/D/YYYY");
    if (!expect(sc, ' '))
        return fail(why, "date must be followed by a time (H:MM)");
    if ((c->hour = digits(sc, 1, 2)) < 0 || !expect(sc, ':') || (c->minute = digits(sc, 2, 2)) < 0)
        return fail(why, "time must be H:MM");
    return parse_seconds_and_zone(sc, false, c, offset, why);
}

int sf_time_parse(const char *s, size_t len, int64_t *out, const char **why)
{
    scanner sc = {s, s + len};
    while (sc.p < sc.end && (*sc.p == ' ' || *sc.p == '\t'))
        sc.p++;
    while (sc.end > sc.p && (sc.end[-1] == ' ' || sc.end[-1] == '\t'))
        sc.end--;
    if (sc.p == sc.end)
        return fail(why, "is empty");

    /* The form is told by its fifth character: '-' after a 4-digit year. */
    sf_civil c = {0};
    int offset = 0;
    bool iso = sc.end - sc.p >= 5 && sc.p[4] == '-';
    int rc = iso ? parse_iso(&sc, &c, &offset, why) : parse_us(&sc, &c, &offset, why);
    if (rc < 0)
        return rc;
    if (sc.p != sc.end)
        return fail(why, "is not a date and time (expected YYYY-MM-DD HH:MM:SS or M/D/YYYY H:MM)");
    if (check_civil(&c, why) < 0)
        return -1;
    int64_t t = civil_to_time(&c) - offset;
    if (offset != 0) { /* the offset may have moved it out of range */
        sf_civil back;
        sf_civil_from_time(t, &back);
        if (back.year < SF_YEAR_MIN || back.year > SF_YEAR_MAX)
            return fail(why, "year is out of range (1900-9999)");
    }
    *out = t;
    return 0;
}

int sf_time_from_epoch_ms(int64_t ms, int64_t *out, const char **why)
{
    if (ms % 1000 != 0)
        return fail(why, "has a fraction of a second; records keep whole seconds");
    int64_t t = ms / 1000;
    int64_t min = sf_days_from_civil(SF_YEAR_MIN, 1, 1) * 86400;
    int64_t max = sf_days_from_civil(SF_YEAR_MAX + 1, 1, 1) * 86400 - 1;
    if (t < min || t > max)
        return fail(why, "year is out of range (1900-9999)");
    *out = t;
    return 0;
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void sf_time_format(int64_t t, char buf[SF_TIME_TEXT_LEN + 1])
{
    sf_civil c;
    sf_civil_from_time(t, &c);
    int y = c.year < 0 ? 0 : c.year > 9999 ? 9999 : c.year;
    put2(buf, y / 100);
    put2(buf + 2, y % 100);
    buf[4] = '-';
    put2(buf + 5, c.month);
    buf[7] = '-';
    put2(buf + 8, c.day);
    buf[10] = ' ';
    put2(buf + 11, c.hour);
    buf[13] = ':';
    put2(buf + 14, c.minute);
    buf[16] = ':';
    put2(buf + 17, c.second);
    buf[19] = '\0';
}
