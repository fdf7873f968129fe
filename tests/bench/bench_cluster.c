// bench_cluster.c - a whole local cluster's throughput: `xtrade cluster up`
// (broker + 1 CPU learner + 2 actors, async mode, loopback) on the demo
// market and model (6 symbols x 15m/1h = 12 shards, LSTM 64 + MLP 128/64,
// 16 envs per actor), over one fold's TRAIN phase of a fixed number of env
// steps. The figures come from the daemons' own /metrics, scraped when TRAIN
// starts (the first env steps are counted) and when it ends (the broker's
// phase leaves train):
//
//   cluster_env_steps_per_s        actors' xtrade_env_steps_total / wall time
//   cluster_trained_steps_per_s    env steps the learner trained / wall time
//                                  (chunks dropped for policy lag are not trained)
//   actor_<stage>_share            xtrade_stage_seconds_total of the actors
//   learner_<stage>_share          ... of the learner, as a fraction of the
//                                  wall time (actors: summed over both, so up
//                                  to 2.0 with two busy actors)
//
// The run dir, caches and config live in a temp dir that is removed at the
// end. Needs build/bin/xtrade and the three daemons next to it.
#include "benchutil.h"

#include "core/fileio.h"
#include "core/xtime.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_STEPS 300000 // env steps of the measured fold
#define S_STR2(x) #x
#define S_STR(x) S_STR2(x)
#define S_TIMEOUT 300.0

static const char *s_config =
    "run: {id: bench, seed: 42}\n"
    "data:\n"
    "  source: synthetic\n"
    "  symbols: [BTCUSD, ETHUSD, SOLUSD, EURUSD, GBPUSD, USDJPY]\n"
    "  timeframes: [15m, 1h]\n"
    "  start: 2021-01-01\n"
    "  end: 2023-07-01\n"
    "env: {kind: asset, episode_length: 1024}\n"
    "model: {lstm_hidden: 64, lstm_layers: 1, mlp: [128, 64]}\n"
    "ppo: {n_envs: 32, n_steps: 256, batch_size: 4096, n_epochs: 4, threads: 1}\n"
    "learner: {mode: async}\n"
    "actor: {envs: 16}\n"
    "broker: {heartbeat_ms: 500, liveness_ms: 5000}\n"
    "folds:\n"
    "  mode: explicit\n"
    "  explicit:\n"
    "    - {train_start: 2022-01-01, train_end: 2023-01-01, test_start: 2023-01-01, test_end: 2023-07-01}\n";

// ---------------------------------------------------------------- HTTP

// GET http://127.0.0.1:PORT/metrics into buf (NUL-terminated); 0 or -1.
static int s_get(int port, char *buf, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    size_t n = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
        ssize_t r;
        while (n + 1 < cap && (r = read(fd, buf + n, cap - n - 1)) > 0) n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

// Sum of every sample whose line starts with prefix ("xtrade_env_steps_total{").
static double s_sum(const char *text, const char *prefix) {
    double sum = 0;
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, prefix, n) != 0) continue;
        const char *sp = strchr(p, ' ');
        const char *nl = strchr(p, '\n');
        if (sp && (!nl || sp < nl)) sum += strtod(sp + 1, NULL);
    }
    return sum;
}

// ---------------------------------------------------------------- the run

typedef struct {
    double t, env_steps, trained;
    double actor[3], learner[3]; // stage seconds: env_step inference encode_send / ingest learn publish
} s_sample;

static const char *const s_astage[3] = {"env_step", "inference", "encode_send"};
static const char *const s_lstage[3] = {"ingest", "learn", "publish"};

static int s_scrape(const int *ports, int n, s_sample *out, char *buf, size_t cap) {
    memset(out, 0, sizeof *out);
    out->t = xt_time_mono();
    for (int i = 0; i < n; i++) {
        if (s_get(ports[i], buf, cap)) return -1;
        int learner = strstr(buf, "role=\"learner\"") != NULL;
        char key[96];
        for (int s = 0; s < 3; s++) {
            snprintf(key, sizeof key, "xtrade_stage_seconds_total{stage=\"%s\"}", learner ? s_lstage[s] : s_astage[s]);
            (learner ? out->learner : out->actor)[s] += s_sum(buf, key);
        }
        if (learner) out->trained += s_sum(buf, "xtrade_learner_samples_total");
        else out->env_steps += s_sum(buf, "xtrade_env_steps_total{");
    }
    return 0;
}

// "name   ready (pid N): metrics http://127.0.0.1:PORT/metrics" lines ->
// the broker's port and the others'.
static int s_ports(const char *out_path, int *ports, int *broker) {
    FILE *f = fopen(out_path, "r");
    char line[512], name[32];
    int n = 0, pid, port;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%31s ready (pid %d): metrics http://127.0.0.1:%d", name, &pid, &port) == 3) {
            if (strcmp(name, "broker-0") == 0) *broker = port;
            else if (n < 8) ports[n++] = port;
        }
    if (f) fclose(f);
    return n;
}

int main(void) {
    char self[PATH_MAX], xt[PATH_MAX + 16], dir[256], cfg[300], out[300];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) return fprintf(stderr, "bench_cluster: cannot read /proc/self/exe\n"), 1;
    self[k] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(xt, sizeof xt, "%s/../bin/xtrade", self);
    if (access(xt, X_OK) != 0) return fprintf(stderr, "bench_cluster: %s not built\n", xt), 1;
    snprintf(dir, sizeof dir, "%s/xt-bench-cluster-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return fprintf(stderr, "bench_cluster: mkdtemp failed\n"), 1;
    snprintf(cfg, sizeof cfg, "%s/bench.yaml", dir);
    snprintf(out, sizeof out, "%s/up.out", dir);
    if (xt_file_write_atomic(cfg, s_config, strlen(s_config), NULL)) return 1;

    xt_bench_header("cluster up: broker + 1 CPU learner + 2 actors, async, demo market and model");
    fflush(stdout); // the child must not inherit (and print) our buffer
    pid_t up = fork();
    if (up == 0) {
        if (chdir(dir) != 0 || !freopen(out, "w", stdout) || dup2(fileno(stdout), 2) < 0) _exit(126);
        execl(xt, xt, "cluster", "up", "--config", cfg, "--actors", "2", "--progress", "5", "--set",
              "ppo.total_steps=" S_STR(S_STEPS), (char *)NULL);
        _exit(127);
    }
    static char buf[1 << 20];
    int ports[8], n = 0, broker = 0, rc = 1;
    s_sample a = {0}, b = {0};
    int started = 0;
    double deadline = xt_time_mono() + S_TIMEOUT;
    while (xt_time_mono() < deadline) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (waitpid(up, NULL, WNOHANG) == up) {
            up = 0;
            fprintf(stderr, "bench_cluster: cluster up ended early; see %s\n", out);
            break;
        }
        if (n < 3 || !broker) {
            n = s_ports(out, ports, &broker);
            continue;
        }
        if (s_get(broker, buf, sizeof buf)) continue;
        int train = strstr(buf, "xtrade_phase{phase=\"train\"} 1") != NULL;
        s_sample cur;
        if (s_scrape(ports, n, &cur, buf, sizeof buf)) continue;
        if (!started && train && cur.env_steps > 0) a = cur, started = 1;
        else if (started && train) b = cur;
        else if (started && !train) {
            if (b.t == 0) b = cur;
            rc = 0;
            break;
        }
    }
    if (up > 0) {
        kill(up, SIGINT);
        waitpid(up, NULL, 0);
    }
    if (rc == 0 && b.t > a.t) {
        double wall = b.t - a.t;
        char conf[160];
        snprintf(conf, sizeof conf, "%d env steps, 12 shards, 2 actors x 16 envs, LSTM 64, async", S_STEPS);
        xt_bench_record("cluster_env_steps_per_s", (b.env_steps - a.env_steps) / wall, "steps/s", conf);
        // samples_total counts each sample once per epoch: divide by n_epochs (4).
        xt_bench_record("cluster_trained_steps_per_s", (b.trained - a.trained) / 4.0 / wall, "steps/s", conf);
        for (int s = 0; s < 3; s++) {
            char name[64];
            snprintf(name, sizeof name, "actor_%s_share", s_astage[s]);
            xt_bench_record(name, (b.actor[s] - a.actor[s]) / wall, "s/s", "summed over 2 actors");
        }
        for (int s = 0; s < 3; s++) {
            char name[64];
            snprintf(name, sizeof name, "learner_%s_share", s_lstage[s]);
            xt_bench_record(name, (b.learner[s] - a.learner[s]) / wall, "s/s", "learner");
        }
        printf("measured over %.1f s of TRAIN\n", wall);
    } else {
        fprintf(stderr, "bench_cluster: no TRAIN phase measured (see %s)\n", out);
        return 1;
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_cluster: could not remove %s\n", dir);
    return 0;
}
