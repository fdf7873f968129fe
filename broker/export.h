// export.h - a fold's model into the model registry (seed 000, DESIGN §6).
//
// At the end of every fold the broker copies the checkpoint the fold was
// evaluated with (the learner's final CheckpointDone names the fold's best
// checkpoint, ckpt-best.xtck) to
//
//   <models>/<symbol|shared>/<agent>/<timeframe>/<run_id>.xtck
//
// for every timeframe of the run: the policy serves each of them.
//   <models>    `models` beside the run directory root: dirname(run.dir)/models
//               (runs -> models; /var/lib/xtrade/runs -> /var/lib/xtrade/models)
//   <symbol>    the symbol for an asset-env run over one symbol; `shared` for a
//               policy over several symbols or the portfolio env
//   <agent>     `ppo` (recurrent when model.lstm_layers > 0; the checkpoint's
//               config says which)
// A later fold overwrites an earlier one's file, so the registry holds the
// model trained on the most recent data. Writes are atomic (temp file +
// rename): a reader never sees half a model. The checkpoint must be
// readable on the broker's machine (a shared run directory); otherwise the
// export fails with a sentence naming the file, and the run goes on.
#ifndef XT_BROKER_EXPORT_H
#define XT_BROKER_EXPORT_H

#include "core/config.h"
#include "core/err.h"

#include <stddef.h>

#define XT_EXPORT_AGENT "ppo"

// The registry directory: dirname(cfg->run_dir)/models.
const char *xt_export_root(const xt_config *cfg, char *buf, size_t cap);

// Path of the exported model for timeframe index ti of the config.
const char *xt_export_path(const xt_config *cfg, int ti, char *buf, size_t cap);

// Copies ckpt to the registry path of every timeframe. Returns 0, or XT_EIO /
// XT_ENOTFOUND naming the file.
int xt_export_model(const xt_config *cfg, const char *ckpt, xt_err *err);

#endif
