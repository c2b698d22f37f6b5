/*
 * otelgate plugin ABI, version 1.
 *
 * A plugin is a shared library exporting one symbol, otelgate_plugin_entry_v1, which returns a
 * static, append-only table describing the plugin and its functions. Batches cross the
 * boundary as OTLP/JSON bytes (the contract is the public OTLP spec, not otelgate's types).
 *
 * Memory: input buffers belong to the host and are valid only during the call. Every output or
 * error buffer (og_buf) is allocated by the plugin and released only through its free_buf.
 * destroy is called once, after every call on that instance has returned. The host never
 * unloads a library.
 *
 * A test compiles a probe against this header and compares every sizeof/offsetof with the Rust
 * definitions in src/abi.rs: change both together.
 */
#ifndef OTELGATE_PLUGIN_H
#define OTELGATE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define OTELGATE_PLUGIN_ABI_VERSION 1u

/* Statuses returned by process and export. */
#define OG_STATUS_OK 0u         /* process: out holds the replacement batch; export: delivered */
#define OG_STATUS_UNCHANGED 1u  /* process: pass the input on as it is */
#define OG_STATUS_DROP 2u       /* process: drop the whole batch */
#define OG_STATUS_RETRYABLE 3u  /* try again later; out holds a UTF-8 message */
#define OG_STATUS_PERMANENT 4u  /* never deliverable; out holds a UTF-8 message */
#define OG_STATUS_PANICKED 5u   /* the plugin caught a panic/crash of its own */

/* Kinds. */
#define OG_KIND_PROCESSOR 1u
#define OG_KIND_EXPORTER 2u

/* Signals (bitmask in og_plugin.signals, single value in calls). */
#define OG_SIGNAL_LOGS 1u
#define OG_SIGNAL_METRICS 2u
#define OG_SIGNAL_TRACES 4u

/* Capabilities. */
#define OG_CAP_THREAD_SAFE 1u   /* calls on one instance may run concurrently */
#define OG_CAP_MUTATES 2u       /* process may return a changed batch */
#define OG_CAP_REDACTS 4u       /* the plugin redacts: the host never uses on_error: passthrough */

/* Log levels for og_host.log. */
#define OG_LOG_ERROR 1u
#define OG_LOG_WARN 2u
#define OG_LOG_INFO 3u
#define OG_LOG_DEBUG 4u

/* A buffer the plugin allocated; the host hands it back through free_buf. */
typedef struct og_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} og_buf;

/* What the host gives the plugin at load time. */
typedef struct og_host {
    uint32_t abi_version;
    uint32_t struct_size;
    /* Route a UTF-8 message to the host's logs. Thread-safe. */
    void (*log)(uint32_t level, const uint8_t *msg, size_t len);
} og_host;

/* What the plugin tells the host: static for the life of the process. */
typedef struct og_plugin {
    uint32_t abi_version;
    uint32_t struct_size;
    const char *name;     /* NUL-terminated, static */
    const char *version;  /* NUL-terminated, static */
    uint32_t kind;
    uint32_t signals;
    uint32_t capabilities;
    uint32_t reserved;
    /* Makes an instance from the component's config as JSON; NULL with *error set on failure. */
    void *(*create)(const uint8_t *config, size_t config_len, og_buf *error);
    /* Processors: OK (+out), UNCHANGED, DROP, RETRYABLE/PERMANENT (+out message). */
    uint32_t (*process)(void *instance, uint32_t signal, const uint8_t *data, size_t len, og_buf *out);
    /* Exporters: OK, RETRYABLE/PERMANENT (+error message); deadline in ms since the epoch. */
    uint32_t (*export_batch)(void *instance, uint32_t signal, const uint8_t *data, size_t len, uint64_t deadline_unix_ms,
                             og_buf *error);
    void (*destroy)(void *instance);
    void (*free_buf)(og_buf buf);
} og_plugin;

/* The one exported symbol. */
typedef const og_plugin *(*otelgate_plugin_entry_v1_fn)(const og_host *host);

#endif
