/*
 * input.c - block reader with read-ahead decompression (see input.h).
 *
 * A ring of NBLOCKS buffers is shared by the reader thread (which fills them
 * with gzread) and the caller (which drains them in order). The caller owns
 * the block it last received until its next call, so the thread never writes
 * a block that may still be read. One mutex and two condition variables:
 * `filled` wakes the caller, `drained` wakes the thread.
 */
#include "core/input.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define NBLOCKS    4
#define BLOCK_SIZE (1024 * 1024)

typedef struct block {
    char *data;
    size_t len;
} block;

struct sf_input {
    gzFile gz;
    char *path;
    bool gzip;
    uint64_t size;
    _Atomic uint64_t raw_done;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t filled, drained;
    block blocks[NBLOCKS];
    unsigned head;  /* next block the caller reads */
    unsigned count; /* blocks filled and not yet read */
    bool holding;   /* the caller holds the block before head */
    bool eof;       /* the thread is done (end or error) */
    bool stop;      /* close asked the thread to stop */
    char errmsg[256];
};

static void *reader_main(void *arg)
{
    sf_input *in = arg;
    unsigned tail = 0;
    for (;;) {
        pthread_mutex_lock(&in->mu);
        /* A block is free when neither filled-unread nor held by the caller. */
        while (!in->stop && in->count + (in->holding ? 1u : 0u) >= NBLOCKS)
            pthread_cond_wait(&in->drained, &in->mu);
        bool stop = in->stop;
        pthread_mutex_unlock(&in->mu);
        if (stop)
            break;

        block *b = &in->blocks[tail];
        int n = gzread(in->gz, b->data, BLOCK_SIZE);
        int errnum;
        if (n == 0 && (gzerror(in->gz, &errnum), errnum == Z_OK) && !gzdirect(in->gz)) {
            /* A gzip stream cut short just where an earlier read filled its
             * buffer also ends with Z_OK: zlib stops at the end of the file
             * before asking inflate for more. Clearing the end flag and
             * reading once more makes it notice (Z_BUF_ERROR below). */
            gzclearerr(in->gz);
            n = gzread(in->gz, b->data, BLOCK_SIZE);
        }
        in->raw_done = (uint64_t)gzoffset(in->gz);

        pthread_mutex_lock(&in->mu);
        if (n > 0) {
            b->len = (size_t)n;
            in->count++;
            tail = (tail + 1) % NBLOCKS;
        } else {
            /* A truncated gzip file ends with n == 0, not -1: zlib keeps
             * Z_BUF_ERROR non-fatal (the file might still be growing), so
             * the end is only known to be wrong by asking gzerror. */
            const char *m = gzerror(in->gz, &errnum);
            /* zlib names the stream "<fd:N>: "; we name the file instead. */
            if (strncmp(m, "<fd:", 4) == 0 && strstr(m, ": "))
                m = strstr(m, ": ") + 2;
            if (n < 0 || errnum != Z_OK)
                strncpy(in->errmsg, errnum == Z_ERRNO ? strerror(errno) : m, sizeof in->errmsg - 1);
            in->eof = true;
        }
        pthread_cond_signal(&in->filled);
        pthread_mutex_unlock(&in->mu);
        if (n <= 0)
            break;
    }
    return NULL;
}

static int open_fd(const char *path, int *fd_out, sf_error *err)
{
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sf_error_set(err, errno == ENOENT ? SF_ENOENT : SF_EIO, "%s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return sf_error_set(err, SF_EIO, "%s: is a directory", path);
    }
    *fd_out = fd;
    return 0;
}

int sf_input_open(const char *path, sf_input **out, sf_error *err)
{
    int fd = -1;
    int rc = open_fd(path, &fd, err);
    if (rc < 0)
        return rc;
    sf_input *in = calloc(1, sizeof *in);
    if (!in) {
        close(fd);
        return sf_error_set(err, SF_ENOMEM, "out of memory");
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        in->size = (uint64_t)st.st_size;
        unsigned char magic[2];
        in->gzip = pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->filled, NULL);
    pthread_cond_init(&in->drained, NULL);
    in->path = strdup(path);
    in->gz = gzdopen(fd, "rb");
    if (!in->gz)
        close(fd);
    for (int i = 0; i < NBLOCKS && in->gz && in->path; i++)
        if (!(in->blocks[i].data = malloc(BLOCK_SIZE)))
            goto fail;
    if (!in->gz || !in->path)
        goto fail;
    gzbuffer(in->gz, 256 * 1024);
    if (pthread_create(&in->thread, NULL, reader_main, in) != 0)
        goto fail;
    in->thread_started = true;
    *out = in;
    return 0;
fail:
    sf_input_close(in);
    return sf_error_set(err, SF_ENOMEM, "%s: cannot start reading (out of memory)", path);
}

int sf_input_read(sf_input *in, const char **data, size_t *len, sf_error *err)
{
    pthread_mutex_lock(&in->mu);
    if (in->holding) {
        in->holding = false;
        pthread_cond_signal(&in->drained);
    }
    while (in->count == 0 && !in->eof)
        pthread_cond_wait(&in->filled, &in->mu);
    int rc = 0;
    if (in->count > 0) {
        block *b = &in->blocks[in->head];
        *data = b->data;
        *len = b->len;
        in->head = (in->head + 1) % NBLOCKS;
        in->count--;
        in->holding = true;
    } else {
        *data = NULL;
        *len = 0;
        if (in->errmsg[0])
            rc = sf_error_set(err, SF_EIO, "%s: %s", in->path, in->errmsg);
    }
    pthread_mutex_unlock(&in->mu);
    return rc;
}

void sf_input_progress(const sf_input *in, uint64_t *done, uint64_t *total)
{
    *done = in->raw_done;
    *total = in->size;
}

bool sf_input_is_gzip(const sf_input *in)
{
    return in->gzip;
}

void sf_input_close(sf_input *in)
{
    if (!in)
        return;
    if (in->thread_started) {
        pthread_mutex_lock(&in->mu);
        in->stop = true;
        pthread_cond_signal(&in->drained);
        pthread_mutex_unlock(&in->mu);
        pthread_join(in->thread, NULL);
    }
    if (in->gz)
        gzclose(in->gz);
    for (int i = 0; i < NBLOCKS; i++)
        free(in->blocks[i].data);
    pthread_cond_destroy(&in->filled);
    pthread_cond_destroy(&in->drained);
    pthread_mutex_destroy(&in->mu);
    free(in->path);
    free(in);
}
