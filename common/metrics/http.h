// http.h - the /metrics and /healthz HTTP endpoint of every xtrade daemon
// (libmicrohttpd, one internal polling thread).
//
//   GET /metrics  -> 200, text/plain; version=0.0.4; charset=utf-8, the registry rendered
//   GET /healthz  -> 200 "ok\n", or 503 "<reason>\n" when the health callback says so
//   HEAD on both  -> the same status and headers, no body
//   other paths   -> 404;  other methods -> 405 with "Allow: GET, HEAD"
//
// The server binds its own listening socket (so a busy port fails here with a
// sentence naming the address) and hands it to libmicrohttpd, whose single
// internal thread serves every request. The registry and the health callback
// are only read from that thread; the registry must outlive the server.
#ifndef XT_METRICS_HTTP_H
#define XT_METRICS_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "metrics/prom.h"

typedef struct xt_metrics_http xt_metrics_http;

// Called on the HTTP thread for each /healthz request. Returns 0 when healthy;
// otherwise writes a one-line reason (e.g. "no weights received for 31 s")
// into reason (cap bytes, NUL-terminated) and returns nonzero. It must be
// thread-safe with respect to the daemon (read atomics or the stats struct).
typedef int (*xt_metrics_health_fn)(void *ud, char *reason, size_t cap);

// The check every daemon's health callback makes: 0 while its event loop
// ticked (tick_ms, monotonic ms) within stall_ms, else nonzero with
// "<who> event loop has not run for X s" in reason.
int xt_metrics_loop_health(const _Atomic int64_t *tick_ms, int64_t stall_ms, const char *who, char *reason,
                           size_t cap);

// Starts serving. bind_addr: a numeric IPv4/IPv6 address or a host name
// ("127.0.0.1", "::1", "0.0.0.0", "localhost"); NULL means "127.0.0.1".
// port: 0..65535, 0 picks a free port (read it back with xt_metrics_http_port).
// health may be NULL (always healthy). On success *out is owned by the caller
// and must be stopped with xt_metrics_http_stop.
int xt_metrics_http_start(xt_metrics_http **out, const char *bind_addr, int port,
                          xt_prom_registry *reg, xt_metrics_health_fn health, void *health_ud,
                          xt_err *err);

// The port actually bound (the ephemeral one when 0 was asked for).
int xt_metrics_http_port(const xt_metrics_http *h);
// "http://127.0.0.1:9101" or "http://[::1]:9101", for the daemon's "ready" log line.
const char *xt_metrics_http_url(const xt_metrics_http *h);

// Stops the thread, closes the socket, frees everything. Accepts NULL / *h_p == NULL.
void xt_metrics_http_stop(xt_metrics_http **h_p);

#endif
