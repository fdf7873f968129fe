// dataset.c - config -> bars -> folds -> normalized feature caches.
//
// Builds are deterministic: the same config and input bars give the same
// bytes. Each cache records a source hash (input bars + every config key that
// changes features + the fold window); `data build` reuses files whose hash
// matches. Not a hot path: allocates freely, single-threaded.
#include "dataset.h"

#include "csv.h"
#include "fcache.h"
#include "features.h"
#include "normalizer.h"
#include "synth.h"

#include "../core/crc32.h"
#include "../core/fileio.h"
#include "../core/log.h"
#include "../core/xtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------- bars

static int s_clip(xt_bars *b, int64_t start, int64_t end) {
    int64_t i0 = xt_bars_lower_bound(b, start), i1 = xt_bars_lower_bound(b, end);
    int64_t m = i1 - i0;
    if (i0 > 0 && m > 0) {
        memmove(b->ts, b->ts + i0, (size_t)m * sizeof(int64_t));
        double *cols[5] = {b->open, b->high, b->low, b->close, b->volume};
        for (int c = 0; c < 5; c++) memmove(cols[c], cols[c] + i0, (size_t)m * sizeof(double));
    }
    b->n = m > 0 ? m : 0;
    return 0;
}

int xt_dataset_load_bars(xt_bars *out, const xt_config *cfg, xt_err *err) {
    int k = cfg->data_symbols.n;
    memset(out, 0, sizeof(xt_bars) * (size_t)k);
    char w[384];
    if (cfg->data_source == XT_DATA_SOURCE_SYNTHETIC) {
        const char *names[XT_CFG_LIST_MAX];
        const char **uni;
        int nu;
        xt_synth_universe(&uni, &nu);
        for (int i = 0; i < k; i++) {
            int found = 0;
            for (int j = 0; j < nu; j++) found |= strcmp(uni[j], cfg->data_symbols.v[i]) == 0;
            if (!found) {
                char list[256] = "";
                for (int j = 0; j < nu; j++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "", uni[j]);
                return xt_err_set(err, XT_EINVAL, "%s: unknown symbol \"%s\" (the synthetic market has %s)",
                                  xt_config_where_item(cfg, XT_CFGK_data_symbols, i, w, sizeof w),
                                  cfg->data_symbols.v[i], list);
            }
            names[i] = cfg->data_symbols.v[i];
        }
        xt_synth_opts o;
        xt_synth_opts_default(&o);
        o.seed = (uint64_t)cfg->synth_seed;
        o.start_ts = cfg->data_start;
        o.end_ts = cfg->data_end;
        o.tf_sec = (int)cfg->data_base_timeframe;
        o.n_assets = k;
        o.symbols = names;
        o.patterns = cfg->synth_patterns;
        o.pattern_rate = cfg->synth_pattern_rate;
        o.vol_scale = cfg->synth_vol_scale;
        int nl = 0;
        return xt_synth_generate(out, NULL, 0, &nl, &o, err);
    }
    for (int i = 0; i < k; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.csv", cfg->data_csv_dir, cfg->data_symbols.v[i]);
        if (!xt_file_exists(path)) {
            for (int j = 0; j < i; j++) xt_bars_free(&out[j]);
            return xt_err_set(err, XT_ENOTFOUND, "%s: no file %s for symbol \"%s\"",
                              xt_config_where_item(cfg, XT_CFGK_data_symbols, i, w, sizeof w), path,
                              cfg->data_symbols.v[i]);
        }
        xt_csv_opts o = {0};
        o.format = (xt_csv_format)cfg->data_csv_format;
        o.gaps = (xt_gap_policy)cfg->data_gap_policy;
        o.tf_sec = (int)cfg->data_base_timeframe;
        xt_csv_report rep;
        int rc = xt_csv_load(&out[i], &rep, path, cfg->data_symbols.v[i], &o, err);
        if (rc) {
            for (int j = 0; j < i; j++) xt_bars_free(&out[j]);
            return rc;
        }
        s_clip(&out[i], cfg->data_start, cfg->data_end);
        if (out[i].n < 2) {
            for (int j = 0; j <= i; j++) xt_bars_free(&out[j]);
            return xt_err_set(err, XT_EINVAL, "%s: fewer than 2 bars between data.start and data.end", path);
        }
    }
    return 0;
}

// ---------------------------------------------------------------- folds

int64_t xt_dataset_lookback_sec(int tf_sec) {
    // Longest windows: MACD slow+signal (26+9-1 bars) and EMA50 on the env
    // timeframe; EMA50 and ATR/RSI(14) on 4h. The 1d EMA(200) is a slow trend
    // filter and is not counted (it would force 200-day gaps).
    int64_t env = 50LL * tf_sec, h4 = 50LL * 4 * 3600;
    return env > h4 ? env : h4;
}

int xt_dataset_folds(xt_fold *out, int *n, const xt_config *cfg, xt_err *err) {
    *n = 0;
    int64_t bar = cfg->data_base_timeframe;
    int64_t purge = cfg->folds_purge_days * 86400, look = xt_dataset_lookback_sec((int)bar);
    for (int i = 0; i < cfg->data_timeframes.n; i++) {
        int64_t l = xt_dataset_lookback_sec((int)cfg->data_timeframes.v[i]);
        if (l > look) look = l;
    }
    if (cfg->folds_mode == XT_FOLDS_EXPLICIT) {
        for (int i = 0; i < cfg->folds_explicit.n; i++) {
            const xt_cfg_fold *f = &cfg->folds_explicit.v[i];
            out[i] = (xt_fold){i, f->train_start, f->train_end, f->train_end, f->test_start, f->test_end};
        }
        *n = cfg->folds_explicit.n;
    } else {
        if (purge < look) purge = look;
        int64_t day = 86400, tr = cfg->folds_train_days * day, te = cfg->folds_test_days * day;
        int64_t step = cfg->folds_step_days * day, gap = (purge + day - 1) / day * day;
        int cnt = 0;
        xt_fold tmp[XT_MAX_FOLDS * 4];
        for (int i = 0; cnt < (int)(sizeof tmp / sizeof *tmp); i++) {
            int64_t ts0 = cfg->folds_mode == XT_FOLDS_ROLLING ? cfg->data_start + i * step : cfg->data_start;
            int64_t ts1 = cfg->data_start + tr + i * step;
            int64_t t0 = ts1 + gap, t1 = t0 + te;
            if (t1 > cfg->data_end) break;
            tmp[cnt] = (xt_fold){cnt, ts0, ts1, ts1, t0, t1};
            cnt++;
        }
        int keep = cfg->folds_max_folds > 0 && cfg->folds_max_folds < cnt ? (int)cfg->folds_max_folds : cnt;
        if (keep > XT_MAX_FOLDS) keep = XT_MAX_FOLDS;
        for (int i = 0; i < keep; i++) {
            out[i] = tmp[cnt - keep + i];
            out[i].index = i;
        }
        *n = keep;
        if (keep == 0) {
            char w[384];
            return xt_err_set(err, XT_EINVAL, "%s: no fold fits in data.start..data.end (train %lld d + gap %lld d + test %lld d)",
                              xt_config_where(cfg, XT_CFGK_folds_train_days, w, sizeof w),
                              (long long)cfg->folds_train_days, (long long)(gap / day), (long long)cfg->folds_test_days);
        }
    }
    // Validation tail of each train window (EvalCallback slice), aligned to a bar.
    for (int i = 0; i < *n; i++) {
        xt_fold *f = &out[i];
        int64_t len = (int64_t)((double)(f->train_end - f->train_start) * cfg->ppo_validation_fraction);
        f->val_start = f->train_end - len / bar * bar;
    }
    return 0;
}

const char *xt_dataset_cache_path(char *buf, size_t cap, const xt_config *cfg, const char *shard, int tf_sec,
                                  int fold) {
    char tf[16];
    snprintf(buf, cap, "%s/%s-%s-f%d.xtfc", cfg->data_cache_dir, shard, xt_timeframe_name(tf_sec, tf), fold);
    return buf;
}

// ---------------------------------------------------------------- build

// 64-bit content hash: two crc32 streams with different seeds.
typedef struct {
    uint32_t a, b;
} s_hash;

static void s_hash_add(s_hash *h, const void *p, size_t n) {
    h->a = xt_crc32(h->a, p, n);
    h->b = xt_crc32(h->b ^ 0x9e3779b9u, p, n);
}

static uint64_t s_hash_get(const s_hash *h) { return ((uint64_t)h->a << 32) | h->b; }

static s_hash s_source_hash(const xt_bars *bars, int k, const xt_config *cfg) {
    s_hash h = {0x12345678u, 0x9abcdef0u};
    for (int i = 0; i < k; i++) {
        s_hash_add(&h, bars[i].symbol, strlen(bars[i].symbol));
        s_hash_add(&h, bars[i].ts, sizeof(int64_t) * (size_t)bars[i].n);
        const double *cols[5] = {bars[i].open, bars[i].high, bars[i].low, bars[i].close, bars[i].volume};
        for (int c = 0; c < 5; c++) s_hash_add(&h, cols[c], sizeof(double) * (size_t)bars[i].n);
    }
    // Feature-affecting keys.
    int64_t ints[] = {cfg->features_set, cfg->features_normalizer, cfg->features_corr_window,
                      cfg->features_momentum_window, XT_FCACHE_VERSION};
    s_hash_add(&h, ints, sizeof ints);
    s_hash_add(&h, &cfg->features_clip, sizeof cfg->features_clip);
    return h;
}

// Sample sd of simple returns over non-stale rows with ts in [t0, t1).
static double s_vol(const int64_t *ts, const double *close, const uint8_t *stale, int64_t n, int64_t t0, int64_t t1) {
    double mean = 0, m2 = 0, prev = NAN;
    int64_t cnt = 0;
    for (int64_t r = 0; r < n; r++) {
        if (stale && stale[r]) continue;
        if (ts[r] >= t0 && ts[r] < t1 && isfinite(prev) && prev > 0) {
            double x = close[r] / prev - 1.0;
            cnt++;
            double d = x - mean;
            mean += d / (double)cnt;
            m2 += d * (x - mean);
        }
        prev = close[r];
    }
    double sd = cnt > 1 ? sqrt(m2 / (double)(cnt - 1)) : 0;
    return sd > 1e-9 ? sd : 1e-9;
}

static int64_t s_first_finite(const float *x, int64_t n, int cols) {
    for (int64_t r = 0; r < n; r++) {
        int ok = 1;
        for (int c = 0; c < cols && ok; c++) ok = isfinite(x[r * cols + c]);
        if (ok) return r;
    }
    return n;
}

static int64_t s_lower(const int64_t *ts, int64_t n, int64_t t) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ts[mid] < t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// Normalizes and writes one cache; c has every pointer except the
// normalizer's, feat is modified in place.
static int s_write_cache(xt_fcache *c, float *feat, const uint8_t *scaled, const xt_config *cfg, const xt_fold *fo,
                         const char *path, xt_err *err) {
    int64_t r0 = s_lower(c->ts, c->n, fo->train_start), r1 = s_lower(c->ts, c->n, fo->train_end);
    if (r0 < c->first_row) r0 = c->first_row;
    if (r1 - r0 < 2) {
        char a[32], b[32];
        return xt_err_set(err, XT_EINVAL,
                          "%s: fold %d train window %s..%s has fewer than 2 rows after the indicator warm-up "
                          "(first usable bar %s); move data.start earlier or the fold later",
                          path, fo->index, xt_time_format(fo->train_start, a), xt_time_format(fo->train_end, b),
                          c->first_row < c->n ? xt_time_format(c->ts[c->first_row], b) : "none");
    }
    xt_normalizer nz;
    int rc = xt_normalizer_fit(&nz, feat, c->n, c->n_feat, r0, r1, scaled, cfg->features_normalizer,
                               (float)cfg->features_clip, err);
    if (rc) return xt_err_prefix(err, "%s", path);
    xt_normalizer_apply(&nz, feat, c->n);
    c->center = nz.center, c->scale = nz.scale, c->scaled = nz.scaled;
    c->feat = feat;
    c->norm_kind = cfg->features_normalizer;
    c->train_start = fo->train_start, c->train_end = fo->train_end;
    return xt_fcache_write(path, c, err);
}

static int s_fresh(const char *path, uint64_t hash) {
    xt_fcache c;
    xt_err e;
    return xt_fcache_peek(&c, path, &e) == 0 && c.source_hash == hash;
}

int xt_dataset_build(const xt_config *cfg, int force, xt_dataset_stats *st,
                     void (*progress)(void *arg, const char *line), void *arg, xt_err *err) {
    memset(st, 0, sizeof *st);
    int k = cfg->data_symbols.n;
    xt_fold folds[XT_MAX_FOLDS];
    int nf;
    int rc = xt_dataset_folds(folds, &nf, cfg, err);
    if (rc) return rc;
    rc = xt_file_mkdirs(cfg->data_cache_dir, err);
    if (rc) return rc;
    xt_bars bars[XT_CFG_LIST_MAX];
    rc = xt_dataset_load_bars(bars, cfg, err);
    if (rc) return rc;
    s_hash base_hash = s_source_hash(bars, k, cfg);
    xt_features_opts fo = {(int)cfg->features_corr_window, (int)cfg->features_momentum_window};
    float *feat = NULL;
    double t0 = xt_time_mono();
    for (int ti = 0; ti < cfg->data_timeframes.n && rc == 0; ti++) {
        int tf = (int)cfg->data_timeframes.v[ti];
        xt_features f;
        int built = 0;
        for (int fi = 0; fi < nf && rc == 0; fi++) {
            s_hash h = base_hash;
            // Field by field: the struct's padding bytes are not part of the value.
            int64_t win[5] = {folds[fi].train_start, folds[fi].train_end, folds[fi].val_start,
                              folds[fi].test_start, folds[fi].test_end};
            s_hash_add(&h, win, sizeof win);
            s_hash_add(&h, &tf, sizeof tf);
            int nshards = cfg->env_kind == XT_ENV_KIND_PORTFOLIO ? 1 : k;
            for (int s = 0; s < nshards && rc == 0; s++) {
                const char *shard = cfg->env_kind == XT_ENV_KIND_PORTFOLIO ? "portfolio" : cfg->data_symbols.v[s];
                char path[600], line[800];
                xt_dataset_cache_path(path, sizeof path, cfg, shard, tf, fi);
                uint64_t hv = s_hash_get(&h);
                if (!force && s_fresh(path, hv)) {
                    st->files_reused++;
                    if (progress) snprintf(line, sizeof line, "%s: up to date", path), progress(arg, line);
                    continue;
                }
                if (!built) {
                    rc = xt_features_build(&f, bars, k, tf, &fo, err);
                    if (rc) break;
                    built = 1;
                    int maxc = xt_features_portfolio_cols(k) > XT_FEAT_ASSET_COLS ? xt_features_portfolio_cols(k)
                                                                                   : XT_FEAT_ASSET_COLS;
                    feat = malloc(sizeof(float) * (size_t)f.n * (size_t)maxc);
                    if (!feat) {
                        rc = xt_err_set(err, XT_ENOMEM, "data build: out of memory");
                        break;
                    }
                }
                xt_fcache c;
                memset(&c, 0, sizeof c);
                c.fold = fi, c.tf_sec = tf, c.source_hash = hv;
                char(*names)[XT_FEAT_NAME_MAX] = malloc(XT_FEAT_NAME_MAX * 256);
                uint8_t scaled[256];
                // Per-shard arrays for the asset layout (own rows only).
                int64_t *ts = NULL;
                double *px = NULL;
                uint8_t *stale = NULL;
                if (cfg->env_kind == XT_ENV_KIND_PORTFOLIO) {
                    c.kind = XT_FCACHE_PORTFOLIO, c.k = k, c.n = f.n, c.n_feat = xt_features_portfolio_cols(k);
                    c.ts = f.ts;
                    for (int a = 0; a < k; a++) {
                        snprintf(c.symbol[a], XT_SYMBOL_MAX, "%s", f.symbol[a]);
                        c.cal[a] = f.cal[a];
                        c.open[a] = f.open[a], c.high[a] = f.high[a], c.low[a] = f.low[a], c.close[a] = f.close[a];
                        c.volume[a] = f.volume[a], c.atr[a] = f.atr[a], c.stale[a] = f.stale[a];
                        c.vol_baseline[a] = s_vol(f.ts, f.close[a], f.stale[a], f.n, folds[fi].train_start, folds[fi].train_end);
                    }
                    for (int64_t r = 0; r < f.n; r++) xt_features_portfolio_row(feat + r * c.n_feat, &f, r);
                    xt_features_portfolio_names(&f, names);
                    xt_features_portfolio_scaled(k, scaled);
                } else {
                    int64_t m = 0;
                    for (int64_t r = 0; r < f.n; r++) m += !f.stale[s][r];
                    ts = malloc(sizeof(int64_t) * (size_t)m);
                    px = malloc(sizeof(double) * 6 * (size_t)m);
                    stale = calloc((size_t)m, 1);
                    if (!ts || !px || !stale || !names) {
                        free(ts), free(px), free(stale), free(names);
                        rc = xt_err_set(err, XT_ENOMEM, "data build: out of memory");
                        break;
                    }
                    c.kind = XT_FCACHE_ASSET, c.k = 1, c.n = m, c.n_feat = XT_FEAT_ASSET_COLS;
                    snprintf(c.symbol[0], XT_SYMBOL_MAX, "%s", f.symbol[s]);
                    c.cal[0] = f.cal[s];
                    double *cols[6];
                    for (int j = 0; j < 6; j++) cols[j] = px + (size_t)j * (size_t)m;
                    int64_t o = 0;
                    for (int64_t r = 0; r < f.n; r++) {
                        if (f.stale[s][r]) continue;
                        ts[o] = f.ts[r];
                        cols[0][o] = f.open[s][r], cols[1][o] = f.high[s][r], cols[2][o] = f.low[s][r];
                        cols[3][o] = f.close[s][r], cols[4][o] = f.volume[s][r], cols[5][o] = f.atr[s][r];
                        xt_features_asset_row(feat + o * XT_FEAT_ASSET_COLS, &f, s, r);
                        o++;
                    }
                    c.ts = ts;
                    c.open[0] = cols[0], c.high[0] = cols[1], c.low[0] = cols[2], c.close[0] = cols[3];
                    c.volume[0] = cols[4], c.atr[0] = cols[5], c.stale[0] = stale;
                    c.vol_baseline[0] = s_vol(ts, cols[3], NULL, m, folds[fi].train_start, folds[fi].train_end);
                    xt_features_asset_names(names);
                    xt_features_asset_scaled(scaled);
                }
                c.names = (const char(*)[XT_FEAT_NAME_MAX])names;
                // First usable row: every feature and the ATR defined.
                c.first_row = s_first_finite(feat, c.n, c.n_feat);
                for (int a = 0; a < c.k; a++)
                    while (c.first_row < c.n && !isfinite(c.atr[a][c.first_row])) c.first_row++;
                rc = s_write_cache(&c, feat, scaled, cfg, &folds[fi], path, err);
                if (rc == 0) {
                    st->rows += c.n;
                    st->files_built++;
                    if (progress) {
                        snprintf(line, sizeof line, "%s: %lld rows x %d features (fold %d, first usable %lld)", path,
                                 (long long)c.n, c.n_feat, fi, (long long)c.first_row);
                        progress(arg, line);
                    }
                }
                free(ts), free(px), free(stale), free(names);
            }
        }
        if (built) xt_features_free(&f);
    }
    st->seconds = xt_time_mono() - t0;
    free(feat);
    for (int i = 0; i < k; i++) xt_bars_free(&bars[i]);
    return rc;
}
