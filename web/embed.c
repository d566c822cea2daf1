/*
 * embed.c - the build's generator that turns the dashboard's built files
 * (web/dist) into C source: one byte array per file and the sf_assets table
 * of src/gateway/static.h, which the `shopflow` binary links.
 *
 *   usage: sf_embed DIST_DIR OUT.c [TABLE]
 *
 * TABLE names the sf_assets table (default sf_web_assets, the dashboard's,
 * which must have an index.html); the build embeds the OpenAPI document
 * (openapi/) the same way as sf_openapi_doc.
 *
 * Why a generator of our own: the binary must carry the dashboard (no files
 * to install, no CDN), and a few lines of C do it on every platform CMake
 * builds on, with no tool copied in. At build time it also
 *   - gzips each file (zlib, level 9) and keeps that form when it is at
 *     least 10% smaller, so the server never compresses at run time;
 *   - gives each file its ETag (FNV-1a 64 of the bytes);
 *   - marks files under assets/ (named by their content hash) immutable;
 *   - refuses a file whose type it does not know, an empty DIST_DIR, and
 *     the dashboard's without index.html: an empty or half-built dashboard
 *     fails the build instead of shipping.
 * The output is written to a temporary name and renamed, so an interrupted
 * build never leaves half a file; files are sorted, so it is reproducible.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct file {
    char *path; /* relative to DIST_DIR, e.g. "assets/app-X.js" */
    unsigned char *data, *gz;
    size_t len, gz_len;
} file;

static file *files;
static size_t nfiles, capfiles;
static size_t root_len;

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
};

static const char *content_type(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t e = strlen(types[i].ext);
        if (n > e && strcmp(path + n - e, types[i].ext) == 0)
            return types[i].type;
    }
    return NULL;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *more = realloc(buf, cap *= 2);
            if (!more)
                free(buf);
            buf = more;
        }
    }
    if (ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* gzip of data when at least 10% smaller, else NULL. */
static unsigned char *gzip(const unsigned char *data, size_t len, size_t *gz_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&z, (uLong)len);
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = out ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    *gz_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END || *gz_len * 10 > len * 9) {
        free(out);
        return NULL;
    }
    return out;
}

static int add_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag != FTW_F)
        return 0;
    if (nfiles == capfiles) {
        file *more = realloc(files, (capfiles = capfiles ? capfiles * 2 : 16) * sizeof *files);
        if (!more)
            return -1;
        files = more;
    }
    const char *rel = path + root_len + 1;
    if (strspn(rel, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") !=
        strlen(rel)) {
        fprintf(stderr, "sf_embed: %s: only letters, digits and ._-/ in a served name\n", path);
        return -1;
    }
    file *f = &files[nfiles];
    f->path = strdup(rel);
    f->data = read_all(path, &f->len);
    if (!f->path || !f->data) {
        fprintf(stderr, "sf_embed: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!content_type(f->path)) {
        fprintf(stderr, "sf_embed: %s: no content type known for this file name\n", path);
        return -1;
    }
    f->gz = gzip(f->data, f->len, &f->gz_len);
    nfiles++;
    return 0;
}

static int by_path(const void *a, const void *b)
{
    /* The table is searched with "/" + path; the '/' prefix keeps the order. */
    return strcmp(((const file *)a)->path, ((const file *)b)->path);
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void write_bytes(FILE *out, const char *name, const unsigned char *p, size_t n)
{
    fprintf(out, "static const unsigned char %s[%zu] = {", name, n ? n : 1);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%u,", i % 20 == 0 ? "\n    " : "", p[i]);
    fprintf(out, "%s};\n", n ? "\n" : "0");
}

static void write_entry(FILE *out, size_t i)
{
    const file *f = &files[i];
    uint64_t h = fnv1a(f->data, f->len);
    char gz[32] = "NULL";
    if (f->gz)
        snprintf(gz, sizeof gz, "z%zu", i);
    fprintf(out,
            "    {\"/%s\", \"%s\", a%zu, %zu, %s, %zu, \"\\\"%016llx\\\"\",\n"
            "     \"\\\"%016llx-gz\\\"\", %s},\n",
            f->path, content_type(f->path), i, f->len, gz, f->gz ? f->gz_len : 0,
            (unsigned long long)h, (unsigned long long)h,
            strncmp(f->path, "assets/", 7) == 0 ? "true" : "false");
}

static int write_source(FILE *out, const char *dist, const char *table)
{
    fprintf(out,
            "/* Generated by web/embed.c from %s: do not edit. */\n"
            "#include \"gateway/static.h\"\n\n",
            dist);
    char name[32];
    for (size_t i = 0; i < nfiles; i++) {
        snprintf(name, sizeof name, "a%zu", i);
        write_bytes(out, name, files[i].data, files[i].len);
        if (files[i].gz) {
            snprintf(name, sizeof name, "z%zu", i);
            write_bytes(out, name, files[i].gz, files[i].gz_len);
        }
    }
    fprintf(out, "\nstatic const sf_asset items[] = {\n");
    for (size_t i = 0; i < nfiles; i++)
        write_entry(out, i);
    fprintf(out, "};\n\nconst sf_assets %s = {items, %zu, NULL};\n", table, nfiles);
    return ferror(out) ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: sf_embed DIST_DIR OUT.c [TABLE]\n");
        return 2;
    }
    const char *dist = argv[1], *target = argv[2];
    const char *table = argc == 4 ? argv[3] : "sf_web_assets";
    bool dashboard = strcmp(table, "sf_web_assets") == 0;
    root_len = strlen(dist);
    while (root_len > 1 && dist[root_len - 1] == '/')
        root_len--;
    if (nftw(dist, add_file, 16, FTW_PHYS) != 0) {
        fprintf(stderr, "sf_embed: cannot embed %s (run the web build first)\n", dist);
        return 1;
    }
    qsort(files, nfiles, sizeof *files, by_path);
    bool index = false;
    for (size_t i = 0; i < nfiles; i++)
        index |= strcmp(files[i].path, "index.html") == 0;
    if ((dashboard && !index) || nfiles == 0) {
        fprintf(stderr, "sf_embed: %s has no %s: the build did not finish\n", dist,
                dashboard ? "index.html" : "file");
        return 1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", target);
    FILE *out = fopen(tmp, "w");
    if (!out || write_source(out, dist, table) < 0 || fclose(out) != 0 ||
        rename(tmp, target) != 0) {
        fprintf(stderr, "sf_embed: cannot write %s: %s\n", target, strerror(errno));
        return 1;
    }
    size_t raw = 0, gz = 0;
    for (size_t i = 0; i < nfiles; i++)
        raw += files[i].len, gz += files[i].gz ? files[i].gz_len : files[i].len;
    printf("sf_embed: %zu files, %zu bytes (%zu bytes as served with gzip) into %s\n", nfiles, raw,
           gz, target);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].path), free(files[i].data), free(files[i].gz);
    free(files);
    return 0;
}
