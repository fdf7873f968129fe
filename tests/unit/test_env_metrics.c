// test_env_metrics.c - metric conventions against hand-computed values,
// the flat curve (0 everywhere, never NaN), the JSON writer and the
// reward / rolling-volatility helpers.
#include "testutil.h"

#include "env/envmarket.h"
#include "env/epmetrics.h"
#include "env/reward.h"

#include <math.h>
#include <string.h>

#define NEAR(x, y) assert_true(fabs((x) - (y)) < 1e-12)

// Equity 100 -> 110 -> 99 -> 108.9: returns +10%, -10%, +10%.
// mean = 1/30, sd (n-1) = 0.11547005, downside dev = sqrt(0.01 / 3).
// With 3 bars a year: sharpe = mean/sd*sqrt(3) = 0.5, sortino = 1.0,
// vol = 0.2, annual return = 1.089^(3/3) - 1, max drawdown 10%, calmar 0.89.
static void t_hand_computed(void **state) {
    (void)state;
    xt_epmetrics_acc a;
    xt_epmetrics_begin(&a, 100.0);
    xt_epmetrics_step(&a, 110.0, 0.0, 1.0, 0.5, 0.25, 1);
    xt_epmetrics_step(&a, 99.0, 0.5, 0.0, 0.0, 0.0, 0);
    xt_epmetrics_step(&a, 108.9, 0.3, 1.0, 0.5, 0.25, 2);
    xt_epmetrics_trade(&a, 50.0);
    xt_epmetrics_trade(&a, -20.0);
    xt_epmetrics_trade(&a, 10.0);
    xt_metrics m;
    xt_epmetrics_finalize(&a, 3.0, &m);
    assert_int_equal(m.steps, 3);
    NEAR(m.total_return, 0.089);
    NEAR(m.annual_return, 0.089);
    NEAR(m.annual_vol, 0.2);
    NEAR(m.sharpe, 0.5);
    NEAR(m.sortino, 1.0);
    NEAR(m.max_drawdown, 0.1);
    NEAR(m.calmar, 0.89);
    NEAR(m.time_in_drawdown, 2.0 / 3.0);
    assert_int_equal(m.trades, 3);
    assert_int_equal(m.fills, 3);
    NEAR(m.win_rate, 2.0 / 3.0);
    NEAR(m.avg_win, 30.0);
    NEAR(m.avg_loss, -20.0);
    NEAR(m.profit_factor, 3.0);
    NEAR(m.turnover, 2.0);
    NEAR(m.turnover_annual, 2.0);
    NEAR(m.fees, 1.0);
    NEAR(m.slippage, 0.5);
    NEAR(m.gross_pnl, 8.9 + 1.5);
    NEAR(m.fee_ratio, 1.0 / 10.4);
    NEAR(m.avg_cash, 0.8 / 3.0);
    NEAR(m.pct_cash_over_20, 2.0 / 3.0);
    NEAR(m.final_equity, 108.9);
}

// Annualisation by the timeframe: 1h bars -> 8760 a year; daily -> 365.
static void t_annualisation(void **state) {
    (void)state;
    assert_true(xt_env_bars_per_year(3600) == 8760.0);
    assert_true(xt_env_bars_per_year(86400) == 365.0);
    assert_true(xt_env_bars_per_year(900) == 35040.0);
    xt_epmetrics_acc a;
    xt_epmetrics_begin(&a, 1000.0);
    double e = 1000.0;
    for (int i = 0; i < 365; i++) xt_epmetrics_step(&a, e *= 1.0 + (i % 2 ? 0.002 : -0.001), 1.0, 0, 0, 0, 0);
    xt_metrics m;
    xt_epmetrics_finalize(&a, 365.0, &m);
    // One year of daily bars: annual return equals total return.
    assert_true(fabs(m.annual_return - m.total_return) < 1e-12);
    // Two years of the same bars halve the annual figure's exponent.
    xt_epmetrics_finalize(&a, 182.5, &m);
    assert_true(fabs(m.annual_return - (sqrt(1.0 + m.total_return) - 1.0)) < 1e-12);
}

// An all-cash curve: every return/risk/trade metric 0, never NaN.
static void t_flat_curve(void **state) {
    (void)state;
    xt_epmetrics_acc a;
    xt_epmetrics_begin(&a, 10000.0);
    for (int i = 0; i < 50; i++) xt_epmetrics_step(&a, 10000.0, 1.0, 0.0, 0.0, 0.0, 0);
    xt_metrics m;
    xt_epmetrics_finalize(&a, 8760.0, &m);
    double z[] = {m.total_return, m.annual_return, m.annual_vol, m.sharpe, m.sortino, m.max_drawdown, m.calmar,
                  m.time_in_drawdown, m.profit_factor, m.win_rate, m.avg_win, m.avg_loss, m.turnover,
                  m.turnover_annual, m.fees, m.slippage, m.gross_pnl, m.fee_ratio};
    for (size_t i = 0; i < sizeof(z) / sizeof(z[0]); i++) assert_true(z[i] == 0.0);
    assert_int_equal(m.trades, 0);
    assert_true(m.avg_cash == 1.0 && m.pct_cash_over_20 == 1.0);
    char buf[2048];
    int n = xt_epmetrics_json(buf, sizeof(buf), &m);
    assert_true(n > 0 && n < (int)sizeof(buf));
    assert_null(strstr(buf, "nan"));
    assert_null(strstr(buf, "inf"));
    assert_contains(buf, "\"sharpe\":0,");
    assert_contains(buf, "\"avg_cash\":1,");
    // No steps at all is also all zeros.
    xt_epmetrics_begin(&a, 10000.0);
    xt_epmetrics_finalize(&a, 8760.0, &m);
    assert_true(m.sharpe == 0.0 && m.annual_return == 0.0 && m.avg_cash == 0.0);
}

// Wins without losses cap the profit factor; a wiped-out curve annualises to -1.
static void t_edges(void **state) {
    (void)state;
    xt_epmetrics_acc a;
    xt_epmetrics_begin(&a, 100.0);
    xt_epmetrics_step(&a, 101.0, 0.0, 0, 0, 0, 0);
    xt_epmetrics_trade(&a, 1.0);
    xt_metrics m;
    xt_epmetrics_finalize(&a, 365.0, &m);
    assert_true(m.profit_factor == XT_EPMETRICS_PF_MAX);
    assert_true(m.sharpe == 0.0); // one return: no sd
    assert_true(m.sortino == 0.0);
    xt_epmetrics_step(&a, 0.0, 0.0, 0, 0, 0, 0);
    xt_epmetrics_finalize(&a, 365.0, &m);
    assert_true(m.annual_return == -1.0);
    NEAR(m.max_drawdown, 1.0);
    // Huge growth over a short span is clamped, not inf.
    xt_epmetrics_begin(&a, 1.0);
    xt_epmetrics_step(&a, 2.0, 0, 0, 0, 0, 0);
    xt_epmetrics_finalize(&a, 35040.0, &m);
    assert_true(m.annual_return == XT_EPMETRICS_BIG);
    char small[16];
    assert_true(xt_epmetrics_json(small, sizeof(small), &m) >= (int)sizeof(small)); // truncation is reported
}

// Rolling sd equals the two-pass sample sd of the last window values, across
// wraps; it is 0 until the window is full (no Sharpe term from 2-4 returns).
static void t_rollvol(void **state) {
    (void)state;
    double ring[5], xs[40];
    xt_rollvol v;
    xt_rollvol_reset(&v);
    for (int i = 0; i < 40; i++) {
        xs[i] = 0.001 * sin(1.7 * i) + 0.0003 * i;
        double sd = xt_rollvol_push(&v, ring, 5, xs[i]);
        int n = i + 1 < 5 ? i + 1 : 5;
        double mean = 0.0, ss = 0.0;
        for (int j = i - n + 1; j <= i; j++) mean += xs[j];
        mean /= n;
        for (int j = i - n + 1; j <= i; j++) ss += (xs[j] - mean) * (xs[j] - mean);
        double want = n == 5 ? sqrt(ss / (n - 1)) : 0.0;
        assert_true(fabs(sd - want) < 1e-12);
    }
}

// reward = 100 * (0.9 r + 0.1 r / max(sd, floor)) / max(expo, floor).
static void t_reward_formula(void **state) {
    (void)state;
    xt_env_params p;
    xt_env_params_default(&p);
    NEAR(xt_reward_compute(&p, 0.01, 0.02, 0.005, 0.001), 100.0 * (0.009 + 0.1 * 0.5) / 0.005);
    // sd below the floor uses the floor; sd == 0 drops the Sharpe term.
    NEAR(xt_reward_compute(&p, 0.01, 1e-6, 0.005, 0.001), 100.0 * (0.009 + 0.1 * 0.01 / 1e-4) / 0.005);
    NEAR(xt_reward_compute(&p, 0.01, 0.0, 0.005, 0.001), 100.0 * 0.009 / 0.005);
    // All cash: the exposure floor divides.
    NEAR(xt_reward_compute(&p, -0.001, 0.0, 0.0, 0.001), 100.0 * -0.0009 / 0.001);
    p.reward_w_return = 1.0, p.reward_w_sharpe = 0.0, p.reward_scale = 1.0;
    NEAR(xt_reward_compute(&p, 0.02, 0.3, 0.01, 0.001), 2.0);
}

int main(void) {
    const struct CMUnitTest t[] = {
        cmocka_unit_test(t_hand_computed), cmocka_unit_test(t_annualisation), cmocka_unit_test(t_flat_curve),
        cmocka_unit_test(t_edges),         cmocka_unit_test(t_rollvol),       cmocka_unit_test(t_reward_formula),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}
