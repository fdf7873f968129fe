// test_core.c - core utilities: crc32, UTC time parsing and calendar math,
// timeframes, rng streams, sessions, atomic file writes, bar validation
// messages, the log line format and the daemons' start-up (options, config
// precedence, exit statuses and their messages).
#include "testutil.h"

#include "core/crc32.h"
#include "core/daemon.h"
#include "core/fileio.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/xtime.h"
#include "market/bars.h"
#include "market/calendar.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// CRC-32 one bit at a time, straight from the definition (reflected
// polynomial 0xEDB88320, register and result inverted): the reference the
// table-driven code must match.
static uint32_t s_crc_bitwise(uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

static void t_crc(void **s) {
    assert_int_equal(xt_crc32(0, "123456789", 9), 0xCBF43926u); // the standard check value
    // Continuation equals one pass.
    assert_int_equal(xt_crc32(xt_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    assert_int_equal(xt_crc32(0, "", 0), 0u);
    // Long enough for the 8-byte steps: known values (zlib's crc32).
    const char *fox = "The quick brown fox jumps over the lazy dog";
    assert_int_equal(xt_crc32(0, fox, strlen(fox)), 0x414FA339u);
    unsigned char zeros[32] = {0};
    assert_int_equal(xt_crc32(0, zeros, 32), 0x190A55ADu);

    // Every length 0..300 at every alignment 0..7, against the bitwise
    // reference: the 8-byte steps, the tail and short inputs.
    enum { N = 300, BIG = 1 << 20 };
    unsigned char *buf = malloc(BIG + 8);
    assert_non_null(buf);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < BIG + 8; i++) x = x * 6364136223846793005u + 1442695040888963407u, buf[i] = (unsigned char)(x >> 56);
    for (int off = 0; off < 8; off++)
        for (size_t n = 0; n <= N; n++) {
            uint32_t want = s_crc_bitwise(0, buf + off, n);
            if (xt_crc32(0, buf + off, n) != want) fail_msg("crc of %zu bytes at offset %d", n, off);
            // Continued from a nonzero CRC, split at an odd place.
            size_t cut = n / 3 | 1;
            if (cut <= n && xt_crc32(xt_crc32(0, buf + off, cut), buf + off + cut, n - cut) != want)
                fail_msg("crc of %zu bytes at offset %d split at %zu", n, off, cut);
        }
    // A large odd-length, unaligned buffer (a weights frame is ~2.5 MB).
    assert_int_equal(xt_crc32(0, buf + 3, BIG - 5), s_crc_bitwise(0, buf + 3, BIG - 5));
    free(buf);
}

static void t_time(void **s) {
    int64_t t;
    assert_int_equal(xt_time_parse("2024-01-02", &t), 0);
    assert_true(t == 1704153600);
    assert_int_equal(xt_time_parse("2024-01-02T03:04:05Z", &t), 0);
    assert_true(t == 1704153600 + 3 * 3600 + 4 * 60 + 5);
    assert_int_equal(xt_time_parse("2024-01-02T05:04:05+02:00", &t), 0);
    assert_true(t == 1704153600 + 3 * 3600 + 4 * 60 + 5);
    assert_int_equal(xt_time_parse("2024.01.02 03:04", &t), 0);
    assert_true(t == 1704153600 + 3 * 3600 + 4 * 60);
    assert_int_equal(xt_time_parse("02.01.2024 03:04:05.123", &t), 0);
    assert_true(t == 1704153600 + 3 * 3600 + 4 * 60 + 5);
    assert_int_equal(xt_time_parse("2024-02-30", &t), XT_EPARSE);
    assert_int_equal(xt_time_parse("2024-01-02T25:00", &t), XT_EPARSE);
    assert_int_equal(xt_time_parse("2024-01-02x", &t), XT_EPARSE);
    assert_int_equal(xt_time_parse("2024-02-29", &t), 0); // leap day
    char buf[32];
    assert_string_equal(xt_time_format(1704153600 + 3725, buf), "2024-01-02T01:02:05Z");
    assert_string_equal(xt_time_format(-1, buf), "1969-12-31T23:59:59Z");
    assert_int_equal(xt_time_weekday(1704153600), 1); // 2024-01-02 was a Tuesday
    assert_int_equal(xt_time_weekday(0), 3);          // 1970-01-01 was a Thursday
    assert_int_equal(xt_time_hour(1704153600 + 3725), 1);
    int y, m, d;
    xt_time_civil_from_days(xt_time_days_from_civil(2000, 2, 29), &y, &m, &d);
    assert_true(y == 2000 && m == 2 && d == 29);
}

static void t_timeframes(void **s) {
    int sec;
    char b[16];
    assert_int_equal(xt_timeframe_parse("15m", &sec), 0);
    assert_int_equal(sec, 900);
    assert_int_equal(xt_timeframe_parse("4h", &sec), 0);
    assert_int_equal(sec, 14400);
    assert_int_equal(xt_timeframe_parse("1d", &sec), 0);
    assert_int_equal(sec, 86400);
    assert_int_equal(xt_timeframe_parse("0m", &sec), XT_EPARSE);
    assert_int_equal(xt_timeframe_parse("15", &sec), XT_EPARSE);
    assert_int_equal(xt_timeframe_parse("15mm", &sec), XT_EPARSE);
    assert_int_equal(xt_timeframe_parse("m", &sec), XT_EPARSE);
    assert_string_equal(xt_timeframe_name(900, b), "15m");
    assert_string_equal(xt_timeframe_name(14400, b), "4h");
    assert_string_equal(xt_timeframe_name(86400, b), "1d");
}

static void t_rng(void **s) {
    xt_rng a, b, c;
    xt_rng_seed(&a, 7);
    xt_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++) assert_true(xt_rng_u64(&a) == xt_rng_u64(&b));
    xt_rng_derive(&a, 7, 0);
    xt_rng_derive(&c, 7, 1);
    int same = 0;
    for (int i = 0; i < 100; i++) same += xt_rng_u64(&a) == xt_rng_u64(&c);
    assert_int_equal(same, 0);
    // Uniform mean ~0.5, normal mean ~0 / sd ~1, below() in range.
    double su = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < 100000; i++) {
        double u = xt_rng_uniform(&b), z = xt_rng_normal(&b);
        assert_true(u >= 0 && u < 1);
        su += u, sn += z, sn2 += z * z;
        assert_true(xt_rng_below(&b, 7) < 7);
    }
    assert_true(fabs(su / 1e5 - 0.5) < 0.01);
    assert_true(fabs(sn / 1e5) < 0.02 && fabs(sn2 / 1e5 - 1) < 0.03);
}

static void t_calendar(void **s) {
    int64_t mon = 1704067200; // 2024-01-01 00:00 UTC, a Monday
    assert_int_equal(xt_calendar_classify("BTCUSD"), XT_ASSET_CRYPTO);
    assert_int_equal(xt_calendar_classify("ETHUSDT"), XT_ASSET_CRYPTO);
    assert_int_equal(xt_calendar_classify("EUR/USD"), XT_ASSET_FOREX);
    assert_int_equal(xt_calendar_classify("AAPL"), XT_ASSET_EQUITY);
    xt_calendar eur, jpy, btc;
    xt_calendar_for_symbol(&eur, "EURUSD");
    xt_calendar_for_symbol(&jpy, "USDJPY");
    xt_calendar_for_symbol(&btc, "BTCUSD");
    // 07:00 Monday: Tokyo only -> JPY trades, EUR (London|NY) does not.
    assert_int_equal(xt_calendar_sessions_at(mon + 7 * 3600), XT_SESSION_TOKYO);
    assert_true(xt_calendar_tradable(&jpy, mon + 7 * 3600) && !xt_calendar_tradable(&eur, mon + 7 * 3600));
    // 14:00: London + New York.
    assert_int_equal(xt_calendar_sessions_at(mon + 14 * 3600), XT_SESSION_LONDON | XT_SESSION_NEWYORK);
    assert_true(xt_calendar_tradable(&eur, mon + 14 * 3600) && !xt_calendar_tradable(&jpy, mon + 17 * 3600));
    // 21:00 closes New York; Saturday is closed for forex, open for crypto.
    assert_false(xt_calendar_tradable(&eur, mon + 21 * 3600));
    int64_t sat = mon + 5 * 86400;
    assert_false(xt_calendar_tradable(&eur, sat + 12 * 3600));
    assert_true(xt_calendar_tradable(&btc, sat + 12 * 3600));
    assert_true(xt_calendar_low_liquidity(sat + 3 * 3600) && !xt_calendar_low_liquidity(sat + 4 * 3600));
    // Vendor calendar: forex bars Mon 00:00 .. Fri 21:00.
    assert_true(xt_calendar_expects_bar(&eur, mon) && !xt_calendar_expects_bar(&eur, mon + 4 * 86400 + 21 * 3600));
}

static void t_atomic_write(void **s) {
    char dir[256], path[512];
    xt_err e = {0};
    xt_test_tmpdir(dir, "core");
    snprintf(path, sizeof path, "%s/a/b/c.bin", dir);
    assert_int_not_equal(xt_file_write_atomic(path, "x", 1, &e), 0); // parent missing
    assert_contains(e.msg, "create temp file");
    char sub[400];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    assert_int_equal(xt_file_mkdirs(sub, &e), 0);
    assert_int_equal(xt_file_write_atomic(path, "hello", 5, &e), 0);
    assert_int_equal(xt_file_write_atomic(path, "bye", 3, &e), 0);
    char *data;
    size_t len;
    assert_int_equal(xt_file_read_all(path, 100, &data, &len, &e), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "bye", 3);
    free(data);
    assert_int_not_equal(xt_file_read_all(path, 2, &data, &len, &e), 0);
    assert_contains(e.msg, "file is 3 bytes, limit is 2");
}

static void t_bars_validate(void **s) {
    xt_bars b;
    xt_err e = {0};
    assert_int_equal(xt_bars_init(&b, "BTCUSD", 900, 0, &e), 0);
    xt_bars_push(&b, 1000, 10, 11, 9, 10.5, 5, &e);
    xt_bars_push(&b, 1900, 10.5, 10, 9, 10.2, 5, &e); // high below open
    assert_int_not_equal(xt_bars_validate(&b, &e), 0);
    assert_contains(e.msg, "BTCUSD: bar 1 (1970-01-01T00:31:40Z): high 10 below max(open, close)");
    b.high[1] = 11;
    b.ts[1] = 1000;
    assert_int_not_equal(xt_bars_validate(&b, &e), 0);
    assert_contains(e.msg, "timestamp duplicates previous");
    b.ts[1] = 1900;
    b.volume[1] = NAN;
    assert_int_not_equal(xt_bars_validate(&b, &e), 0);
    assert_contains(e.msg, "non-finite value");
    b.volume[1] = 1;
    assert_int_equal(xt_bars_validate(&b, &e), 0);
    assert_int_equal(xt_bars_lower_bound(&b, 1500), 1);
    xt_bars_free(&b);
}

// Captures what xt_log_write sends to stderr.
static void s_capture(char *out, size_t cap, xt_log_level lvl, int json) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(2);
    dup2(fds[1], 2);
    xt_log_init('L', XT_LOG_INFO, json);
    xt_debug("hidden %d", 1);
    XT_LOG(lvl, "checkpoint \"%s\" written", "ckpt-1");
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], out, cap - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    xt_log_init('C', XT_LOG_INFO, 0);
}

static void t_log(void **s) {
    char buf[1024], want[64];
    s_capture(buf, sizeof buf, XT_LOG_WARN, 0);
    snprintf(want, sizeof want, "%d:L ", (int)getpid());
    assert_true(strncmp(buf, want, strlen(want)) == 0);
    assert_contains(buf, "Z WARN checkpoint \"ckpt-1\" written\n");
    assert_null(strstr(buf, "hidden")); // below the level: not formatted, not written
    s_capture(buf, sizeof buf, XT_LOG_ERROR, 1);
    assert_contains(buf, "\"role\":\"L\"");
    assert_contains(buf, "\"level\":\"error\",\"msg\":\"checkpoint \\\"ckpt-1\\\" written\"}");
    assert_int_equal(xt_log_level_parse("warn"), XT_LOG_WARN);
    assert_int_equal(xt_log_level_parse("loud"), -1);
}

// ---------------------------------------------------------------- daemon start-up

static void s_daemon_usage(FILE *out) { fprintf(out, "usage: xtrade-test --config FILE\n"); }

static const char *const s_dopts[] = {"--broker", "--run-dir", NULL};
static const xt_daemon_env s_denvs[] = {{"XTRADE_METRICS_PORT", "learner.http_port"}, {NULL, NULL}};
static const xt_daemon_spec s_dspec = {"xtrade-test", 'T', s_daemon_usage, s_dopts, s_denvs};

// xt_daemon_start on a NULL-terminated argument list; what it printed to
// stdout and stderr lands in out. Returns its result (d is kept on GO).
static int s_dstart(xt_daemon *d, char *out, size_t cap, ...) {
    char *argv[16] = {"xtrade-test"};
    int argc = 1;
    va_list ap;
    va_start(ap, cap);
    for (char *a; argc < 15 && (a = va_arg(ap, char *)) != NULL;) argv[argc++] = a;
    va_end(ap);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int so = dup(1), se = dup(2);
    dup2(fds[1], 1), dup2(fds[1], 2);
    int rc = xt_daemon_start(d, &s_dspec, argc, argv);
    fflush(stdout);
    dup2(so, 1), dup2(se, 2);
    close(so), close(se), close(fds[1]);
    ssize_t n = read(fds[0], out, cap - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    return rc;
}

static void t_daemon(void **s) {
    char out[4096], cfgp[512], ep[300];
    snprintf(cfgp, sizeof cfgp, "%s/configs/tiny.yaml", XT_SOURCE_DIR);
    unsetenv("XTRADE_CONFIG"), unsetenv("XTRADE_METRICS_PORT");
    unsetenv("XTRADE_BROKER"), unsetenv("XT_BROKER");
    xt_daemon d;

    // --help / --version: exit 0; bad usage: exit 2 with one sentence.
    assert_int_equal(s_dstart(&d, out, sizeof out, "--help", NULL), 0);
    assert_contains(out, "usage: xtrade-test --config FILE");
    assert_int_equal(s_dstart(&d, out, sizeof out, "--version", NULL), 0);
    assert_contains(out, "xtrade-test " XT_VERSION "\n");
    assert_int_equal(s_dstart(&d, out, sizeof out, "--bogus", NULL), 2);
    assert_contains(out, "xtrade-test: --bogus: unknown option or missing value\nusage: xtrade-test");
    assert_int_equal(s_dstart(&d, out, sizeof out, "--config", NULL), 2);
    assert_contains(out, "xtrade-test: --config: unknown option or missing value");
    assert_int_equal(s_dstart(&d, out, sizeof out, NULL), 2);
    assert_contains(out, "xtrade-test: --config FILE is required (or XTRADE_CONFIG)\n");

    // The file, then the environment, then --set.
    assert_int_equal(s_dstart(&d, out, sizeof out, "--config", cfgp, "--run-dir", "/tmp/r", NULL), XT_DAEMON_GO);
    assert_string_equal(d.cfg->run_id, "tiny");
    assert_int_equal(d.cfg->learner_http_port, 9101); // the default
    assert_string_equal(xt_daemon_option(&d, "--run-dir"), "/tmp/r");
    assert_null(xt_daemon_option(&d, "--broker"));
    assert_null(xt_daemon_option(&d, "--nope"));
    xt_daemon_destroy(&d);
    setenv("XTRADE_CONFIG", cfgp, 1);
    setenv("XTRADE_METRICS_PORT", "9200", 1);
    assert_int_equal(s_dstart(&d, out, sizeof out, NULL), XT_DAEMON_GO);
    assert_int_equal(d.cfg->learner_http_port, 9200);
    xt_daemon_destroy(&d);
    assert_int_equal(s_dstart(&d, out, sizeof out, "--set", "learner.http_port=9300", NULL), XT_DAEMON_GO);
    assert_int_equal(d.cfg->learner_http_port, 9300);

    // Broker endpoint: --broker, else the variables in order, else the config.
    static const char *const vars[] = {"XTRADE_BROKER", "XT_BROKER", NULL};
    xt_daemon_broker(d.cfg, NULL, vars, ep, sizeof ep);
    char want[300];
    snprintf(want, sizeof want, "tcp://%s:%lld", d.cfg->broker_host, (long long)d.cfg->broker_port);
    assert_string_equal(ep, want);
    setenv("XT_BROKER", "tcp://b2:1", 1);
    xt_daemon_broker(d.cfg, "", vars, ep, sizeof ep);
    assert_string_equal(ep, "tcp://b2:1");
    setenv("XTRADE_BROKER", "tcp://b1:1", 1);
    xt_daemon_broker(d.cfg, NULL, vars, ep, sizeof ep);
    assert_string_equal(ep, "tcp://b1:1");
    xt_daemon_broker(d.cfg, "tcp://cli:1", vars, ep, sizeof ep);
    assert_string_equal(ep, "tcp://cli:1");
    unsetenv("XTRADE_BROKER"), unsetenv("XT_BROKER");
    xt_daemon_destroy(&d);

    // Values that do not fit their key: usage errors (2), naming the source.
    setenv("XTRADE_METRICS_PORT", "abc", 1);
    assert_int_equal(s_dstart(&d, out, sizeof out, NULL), 2);
    assert_contains(out, "xtrade-test: XTRADE_METRICS_PORT=abc: ");
    unsetenv("XTRADE_METRICS_PORT");
    assert_int_equal(s_dstart(&d, out, sizeof out, "--set", "learner.mode", NULL), 2);
    assert_contains(out, "xtrade-test: --set learner.mode: expected section.key=value\n");
    assert_int_equal(s_dstart(&d, out, sizeof out, "--set", "learner.modee=sync", NULL), 2);
    assert_contains(out, "learner.modee: unknown key");
    xt_err e = {0};
    assert_int_equal(xt_config_set_arg(NULL, "=3", &e), XT_EINVAL); // no key: cfg is not touched
    assert_string_equal(e.msg, "--set =3: expected section.key=value");
    // A config that cannot be read or does not validate: 1.
    assert_int_equal(s_dstart(&d, out, sizeof out, "--config", "/nonexistent/x.yaml", NULL), 1);
    assert_contains(out, "xtrade-test: ");
    assert_contains(out, "/nonexistent/x.yaml");
    assert_int_equal(s_dstart(&d, out, sizeof out, "--set", "ppo.n_steps=100", NULL), 1); // chunk_len 32
    assert_contains(out, "ppo.n_steps: 100 is not a multiple of ppo.chunk_len 32\n");
    unsetenv("XTRADE_CONFIG");
    xt_log_init('C', XT_LOG_INFO, 0);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_crc),        cmocka_unit_test(t_time),         cmocka_unit_test(t_timeframes),
        cmocka_unit_test(t_rng),        cmocka_unit_test(t_calendar),     cmocka_unit_test(t_atomic_write),
        cmocka_unit_test(t_bars_validate), cmocka_unit_test(t_log),   cmocka_unit_test(t_daemon),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
