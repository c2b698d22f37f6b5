/*
 * c-drop: an otelgate processor plugin written in C against otelgate_plugin.h, proving the ABI
 * is not Rust-only. It drops every batch that contains a configured text, e.g.
 *   config: { contains: "codex.sse_event" }
 * Build: cc -shared -fPIC -I ../sdk drop.c -o libc_drop.so
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "otelgate_plugin.h"

typedef struct { char *needle; size_t len; } drop_t;

static og_buf message(const char *text) {
    og_buf b = {0, 0, 0};
    size_t n = strlen(text);
    b.ptr = malloc(n);
    if (b.ptr) { memcpy(b.ptr, text, n); b.len = n; b.cap = n; }
    return b;
}

/* Finds the string value of "contains" in a small JSON object (enough for this example). */
static void *create(const uint8_t *config, size_t len, og_buf *error) {
    const char *key = "\"contains\"";
    const char *p = memmem(config, len, key, strlen(key));
    if (!p) { *error = message("`contains` (the text that marks batches to drop) is required"); return NULL; }
    const char *end = (const char *)config + len;
    p = memchr(p + strlen(key), '"', end - (p + strlen(key)));
    if (!p) { *error = message("`contains` must be a string"); return NULL; }
    const char *q = memchr(p + 1, '"', end - (p + 1));
    if (!q) { *error = message("`contains` must be a string"); return NULL; }
    drop_t *d = malloc(sizeof *d);
    if (!d) return NULL;
    d->len = (size_t)(q - p - 1);
    d->needle = malloc(d->len + 1);
    memcpy(d->needle, p + 1, d->len);
    d->needle[d->len] = 0;
    return d;
}

static uint32_t process(void *instance, uint32_t signal, const uint8_t *data, size_t len, og_buf *out) {
    (void)signal; (void)out;
    drop_t *d = instance;
    return memmem(data, len, d->needle, d->len) ? OG_STATUS_DROP : OG_STATUS_UNCHANGED;
}

static void destroy(void *instance) {
    drop_t *d = instance;
    free(d->needle);
    free(d);
}

static void free_buf(og_buf b) { free(b.ptr); }

static const og_plugin TABLE = {
    OTELGATE_PLUGIN_ABI_VERSION, sizeof(og_plugin), "c-drop", "0.1.0",
    OG_KIND_PROCESSOR, OG_SIGNAL_LOGS | OG_SIGNAL_METRICS | OG_SIGNAL_TRACES, OG_CAP_THREAD_SAFE, 0,
    create, process, NULL, destroy, free_buf,
};

const og_plugin *otelgate_plugin_entry_v1(const og_host *host) {
    (void)host;
    return &TABLE;
}
