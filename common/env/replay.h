// replay.h - a CSV file of actions keyed by timestamp, driven through an
// eval-mode env (`xtrade env replay`).
//
// The replay walks a window once from its first usable bar r0 = max(row_begin,
// first_row) like an evaluation (no random start, no episode_length cut; a
// terminal rule can still end it early). Step j (0-based) is decided after
// bar r0 + j and fills on bar r0 + 1 + j; the action file is keyed by that
// fill bar's open time, which is also the timestamp of the output row, so an
// output file (or an eval CSV's timestamp,position columns) is a valid input.
//
// Action files (header line first; blank lines ignored; CR LF accepted;
// timestamps ISO 8601 UTC as xt_time_parse reads them, or Unix seconds):
//   asset env      timestamp,position   a target position equal to one of the
//                                       configured levels (1e-9 tolerance)
//                  timestamp,level      a level index 0..n_actions-1
//   portfolio env  timestamp,<SYM>...,cash   one column per portfolio asset
//                                       and cash, in any order, each once:
//                                       weights >= 0 summing to 1 (+-1e-4),
//                                       passed to xt_portfolio_env_step_weights
// Timestamps must increase strictly and each must be the open time of a
// step bar of the window. A step without a line keeps the target of the
// previous line (the asset env holds its units; the portfolio env is asked
// for the same weights again, so the projection rebalances drifted weights
// whenever the change is worth min_trade); before the first line the target
// is flat / all cash. Every error names the file, line and column.
//
// Ownership: xt_replay owns its env and action table; the market is
// borrowed and must outlive it. Threads: one at a time.
#ifndef XT_REPLAY_H
#define XT_REPLAY_H

#include "core/err.h"
#include "envmarket.h"
#include "envparams.h"
#include "epmetrics.h"

#include <stdint.h>

#define XT_REPLAY_SUM_TOL 1e-4   // portfolio weights must sum to 1 within this
#define XT_REPLAY_LEVEL_TOL 1e-9 // a position matches a level within this

typedef struct {
    int64_t row_begin, row_end; // window [row_begin, row_end) of the market
    int portfolio;              // 1: portfolio env over all m->k assets; 0: asset env
    int asset;                  // asset env: the market asset it trades
    int symbol_id, tf_id;       // asset env: observation encodings (no effect on the results)
    const char *what;           // the window in messages ("BTCUSD-1h test window")
} xt_replay_setup;

typedef struct xt_replay xt_replay;

// Builds the eval env (validating market and params). Caller owns *out.
int xt_replay_new(xt_replay **out, const xt_env_market *m, const xt_env_params *p, const xt_replay_setup *s,
                  xt_err *err);
void xt_replay_destroy(xt_replay **self_p);

// Reads the action file; path names it in messages. Replaces earlier actions.
int xt_replay_load(xt_replay *self, const char *path, xt_err *err);
int xt_replay_parse(xt_replay *self, const char *path, const char *text, size_t len, xt_err *err);

// Steps of the walk (bars r0 + 1 .. row_end - 1) and the open time of step j's fill bar.
int64_t xt_replay_steps(const xt_replay *self);
int64_t xt_replay_step_ts(const xt_replay *self, int64_t j);
// Action lines read from the file.
int64_t xt_replay_lines(const xt_replay *self);
// The target in force at step j: the asset env's level index, or the
// portfolio's K + 1 weights (assets in market order, then cash), and the
// file line it came from (0: none yet, the flat default).
int xt_replay_level(const xt_replay *self, int64_t j);
const double *xt_replay_weights(const xt_replay *self, int64_t j);
int xt_replay_line(const xt_replay *self, int64_t j);

typedef struct {
    xt_metrics metrics; // the episode's metrics
    int64_t steps;      // steps taken (< xt_replay_steps when a terminal rule ended the walk)
    int reason;         // xt_env_reason of the last step (end, drawdown, bankrupt, ...)
    int64_t last_ts;    // fill bar of the last step
} xt_replay_result;

// Walks the window with the actions and writes one CSV row per step to
// out_path (atomically):
//   asset      timestamp,action,position,units,fill_price,stop_price,liq_price,
//              fee,slippage,equity,reward,terminated,truncated,reason,masked,skipped,line
//   portfolio  timestamp,req_<SYM>...,req_cash,w_<SYM>...,w_cash,fill_<SYM>...,stop_<SYM>...,
//              fee,slippage,equity,reward,terminated,truncated,reason,line
// (action/req_: the target in force; position: the level held at the close,
// 0 after a stop or liquidation; w_: the executed weights at the open; empty
// price cells: no such fill). Can be run again (a fresh episode each time).
int xt_replay_run(xt_replay *self, const char *out_path, xt_replay_result *res, xt_err *err);

#endif
