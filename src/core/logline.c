/*
 * logline.c - one logfmt line per event (see logline.h).
 */
#include "core/logline.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/timefmt.h"

static sf_log_level min_level = SF_LOG_INFO;
static int out_fd = STDERR_FILENO;

void sf_log_set_level(sf_log_level level)
{
    min_level = level;
}

void sf_log_set_fd(int fd)
{
    out_fd = fd;
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int sf_log_level_parse(const char *name, sf_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (sf_log_level)i;
            return 0;
        }
    }
    return -1;
}

void sf_logf(sf_log_level level, const char *event, const char *fmt, ...)
{
    if (level < min_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char when[SF_TIME_TEXT_LEN + 1];
    sf_time_format((int64_t)ts.tv_sec, when);
    when[10] = 'T';
    char line[2048];
    int n = snprintf(line, sizeof line, "ts=%s.%03ldZ level=%s event=%s", when,
                     ts.tv_nsec / 1000000, level_names[level], event);
    if (fmt && *fmt && n > 0 && (size_t)n < sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m < (int)(sizeof line - (size_t)n - 1) ? m : (int)(sizeof line - (size_t)n - 2);
    }
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(out_fd, line, (size_t)n);
    (void)w; /* nowhere to report a failure to log */
}

const char *sf_logq(const char *text, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 3)
        return "\"\"";
    out[o++] = '"';
    for (const char *p = text; *p && o + 5 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}
