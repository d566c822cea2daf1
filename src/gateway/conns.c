/*
 * conns.c - the gateway's open connections: the open-file limit, the cap
 * it sets on connections, and eviction of idle ones when they pile up.
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
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>

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

void sf_conns_free(sf_gateway *g)
{
    free(g->evict_buf);
    g->evict_buf = NULL;
    pthread_mutex_destroy(&g->conns_mu);
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
    atomic_store_explicit(&slot->active_ms, now_ms(), memory_order_relaxed);
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

void sf_conns_idle(request *r)
{
    if (!r->slot)
        return;
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
