// backend_select.h - choosing the learner's compute backend by name, the
// `learner.backend` setting: "auto" | "cpu" | "cuda".
//
//   auto  CUDA when xt_cuda_probe finds a usable device, else the CPU
//         backend; the choice and its reason are logged (info).
//   cpu   the OpenBLAS reference backend.
//   cuda  the CUDA backend; without a usable device this fails with the
//         probe's reason (no driver, no device, cuDNN init failure, or a
//         build without CUDA).
// Plain C, on every build.
#ifndef XT_BACKEND_SELECT_H
#define XT_BACKEND_SELECT_H

#include <stdint.h>

#include "core/err.h"
#include "nn/backend.h"

// Creates the backend `kind` names; params start from xt_model_init_params
// with seed on either backend. device: the CUDA device ordinal (ignored by
// the CPU backend). Caller owns *out (xt_backend_destroy).
int xt_backend_open(xt_backend **out, const char *kind, const xt_model_spec *spec,
                    const xt_backend_config *cfg, uint64_t seed, int device, xt_err *err);

#endif
