/*
 * conns.c - the gateway's open connections: the open-file limit, the cap
 * it sets on connections, eviction of idle ones when they pile up, and
 * cutting off requests that arrive too slowly.
 *
 * Every connection costs a file descriptor. With the common soft limit of
 * 1,024, a thousand idle connections (a slow or hostile client, a pool of
 * keep-alive clients) used to take them all: accept() failed, libmicrohttpd
 * stopped listening, and /healthz and every POST waited in the backlog. So:
 *   - at start the soft RLIMIT_NOFILE is raised to the hard one, and the
 *     connection limit is capped at what that leaves once the files the
 *     stack holds (log segments, stores, sinks) and room for more of them
 *     are set aside: the process then never runs out of descriptors
 *     because of connections;
 *   - when open connections come near that cap, the idle ones are closed,
 *     longest idle first, those that never showed a valid key or token
 *     before any that did, so a new connection (a health check, an
 *     authenticated client) always finds room. A connection in a request
 *     (being read, waiting for the disk, being answered) is never closed.
 *
 * Closing one from another thread than the one serving it: libmicrohttpd
 * offers no call for that, so the socket is shut down (shutdown(2)); its
 * thread then reads the end of the stream and closes the connection as if
 * the client had. The descriptor cannot have been closed and reused by
 * then: the shutdown is made holding conns_mu, and libmicrohttpd tells the
 * gateway a connection is closed (MHD_CONNECTION_NOTIFY_CLOSED, which takes
 * conns_mu to unlist it) before it closes the descriptor (daemon.c,
 * MHD_cleanup_connections and internal_add_connection, 0.9.75). Whether a
 * connection may be evicted is decided by a compare-and-swap on its state,
 * IDLE -> EVICTED, against its thread's IDLE -> BUSY when a request starts.
 *
 * Slow requests (slowloris). libmicrohttpd's timeout (--timeout) is one of
 * idleness: every byte resets it, so a client sending a byte every few
 * seconds held its connection, and its memory, for ever. Two bounds:
 *   - the head (request line and header fields) must all arrive within
 *     head_timeout of its first byte. libmicrohttpd calls the gateway only
 *     once a head is whole, so a sweeper thread looks at the idle
 *     connections every head_timeout/4 (0.1 to 1 s): for each, the kernel
 *     says when data last arrived (TCP_INFO, tcpi_last_data_recv); data
 *     after the connection opened or its last request completed (idle_ms,
 *     one store per request) is the next head coming, first seen at that
 *     time. A head still not whole head_timeout after that is cut like an
 *     eviction (IDLE -> EVICTED, shutdown). Counting from the head's first
 *     byte, not from the last request, keeps a keep-alive connection that
 *     was idle a long while and then sends a head in two pieces served;
 *     the deadline may come up to one sweep late;
 *   - a body must come at min_body_rate bytes a second on average, counted
 *     from the end of its head, once --timeout has passed (a body of N
 *     bytes has timeout + N / rate seconds). The access handler sees each
 *     piece as it arrives, so the check is made there, in the connection's
 *     own thread, from the second piece on (a body that comes in one piece,
 *     as a single record does, costs nothing), and a body too slow is
 *     closed by returning MHD_NO. A body that stops altogether is
 *     libmicrohttpd's idle timeout's.
 * Each sweep that cut something (a head, or a body since the last line) is
 * one log line, slow_requests_cut; /metrics counts both.
 */
#include <dirent.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info (netinet/tcp.h hides it under _POSIX_C_SOURCE) */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "core/logline.h"
#include "core/progress.h"
#include "gateway/internal.h"

/* Descriptors kept free beyond twice those open at start: segment rolls,
 * archive objects, SQLite journals, the key file read each second, Kafka
 * sockets. */
#define FD_SPARE 64

static int64_t now_ms(void)
{
    return (int64_t)(sf_monotonic() * 1000);
}

/* Descriptors open in this process now (the stack's), or 32 if /proc is
 * not there to say. */
static unsigned fds_in_use(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 32;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n > 0 ? n - 1 : 0; /* not the one reading the folder */
}

/* Raise the soft limit to the hard one; the soft limit in force after. */
static rlim_t raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return RLIM_INFINITY;
    rlim_t was = rl.rlim_cur, to = rl.rlim_max;
    if (to == RLIM_INFINITY) /* Linux refuses more than fs.nr_open; its default is 2^20 */
        to = 1 << 20;
    if (was != RLIM_INFINITY && was < to) {
        rl.rlim_cur = to;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            sf_logf(SF_LOG_INFO, "fd_limit_raised", "soft=%llu from=%llu hard=%llu",
                    (unsigned long long)to, (unsigned long long)was,
                    (unsigned long long)rl.rlim_max);
        else
            sf_logf(SF_LOG_WARN, "fd_limit_not_raised", "soft=%llu hard=%llu",
                    (unsigned long long)was, (unsigned long long)rl.rlim_max);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

int sf_conns_setup(sf_gateway *g, unsigned wanted, unsigned threads)
{
    rlim_t limit = raise_fd_limit();
    unsigned used = fds_in_use();
    /* The daemon's own: a listening socket and a wake-up descriptor per thread. */
    unsigned long long keep = 2ull * used + FD_SPARE + threads + 2;
    unsigned cap = wanted;
    if (limit != RLIM_INFINITY && (unsigned long long)limit < keep + wanted) {
        cap = (unsigned long long)limit > keep + 16 ? (unsigned)(limit - keep) : 16;
        sf_logf(SF_LOG_WARN, "max_connections_capped",
                "max_connections=%u capped_at=%u fd_limit=%llu fds_in_use=%u fds_kept=%llu "
                "hint=\"raise the hard open-file limit (ulimit -Hn, LimitNOFILE=) or lower "
                "max-connections\"",
                wanted, cap, (unsigned long long)limit, used, keep);
    }
    unsigned room = cap / 16;
    room = room < 1 ? 1 : room > 256 ? 256 : room;
    g->conns_cap = cap;
    g->conns_high = cap > room ? cap - room : cap;
    g->conns_low = cap > 2 * room ? cap - 2 * room : 0;
    sf_logf(SF_LOG_INFO, "connections_limit",
            "max_connections=%u fd_limit=%llu fds_in_use=%u evict_idle_above=%u", cap,
            (unsigned long long)limit, used, g->conns_high);
    g->evict_buf = calloc(cap + 1, sizeof *g->evict_buf);
    return g->evict_buf ? 0 : SF_ENOMEM;
}

void sf_conns_init(sf_gateway *g)
{
    pthread_mutex_init(&g->conns_mu, NULL);
    pthread_mutex_init(&g->sweep_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->sweep_cv, &ca);
    pthread_condattr_destroy(&ca);
}

void sf_conns_free(sf_gateway *g)
{
    free(g->evict_buf);
    g->evict_buf = NULL;
    pthread_mutex_destroy(&g->conns_mu);
    pthread_mutex_destroy(&g->sweep_mu);
    pthread_cond_destroy(&g->sweep_cv);
}

static bool evictable(int state)
{
    return state == SLOT_IDLE || state == SLOT_DRAINING;
}

/* Never authenticated first, then the longest idle. */
static int evict_order(const void *a, const void *b)
{
    const conn_slot *x = *(conn_slot *const *)a, *y = *(conn_slot *const *)b;
    bool ax = atomic_load_explicit(&x->authenticated, memory_order_relaxed);
    bool ay = atomic_load_explicit(&y->authenticated, memory_order_relaxed);
    if (ax != ay)
        return ax ? 1 : -1;
    int64_t tx = atomic_load_explicit(&x->active_ms, memory_order_relaxed);
    int64_t ty = atomic_load_explicit(&y->active_ms, memory_order_relaxed);
    return tx < ty ? -1 : tx > ty;
}

typedef struct evicted {
    unsigned n, authenticated;
    int64_t idle_ms; /* the longest idle of them */
} evicted;

/* Close up to want idle connections other than fresh (the one room is made
 * for); conns_mu held. */
static void evict(sf_gateway *g, const conn_slot *fresh, unsigned want, evicted *out)
{
    size_t n = 0;
    for (conn_slot *s = g->conns_head; s && n < g->conns_cap; s = s->next)
        if (s != fresh && s->fd >= 0 && evictable(atomic_load(&s->state)))
            g->evict_buf[n++] = s;
    qsort(g->evict_buf, n, sizeof *g->evict_buf, evict_order);
    int64_t now = now_ms();
    for (size_t i = 0; i < n && out->n < want; i++) {
        conn_slot *s = g->evict_buf[i];
        int was = atomic_load(&s->state);
        if (!evictable(was) || !atomic_compare_exchange_strong(&s->state, &was, SLOT_EVICTED))
            continue;               /* a request started on it meanwhile */
        shutdown(s->fd, SHUT_RDWR); /* its thread sees the end and closes it */
        g->conns_evicting++;
        if (out->n++ == 0)
            out->idle_ms = now - atomic_load_explicit(&s->active_ms, memory_order_relaxed);
        out->authenticated += atomic_load_explicit(&s->authenticated, memory_order_relaxed);
    }
}

void sf_conns_opened(sf_gateway *g, struct MHD_Connection *conn, conn_slot *slot)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    slot->fd = ci ? ci->connect_fd : -1;
    int64_t now = now_ms();
    atomic_store_explicit(&slot->active_ms, now, memory_order_relaxed);
    atomic_store_explicit(&slot->idle_ms, now, memory_order_relaxed);
    evicted ev = {0};
    unsigned open;
    pthread_mutex_lock(&g->conns_mu);
    slot->prev = g->conns_tail;
    if (g->conns_tail)
        g->conns_tail->next = slot;
    else
        g->conns_head = slot;
    g->conns_tail = slot;
    open = ++g->conns_open;
    if (open - g->conns_evicting > g->conns_high)
        evict(g, slot, open - g->conns_evicting - g->conns_low, &ev);
    pthread_mutex_unlock(&g->conns_mu);
    if (ev.n == 0)
        return;
    atomic_fetch_add(&g->m.evicted_anonymous, ev.n - ev.authenticated);
    atomic_fetch_add(&g->m.evicted_authenticated, ev.authenticated);
    sf_logf(SF_LOG_WARN, "connections_evicted",
            "evicted=%u authenticated=%u longest_idle_s=%.1f open=%u max_connections=%u", ev.n,
            ev.authenticated, (double)ev.idle_ms / 1000, open, g->conns_cap);
}

void sf_conns_draining(request *r)
{
    int busy = SLOT_BUSY;
    if (r->slot)
        atomic_compare_exchange_strong(&r->slot->state, &busy, SLOT_DRAINING);
}

void sf_conns_idle(request *r, double now)
{
    if (!r->slot)
        return;
    /* before the state: a sweeper that sees IDLE sees this completion's time */
    atomic_store_explicit(&r->slot->idle_ms, (int64_t)(now * 1000), memory_order_relaxed);
    int was = atomic_load_explicit(&r->slot->state, memory_order_relaxed);
    while (was != SLOT_EVICTED && !atomic_compare_exchange_weak(&r->slot->state, &was, SLOT_IDLE))
        ;
}

void sf_conns_closed(sf_gateway *g, conn_slot *slot)
{
    pthread_mutex_lock(&g->conns_mu);
    if (slot->prev)
        slot->prev->next = slot->next;
    else
        g->conns_head = slot->next;
    if (slot->next)
        slot->next->prev = slot->prev;
    else
        g->conns_tail = slot->prev;
    g->conns_open--;
    if (atomic_load(&slot->state) == SLOT_EVICTED)
        g->conns_evicting--;
    pthread_mutex_unlock(&g->conns_mu);
}

/* Data that arrived this long after a connection went idle is a new head:
 * the previous request's last byte came before its completion, but the
 * kernel's clock for it moves in jiffies (up to 10 ms). */
#define HEAD_MARGIN_MS 50

/* Whether idle slot s has had a head coming for longer than head_timeout;
 * conns_mu held. The kernel is asked only until a head is seen. */
static bool head_overdue(sf_gateway *g, conn_slot *s, int64_t now)
{
    int64_t t0 = atomic_load_explicit(&s->idle_ms, memory_order_relaxed);
    if (s->head_t0 != t0) { /* a new idle spell: no head seen in it yet */
        s->head_t0 = t0;
        s->head_ms = 0;
    }
    if (!s->head_ms) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
            len < offsetof(struct tcp_info, tcpi_last_data_recv) + sizeof ti.tcpi_last_data_recv)
            return false;
        int64_t last = now - (int64_t)ti.tcpi_last_data_recv;
        if (last <= t0 + HEAD_MARGIN_MS)
            return false; /* nothing since it went idle */
        s->head_ms = last;
    }
    return now - s->head_ms > (int64_t)g->cfg.head_timeout_ms;
}

/* One look at every connection: cut the heads overdue; log them and the
 * bodies cut since the last line (bodies_logged: those counted already). */
static void sweep(sf_gateway *g, uint64_t *bodies_logged)
{
    int64_t now = now_ms(), longest = 0;
    unsigned heads = 0, open;
    pthread_mutex_lock(&g->conns_mu);
    for (conn_slot *s = g->conns_head; s && g->cfg.head_timeout_ms; s = s->next) {
        int idle = SLOT_IDLE;
        if (s->fd < 0 || atomic_load(&s->state) != SLOT_IDLE || !head_overdue(g, s, now) ||
            !atomic_compare_exchange_strong(&s->state, &idle, SLOT_EVICTED))
            continue;               /* busy, idle with no head, or its head just came whole */
        shutdown(s->fd, SHUT_RDWR); /* its thread sees the end and closes it */
        g->conns_evicting++;
        heads++;
        if (now - s->head_ms > longest)
            longest = now - s->head_ms;
    }
    open = g->conns_open;
    pthread_mutex_unlock(&g->conns_mu);
    uint64_t bodies = atomic_load(&g->m.cut_bodies) - *bodies_logged;
    if (heads == 0 && bodies == 0)
        return;
    *bodies_logged += bodies;
    atomic_fetch_add(&g->m.cut_heads, heads);
    sf_logf(SF_LOG_WARN, "slow_requests_cut",
            "heads=%u bodies=%llu longest_head_s=%.1f open=%u head_timeout_s=%.1f "
            "min_body_rate=%zu",
            heads, (unsigned long long)bodies, (double)longest / 1000, open,
            (double)g->cfg.head_timeout_ms / 1000, g->cfg.min_body_rate);
}

static void *sweeper_main(void *arg)
{
    sf_gateway *g = arg;
    /* a head-timeout/4 late at most; with none, only the bodies to log */
    int64_t period = g->cfg.head_timeout_ms ? g->cfg.head_timeout_ms / 4 : 1000;
    period = period < 100 ? 100 : period > 1000 ? 1000 : period;
    uint64_t bodies_logged = 0;
    pthread_mutex_lock(&g->sweep_mu);
    while (!g->sweep_stop) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += period / 1000;
        t.tv_nsec += (long)(period % 1000) * 1000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&g->sweep_cv, &g->sweep_mu, &t);
        if (g->sweep_stop)
            break;
        pthread_mutex_unlock(&g->sweep_mu);
        sweep(g, &bodies_logged);
        pthread_mutex_lock(&g->sweep_mu);
    }
    pthread_mutex_unlock(&g->sweep_mu);
    return NULL;
}

int sf_conns_sweeper_start(sf_gateway *g, sf_error *err)
{
    if (!g->cfg.head_timeout_ms && !g->cfg.min_body_rate)
        return 0; /* nothing to cut, nothing to log */
    if (pthread_create(&g->sweeper, NULL, sweeper_main, g) != 0)
        return sf_error_set(err, SF_ENOMEM, "cannot start the gateway's sweeper thread");
    g->sweeper_started = true;
    return 0;
}

void sf_conns_sweeper_stop(sf_gateway *g)
{
    if (!g->sweeper_started)
        return;
    pthread_mutex_lock(&g->sweep_mu);
    g->sweep_stop = true;
    pthread_cond_signal(&g->sweep_cv);
    pthread_mutex_unlock(&g->sweep_mu);
    pthread_join(g->sweeper, NULL);
    g->sweeper_started = false;
}

bool sf_conns_body_too_slow(request *r, size_t received)
{
    sf_gateway *g = r->g;
    if (!g->cfg.min_body_rate)
        return false;
    double late = sf_monotonic() - r->started - (double)g->cfg.timeout_s;
    if (late <= 0 || (double)received >= late * (double)g->cfg.min_body_rate)
        return false;
    atomic_fetch_add(&g->m.cut_bodies, 1);
    return true;
}
