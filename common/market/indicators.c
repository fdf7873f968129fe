// indicators.c - SMA, EMA, RSI, ATR, ADX/DI, MACD, Bollinger, CCI, stochastic, OBV.
//
// Purpose: the TA-Lib/TTR indicator definitions the feature builder needs,
// as plain loops over double arrays (definitions and warm-up indices are in
// indicators.h and docs/indicators.md).
// Invariants: every output row depends only on inputs at or before it (causal,
// so a prefix computes bit-identical rows); warm-up rows are NaN; rolling sums
// are recomputed exactly at every index that is a multiple of XT_IND_RESYNC
// and wherever a removed value would leave cancellation error behind.
// Ownership: the caller owns every array; nothing here allocates.
// Threads: no state at all - any thread, any number at once on distinct outputs.
#include "indicators.h"

#include <math.h>

// ---------------------------------------------------------------- helpers

static void s_fill_nan(double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = NAN;
}

// Sum of x[0..p-1], left to right (the exact window sum at a resync).
static double s_sum(const double *x, int p) {
    double s = 0.0;
    for (int j = 0; j < p; j++) s += x[j];
    return s;
}

// Sum of |x[j] - m| over j in [0, p), four partial sums.
static double s_absdev4(const double *x, int p, double m) {
    double a = 0.0, b = 0.0, c = 0.0, d = 0.0;
    int j = 0;
    for (; j + 4 <= p; j += 4) {
        a += fabs(x[j] - m), b += fabs(x[j + 1] - m);
        c += fabs(x[j + 2] - m), d += fabs(x[j + 3] - m);
    }
    for (; j < p; j++) a += fabs(x[j] - m);
    return (a + b) + (c + d);
}

// Sum of (x[j] - c) over j in [0, p), four partial sums. With c = x[0], a flat
// window sums to exactly 0, so its mean is exactly c.
static double s_sumdiff4(const double *x, int p, double c) {
    double a = 0.0, b = 0.0, e = 0.0, d = 0.0;
    int j = 0;
    for (; j + 4 <= p; j += 4) a += x[j] - c, b += x[j + 1] - c, e += x[j + 2] - c, d += x[j + 3] - c;
    for (; j < p; j++) a += x[j] - c;
    return (a + b) + (e + d);
}

// Sum of squared deviations of x[0..p-1] from their mean, two-pass with the
// mean shifted by x[0] (a flat window gives exactly 0).
static double s_sqdev(const double *x, int p) {
    double m = x[0] + s_sumdiff4(x, p, x[0]) / p, s = 0.0;
    for (int j = 0; j < p; j++) s += (x[j] - m) * (x[j] - m);
    return s;
}

// True range of a bar given the previous close.
static inline double s_tr(double h, double l, double prev_close) {
    double r = h - l;
    double a = fabs(h - prev_close), b = fabs(l - prev_close);
    if (a > r) r = a;
    if (b > r) r = b;
    return r;
}

// RSI from Wilder averages; a flat window (no gain, no loss) is neutral 50.
static inline double s_rsi(double gain, double loss) {
    double t = gain + loss;
    return t > 0.0 ? 100.0 * (gain / t) : 50.0;
}

// Window sum for row i of a rolling window of p, given the previous row's sum
// in *sum (x[i-p+1..i] finite; x[i-p] too when run > p). Slides by one, or recomputes exactly
// (returning 1): at the first full window (run == p), on resync rows, and when
// the removed value dwarfs the new window (|old| > 1024 |mean|: the subtraction
// cancelled ten or more bits, e.g. an outlier leaving).
static inline int s_window_sum(double *sum, const double *x, int64_t i, int p, int64_t run) {
    if (run > p && (i & (XT_IND_RESYNC - 1)) != 0) {
        double old = x[i - p];
        *sum += x[i] - old;
        if (!(fabs(old) * p > 1024.0 * fabs(*sum))) return 0;
    }
    *sum = s_sum(x + i - p + 1, p);
    return 1;
}

// ---------------------------------------------------------------- moving averages

void xt_ind_sma(double *out, const double *x, int64_t n, int period) {
    if (n <= 0) return;
    if (period < 1) {
        s_fill_nan(out, n);
        return;
    }
    double sum = 0.0;
    int64_t run = 0; // consecutive finite inputs ending at i
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) {
            run = 0;
            out[i] = NAN;
            continue;
        }
        if (++run < period) {
            out[i] = NAN;
            continue;
        }
        s_window_sum(&sum, x, i, period, run);
        out[i] = sum / period;
    }
}

void xt_ind_ema(double *out, const double *x, int64_t n, int period) {
    if (n <= 0) return;
    if (period < 1) {
        s_fill_nan(out, n);
        return;
    }
    const double k = 2.0 / (period + 1.0);
    double ema = 0.0, seed = 0.0;
    int64_t run = 0; // consecutive finite inputs ending at i
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) { // a gap: restart, reseed from the next `period` values
            run = 0;
            seed = 0.0;
            out[i] = NAN;
            continue;
        }
        if (++run < period) {
            seed += v;
            out[i] = NAN;
            continue;
        }
        if (run == period)
            ema = (seed + v) / period; // seed: SMA of the first `period` values
        else
            ema = (v - ema) * k + ema; // e += k (x - e), TA-Lib's operation order
        out[i] = ema;
    }
}

// ---------------------------------------------------------------- Wilder: RSI, ATR, ADX

void xt_ind_rsi(double *out, const double *close, int64_t n, int period) {
    if (n <= 0) return;
    if (period < 1 || n <= period) {
        s_fill_nan(out, n);
        return;
    }
    s_fill_nan(out, period);
    // Seed: simple means of the gains and losses of changes 1..period.
    double gain = 0.0, loss = 0.0;
    for (int64_t i = 1; i <= period; i++) {
        double d = close[i] - close[i - 1];
        if (d > 0.0) gain += d;
        else loss -= d;
    }
    gain /= period, loss /= period;
    out[period] = s_rsi(gain, loss);
    // Wilder: a = (a (p-1) + x) / p.
    for (int64_t i = period + 1; i < n; i++) {
        double d = close[i] - close[i - 1];
        gain = (gain * (period - 1) + (d > 0.0 ? d : 0.0)) / period;
        loss = (loss * (period - 1) + (d < 0.0 ? -d : 0.0)) / period;
        out[i] = s_rsi(gain, loss);
    }
}

void xt_ind_atr(double *out, const double *high, const double *low, const double *close,
                int64_t n, int period) {
    if (n <= 0) return;
    if (period < 1 || n <= period) {
        s_fill_nan(out, n);
        return;
    }
    s_fill_nan(out, period);
    // Seed: mean of TR[1..period] (TR needs the previous close, so none at 0).
    double atr = 0.0;
    for (int64_t i = 1; i <= period; i++) atr += s_tr(high[i], low[i], close[i - 1]);
    atr /= period;
    out[period] = atr;
    for (int64_t i = period + 1; i < n; i++) {
        atr = (atr * (period - 1) + s_tr(high[i], low[i], close[i - 1])) / period;
        out[i] = atr;
    }
}

void xt_ind_adx(double *adx, double *plus_di, double *minus_di, const double *high,
                const double *low, const double *close, int64_t n, int period) {
    if (n <= 0) return;
    int64_t warm_di = period < 1 ? n : (period < n ? period : n);
    int64_t warm_adx = period < 1 ? n : (2 * (int64_t)period - 1 < n ? 2 * (int64_t)period - 1 : n);
    s_fill_nan(plus_di, warm_di);
    s_fill_nan(minus_di, warm_di);
    s_fill_nan(adx, warm_adx);
    if (warm_di == n) return;
    // TA-Lib seeding: plain sums of DM and TR over bars 1..p-1; from bar p on,
    // Wilder's running sum S = S - S/p + x (so the first DI is at bar p).
    double sp = 0.0, sm = 0.0, st = 0.0, sum_dx = 0.0, a = 0.0;
    for (int64_t i = 1; i < n; i++) {
        double up = high[i] - high[i - 1], down = low[i - 1] - low[i];
        double pdm = (up > 0.0 && up > down) ? up : 0.0;     // +DM
        double mdm = (down > 0.0 && down > up) ? down : 0.0; // -DM
        double tr = s_tr(high[i], low[i], close[i - 1]);
        if (i < period) {
            sp += pdm, sm += mdm, st += tr;
            continue;
        }
        sp = sp - sp / period + pdm;
        sm = sm - sm / period + mdm;
        st = st - st / period + tr;
        double pdi = st > 0.0 ? 100.0 * (sp / st) : 0.0;
        double mdi = st > 0.0 ? 100.0 * (sm / st) : 0.0;
        plus_di[i] = pdi, minus_di[i] = mdi;
        double dsum = pdi + mdi;
        double dx = dsum > 0.0 ? 100.0 * (fabs(pdi - mdi) / dsum) : 0.0;
        // ADX: mean of the first p DX (bars p..2p-1), then Wilder.
        if (i < 2 * (int64_t)period - 1) {
            sum_dx += dx;
            continue;
        }
        if (i == 2 * (int64_t)period - 1)
            a = (sum_dx + dx) / period;
        else
            a = (a * (period - 1) + dx) / period;
        adx[i] = a;
    }
}

// ---------------------------------------------------------------- MACD, Bollinger, CCI, stochastic, OBV

void xt_ind_macd(double *line, double *signal, double *hist, const double *close, int64_t n,
                 int fast, int slow, int sig) {
    if (n <= 0) return;
    // hist holds the slow EMA until the last step (no scratch needed).
    xt_ind_ema(line, close, n, fast);
    xt_ind_ema(hist, close, n, slow);
    for (int64_t i = 0; i < n; i++) line[i] -= hist[i]; // NaN until both EMAs exist
    // Signal: EMA of the line, seeded after the line's leading NaNs.
    xt_ind_ema(signal, line, n, sig);
    for (int64_t i = 0; i < n; i++) hist[i] = line[i] - signal[i];
}

void xt_ind_bbands(double *lower, double *mid, double *upper, double *width,
                   const double *close, int64_t n, int period, double k) {
    if (n <= 0) return;
    if (period < 1) {
        s_fill_nan(lower, n), s_fill_nan(mid, n), s_fill_nan(upper, n), s_fill_nan(width, n);
        return;
    }
    const double *x = close;
    double sum = 0.0, m2 = 0.0; // window sum and sum of squared deviations
    int64_t run = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) run = 0;
        else run++;
        if (run < period) {
            lower[i] = mid[i] = upper[i] = width[i] = NAN;
            continue;
        }
        // Window sum exactly as xt_ind_sma computes it, so mid == SMA bit for bit.
        const double *w = x + i - period + 1;
        double mean_old = sum / period, m2_old = m2;
        int exact = s_window_sum(&sum, x, i, period, run);
        double mean = sum / period;
        if (exact) {
            m2 = s_sqdev(w, period); // two-pass
        } else {
            // Slide: with d = new - old, M2 += d (new - mean' + old - mean).
            double old = x[i - period];
            m2 += (v - old) * (v - mean + old - mean_old);
            // The update cancels badly when the removed value held half of M2
            // or more (an outlier leaving, or the last move leaving a window
            // that is now flat): recompute two-pass then, so the sd is right
            // at once and a flat window gets exactly 0, not rounding noise.
            // (m2 < 0 is a last guard against rounding.)
            double dev_old = old - mean_old;
            if (dev_old * dev_old >= 0.5 * m2_old || m2 < 0.0) m2 = s_sqdev(w, period);
        }
        double sd = sqrt(m2 / period); // population sd
        mid[i] = mean;
        upper[i] = mean + k * sd;
        lower[i] = mean - k * sd;
        width[i] = mean != 0.0 ? (upper[i] - lower[i]) / mean : NAN;
    }
}

void xt_ind_cci(double *out, const double *high, const double *low, const double *close,
                int64_t n, int period) {
    if (n <= 0) return;
    if (period < 1 || n < period) {
        s_fill_nan(out, n);
        return;
    }
    // out first holds the typical price; rows are then finished from the end
    // backwards, so the window out[i-p+1..i] is still typical prices at row i.
    for (int64_t i = 0; i < n; i++) out[i] = (high[i] + low[i] + close[i]) / 3.0;
    for (int64_t i = n - 1; i >= period - 1; i--) {
        const double *w = out + i - period + 1;
        // Mean shifted by the first value: exact for a flat window, so its
        // deviation and mean deviation are both 0 (CCI 0), not rounding noise.
        double mean = w[0] + s_sumdiff4(w, period, w[0]) / period;
        double md = s_absdev4(w, period, mean) / period; // mean absolute deviation
        double dev = w[period - 1] - mean;
        out[i] = (md != 0.0 && dev != 0.0) ? dev / (0.015 * md) : 0.0;
    }
    s_fill_nan(out, period - 1);
}

void xt_ind_stoch(double *fastk, double *fastd, double *slowd, const double *high,
                  const double *low, const double *close, int64_t n, int k_period,
                  int d_period, int slow_period) {
    if (n <= 0) return;
    if (k_period < 1 || d_period < 1 || slow_period < 1) {
        s_fill_nan(fastk, n), s_fill_nan(fastd, n), s_fill_nan(slowd, n);
        return;
    }
    // Raw %K over the last k bars. hi/lo index the latest extreme in the
    // window; the window is rescanned only when that extreme drops out.
    int64_t hi = -1, lo = -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t s = i - k_period + 1;
        if (s < 0) {
            fastk[i] = NAN;
            continue;
        }
        if (hi < s) {
            hi = s;
            for (int64_t j = s + 1; j <= i; j++)
                if (high[j] >= high[hi]) hi = j;
        } else if (high[i] >= high[hi]) {
            hi = i;
        }
        if (lo < s) {
            lo = s;
            for (int64_t j = s + 1; j <= i; j++)
                if (low[j] <= low[lo]) lo = j;
        } else if (low[i] <= low[lo]) {
            lo = i;
        }
        double range = high[hi] - low[lo];
        fastk[i] = range > 0.0 ? 100.0 * (close[i] - low[lo]) / range : 50.0;
    }
    // fastD = SMA_d(fastK) (TA-Lib's slowK), slowD = SMA_s(fastD); the SMAs
    // skip the leading NaNs.
    xt_ind_sma(fastd, fastk, n, d_period);
    xt_ind_sma(slowd, fastd, n, slow_period);
}

void xt_ind_obv(double *out, const double *close, const double *volume, int64_t n) {
    if (n <= 0) return;
    double obv = volume[0]; // TA-Lib: the first row is the first bar's volume
    out[0] = obv;
    for (int64_t i = 1; i < n; i++) {
        if (close[i] > close[i - 1]) obv += volume[i];
        else if (close[i] < close[i - 1]) obv -= volume[i];
        out[i] = obv;
    }
}

// ---------------------------------------------------------------- warm-up

int64_t xt_ind_sma_first(int period) { return (int64_t)period - 1; }
int64_t xt_ind_rsi_first(int period) { return period; }
int64_t xt_ind_adx_first(int period) { return 2 * (int64_t)period - 1; }

int64_t xt_ind_macd_first(int fast, int slow) { return (int64_t)(fast > slow ? fast : slow) - 1; }

int64_t xt_ind_macd_signal_first(int fast, int slow, int sig) {
    return xt_ind_macd_first(fast, slow) + sig - 1;
}

int64_t xt_ind_stoch_first(int k_period, int d_period, int slow_period) {
    return (int64_t)k_period + d_period + slow_period - 3;
}
