// indicators.h - technical indicators over double arrays (TA-Lib/TTR definitions).
//
// Every function is pure and causal: out[i] depends only on inputs [0..i], so
// computing on a prefix gives bit-identical rows (no look-ahead). Outputs are
// caller-allocated arrays of length n; undefined warm-up rows are NaN. Nothing
// allocates. O(n) each (CCI is O(n*period); stochastic is O(n) amortised,
// O(n*period) worst case). A period < 1 fills every output with NaN; n <= 0 is
// a no-op. Output arrays must not alias inputs unless a line says so.
//
// Warm-up (first defined index, for finite input and the given periods):
//   SMA    mean of x[i-p+1..i]                                   first p-1
//   EMA    k = 2/(p+1); seed = SMA of the first p; e += k(x-e)   first p-1
//   RSI    Wilder: avg gain/loss seeded by the mean of the first p
//          changes, then a = (a(p-1)+g)/p; 100*G/(G+L)           first p
//   ATR    TR = max(h-l, |h-c[i-1]|, |l-c[i-1]|) (i >= 1); seed =
//          mean TR[1..p], then a = (a(p-1)+TR)/p                 first p
//   +DI/-DI  TA-Lib Wilder sums: S = sum DM[1..p-1], then
//          S = S - S/p + DM from i = p; DI = 100*S_dm/S_tr       first p
//   ADX    DX = 100|+DI - -DI|/(+DI + -DI); seed = mean DX[p..2p-1],
//          then a = (a(p-1)+DX)/p                                first 2p-1
//   MACD   line = EMA(fast) - EMA(slow)                first max(fast,slow)-1
//          signal = EMA(sig) of the line; hist = line - signal  that + sig-1
//   BBANDS mid = SMA; sd = population sd of the window;
//          upper/lower = mid +- k*sd; width = (upper-lower)/mid  first p-1
//   CCI    tp = (h+l+c)/3; (tp - SMA(tp)) / (0.015 * mean|tp - SMA(tp)|)
//                                                                first p-1
//   STOCH  fastK = 100(c - LL_k)/(HH_k - LL_k)                   first k-1
//          fastD = SMA_d(fastK) (TA-Lib's slowK)                 first k+d-2
//          slowD = SMA_s(fastD)                                  first k+d+s-3
//   OBV    OBV[0] = v[0]; +v if c > c[i-1], -v if c < c[i-1]     first 0
//   volume SMA = xt_ind_sma on the volume column.
// With the defaults: SMA/BB/CCI(20) 19, RSI/ATR(14) 14, DI(14) 14, ADX(14) 27,
// MACD(12,26,9) line 25 / signal 33, STOCH(14,3,3) 13 / 15 / 17.
//
// Degenerate values (documented choices; TA-Lib differs where noted):
//   RSI with zero average gain and loss (flat) = 50 (TA-Lib gives 0).
//   STOCH fastK with HH == LL (flat range) = 50 (TA-Lib gives 0).
//   DI = 0 when the smoothed true range is 0; DX = 0 when +DI + -DI = 0.
//   CCI = 0 when the mean deviation is 0. BB width = NaN when mid == 0.
// Comparisons with zero are exact (TA-Lib uses a 1e-14 band, which is not
// scale-invariant).
//
// Non-finite input: SMA, EMA and BBANDS treat it as a gap - a window containing
// a non-finite value is NaN, and EMA restarts (reseeds from the next p finite
// values). So EMA of a series with leading NaNs (the MACD line) starts after
// them. The other indicators expect finite OHLCV (xt_bars_validate) and are
// undefined otherwise.
//
// Drift: rolling window sums (SMA, BBANDS mean and squared deviations) are
// recomputed from the window every XT_IND_RESYNC rows (at indices that are
// multiples of it, so the result does not depend on where a caller stops), so
// rounding drift is bounded by that many updates whatever the series length.
// They are also recomputed at once when the value leaving the window would
// leave cancellation error behind: the sum when |old| > 1024 |window mean|, the
// squared deviations when old held half of them or more (an outlier leaving;
// a window turning flat, whose sd is then exactly 0). CCI sums each window
// afresh (O(period)). Wilder recursions (RSI, ATR, DI, ADX, EMA) forget
// rounding error geometrically and need nothing.
#ifndef XT_INDICATORS_H
#define XT_INDICATORS_H

#include <stdint.h>

// Rows between exact recomputations of a rolling window sum (power of two).
#define XT_IND_RESYNC 1024

// ---- moving averages
void xt_ind_sma(double *out, const double *x, int64_t n, int period);
void xt_ind_ema(double *out, const double *x, int64_t n, int period);

// ---- momentum and volatility (Wilder)
void xt_ind_rsi(double *out, const double *close, int64_t n, int period);
void xt_ind_atr(double *out, const double *high, const double *low, const double *close,
                int64_t n, int period);
void xt_ind_adx(double *adx, double *plus_di, double *minus_di, const double *high,
                const double *low, const double *close, int64_t n, int period);

// ---- MACD, Bollinger, CCI, stochastic, OBV
// fast < slow is conventional but not required: the line starts where both EMAs
// exist. line = EMA(fast) - EMA(slow), each seeded by its own first SMA (TTR;
// TA-Lib instead seeds the fast EMA at row slow-1, which differs at first and
// converges). hist is used as scratch for the slow EMA.
void xt_ind_macd(double *line, double *signal, double *hist, const double *close, int64_t n,
                 int fast, int slow, int sig);
// k is the band width in standard deviations (2 by convention).
void xt_ind_bbands(double *lower, double *mid, double *upper, double *width,
                   const double *close, int64_t n, int period, double k);
void xt_ind_cci(double *out, const double *high, const double *low, const double *close,
                int64_t n, int period);
void xt_ind_stoch(double *fastk, double *fastd, double *slowd, const double *high,
                  const double *low, const double *close, int64_t n, int k_period,
                  int d_period, int slow_period);
void xt_ind_obv(double *out, const double *close, const double *volume, int64_t n);

// ---- warm-up: first defined index for finite input (rows before it are NaN)
int64_t xt_ind_sma_first(int period);   // also EMA, BBANDS, CCI
int64_t xt_ind_rsi_first(int period);   // also ATR, +DI, -DI
int64_t xt_ind_adx_first(int period);
int64_t xt_ind_macd_first(int fast, int slow);           // the line
int64_t xt_ind_macd_signal_first(int fast, int slow, int sig);  // signal and hist
int64_t xt_ind_stoch_first(int k_period, int d_period, int slow_period); // slowD

#endif
