// http.c - /metrics and /healthz over libmicrohttpd.
//
// Purpose: let Prometheus scrape a daemon's registry and let an orchestrator
// (compose healthcheck, Kubernetes probe) ask whether the daemon is healthy.
// The endpoint only renders; it never computes a metric of its own.
//
// Invariants: exactly one libmicrohttpd thread (MHD_USE_AUTO_INTERNAL_THREAD,
// no thread pool, no thread per connection) runs s_handle, so the render
// buffer `buf` needs no lock; it is sized at start and only grows when a
// render needs more. Responses are copied by libmicrohttpd (MUST_COPY), so
// the buffer may be reused by the next request at once.
//
// Ownership: xt_metrics_http owns the listening socket until it hands it to
// libmicrohttpd (which closes it in MHD_stop_daemon) and owns the render
// buffer. The registry belongs to the daemon and must outlive the server.
//
// Threads: start/stop run on the daemon's thread; s_handle and s_log run on
// the libmicrohttpd thread. MHD_stop_daemon joins that thread, so once it
// returns nothing touches `h` any more.
#include "metrics/http.h"

#include "core/xtime.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

#define S_BUF_INIT (64 * 1024) // render buffer at start; a daemon's metrics are a few KiB
#define S_CONN_LIMIT 32        // concurrent connections (scrapers + probes)
#define S_CONN_TIMEOUT_S 10    // idle connection timeout, seconds
#define S_LOG_WARN_MAX 10      // libmicrohttpd messages logged as warnings; later ones at debug

// ---- private types

struct xt_metrics_http {
    struct MHD_Daemon *d;
    xt_prom_registry *reg;
    xt_metrics_health_fn health;
    void *health_ud;
    int port;
    char url[96];
    char *buf; // render buffer, touched only on the MHD thread after start
    size_t cap;
    atomic_int n_logged; // libmicrohttpd messages so far (start thread + MHD thread)
};

static const char s_ctype_metrics[] = "text/plain; version=0.0.4; charset=utf-8";
static const char s_ctype_text[] = "text/plain; charset=utf-8";

// ---- request handling

// libmicrohttpd's error messages go to our log instead of raw stderr. A
// scanner sending garbage makes one message per connection, so only the first
// S_LOG_WARN_MAX are warnings; the rest go to debug, and the log says so once.
static void s_log(void *cls, const char *fmt, va_list ap) {
    xt_metrics_http *h = cls;
    int n = atomic_fetch_add(&h->n_logged, 1);
    xt_log_level level = n < S_LOG_WARN_MAX ? XT_LOG_WARN : XT_LOG_DEBUG;
    if (!xt_log_enabled(level)) return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    xt_log_write(level, "metrics http: %s%s", line,
                 n == S_LOG_WARN_MAX - 1 ? " (further libmicrohttpd messages are logged at debug level)" : "");
}

static enum MHD_Result s_respond(struct MHD_Connection *conn, unsigned status, const char *ctype,
                                 const char *body, size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (ok == MHD_YES && status == MHD_HTTP_METHOD_NOT_ALLOWED)
        ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (ok == MHD_YES) ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result s_metrics(xt_metrics_http *h, struct MHD_Connection *conn) {
    size_t len = 0;
    xt_err err = {0};
    if (xt_prom_render(h->reg, &h->buf, &h->cap, &len, &err) != 0) {
        xt_warn("metrics http: %s", err.msg);
        static const char msg[] = "render failed\n";
        return s_respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, s_ctype_text, msg, sizeof msg - 1);
    }
    return s_respond(conn, MHD_HTTP_OK, s_ctype_metrics, h->buf, len);
}

static enum MHD_Result s_healthz(xt_metrics_http *h, struct MHD_Connection *conn) {
    char reason[256] = "";
    if (!h->health || h->health(h->health_ud, reason, sizeof reason - 1) == 0)
        return s_respond(conn, MHD_HTTP_OK, s_ctype_text, "ok\n", 3);
    // One line: the reason as given, newlines flattened, "unhealthy" if empty.
    reason[sizeof reason - 2] = '\0';
    for (char *p = reason; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    if (!reason[0]) snprintf(reason, sizeof reason, "unhealthy");
    size_t n = strlen(reason);
    reason[n++] = '\n';
    return s_respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, s_ctype_text, reason, n);
}

// Called by libmicrohttpd once when the headers are in, then once per body
// piece, then once with *upload_size == 0. Non-GET/HEAD requests are refused
// on the first call, before any body is read (libmicrohttpd then closes the
// connection); GET bodies, which nobody should send, are read and dropped.
static enum MHD_Result s_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_size, void **con_cls) {
    xt_metrics_http *h = cls;
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!get) {
        static const char msg[] = "method not allowed; use GET\n";
        return s_respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, s_ctype_text, msg, sizeof msg - 1);
    }
    if (*con_cls == NULL) {
        *con_cls = h; // any non-NULL marker: "headers seen"
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") == 0) return s_metrics(h, conn);
    if (strcmp(url, "/healthz") == 0) return s_healthz(h, conn);
    static const char msg[] = "not found; try /metrics or /healthz\n";
    return s_respond(conn, MHD_HTTP_NOT_FOUND, s_ctype_text, msg, sizeof msg - 1);
}

// ---- socket

// Resolves, binds and listens; fills h->port and h->url. Returns the socket or -1.
static int s_listen(xt_metrics_http *h, const char *addr, int port, int *family, xt_err *err) {
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(addr, port_s, &hints, &res);
    if (gai != 0) {
        xt_err_set(err, XT_EINVAL, "metrics http: cannot resolve bind address \"%s\": %s", addr,
                   gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        xt_err_set(err, XT_EIO, "metrics http: socket() for \"%s\" failed: %s", addr, strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    // Reuse lets a restarted daemon bind while old connections sit in TIME_WAIT.
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const char *step = "bind";
    int rc = bind(fd, res->ai_addr, res->ai_addrlen);
    if (rc == 0) {
        step = "listen";
        rc = listen(fd, 64);
    }
    *family = res->ai_family;
    freeaddrinfo(res);
    if (rc != 0) {
        int e = errno;
        close(fd);
        xt_err_set(err, XT_EIO, "metrics http: cannot %s %s port %d: %s", step, addr, port,
                   strerror(e));
        return -1;
    }
    // Read back the real address and port (port 0 asked for an ephemeral one).
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[64] = "?", serv[16] = "0";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        int e = errno;
        close(fd);
        xt_err_set(err, XT_EIO, "metrics http: cannot read the bound address of %s: %s", addr,
                   strerror(e));
        return -1;
    }
    h->port = atoi(serv);
    snprintf(h->url, sizeof h->url, ss.ss_family == AF_INET6 ? "http://[%s]:%d" : "http://%s:%d",
             host, h->port);
    return fd;
}

// ---- public

int xt_metrics_loop_health(const _Atomic int64_t *tick_ms, int64_t stall_ms, const char *who, char *reason,
                           size_t cap) {
    int64_t idle = (int64_t)(xt_time_mono() * 1000.0) - atomic_load_explicit(tick_ms, memory_order_relaxed);
    if (idle <= stall_ms) return 0;
    snprintf(reason, cap, "%s event loop has not run for %.1f s", who, (double)idle / 1000.0);
    return 1;
}

int xt_metrics_http_start(xt_metrics_http **out, const char *bind_addr, int port,
                          xt_prom_registry *reg, xt_metrics_health_fn health, void *health_ud,
                          xt_err *err) {
    if (!out || !reg) return xt_err_set(err, XT_EINVAL, "metrics http: NULL output or registry");
    *out = NULL;
    if (!bind_addr || !*bind_addr) bind_addr = "127.0.0.1";
    if (port < 0 || port > 65535)
        return xt_err_set(err, XT_EINVAL,
                          "metrics http: port %d is out of range (0..65535; 0 picks a free port)",
                          port);
    xt_metrics_http *h = calloc(1, sizeof *h);
    if (h) h->buf = malloc(S_BUF_INIT);
    if (!h || !h->buf) {
        free(h);
        return xt_err_set(err, XT_ENOMEM, "metrics http: out of memory");
    }
    h->cap = S_BUF_INIT;
    atomic_init(&h->n_logged, 0);
    h->reg = reg;
    h->health = health;
    h->health_ud = health_ud;
    int family = AF_INET;
    int fd = s_listen(h, bind_addr, port, &family, err);
    if (fd < 0) {
        free(h->buf);
        free(h);
        return err ? err->code : XT_EIO;
    }
    // The logger goes first so that start-up messages reach it too.
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, s_handle, h,
                            MHD_OPTION_EXTERNAL_LOGGER, s_log, (void *)h,
                            MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)S_CONN_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)S_CONN_TIMEOUT_S,
                            MHD_OPTION_END);
    if (!h->d) {
        // libmicrohttpd leaves a passed-in socket open when it fails to start
        // (seen with 0.9.75), so it is still ours to close.
        close(fd);
        free(h->buf);
        free(h);
        return xt_err_set(err, XT_EIO,
                          "metrics http: libmicrohttpd failed to start on %s port %d "
                          "(see the log line above)",
                          bind_addr, port);
    }
    *out = h;
    return 0;
}

int xt_metrics_http_port(const xt_metrics_http *h) { return h ? h->port : 0; }

const char *xt_metrics_http_url(const xt_metrics_http *h) { return h ? h->url : ""; }

void xt_metrics_http_stop(xt_metrics_http **h_p) {
    if (!h_p || !*h_p) return;
    xt_metrics_http *h = *h_p;
    // Joins the MHD thread and closes the listening socket and connections.
    MHD_stop_daemon(h->d);
    free(h->buf);
    free(h);
    *h_p = NULL;
}
