// epmetrics.c - streaming episode metrics (moment sums, running peak).
//
// The accumulator is plain data owned by its user (one per env in a batch);
// xt_epmetrics_step is on the env step path, so it is a handful of adds and one
// division (the step return). finalize does the pow/sqrt work once per
// episode. Any thread.
#include "epmetrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

// ---- accumulation

void xt_epmetrics_begin(xt_epmetrics_acc *a, double equity0) {
    memset(a, 0, sizeof(*a));
    a->equity0 = a->equity = a->peak = equity0;
}

void xt_epmetrics_step(xt_epmetrics_acc *a, double equity, double cash_weight, double turnover, double fees,
                     double slippage, int fills) {
    double r = a->equity != 0.0 ? equity / a->equity - 1.0 : 0.0;
    a->equity = equity;
    a->n++;
    a->sum += r, a->sq += r * r;
    if (r < 0.0) a->down_sq += r * r;
    if (equity > a->peak) a->peak = equity;
    double dd = a->peak > 0.0 ? (a->peak - equity) / a->peak : 0.0;
    if (dd > a->max_dd) a->max_dd = dd;
    a->n_dd += equity < a->peak;
    a->cash_sum += cash_weight;
    a->n_cash20 += cash_weight > 0.20;
    a->turnover += turnover;
    a->fees += fees;
    a->slippage += slippage;
    a->fills += fills;
}

void xt_epmetrics_trade(xt_epmetrics_acc *a, double pnl) {
    a->trades++;
    if (pnl > 0.0) a->wins++, a->win_sum += pnl;
    else if (pnl < 0.0) a->loss_sum += pnl;
}

// ---- finalize

static double s_div(double x, double y) { return y != 0.0 ? x / y : 0.0; }

// NaN -> 0, +-inf and huge -> +-XT_EPMETRICS_BIG.
static double s_clean(double x) {
    if (isnan(x)) return 0.0;
    if (x > XT_EPMETRICS_BIG) return XT_EPMETRICS_BIG;
    if (x < -XT_EPMETRICS_BIG) return -XT_EPMETRICS_BIG;
    return x;
}

void xt_epmetrics_finalize(const xt_epmetrics_acc *a, double bpy, xt_metrics *m) {
    memset(m, 0, sizeof(*m));
    double n = (double)a->n;
    m->steps = a->n, m->trades = a->trades, m->fills = a->fills;
    m->bars_per_year = bpy, m->equity0 = a->equity0, m->final_equity = a->equity;
    double growth = s_div(a->equity, a->equity0);
    m->total_return = a->equity0 > 0.0 ? growth - 1.0 : 0.0;
    if (a->n > 0 && a->equity0 > 0.0)
        m->annual_return = growth > 0.0 ? exp(bpy / n * log(growth)) - 1.0 : -1.0;
    // Sample variance from the sums; per-bar returns are small, so the
    // cancellation in sq - sum^2 / n costs a few ulps of a tiny number.
    double mean = a->n > 0 ? a->sum / n : 0.0, var = a->n > 1 ? (a->sq - a->sum * mean) / (n - 1.0) : 0.0;
    double sd = var > 0.0 ? sqrt(var) : 0.0, ann = sqrt(bpy);
    double down = a->n > 0 ? sqrt(a->down_sq / n) : 0.0;
    m->annual_vol = sd * ann;
    m->sharpe = sd > 0.0 ? mean / sd * ann : 0.0;
    m->sortino = down > 0.0 ? mean / down * ann : 0.0;
    m->max_drawdown = a->max_dd;
    m->calmar = s_div(m->annual_return, a->max_dd);
    m->time_in_drawdown = s_div((double)a->n_dd, n);
    double loss = -a->loss_sum;
    m->profit_factor = loss > 0.0 ? a->win_sum / loss : (a->win_sum > 0.0 ? XT_EPMETRICS_PF_MAX : 0.0);
    m->win_rate = s_div((double)a->wins, (double)a->trades);
    m->avg_win = s_div(a->win_sum, (double)a->wins);
    m->avg_loss = s_div(a->loss_sum, (double)(a->trades - a->wins));
    m->turnover = a->turnover;
    m->turnover_annual = s_div(a->turnover * bpy, n);
    m->fees = a->fees, m->slippage = a->slippage;
    m->gross_pnl = (a->equity - a->equity0) + a->fees + a->slippage;
    m->fee_ratio = m->gross_pnl > 0.0 ? a->fees / m->gross_pnl : 0.0;
    m->avg_cash = s_div(a->cash_sum, n);
    m->pct_cash_over_20 = s_div((double)a->n_cash20, n);
    double *f[] = {&m->total_return, &m->annual_return, &m->annual_vol, &m->sharpe, &m->sortino, &m->calmar,
                   &m->profit_factor, &m->avg_win, &m->avg_loss, &m->turnover, &m->turnover_annual, &m->fee_ratio};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) *f[i] = s_clean(*f[i]);
}

// ---- JSON

int xt_epmetrics_json(char *buf, size_t cap, const xt_metrics *m) {
    return snprintf(buf, cap,
                    "{\"steps\":%lld,\"bars_per_year\":%.10g,\"equity0\":%.10g,\"final_equity\":%.10g,"
                    "\"total_return\":%.10g,\"annual_return\":%.10g,\"annual_vol\":%.10g,\"sharpe\":%.10g,"
                    "\"sortino\":%.10g,\"max_drawdown\":%.10g,\"calmar\":%.10g,\"time_in_drawdown\":%.10g,"
                    "\"profit_factor\":%.10g,\"win_rate\":%.10g,\"avg_win\":%.10g,\"avg_loss\":%.10g,"
                    "\"trades\":%lld,\"fills\":%lld,\"turnover\":%.10g,\"turnover_annual\":%.10g,"
                    "\"fees\":%.10g,\"slippage\":%.10g,\"gross_pnl\":%.10g,\"fee_ratio\":%.10g,"
                    "\"avg_cash\":%.10g,\"pct_cash_over_20\":%.10g}",
                    (long long)m->steps, m->bars_per_year, m->equity0, m->final_equity, m->total_return,
                    m->annual_return, m->annual_vol, m->sharpe, m->sortino, m->max_drawdown, m->calmar,
                    m->time_in_drawdown, m->profit_factor, m->win_rate, m->avg_win, m->avg_loss,
                    (long long)m->trades, (long long)m->fills, m->turnover, m->turnover_annual, m->fees,
                    m->slippage, m->gross_pnl, m->fee_ratio, m->avg_cash, m->pct_cash_over_20);
}
