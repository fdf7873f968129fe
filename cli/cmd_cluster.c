// cmd_cluster.c - `xtrade cluster up`: a whole cluster as local processes,
// supervised.
//
// Purpose: run broker + learner + N actors on this machine from one config
// (the daemons' binaries sit next to the xtrade binary: build/bin/), follow
// the run with a progress line, and print the report summary at the end.
//
// Processes. Every daemon is a child in one process group of its own (not
// the terminal's: a Ctrl-C reaches only this supervisor, which then stops
// each daemon exactly once with SIGTERM - a second signal would make a
// daemon skip its clean exit). Each child also asks the kernel for SIGTERM
// when its parent dies (PR_SET_PDEATHSIG), so a supervisor killed with -9
// leaves no orphans. stdin is /dev/null; stdout and stderr are appended to
// <run dir>/logs/<name>.log, one "---- started" line per start.
//
// Ports. Everything binds 127.0.0.1 on ephemeral ports (broker.port 0 and
// so on, overridable with --set): the broker writes the port it bound to
// <run dir>/broker.endpoint, which the supervisor hands to the learner and
// actors with --broker. A restarted broker gets that same port back
// (--set broker.port=<port>) so that the peers' reconnects find it.
//
// Supervision. A daemon that dies (signal, non-zero exit, or exit 0 before
// the run is done) is started again after 0.5 s, doubling per crash in the
// last 60 s up to 8 s. Five crashes within 60 s is a crash loop: the run is
// stopped with a message naming the daemon, its last exit and its log. A
// daemon that exits with status 1 or 2 within 3 s of its start (bad config,
// busy port, journal of another plan) is not retried at all.
//
// Stop. SIGINT/SIGTERM: SIGTERM to every daemon (the broker journals
// nothing on stop, the learner checkpoints, actors exit), wait up to
// --stop-timeout seconds, then SIGKILL what is left and its process group.
// The run resumes where it was with the same command.
//
// Threads: one (the loop below); the status client's ZeroMQ context has
// its own I/O threads. The only global is the signal flag.
#include "cli.h"
#include "cli_cluster.h"

#include "core/daemon.h"
#include "core/fileio.h"
#include "core/xtime.h"
#include "market/dataset.h"
#include "wire/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_USAGE                                                                                                   \
    "usage: xtrade cluster up --config FILE [--actors N] [--set section.key=value ...] [--timeout S] [--progress S] " \
    "[--stop-timeout S]"

#define S_MAX_ACTORS 64
#define S_PATH 1024 // run and binary directories
#define S_MAX_SETS 64
#define S_ARGV_MAX (8 + 2 * (S_MAX_SETS + 16))
#define S_LOOP_S 0.1          // supervisor tick
#define S_POLL_S 1.0          // broker status poll period
#define S_CRASH_MAX 5         // crashes within S_CRASH_WINDOW_S that stop the run
#define S_CRASH_WINDOW_S 60.0
#define S_BACKOFF0_S 0.5      // first restart delay, doubled per recent crash
#define S_BACKOFF_MAX_S 8.0
#define S_START_FAIL_S 3.0    // exit 1/2 this soon after a start: a configuration error, not retried
#define S_ENDPOINT_WAIT_S 30.0
#define S_DONE_WAIT_S 15.0    // after the run is done: how long peers get to hear DONE and exit

// The one piece of mutable global state: the last signal, written by the
// handler, read by the loop.
static volatile sig_atomic_t s_signal, s_signals;

static void s_on_signal(int sig) {
    s_signal = sig;
    s_signals = s_signals + 1;
}

// ---------------------------------------------------------------- children

typedef enum { S_BROKER, S_LEARNER, S_ACTOR } s_role;

typedef struct {
    s_role role;
    char name[32];           // "broker-0", "learner-0", "actor-1"
    char bin[S_PATH + 32];   // the daemon's executable
    char log[S_PATH + 64];   // its log file
    char argbuf[16384];      // argv strings of the next start
    char *argv[S_ARGV_MAX];
    int argc;
    size_t argused;
    pid_t pid;               // 0: not running
    double started;          // monotonic time of the last start
    int starts;
    double crashes[S_CRASH_MAX]; // times of the last crashes (ring)
    int n_crashes;
    double restart_at;       // > 0: start again at this monotonic time
    int finished;            // exited 0 at the end of the run
    char last_exit[96];      // "killed by signal 9", "exit status 1"
    off_t log_mark;          // log size at the last start (where its "ready" line will be)
    int ready;
} s_child;

typedef struct {
    // From the command line and the config.
    const char *config;
    char **sets;
    int n_sets, n_actors;
    double timeout_s, progress_s, stop_timeout_s;
    const xt_config *cfg;
    char run_dir[S_PATH], bin_dir[S_PATH], endpoint[600];
    int broker_port;
    // Children: broker, learner, actors.
    s_child *kids;
    int n_kids;
    pid_t pgid;
    // The run as the broker last described it.
    xt_cli_broker *client;
    int have_status, done, phase, fold, n_folds, n_learners, n_actors_seen;
    double progress, actor_sps, lag, last_poll, last_status;
    uint64_t env_steps, budget, updates;
    char run_id[XT_CFG_STR_MAX];
    double t0, last_line;
    int tty, line_open, last_phase, last_fold;
    int stopping; // s_stop_all under way: exits are expected, nothing restarts
    char fatal[8192];
} s_sup;

static void s_say(s_sup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// An event line; ends an open progress line first.
static void s_say(s_sup *s, const char *fmt, ...) {
    if (s->line_open) fputs("\n", stdout), s->line_open = 0;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputs("\n", stdout);
    fflush(stdout);
}

static void s_arg(s_child *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Appends one argument to the child's next argv (built in the parent: a
// forked child may only call async-signal-safe functions before exec).
static void s_arg(s_child *k, const char *fmt, ...) {
    if (k->argc + 1 >= S_ARGV_MAX || k->argused >= sizeof k->argbuf) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(k->argbuf + k->argused, sizeof k->argbuf - k->argused, fmt, ap);
    va_end(ap);
    if (n < 0 || k->argused + (size_t)n + 1 > sizeof k->argbuf) return;
    k->argv[k->argc++] = k->argbuf + k->argused;
    k->argv[k->argc] = NULL;
    k->argused += (size_t)n + 1;
}

// Local-cluster settings, given before the user's --set (which win): every
// socket on loopback, every port ephemeral.
static const char *const s_local_sets[] = {
    "broker.bind=127.0.0.1",   "broker.host=127.0.0.1",      "broker.port=0",
    "broker.http_port=0",      "learner.port_chunks=0",      "learner.port_weights=0",
    "learner.http_port=0",     "learner.advertise_host=127.0.0.1", "actor.http_port=0",
};

static void s_build_argv(s_sup *s, s_child *k) {
    k->argc = 0, k->argused = 0;
    s_arg(k, "%s", k->bin);
    s_arg(k, "--config");
    s_arg(k, "%s", s->config);
    for (size_t i = 0; i < sizeof s_local_sets / sizeof *s_local_sets; i++) s_arg(k, "--set"), s_arg(k, "%s", s_local_sets[i]);
    for (int i = 0; i < s->n_sets; i++) s_arg(k, "--set"), s_arg(k, "%s", s->sets[i]);
    switch (k->role) {
    case S_BROKER:
        s_arg(k, "--run-dir");
        s_arg(k, "%s", s->run_dir);
        // A restart binds the port peers already know.
        if (s->broker_port > 0) s_arg(k, "--set"), s_arg(k, "broker.port=%d", s->broker_port);
        break;
    case S_LEARNER:
        s_arg(k, "--broker");
        s_arg(k, "%s", s->endpoint);
        break;
    case S_ACTOR:
        s_arg(k, "--broker");
        s_arg(k, "%s", s->endpoint);
        s_arg(k, "--id");
        s_arg(k, "%s", k->name);
        break;
    }
}

// Appends one line to the child's log (the parent's own notes).
static void s_log_note(const s_child *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_log_note(const s_child *k, const char *fmt, ...) {
    FILE *f = fopen(k->log, "a");
    if (!f) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static off_t s_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

static int s_spawn(s_sup *s, s_child *k) {
    s_build_argv(s, k);
    char ts[32];
    k->starts++;
    s_log_note(k, "---- xtrade cluster up: start %d of %s at %s", k->starts, k->name, xt_time_format((int64_t)xt_time_wall(), ts));
    k->log_mark = s_file_size(k->log);
    k->ready = 0;
    pid_t parent = getpid(), group = s->pgid;
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(s->fatal, sizeof s->fatal, "cannot start %s: fork: %s", k->name, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls from here to exec.
        if (setpgid(0, group) != 0) setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127); // the supervisor died before the request took
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGPIPE, &sa, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int in = open("/dev/null", O_RDONLY);
        int out = open(k->log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (in >= 0) dup2(in, 0);
        if (out >= 0) dup2(out, 1), dup2(out, 2);
        execv(k->bin, k->argv);
        static const char msg[] = "xtrade cluster up: exec failed\n";
        if (write(2, msg, sizeof msg - 1) < 0) {}
        _exit(127);
    }
    // Parent: the same group request (whichever runs first wins; both agree).
    if (group == 0 || setpgid(pid, group) != 0) setpgid(pid, group ? pid : 0);
    if (s->pgid == 0) s->pgid = pid;
    k->pid = pid;
    k->started = xt_time_mono();
    k->restart_at = 0;
    return 0;
}

// "killed by signal 9 (Killed)" / "exit status 1".
static void s_describe_exit(char *buf, size_t cap, int status) {
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, cap, "exit status %d", WEXITSTATUS(status));
}

// The last `lines` lines of a log, indented, into buf.
static void s_log_tail(const char *path, int lines, char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char tail[4096];
    fseek(f, 0, SEEK_END);
    long size = ftell(f), from = size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    tail[n] = '\0';
    // Walk back over `lines` line breaks (ignoring a final one).
    char *p = tail + n;
    if (p > tail && p[-1] == '\n') *--p = '\0';
    for (int seen = 0; p > tail; p--)
        if (p[-1] == '\n' && ++seen == lines) break;
    size_t o = 0;
    for (char *line = p; *line && o + 8 < cap;) {
        char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        o += (size_t)snprintf(buf + o, cap - o, "    %.*s\n", len, line);
        if (!nl) break;
        line = nl + 1;
    }
}

// Looks for the daemon's "ready" line (its metrics URL) since its last start.
static void s_check_ready(s_sup *s, s_child *k) {
    if (k->ready || !k->pid) return;
    FILE *f = fopen(k->log, "r");
    if (!f) return;
    char line[2048];
    fseek(f, k->log_mark, SEEK_SET);
    while (!k->ready && fgets(line, sizeof line, f)) {
        const char *r = strstr(line, "ready");
        const char *m = r ? strstr(r, "metrics http://") : NULL;
        if (!m) continue;
        m += strlen("metrics ");
        int n = (int)strcspn(m, " ,;)\n");
        k->ready = 1;
        s_say(s, "%-10s ready (pid %d): metrics %.*s/metrics", k->name, (int)k->pid, n, m);
    }
    fclose(f);
}

// ---------------------------------------------------------------- status

// Polls the broker (non-blocking) and keeps what the progress line shows.
static void s_poll(s_sup *s, int ask, double wait_s) {
    xt_err err = {0};
    if (ask && xt_cli_broker_ask(s->client, &err) == 0) s->last_poll = xt_time_mono();
    const xt_wire_status *st;
    while (xt_cli_broker_wait(s->client, wait_s, &st) == 1) {
        wait_s = 0;
        s->have_status = 1;
        s->last_status = xt_time_mono();
        snprintf(s->run_id, sizeof s->run_id, "%s", st->run_id);
        s->phase = st->phase, s->fold = (int)st->fold, s->n_folds = (int)st->n_folds;
        s->progress = st->progress, s->env_steps = st->env_steps, s->budget = st->step_budget;
        s->done |= st->phase == XT_WIRE_PHASE_DONE;
        // Actors' env steps/s, the learner's version (= its updates) and the
        // mean lag of the versions the actors act with.
        double sps = 0, lsum = 0;
        int na = 0, nl = 0, nv = 0, training = 0;
        uint64_t lv = 0;
        for (uint32_t i = 0; i < st->n_workers; i++) {
            const xt_wire_worker *w = &st->workers[i];
            if (w->role != XT_WIRE_ROLE_LEARNER) continue;
            nl++;
            // A training learner's version wins over another row's.
            int tr = w->state == XT_WIRE_STATE_RUNNING || w->state == XT_WIRE_STATE_WAITING;
            if (tr || !training) lv = w->policy_version, training = tr;
        }
        for (uint32_t i = 0; i < st->n_workers; i++) {
            const xt_wire_worker *w = &st->workers[i];
            if (w->role != XT_WIRE_ROLE_ACTOR) continue;
            na++, sps += w->steps_per_s;
            // Versions are comparable only within one learner's sequence of
            // one fold: an actor still evaluating, idle, or waiting for a
            // fold's first weights reports the previous fold's version (or
            // 0), far above or below the learner's new count; such rows are
            // left out (this made the lag negative at fold starts).
            if (w->state != XT_WIRE_STATE_RUNNING && w->state != XT_WIRE_STATE_WAITING) continue;
            if (w->policy_version == 0) continue; // no weights yet (or the fold's very first version)
            // Heartbeats are up to one period apart: an actor may already act
            // with a version the learner's last heartbeat did not announce.
            // Its lag is 0 (it runs the newest weights), never negative; the
            // versions are unsigned, so compare before subtracting.
            lsum += lv > w->policy_version ? (double)(lv - w->policy_version) : 0.0;
            nv++;
        }
        s->n_learners = nl, s->n_actors_seen = na, s->actor_sps = sps, s->updates = lv;
        s->lag = nv && training ? lsum / nv : NAN;
    }
}

static void s_progress_line(s_sup *s, int force) {
    double now = xt_time_mono();
    if (!s->have_status) return;
    int changed = s->phase != s->last_phase || s->fold != s->last_fold;
    if (!s->tty && !force && !changed && now - s->last_line < s->progress_s) return;
    if (s->tty && !force && !changed && now - s->last_line < 1.0) return;
    s->last_line = now;
    char what[160], lag[32];
    if (s->phase == XT_WIRE_PHASE_TRAIN)
        snprintf(what, sizeof what, "train %5.1f%% (%llu/%llu env steps)", 100.0 * s->progress,
                 (unsigned long long)s->env_steps, (unsigned long long)s->budget);
    else if (s->phase == XT_WIRE_PHASE_EVAL)
        snprintf(what, sizeof what, "eval %5.1f%% of the shards", 100.0 * s->progress);
    else
        snprintf(what, sizeof what, "%s", xt_wire_phase_name(s->phase));
    if (isfinite(s->lag) && s->phase == XT_WIRE_PHASE_TRAIN) snprintf(lag, sizeof lag, "%.1f", s->lag);
    else snprintf(lag, sizeof lag, "-");
    int el = (int)(now - s->t0);
    char line[512];
    snprintf(line, sizeof line,
             "[%2d:%02d] fold %d (of %d) | %s | %.0f env steps/s | %llu updates | policy lag %s | %d learner%s, %d actor%s",
             el / 60, el % 60, s->fold, s->n_folds, what, s->actor_sps,
             (unsigned long long)s->updates, lag, s->n_learners, s->n_learners == 1 ? "" : "s", s->n_actors_seen,
             s->n_actors_seen == 1 ? "" : "s");
    if (s->tty && !changed) {
        printf("\r%s\033[K", line);
        s->line_open = 1;
    } else {
        if (s->line_open) fputs("\n", stdout);
        printf(s->tty ? "\r%s\033[K" : "%s\n", line);
        s->line_open = s->tty;
    }
    fflush(stdout);
    s->last_phase = s->phase, s->last_fold = s->fold;
}

// ---------------------------------------------------------------- exits

static int s_recent_crashes(const s_child *k, double now) {
    int n = 0;
    for (int i = 0; i < k->n_crashes && i < S_CRASH_MAX; i++) n += now - k->crashes[i] <= S_CRASH_WINDOW_S;
    return n;
}

static void s_fatal_child(s_sup *s, const s_child *k, const char *why) {
    char tail[1600];
    s_log_tail(k->log, 6, tail, sizeof tail);
    snprintf(s->fatal, sizeof s->fatal, "%s (%s) %s; stopping the run. Its log: %s%s%s", k->name,
             k->bin + (strrchr(k->bin, '/') ? strrchr(k->bin, '/') - k->bin + 1 : 0), why, k->log,
             tail[0] ? ", last lines:\n" : "", tail);
}

// A child exited with `status`: finished, restart later, or stop the run.
static void s_on_exit(s_sup *s, s_child *k, int status) {
    double now = xt_time_mono(), ran = now - k->started;
    k->pid = 0;
    s_describe_exit(k->last_exit, sizeof k->last_exit, status);
    s_log_note(k, "---- xtrade cluster up: %s %s after %.1f s", k->name, k->last_exit, ran);
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (clean && !s->done && s->client) {
        // A peer exits 0 on DONE: ask the broker whether the run is over
        // (the DONE may have come between two polls).
        s_poll(s, 1, 0.5);
    }
    if (s->done || s_signals || s->stopping) {
        // The run is over (or being stopped): nothing is restarted.
        k->finished = clean || s->done;
        return;
    }
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 1 || WEXITSTATUS(status) == 2) && ran < S_START_FAIL_S) {
        char why[512];
        snprintf(why, sizeof why, "exited with %s %.1f s after its start (a configuration or start-up error)",
                 k->last_exit, ran);
        s_fatal_child(s, k, why);
        return;
    }
    k->crashes[k->n_crashes++ % S_CRASH_MAX] = now;
    int recent = s_recent_crashes(k, now);
    if (recent >= S_CRASH_MAX) {
        char why[512];
        snprintf(why, sizeof why, "crashed %d times within %.0f s (last: %s): crash loop", recent, S_CRASH_WINDOW_S,
                 k->last_exit);
        s_fatal_child(s, k, why);
        return;
    }
    double delay = S_BACKOFF0_S * pow(2.0, recent - 1);
    if (delay > S_BACKOFF_MAX_S) delay = S_BACKOFF_MAX_S;
    k->restart_at = now + delay;
    s_say(s, "%-10s %s%s: restarting in %.1f s (crash %d of %d allowed within %.0f s; log %s)", k->name, k->last_exit,
          clean ? " before the run was done" : "", delay, recent, S_CRASH_MAX - 1, S_CRASH_WINDOW_S, k->log);
}

static s_child *s_by_pid(s_sup *s, pid_t pid) {
    for (int i = 0; i < s->n_kids; i++)
        if (s->kids[i].pid == pid) return &s->kids[i];
    return NULL;
}

// Reaps every exited child; returns how many are still running.
static int s_reap(s_sup *s) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        s_child *k = s_by_pid(s, pid);
        if (k) s_on_exit(s, k, status);
    }
    int alive = 0;
    for (int i = 0; i < s->n_kids; i++) alive += s->kids[i].pid > 0;
    return alive;
}

// SIGTERM to every running child, then SIGKILL after the timeout (or a
// further signal). Returns when none is left.
static void s_stop_all(s_sup *s, double timeout_s, const char *why) {
    s->stopping = 1;
    int alive = s_reap(s);
    if (alive == 0) return;
    s_say(s, "stopping %d daemon%s (%s): SIGTERM, then SIGKILL after %.0f s", alive, alive == 1 ? "" : "s", why,
          timeout_s);
    // Actors and the learner first, the broker last: it tells everyone to
    // stop too, and peers should not see it vanish before their own stop.
    for (int i = s->n_kids - 1; i >= 0; i--)
        if (s->kids[i].pid > 0) kill(s->kids[i].pid, SIGTERM);
    int signals = s_signals;
    double deadline = xt_time_mono() + timeout_s, next_note = xt_time_mono() + 5.0;
    while ((alive = s_reap(s)) > 0 && xt_time_mono() < deadline && s_signals == signals) {
        if (xt_time_mono() > next_note) {
            next_note += 5.0;
            for (int i = 0; i < s->n_kids; i++)
                if (s->kids[i].pid > 0) s_say(s, "  waiting for %s (pid %d)", s->kids[i].name, (int)s->kids[i].pid);
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (alive > 0) {
        for (int i = 0; i < s->n_kids; i++)
            if (s->kids[i].pid > 0) {
                s_say(s, "  %s (pid %d) did not stop: SIGKILL", s->kids[i].name, (int)s->kids[i].pid);
                kill(s->kids[i].pid, SIGKILL);
            }
    }
    // Anything else left in the group (nothing, normally).
    if (s->pgid > 0) kill(-s->pgid, SIGKILL);
    for (int i = 0; i < s->n_kids; i++)
        if (s->kids[i].pid > 0) {
            int status;
            waitpid(s->kids[i].pid, &status, 0);
            s->kids[i].pid = 0;
        }
}

// ---------------------------------------------------------------- start

// <run dir>/broker.endpoint of the broker just started: waits until it is
// written (it was removed before the start) or the broker exits.
static int s_wait_endpoint(s_sup *s, s_child *b) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/broker.endpoint", s->run_dir);
    double deadline = xt_time_mono() + S_ENDPOINT_WAIT_S;
    while (xt_time_mono() < deadline && !s_signals) {
        char *text = NULL;
        size_t len = 0;
        if (xt_file_exists(path) && xt_file_read_all(path, 4096, &text, &len, NULL) == 0) {
            text[strcspn(text, "\r\n")] = '\0';
            const char *colon = strrchr(text, ':');
            int port = colon ? atoi(colon + 1) : 0;
            if (port > 0) {
                snprintf(s->endpoint, sizeof s->endpoint, "%s", text);
                s->broker_port = port;
                free(text);
                return 0;
            }
        }
        free(text);
        if (s_reap(s), b->pid == 0) {
            if (!s->fatal[0]) s_fatal_child(s, b, "exited before it was ready");
            return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!s->fatal[0] && !s_signals)
        snprintf(s->fatal, sizeof s->fatal, "the broker wrote no %s within %.0f s; see %s", path, S_ENDPOINT_WAIT_S,
                 b->log);
    return -1;
}

// Refuses to start a second cluster on a run whose broker answers.
static int s_check_not_running(s_sup *s) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/broker.endpoint", s->run_dir);
    char *text = NULL;
    size_t len = 0;
    if (!xt_file_exists(path) || xt_file_read_all(path, 4096, &text, &len, NULL) != 0) return 0;
    text[strcspn(text, "\r\n")] = '\0';
    xt_err err = {0};
    xt_cli_broker *c = xt_cli_broker_new(s->cfg, text, &err);
    const xt_wire_status *st;
    int busy = c && xt_cli_broker_ask(c, &err) == 0 && xt_cli_broker_wait(c, 0.7, &st) == 1;
    xt_cli_broker_destroy(&c);
    if (busy)
        snprintf(s->fatal, sizeof s->fatal,
                 "a broker of run %s already answers at %s (see `xtrade status --run-dir %s`); stop it first", s->cfg->run_id,
                 text, s->run_dir);
    else
        unlink(path); // stale: written by a broker that is gone
    free(text);
    return busy ? -1 : 0;
}

static int s_find_bins(s_sup *s) {
    char self[S_PATH];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(s->fatal, sizeof s->fatal, "cannot find the xtrade binary's directory (/proc/self/exe: %s)", strerror(errno));
        return -1;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    snprintf(s->bin_dir, sizeof s->bin_dir, "%s", self);
    static const char *const names[] = {"xtrade-broker", "xtrade-learner", "xtrade-actor"};
    for (int i = 0; i < s->n_kids; i++) {
        s_child *k = &s->kids[i];
        snprintf(k->bin, sizeof k->bin, "%s/%s", s->bin_dir, names[k->role]);
        if (access(k->bin, X_OK) != 0) {
            snprintf(s->fatal, sizeof s->fatal,
                     "%s not found (cluster up starts the daemons that sit next to xtrade; build them with `make "
                     "build`)",
                     k->bin);
            return -1;
        }
    }
    return 0;
}

// ---------------------------------------------------------------- summary

// Column index of name in a CSV's header (its first line), or -1.
static int s_col(const char *header, const char *name) {
    int i = 0;
    size_t n = strlen(name);
    const char *eol = strchr(header, '\n');
    for (const char *p = header; p && (!eol || p < eol); i++) {
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\n' || p[n] == '\0' || p[n] == '\r')) return i;
        p = strchr(p, ',');
        if (p) p++;
    }
    return -1;
}

// The number after `key` following `anchor` in report.json; NaN when absent or null.
static double s_json_num(const char *text, const char *anchor, const char *key) {
    const char *a = strstr(text, anchor);
    const char *k = a ? strstr(a + strlen(anchor), key) : NULL;
    if (!k) return NAN;
    char *end;
    double v = strtod(k + strlen(key), &end);
    return end == k + strlen(key) ? NAN : v;
}

// One line from report.json: consistency, DSR and PBO of the run.
static void s_headline(s_sup *s) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/report.json", s->run_dir);
    char *text = NULL;
    size_t len = 0;
    if (xt_file_read_all(path, 256u << 20, &text, &len, NULL) != 0) return;
    const char *ov = "\"overall\": {\"consistency\": {";
    double ca = s_json_num(text, ov, "\"agent\": "), cb = s_json_num(text, ov, "\"buy_and_hold\": ");
    double dsr = s_json_num(text, "\n \"dsr\": {", "\"value\": "), pbo = s_json_num(text, "\n \"pbo\": {", "\"value\": ");
    free(text);
    char d[32], p[32];
    snprintf(d, sizeof d, isfinite(dsr) ? "%.3f" : "n/a", dsr);
    snprintf(p, sizeof p, isfinite(pbo) ? "%.3f" : "n/a", pbo);
    printf("consistency (share of folds with a positive return, mean over shards): agent %.0f%%, buy & hold %.0f%%; "
           "deflated Sharpe ratio of the best shard %s; PBO %s\n",
           100.0 * ca, 100.0 * cb, d, p);
}

// Field i of a CSV line (no quoted commas in these columns) as a number; NaN when empty.
static double s_field(const char *line, int i, char *text, size_t cap) {
    const char *p = line;
    for (int k = 0; k < i && p; k++) {
        p = strchr(p, ',');
        if (p) p++;
    }
    if (!p) return NAN;
    size_t n = strcspn(p, ",\r\n");
    if (text) snprintf(text, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    if (n == 0) return NAN;
    char *end;
    double v = strtod(p, &end);
    return end == p ? NAN : v;
}

typedef struct {
    double ret, sharpe, mdd;
    int n, n_ret, n_sh, n_mdd, profitable;
} s_acc;

static void s_fmt(char *buf, size_t cap, double sum, int n, double scale) {
    if (n) snprintf(buf, cap, "%.2f", scale * sum / n);
    else snprintf(buf, cap, "-");
}

// The per-fold table of agent vs baselines, from report.csv.
static void s_summary(s_sup *s) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/report.csv", s->run_dir);
    char *text = NULL;
    size_t len = 0;
    xt_err err = {0};
    if (xt_file_read_all(path, 64u << 20, &text, &len, &err) != 0) {
        printf("no report summary: %s\n", err.msg);
        return;
    }
    int c_fold = s_col(text, "fold"), c_str = s_col(text, "strategy"), c_ret = s_col(text, "total_return"),
        c_sh = s_col(text, "sharpe"), c_mdd = s_col(text, "max_drawdown");
    if (c_fold < 0 || c_str < 0 || c_ret < 0 || c_sh < 0 || c_mdd < 0) {
        printf("no report summary: %s has no fold/strategy/total_return/sharpe/max_drawdown columns\n", path);
        free(text);
        return;
    }
    static const char *const strat[] = {"agent", "buy_and_hold", "equal_weight", "cash"};
    enum { NS = 4, NF = XT_MAX_FOLDS + 1 };
    s_acc acc[NF][NS];
    memset(acc, 0, sizeof acc);
    int max_fold = -1;
    for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line, '\n')) {
        line++;
        char name[32];
        double f = s_field(line, c_fold, NULL, 0);
        s_field(line, c_str, name, sizeof name);
        int si = -1;
        for (int k = 0; k < NS; k++)
            if (strcmp(name, strat[k]) == 0) si = k;
        if (!isfinite(f) || f < 0 || f >= XT_MAX_FOLDS || si < 0) continue;
        int fi = (int)f;
        if (fi > max_fold) max_fold = fi;
        double r = s_field(line, c_ret, NULL, 0), sh = s_field(line, c_sh, NULL, 0), dd = s_field(line, c_mdd, NULL, 0);
        for (int g = 0; g < 2; g++) {
            s_acc *a = &acc[g ? NF - 1 : fi][si];
            a->n++;
            if (isfinite(r)) a->ret += r, a->n_ret++, a->profitable += r > 0;
            if (isfinite(sh)) a->sharpe += sh, a->n_sh++;
            if (isfinite(dd)) a->mdd += dd, a->n_mdd++;
        }
    }
    free(text);
    printf("\n%-6s %-14s %10s %10s %10s %12s\n", "fold", "strategy", "return%", "sharpe", "maxdd%", "profitable");
    for (int fi = 0; fi <= max_fold + 1; fi++) {
        int row = fi <= max_fold ? fi : NF - 1;
        for (int si = 0; si < NS; si++) {
            s_acc *a = &acc[row][si];
            if (a->n == 0) continue;
            char r[32], sh[32], dd[32], fold[16];
            s_fmt(r, sizeof r, a->ret, a->n_ret, 100.0);
            s_fmt(sh, sizeof sh, a->sharpe, a->n_sh, 1.0);
            s_fmt(dd, sizeof dd, a->mdd, a->n_mdd, 100.0);
            if (si == 0) snprintf(fold, sizeof fold, row == NF - 1 ? "all" : "%d", fi);
            else fold[0] = '\0';
            printf("%-6s %-14s %10s %10s %10s %8d/%-3d\n", fold, strat[si], r, sh, dd, a->profitable, a->n_ret);
        }
    }
    printf("(means over the shards of each fold: total return, Sharpe, max drawdown; profitable = shards with a "
           "positive return)\n");
    s_headline(s);
}

// ---------------------------------------------------------------- command

static int s_parse_num(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    double x = strtod(v, &end);
    if (*end || !(x >= lo && x <= hi)) return xt_cli_fail(2, "cluster up: %s %s: expected a number in %g..%g", opt, v, lo, hi);
    *out = x;
    return 0;
}

int xt_cli_cluster_up(int argc, char **argv) {
    static s_sup sup;
    s_sup *s = &sup;
    memset(s, 0, sizeof *s);
    char *sets[S_MAX_SETS];
    double actors = 2;
    s->sets = sets, s->timeout_s = 0, s->progress_s = 10, s->stop_timeout_s = 30;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) return xt_cli_fail(2, "cluster up: unexpected argument '%s' (%s)", a, S_USAGE);
        int rc = 0;
        if (strcmp(a, "--config") == 0) s->config = argv[++i];
        else if (strcmp(a, "--set") == 0) {
            if (s->n_sets >= S_MAX_SETS) return xt_cli_fail(2, "cluster up: more than %d --set options", S_MAX_SETS);
            sets[s->n_sets++] = argv[++i];
        } else if (strcmp(a, "--actors") == 0) rc = s_parse_num(a, argv[++i], 0, S_MAX_ACTORS, &actors);
        else if (strcmp(a, "--timeout") == 0) rc = s_parse_num(a, argv[++i], 1, 1e7, &s->timeout_s);
        else if (strcmp(a, "--progress") == 0) rc = s_parse_num(a, argv[++i], 0.1, 3600, &s->progress_s);
        else if (strcmp(a, "--stop-timeout") == 0) rc = s_parse_num(a, argv[++i], 0.1, 3600, &s->stop_timeout_s);
        else return xt_cli_fail(2, "cluster up: unexpected argument '%s' (%s)", a, S_USAGE);
        if (rc) return rc;
    }
    s->n_actors = (int)actors;
    if (actors != s->n_actors) return xt_cli_fail(2, "cluster up: --actors must be a whole number");
    static xt_config cfg;
    int rc = xt_cli_load_config(&cfg, s->config, sets, s->n_sets);
    if (rc) return rc;
    s->cfg = &cfg;
    if ((size_t)snprintf(s->run_dir, sizeof s->run_dir, "%s/%s", cfg.run_dir, cfg.run_id) >= sizeof s->run_dir)
        return xt_cli_fail(1, "cluster up: run directory %s/%s: path too long", cfg.run_dir, cfg.run_id);
    s->tty = isatty(1);
    s->last_phase = s->last_fold = -1;

    // ---- the children's table: broker, learner, actors
    static s_child kids[2 + S_MAX_ACTORS]; // ~20 KiB each: not on the stack
    memset(kids, 0, sizeof kids);
    s->kids = kids;
    s->n_kids = 2 + s->n_actors;
    for (int i = 0; i < s->n_kids; i++) {
        s_child *k = &kids[i];
        char name[32];
        k->role = i == 0 ? S_BROKER : i == 1 ? S_LEARNER : S_ACTOR;
        if (i < 2) snprintf(name, sizeof name, "%s-0", i == 0 ? "broker" : "learner");
        else snprintf(name, sizeof name, "actor-%d", i - 2);
        memcpy(k->name, name, sizeof name);
        snprintf(k->log, sizeof k->log, "%.1000s/logs/%.31s.log", s->run_dir, name);
    }
    xt_err err = {0};
    char logs[S_PATH + 8];
    snprintf(logs, sizeof logs, "%.1000s/logs", s->run_dir);
    if (s_find_bins(s) != 0) return xt_cli_fail(1, "cluster up: %s", s->fatal);
    if (xt_file_mkdirs(logs, &err)) return xt_cli_fail(1, "cluster up: %s", err.msg);

    // ---- signals (czmq's own handlers off first), then the status client
    xt_wire_sys_init();
    xt_daemon_handle_signals(s_on_signal);
    if (s_check_not_running(s)) return xt_cli_fail(1, "cluster up: %s", s->fatal);

    // ---- feature caches, built once here rather than raced by every daemon
    s->t0 = xt_time_mono();
    printf("cluster up: run %s in %s, %d actor%s; logs in %s/\n", cfg.run_id, s->run_dir, s->n_actors,
           s->n_actors == 1 ? "" : "s", logs);
    xt_dataset_stats dst;
    if (xt_dataset_build(&cfg, 0, &dst, NULL, NULL, &err)) return xt_cli_fail(1, "cluster up: %s", err.msg);
    if (dst.files_built)
        printf("feature caches: %d built, %d up to date (%.1f s)\n", dst.files_built, dst.files_reused, dst.seconds);
    fflush(stdout);

    // ---- the daemons' environment: every /metrics on loopback; nothing
    // that would point them elsewhere (the command line says it all).
    setenv("XTRADE_METRICS_ADDR", "127.0.0.1", 1);
    static const char *const unset[] = {"XTRADE_METRICS_PORT", "XTRADE_BROKER", "XT_BROKER", "XTRADE_CONFIG",
                                        "XTRADE_ACTOR_ID"};
    for (size_t i = 0; i < sizeof unset / sizeof *unset; i++) unsetenv(unset[i]);

    // ---- broker, then (with its endpoint) the learner and the actors
    int interrupted = 0, finished = 0;
    if (s_spawn(s, &kids[0]) || s_wait_endpoint(s, &kids[0])) goto stop;
    s_say(s, "%-10s pid %d, control %s", kids[0].name, (int)kids[0].pid, s->endpoint);
    s->client = xt_cli_broker_new(&cfg, s->endpoint, &err);
    if (!s->client) {
        snprintf(s->fatal, sizeof s->fatal, "status client: %s", err.msg);
        goto stop;
    }
    for (int i = 1; i < s->n_kids; i++)
        if (s_spawn(s, &kids[i])) goto stop;
    s_say(s, "%-10s pid %d; %d actor%s started; `xtrade status --run-dir %s` shows the workers", kids[1].name,
          (int)kids[1].pid, s->n_actors, s->n_actors == 1 ? "" : "s", s->run_dir);

    // ---- supervise until the run is done, a signal, a crash loop or the timeout
    double done_at = 0;
    for (;;) {
        if (s_signals) {
            interrupted = s_signal;
            break;
        }
        int alive = s_reap(s);
        if (s->fatal[0]) break;
        double now = xt_time_mono();
        if (kids[0].finished && done_at == 0) done_at = now;
        if (kids[0].finished) {
            // The broker exits after the run's DONE; peers have heard it by then.
            if (alive == 0) {
                finished = 1;
                break;
            }
            if (now - done_at > S_DONE_WAIT_S) {
                finished = 1;
                s_stop_all(s, s->stop_timeout_s, "the run is done but they have not exited");
                break;
            }
        }
        for (int i = 0; i < s->n_kids; i++) {
            s_child *k = &kids[i];
            if (k->restart_at > 0 && now >= k->restart_at && !k->finished) {
                if (s_spawn(s, k)) break;
                s_say(s, "%-10s restarted (pid %d, start %d)", k->name, (int)k->pid, k->starts);
            }
            s_check_ready(s, k);
        }
        if (s->fatal[0]) break;
        if (now - s->last_poll >= S_POLL_S) s_poll(s, 1, 0);
        else s_poll(s, 0, 0);
        s_progress_line(s, 0);
        if (s->timeout_s > 0 && now - s->t0 > s->timeout_s) {
            snprintf(s->fatal, sizeof s->fatal, "the run did not finish within --timeout %.0f s", s->timeout_s);
            break;
        }
        struct timespec ts = {0, (long)(S_LOOP_S * 1e9)};
        nanosleep(&ts, NULL);
    }

stop:
    if (s_signals && !interrupted) interrupted = s_signal;
    if (!finished) {
        s_stop_all(s, s->stop_timeout_s,
                   interrupted ? (interrupted == SIGINT ? "interrupted" : "terminated") : "the run failed");
    }
    xt_cli_broker_destroy(&s->client);
    if (s->line_open) fputs("\n", stdout), s->line_open = 0;
    int el = (int)(xt_time_mono() - s->t0);
    if (s->fatal[0] && !interrupted) {
        fflush(stdout);
        return xt_cli_fail(1, "cluster up: %s", s->fatal);
    }
    if (interrupted) {
        printf("run %s stopped after %d:%02d; `xtrade cluster up` with the same config resumes it\n", cfg.run_id,
               el / 60, el % 60);
        return 128 + interrupted;
    }
    printf("run %s finished in %d:%02d\n", cfg.run_id, el / 60, el % 60);
    s_summary(s);
    printf("\nreport: %s/report.html (and report.json, report.csv)\n", s->run_dir);
    return 0;
}
