// ckptdir.h - the learner's checkpoint files of one fold (DESIGN §6 Files):
//
//   <run dir>/fold-<k>/ckpt-<step>.xtck   periodic and final checkpoints, step =
//                                         the fold's env steps when written
//   <run dir>/fold-<k>/ckpt-best.xtck     the best validation Sharpe so far
//
// The files are written by rl/trainer.h (xt_trainer_save: temp file, fsync,
// rename); this module names them, lists them newest first for a resume,
// keeps the newest learner.keep_checkpoints and reads the counters a
// checkpoint records without loading it. Plain functions, any thread.
#ifndef XT_LEARNER_CKPTDIR_H
#define XT_LEARNER_CKPTDIR_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

#define XT_CKPTDIR_MAX 4096 // checkpoints listed per fold

// "<run_dir>/fold-<fold>" into buf.
const char *xt_ckptdir_fold(char *buf, size_t cap, const char *run_dir, int fold);
// "<dir>/ckpt-<step>.xtck" / "<dir>/ckpt-best.xtck" into buf.
const char *xt_ckptdir_path(char *buf, size_t cap, const char *dir, int64_t step);
const char *xt_ckptdir_best(char *buf, size_t cap, const char *dir);

// Steps of the cap newest (largest) ckpt-<step>.xtck files in dir, newest
// first, into steps[0..cap); returns how many (0 when dir does not exist),
// or XT_EIO.
int xt_ckptdir_list(const char *dir, int64_t *steps, int cap, xt_err *err);

// Deletes all but the `keep` newest ckpt-<step>.xtck files of dir (never
// ckpt-best.xtck). Returns the number deleted, or XT_EIO naming the file.
int xt_ckptdir_prune(const char *dir, int keep, xt_err *err);

// What a training checkpoint (rl/trainer.h format) records.
typedef struct {
    int64_t env_steps, updates, fold;
    double val_sharpe; // NaN: none
} xt_ckptdir_info;

// Reads (and validates: crc, format) the counters of a checkpoint.
int xt_ckptdir_info_read(const char *path, xt_ckptdir_info *out, xt_err *err);

#endif
