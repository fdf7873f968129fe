// test_metrics_http.c - the /metrics and /healthz endpoint, driven by a raw
// socket client written here (no curl): status lines, headers, bodies, 404,
// 405, HEAD, port 0, bind errors, scrapes racing updates, and a clean stop.
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "metrics/http.h"
#include "metrics/prom.h"

// ---- a minimal HTTP client

typedef struct {
    int status;
    char status_line[128];
    char headers[2048]; // raw header block, lines joined by "\r\n"
    char *body;         // malloc'd, NUL-terminated
    size_t body_len;
} t_resp;

// Connects to host:port (IPv4 or IPv6 literal), sends req verbatim, reads to
// EOF (the requests say "Connection: close"), and splits the reply.
static int t_http(const char *host, int port, const char *req, t_resp *r) {
    memset(r, 0, sizeof *r);
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    int fam = strchr(host, ':') ? AF_INET6 : AF_INET;
    if (fam == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, host, &a->sin_addr);
        sl = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, host, &a->sin6_addr);
        sl = sizeof *a;
    }
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct timeval tv = {5, 0}; // never hang the test
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    size_t n = strlen(req), off = 0;
    while (off < n) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) break; // a 405 may close before reading the body
        off += (size_t)w;
    }
    size_t cap = 65536, len = 0;
    char *raw = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) raw = realloc(raw, cap *= 2);
        ssize_t got = recv(fd, raw + len, cap - len - 1, 0);
        if (got <= 0) break;
        len += (size_t)got;
    }
    close(fd);
    raw[len] = '\0';
    char *eoh = strstr(raw, "\r\n\r\n");
    char *eol = strstr(raw, "\r\n");
    if (!eoh || !eol) {
        free(raw);
        return -EPROTO;
    }
    snprintf(r->status_line, sizeof r->status_line, "%.*s", (int)(eol - raw), raw);
    sscanf(raw, "HTTP/1.%*d %d", &r->status);
    snprintf(r->headers, sizeof r->headers, "%.*s", (int)(eoh - eol - 2), eol + 2);
    r->body_len = len - (size_t)(eoh + 4 - raw);
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, eoh + 4, r->body_len);
    r->body[r->body_len] = '\0';
    free(raw);
    return 0;
}

// Value of header `name` (case-insensitive) into out; 0 if absent.
static int t_header(const t_resp *r, const char *name, char *out, size_t cap) {
    const char *p = r->headers;
    size_t nl = strlen(name);
    while (*p) {
        const char *e = strstr(p, "\r\n");
        if (!e) e = p + strlen(p);
        if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            snprintf(out, cap, "%.*s", (int)(e - v), v);
            return 1;
        }
        p = *e ? e + 2 : e;
    }
    return 0;
}

static void t_get(int port, const char *path, t_resp *r) {
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    int rc = t_http("127.0.0.1", port, req, r);
    if (rc != 0) fail_msg("GET %s on port %d failed: %s", path, port, strerror(-rc));
}

// ---- fixtures

typedef struct {
    atomic_int healthy;
    char reason[64];
} t_health;

static int t_health_cb(void *ud, char *reason, size_t cap) {
    t_health *h = ud;
    if (atomic_load(&h->healthy)) return 0;
    snprintf(reason, cap, "%s", h->reason);
    return 1;
}

static xt_prom_registry *t_registry(xt_prom_counter **steps) {
    xt_err err = {0};
    xt_prom_registry *reg = xt_prom_registry_new(&err);
    assert_non_null(reg);
    assert_int_equal(xt_prom_counter_new(reg, steps, "xtrade_env_steps_total", "Env steps taken.", &err), 0);
    xt_prom_family *f;
    assert_int_equal(xt_prom_gauge_family(reg, &f, "xtrade_fold", "Current fold.", "phase", &err), 0);
    xt_prom_gauge *g;
    assert_int_equal(xt_prom_gauge_child(f, (const char *[]){"train"}, &g, &err), 0);
    xt_prom_gauge_set(g, 2);
    return reg;
}

// ---- tests

static void t_metrics_and_health(void **state) {
    xt_err err = {0};
    xt_prom_counter *steps;
    xt_prom_registry *reg = t_registry(&steps);
    xt_prom_counter_add_u64(steps, 1234);
    t_health health = {.healthy = 1, .reason = "no weights received for 31 s"};
    xt_metrics_http *h = NULL;
    int rc = xt_metrics_http_start(&h, "127.0.0.1", 0, reg, t_health_cb, &health, &err);
    if (rc) fail_msg("start failed: %s", err.msg);
    int port = xt_metrics_http_port(h);
    assert_true(port > 0 && port < 65536);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    assert_string_equal(xt_metrics_http_url(h), url);

    // /metrics: exactly what the registry renders, with the 0.0.4 content type.
    t_resp r;
    t_get(port, "/metrics", &r);
    assert_string_equal(r.status_line, "HTTP/1.1 200 OK");
    char v[128];
    assert_true(t_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
    assert_true(t_header(&r, "Content-Length", v, sizeof v));
    assert_int_equal(strtoul(v, NULL, 10), r.body_len);
    char *want = NULL;
    size_t cap = 0, len = 0;
    assert_int_equal(xt_prom_render(reg, &want, &cap, &len, &err), 0);
    assert_string_equal(r.body, want);
    assert_contains(r.body, "xtrade_env_steps_total 1234\n");
    assert_contains(r.body, "xtrade_fold{phase=\"train\"} 2\n");
    free(want);
    free(r.body);

    // The body follows the registry: a later update shows up in the next scrape.
    xt_prom_counter_inc(steps);
    t_get(port, "/metrics", &r);
    assert_contains(r.body, "xtrade_env_steps_total 1235\n");
    free(r.body);

    // A query string does not change the path.
    t_get(port, "/metrics?format=text", &r);
    assert_int_equal(r.status, 200);
    free(r.body);

    // /healthz: ok, then unhealthy with the callback's reason.
    t_get(port, "/healthz", &r);
    assert_string_equal(r.status_line, "HTTP/1.1 200 OK");
    assert_string_equal(r.body, "ok\n");
    assert_true(t_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/plain; charset=utf-8");
    free(r.body);
    atomic_store(&health.healthy, 0);
    t_get(port, "/healthz", &r);
    assert_string_equal(r.status_line, "HTTP/1.1 503 Service Unavailable");
    assert_string_equal(r.body, "no weights received for 31 s\n");
    free(r.body);
    // A reason with a newline stays one line; an empty reason says "unhealthy".
    snprintf(health.reason, sizeof health.reason, "two\nlines");
    t_get(port, "/healthz", &r);
    assert_string_equal(r.body, "two lines\n");
    free(r.body);
    health.reason[0] = '\0';
    t_get(port, "/healthz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "unhealthy\n");
    free(r.body);

    xt_metrics_http_stop(&h);
    assert_null(h);
    xt_metrics_http_stop(&h); // NULL is fine
    xt_metrics_http_stop(NULL);
    // The port is closed once stop returns.
    assert_int_equal(t_http("127.0.0.1", port, "GET /metrics HTTP/1.0\r\n\r\n", &r), -ECONNREFUSED);
    xt_prom_registry_destroy(&reg);
}

static void t_not_found_and_methods(void **state) {
    xt_err err = {0};
    xt_prom_counter *steps;
    xt_prom_registry *reg = t_registry(&steps);
    xt_metrics_http *h = NULL;
    assert_int_equal(xt_metrics_http_start(&h, NULL, 0, reg, NULL, NULL, &err), 0); // NULL: loopback
    int port = xt_metrics_http_port(h);
    t_resp r;
    char v[128];

    const char *missing[] = {"/", "/metric", "/metrics/", "/healthz/x", "/favicon.ico"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        t_get(port, missing[i], &r);
        assert_string_equal(r.status_line, "HTTP/1.1 404 Not Found");
        assert_string_equal(r.body, "not found; try /metrics or /healthz\n");
        free(r.body);
    }
    // No health callback: always healthy.
    t_get(port, "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    free(r.body);

    // POST with a body, PUT and DELETE: 405 with Allow.
    const char *reqs[] = {
        "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 11\r\n\r\nhello=world",
        "PUT /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        "DELETE /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        assert_int_equal(t_http("127.0.0.1", port, reqs[i], &r), 0);
        assert_string_equal(r.status_line, "HTTP/1.1 405 Method Not Allowed");
        assert_true(t_header(&r, "Allow", v, sizeof v));
        assert_string_equal(v, "GET, HEAD");
        assert_string_equal(r.body, "method not allowed; use GET\n");
        free(r.body);
    }

    // HEAD: same status and type, no body.
    assert_int_equal(t_http("127.0.0.1", port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r), 0);
    assert_string_equal(r.status_line, "HTTP/1.1 200 OK");
    assert_true(t_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
    assert_int_equal(r.body_len, 0);
    free(r.body);

    // HTTP/1.0 clients work too.
    assert_int_equal(t_http("127.0.0.1", port, "GET /healthz HTTP/1.0\r\n\r\n", &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    free(r.body);

    // Garbage is answered with 400 and the server keeps serving.
    assert_int_equal(t_http("127.0.0.1", port, "NOT HTTP AT ALL\r\n\r\n", &r), 0);
    assert_int_equal(r.status, 400);
    free(r.body);
    t_get(port, "/metrics", &r);
    assert_int_equal(r.status, 200);
    free(r.body);

    xt_metrics_http_stop(&h);
    xt_prom_registry_destroy(&reg);
}

static void t_bind_errors(void **state) {
    xt_err err = {0};
    xt_prom_counter *steps;
    xt_prom_registry *reg = t_registry(&steps);
    xt_metrics_http *a = NULL, *b = NULL;
    assert_int_equal(xt_metrics_http_start(&a, "127.0.0.1", 0, reg, NULL, NULL, &err), 0);
    int port = xt_metrics_http_port(a);
    // The same port twice: the sentence names the address and the cause.
    assert_int_equal(xt_metrics_http_start(&b, "127.0.0.1", port, reg, NULL, NULL, &err), XT_EIO);
    assert_null(b);
    char want[128];
    snprintf(want, sizeof want, "metrics http: cannot bind 127.0.0.1 port %d: Address already in use", port);
    assert_string_equal(err.msg, want);
    assert_int_equal(xt_metrics_http_start(&b, "127.0.0.1", 70000, reg, NULL, NULL, &err), XT_EINVAL);
    assert_string_equal(err.msg, "metrics http: port 70000 is out of range (0..65535; 0 picks a free port)");
    assert_int_equal(xt_metrics_http_start(&b, "127.0.0.1", -1, reg, NULL, NULL, &err), XT_EINVAL);
    assert_int_equal(xt_metrics_http_start(&b, "no.such.host.invalid", 0, reg, NULL, NULL, &err), XT_EINVAL);
    assert_contains(err.msg, "metrics http: cannot resolve bind address \"no.such.host.invalid\": ");
    assert_int_equal(xt_metrics_http_start(&b, "127.0.0.1", 0, NULL, NULL, NULL, &err), XT_EINVAL);
    assert_string_equal(err.msg, "metrics http: NULL output or registry");
    // The first server is unaffected by the failed starts.
    t_resp r;
    t_get(port, "/healthz", &r);
    assert_int_equal(r.status, 200);
    free(r.body);
    xt_metrics_http_stop(&a);
    xt_prom_registry_destroy(&reg);
}

static void t_ipv6_loopback(void **state) {
    xt_err err = {0};
    xt_prom_counter *steps;
    xt_prom_registry *reg = t_registry(&steps);
    xt_metrics_http *h = NULL;
    if (xt_metrics_http_start(&h, "::1", 0, reg, NULL, NULL, &err) != 0) {
        // Containers without IPv6 cannot bind ::1; that is the host's limit, not ours.
        xt_prom_registry_destroy(&reg);
        print_message("skipping IPv6: %s\n", err.msg);
        skip();
    }
    int port = xt_metrics_http_port(h);
    char url[64];
    snprintf(url, sizeof url, "http://[::1]:%d", port);
    assert_string_equal(xt_metrics_http_url(h), url);
    t_resp r;
    assert_int_equal(t_http("::1", port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r), 0);
    assert_int_equal(r.status, 200);
    assert_contains(r.body, "xtrade_env_steps_total 0\n");
    free(r.body);
    xt_metrics_http_stop(&h);
    xt_prom_registry_destroy(&reg);
}

// ---- scrapes racing updates

typedef struct {
    xt_prom_counter *c;
} t_upd;

#define T_UPDATES 200000

static void *t_updater(void *p) {
    t_upd *u = p;
    for (int i = 0; i < T_UPDATES; i++) xt_prom_counter_inc(u->c);
    return NULL;
}

static void t_scrapes_during_updates(void **state) {
    xt_err err = {0};
    xt_prom_counter *steps;
    xt_prom_registry *reg = t_registry(&steps);
    xt_metrics_http *h = NULL;
    assert_int_equal(xt_metrics_http_start(&h, "127.0.0.1", 0, reg, NULL, NULL, &err), 0);
    int port = xt_metrics_http_port(h);
    t_upd u = {.c = steps};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, t_updater, &u), 0);
    // Each scrape sees a counter value no smaller than the one before.
    unsigned long long last = 0;
    for (int i = 0; i < 30; i++) {
        t_resp r;
        t_get(port, "/metrics", &r);
        assert_int_equal(r.status, 200);
        const char *p = strstr(r.body, "\nxtrade_env_steps_total ");
        assert_non_null(p);
        unsigned long long v = strtoull(p + 24, NULL, 10);
        assert_true(v >= last && v <= 2ull * T_UPDATES);
        last = v;
        free(r.body);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    t_resp r;
    t_get(port, "/metrics", &r);
    char want[64];
    snprintf(want, sizeof want, "\nxtrade_env_steps_total %d\n", 2 * T_UPDATES);
    assert_contains(r.body, want);
    free(r.body);
    xt_metrics_http_stop(&h);
    xt_prom_registry_destroy(&reg);
}

static int t_open_fds(void) {
    int n = 0;
    char path[64];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n += access(path, F_OK) == 0;
    }
    return n;
}

// Start/stop cycles on the same fixed port: stop releases the port at once
// and leaves no descriptor behind (libmicrohttpd closes the listening socket).
static void t_restart_same_port(void **state) {
    xt_err err = {0};
    xt_prom_counter *steps;
    xt_prom_registry *reg = t_registry(&steps);
    xt_metrics_http *h = NULL;
    int fds_before = t_open_fds();
    assert_int_equal(xt_metrics_http_start(&h, "127.0.0.1", 0, reg, NULL, NULL, &err), 0);
    int port = xt_metrics_http_port(h);
    for (int i = 0; i < 3; i++) {
        t_resp r;
        t_get(port, "/healthz", &r); // leaves a TIME_WAIT connection behind
        assert_int_equal(r.status, 200);
        free(r.body);
        xt_metrics_http_stop(&h);
        int rc = xt_metrics_http_start(&h, "127.0.0.1", port, reg, NULL, NULL, &err);
        if (rc) fail_msg("restart %d on port %d failed: %s", i, port, err.msg);
        assert_int_equal(xt_metrics_http_port(h), port);
    }
    xt_metrics_http_stop(&h);
    assert_int_equal(t_open_fds(), fds_before);
    // A failed start (port taken by a plain socket) leaks nothing either.
    int blocker = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(blocker, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); // our TIME_WAITs linger
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(blocker, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(blocker, 1), 0);
    int fds_blocked = t_open_fds();
    assert_int_equal(xt_metrics_http_start(&h, "127.0.0.1", port, reg, NULL, NULL, &err), XT_EIO);
    assert_int_equal(t_open_fds(), fds_blocked);
    close(blocker);
    xt_prom_registry_destroy(&reg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_metrics_and_health),
        cmocka_unit_test(t_not_found_and_methods),
        cmocka_unit_test(t_bind_errors),
        cmocka_unit_test(t_ipv6_loopback),
        cmocka_unit_test(t_scrapes_during_updates),
        cmocka_unit_test(t_restart_same_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
