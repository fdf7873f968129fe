// runner.c - fold loop of `train --local` and the checkpoint evaluation.
//
// Train, per fold: open (and build) the caches, create the trainer,
// optionally warm-start from the previous fold's best weights, iterate until
// ppo.total_steps with a progress line at least every few seconds, validate
// every ppo.eval_every updates (checkpoint each time, ckpt-best on a new best
// validation Sharpe), then reload ckpt-best FROM DISK and evaluate it on the
// test window through the same function `eval --checkpoint` uses, so both
// print the same numbers. Not a hot path; one thread.
#include "rl/runner.h"

#include "core/fileio.h"
#include "core/log.h"
#include "core/xtime.h"
#include "rl/evaluate.h"
#include "rl/trainer.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROGRESS_SEC 3.0

// ---- a progress ticker for the update
//
// One PPO update is a single call that can run for tens of seconds (seed
// 003: 1,920 one-chunk minibatches). A helper thread prints an "updating"
// line every PROGRESS_SEC while it runs. It is safe because the main thread
// prints nothing between s_ticker_start and s_ticker_stop, and the ticker
// touches nothing but its own struct and `out`.
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int stop, running, fold;
    int64_t step, total;
    double t0;
    FILE *out;
} s_ticker;

static void *s_tick(void *arg) {
    s_ticker *k = arg;
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)PROGRESS_SEC;
        while (!k->stop && pthread_cond_timedwait(&k->cv, &k->mu, &until) == 0) {}
        if (k->stop) break;
        fprintf(k->out, "fold %d | step %lld/%lld | updating for %.0f s\n", k->fold, (long long)k->step,
                (long long)k->total, xt_time_mono() - k->t0);
        fflush(k->out);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

static void s_ticker_start(s_ticker *k, FILE *out, int fold, int64_t step, int64_t total) {
    memset(k, 0, sizeof *k);
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    k->out = out, k->fold = fold, k->step = step, k->total = total, k->t0 = xt_time_mono();
    k->running = pthread_create(&k->th, NULL, s_tick, k) == 0; // no ticker is no error
}

static void s_ticker_stop(s_ticker *k) {
    if (k->running) {
        pthread_mutex_lock(&k->mu);
        k->stop = 1;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->th, NULL);
    }
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
}

// ---- the test evaluation (shared by train and eval)

static int s_test(xt_trainer *t, int kind, const xt_rl_shard *shards, int n, const xt_fold *f, const char *out_dir,
                  FILE *out, xt_err *err) {
    xt_eval_result *res = calloc((size_t)n, sizeof *res);
    xt_metrics *agent = calloc((size_t)n, sizeof *agent);
    xt_eval_csv *csv = NULL;
    int rc = 0;
    if (!res || !agent) {
        rc = xt_err_set(err, XT_ENOMEM, "eval: out of memory");
        goto done;
    }
    if (out_dir && !(csv = xt_eval_csv_new(shards, n, err))) {
        rc = err ? err->code : XT_ENOMEM;
        goto done;
    }
    if ((rc = xt_trainer_eval(t, XT_RL_TEST, agent, csv ? xt_eval_csv_step : NULL, csv, err))) goto done;
    for (int s = 0; s < n && rc == 0; s++) {
        res[s].agent = agent[s];
        rc = xt_eval_baselines(kind, &shards[s], XT_RL_TEST, xt_trainer_env_params(t), res[s].base, err);
    }
    if (rc) goto done;
    char a[32], b[32], title[160];
    snprintf(title, sizeof title, "test metrics: fold %d, %s .. %s, deterministic policy", f->index,
             xt_time_format(f->test_start, a), xt_time_format(f->test_end, b));
    xt_eval_print(out, title, shards, n, res);
    fflush(out);
    if (out_dir) {
        char path[1024];
        snprintf(path, sizeof path, "%s/metrics.json", out_dir);
        if (!(rc = xt_eval_csv_write(csv, out_dir, err))) rc = xt_eval_write_json(path, f->index, XT_RL_TEST, shards, n, res, err);
    }
done:
    xt_eval_csv_destroy(&csv);
    free(res);
    free(agent);
    return rc;
}

// ---- progress

static void s_line(FILE *out, int fold, const xt_trainer *t, int64_t total, double rate, const char *tail) {
    fprintf(out, "fold %d | step %lld/%lld | %.0f steps/s | %s\n", fold, (long long)xt_trainer_env_steps(t),
            (long long)total, rate, tail);
    fflush(out);
}

static void s_update_line(FILE *out, int fold, const xt_trainer *t, int64_t total, const xt_train_iter *it) {
    char tail[512], ep[128];
    const xt_rollout_stats *r = &it->roll;
    const xt_ppo_report *p = &it->ppo;
    if (r->episodes)
        snprintf(ep, sizeof ep, "episodes %lld return %.3f sharpe %.3f", (long long)r->episodes,
                 r->return_sum / r->episodes, r->sharpe_sum / r->episodes);
    else
        snprintf(ep, sizeof ep, "episodes 0");
    snprintf(tail, sizeof tail,
             "update %lld | %s | policy %.4f value %.4f entropy %.4f kl %.5f clip %.3f ev %.3f%s%s | collect %.1fs "
             "update %.1fs",
             (long long)it->updates, ep, p->policy_loss, p->value_loss, p->entropy, p->approx_kl, p->clip_fraction,
             p->explained_variance, p->kl_stop ? " kl-stop" : "", p->skipped ? " (non-finite skips)" : "",
             it->t_collect, it->t_update);
    double sec = it->t_collect + it->t_update;
    s_line(out, fold, t, total, sec > 0 ? (double)r->steps / sec : 0.0, tail);
}

// ---- one fold

static int s_fold(const xt_config *cfg, int k, const char *run_dir, FILE *out, xt_err *err) {
    xt_shards *sh = NULL;
    xt_trainer *t = NULL;
    char dir[800], path[900], best[900];
    snprintf(dir, sizeof dir, "%s/fold-%d", run_dir, k);
    snprintf(best, sizeof best, "%s/ckpt-best.xtck", dir);
    int rc = xt_file_mkdirs(dir, err);
    if (rc || (rc = xt_shards_open(&sh, cfg, k, 1, err))) goto done;
    const xt_rl_shard *shards = xt_shards_list(sh);
    const int n = xt_shards_count(sh);
    const xt_fold *f = xt_shards_fold(sh);
    if (!(t = xt_trainer_new(cfg, shards, n, k, err))) {
        rc = err ? err->code : XT_EINVAL;
        goto done;
    }
    if (cfg->folds_warm_start && k > 0) {
        char prev[900];
        snprintf(prev, sizeof prev, "%s/fold-%d/ckpt-best.xtck", run_dir, k - 1);
        // weights only, and the previous fold's normalizer differs by design
        if (xt_file_exists(prev)) {
            if ((rc = xt_trainer_load(t, prev, XT_TRAINER_LOAD_WARM, err))) goto done;
            fprintf(out, "fold %d: warm start from %s\n", k, prev);
        }
    }
    const xt_model_layout *lay = xt_trainer_layout(t);
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(out, "fold %d: train %s .. %s, validation .. %s, test %s .. %s; %d shard%s; %zu params; %lld steps per update\n",
            k, xt_time_format(f->train_start, a), xt_time_format(f->val_start, b), xt_time_format(f->train_end, c),
            xt_time_format(f->test_start, d), xt_time_format(f->test_end, e), n, n == 1 ? "" : "s", lay->n_params,
            (long long)xt_trainer_steps_per_iter(t));
    fflush(out);
    const int64_t total = cfg->ppo_total_steps;
    const int J = xt_trainer_chunks_per_env(t);
    double best_sharpe = -INFINITY, last = xt_time_mono();
    int have_best = 0, validated_last = 0;
    while (xt_trainer_env_steps(t) < total) {
        xt_train_iter it;
        memset(&it, 0, sizeof it);
        double t0 = xt_time_mono();
        int64_t s0 = xt_trainer_env_steps(t), per_chunk = xt_trainer_steps_per_iter(t) / J;
        for (int j = 0; j < J; j++) {
            if ((rc = xt_trainer_collect(t, j, j + 1, err))) goto done;
            double now = xt_time_mono();
            if (now - last >= PROGRESS_SEC && j + 1 < J) {
                char tail[96];
                snprintf(tail, sizeof tail, "collecting %d/%d chunks", j + 1, J);
                fprintf(out, "fold %d | step %lld/%lld | %.0f steps/s | %s\n", k, (long long)(s0 + per_chunk * (j + 1)),
                        (long long)total, per_chunk * (j + 1) / (now - t0), tail);
                fflush(out);
                last = now;
            }
        }
        it.t_collect = xt_time_mono() - t0;
        xt_rollout_stats_take(xt_trainer_rollout(t), &it.roll);
        s_ticker tick;
        s_ticker_start(&tick, out, k, s0 + xt_trainer_steps_per_iter(t), total);
        rc = xt_trainer_update(t, NULL, &it, err);
        s_ticker_stop(&tick);
        if (rc) goto done;
        s_update_line(out, k, t, total, &it);
        last = xt_time_mono();
        validated_last = 0;
        if (cfg->ppo_eval_every > 0 && it.updates % cfg->ppo_eval_every == 0) {
            double sh_val = NAN;
            int vr = xt_trainer_validate(t, &sh_val, err);
            if (vr && vr != XT_ENOTFOUND) {
                rc = vr;
                goto done;
            }
            snprintf(path, sizeof path, "%s/ckpt-%lld.xtck", dir, (long long)xt_trainer_env_steps(t));
            if ((rc = xt_trainer_save(t, path, sh_val, err))) goto done;
            int better = vr == 0 && sh_val > best_sharpe;
            if (better) {
                best_sharpe = sh_val, have_best = 1;
                if ((rc = xt_trainer_save(t, best, sh_val, err))) goto done;
            }
            fprintf(out, "fold %d | validation sharpe %.4f (best %.4f)%s -> %s\n", k, sh_val, best_sharpe,
                    better ? " new best" : "", path);
            validated_last = 1;
        }
    }
    // the final weights: checkpoint, and compete for best when validation exists
    if (!validated_last) {
        double sh_val = NAN;
        int vr = cfg->ppo_eval_every > 0 ? xt_trainer_validate(t, &sh_val, err) : XT_ENOTFOUND;
        if (vr && vr != XT_ENOTFOUND) {
            rc = vr;
            goto done;
        }
        snprintf(path, sizeof path, "%s/ckpt-%lld.xtck", dir, (long long)xt_trainer_env_steps(t));
        if ((rc = xt_trainer_save(t, path, sh_val, err))) goto done;
        if (vr == 0 && sh_val > best_sharpe) {
            best_sharpe = sh_val, have_best = 1;
            if ((rc = xt_trainer_save(t, best, sh_val, err))) goto done;
        }
    }
    // without any validation the best checkpoint is the final one
    if (!have_best && (rc = xt_trainer_save(t, best, NAN, err))) goto done;
    if (isfinite(best_sharpe)) fprintf(out, "fold %d | best checkpoint %s (validation sharpe %.4f)\n", k, best, best_sharpe);
    else fprintf(out, "fold %d | best checkpoint %s (final weights: no validation)\n", k, best);
    // the test evaluation reads the best weights back from disk, as `eval --checkpoint` does
    if ((rc = xt_trainer_load(t, best, XT_TRAINER_LOAD_EVAL, err))) goto done;
    snprintf(path, sizeof path, "%s/eval", dir);
    rc = s_test(t, (int)cfg->env_kind, shards, n, f, path, out, err);
done:
    xt_trainer_destroy(&t);
    xt_shards_destroy(&sh);
    return rc;
}

int xt_rl_train(const xt_config *cfg, int fold, const char *root, FILE *out, xt_err *err) {
    int nf = 0;
    int rc = xt_shards_fold_count(cfg, &nf, err);
    if (rc) return rc;
    if (fold >= nf)
        return xt_err_set(err, XT_EINVAL, "--fold %d: the config's plan has %d fold%s (0..%d)", fold, nf,
                          nf == 1 ? "" : "s", nf - 1);
    char run_dir[600], path[700];
    snprintf(run_dir, sizeof run_dir, "%s/%s", root ? root : cfg->run_dir, cfg->run_id);
    if ((rc = xt_file_mkdirs(run_dir, err))) return rc;
    // the frozen effective config
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return xt_err_set(err, XT_ENOMEM, "train: out of memory");
    xt_config_dump(cfg, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/config.yaml", run_dir);
    rc = xt_file_write_atomic(path, text, len, err);
    free(text);
    if (rc) return rc;
    for (int k = fold < 0 ? 0 : fold; k < (fold < 0 ? nf : fold + 1) && rc == 0; k++) rc = s_fold(cfg, k, run_dir, out, err);
    return rc;
}

// ---- eval --checkpoint

int xt_rl_eval(const xt_config *cfg, const char *ckpt, int fold, const char *out_dir, FILE *out, xt_err *err) {
    int rc = 0;
    if (fold < 0 && (rc = xt_trainer_ckpt_fold(ckpt, &fold, err))) return rc;
    xt_shards *sh = NULL;
    xt_trainer *t = NULL;
    if ((rc = xt_shards_open(&sh, cfg, fold, 1, err))) return rc;
    if (!(t = xt_trainer_new(cfg, xt_shards_list(sh), xt_shards_count(sh), fold, err))) {
        rc = err ? err->code : XT_EINVAL;
    } else if (!(rc = xt_trainer_load(t, ckpt, XT_TRAINER_LOAD_EVAL, err))) {
        rc = s_test(t, (int)cfg->env_kind, xt_shards_list(sh), xt_shards_count(sh), xt_shards_fold(sh), out_dir, out,
                    err);
    }
    xt_trainer_destroy(&t);
    xt_shards_destroy(&sh);
    return rc;
}
