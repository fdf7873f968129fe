// fcache.h - the feature cache file (.xtfc): one (symbol | portfolio,
// timeframe, fold) matrix, normalized, memory-mapped read-only and shared by
// every env of an actor process (DESIGN §3).
//
// Layout (little-endian; every section starts on a 64-byte boundary):
//   header (256 B): magic "XTFC", version, kind, k, n, n_feat, tf_sec,
//                   first_row, source_hash, fold, norm kind, train window
//   symbols[k][32] | calendars[k] | vol_baseline[k] f64
//   names[n_feat][48] | center[n_feat] f64 | scale[n_feat] f64 | scaled[n_feat] u8
//   ts[n] i64 | prices[k][6][n] f64 (open high low close volume atr) | stale[k][n] u8
//   feat[n][n_feat] f32
//   trailer: crc32 of everything before it
// A reader checks magic, version, the exact size implied by the header and
// the crc before handing out pointers, so a truncated or corrupted file is
// rejected with a sentence, never read out of bounds.
#ifndef XT_FCACHE_H
#define XT_FCACHE_H

#include "../core/err.h"
#include "../core/fileio.h"
#include "calendar.h"
#include "features.h"

#include <stdint.h>

#define XT_FCACHE_VERSION 1
enum { XT_FCACHE_ASSET = 0, XT_FCACHE_PORTFOLIO = 1 };

typedef struct {
    int kind, k, n_feat, tf_sec, fold, norm_kind;
    int64_t n, first_row;
    int64_t train_start, train_end; // the window the normalizer and vol baselines were fit on
    uint64_t source_hash;
    char symbol[XT_FEAT_MAX_ASSETS][XT_SYMBOL_MAX];
    xt_calendar cal[XT_FEAT_MAX_ASSETS];
    double vol_baseline[XT_FEAT_MAX_ASSETS];
    const char (*names)[XT_FEAT_NAME_MAX];
    const double *center, *scale;
    const uint8_t *scaled;
    const int64_t *ts;
    const double *open[XT_FEAT_MAX_ASSETS], *high[XT_FEAT_MAX_ASSETS], *low[XT_FEAT_MAX_ASSETS];
    const double *close[XT_FEAT_MAX_ASSETS], *volume[XT_FEAT_MAX_ASSETS], *atr[XT_FEAT_MAX_ASSETS];
    const uint8_t *stale[XT_FEAT_MAX_ASSETS];
    const float *feat;
    xt_mmap map; // set by xt_fcache_open
} xt_fcache;

// Writes c (every pointer filled by the caller) atomically to path.
int xt_fcache_write(const char *path, const xt_fcache *c, xt_err *err);
// Maps and validates path; pointers in c point into the mapping.
int xt_fcache_open(xt_fcache *c, const char *path, xt_err *err);
void xt_fcache_close(xt_fcache *c);
// Reads only the header fields (no crc pass) to decide whether a rebuild is needed.
int xt_fcache_peek(xt_fcache *c, const char *path, xt_err *err);

#endif
