// backend_cuda.h - the CUDA backend of xt_backend (cuDNN LSTM stacks,
// cuBLAS dense layers, kernels for heads, PPO loss, Adam), its device probe
// and the extras a GPU learner uses (stage timings, NCCL, device GAE).
//
// Plain C, no CUDA types: every libxtrade user can include it. Built with
// the toolkit (XT_HAVE_CUDA defined) the functions run on the GPU; built
// without it, learner/cuda_stub.c provides them and they fail with "built
// without CUDA" (xt_cuda_probe says so too), so callers need no #ifdef.
//
// The backend computes what the CPU backend computes (nn/backend.h): same
// values, log-probs, loss terms and gradients within float rounding
// (tests/gpu/test_cuda_backend.c). docs/cuda.md explains how episode
// resets inside a chunk map onto cuDNN's variable-length batches, the
// memory plan, the timings and the multi-GPU setup.
#ifndef XT_BACKEND_CUDA_H
#define XT_BACKEND_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"
#include "nn/backend.h"

// ---- probe

// 0 when a usable device is present (driver, at least one GPU this build
// has kernels for, cuDNN initializes); otherwise XT_EDEVICE and the reason
// in `reason` ("no CUDA driver ...", "no CUDA device", "cuDNN init failed:
// ...", "built without CUDA"). `learner.backend: auto` picks CUDA exactly
// when this returns 0 (learner/backend_select.h).
int xt_cuda_probe(char *reason, size_t cap);

// ---- backend

typedef struct {
    int device;           // CUDA device ordinal (0)
    int tf32;             // 1: TF32 tensor-core math in cuBLAS and cuDNN; 0: strict FP32 (0)
    int max_batch_chunks; // chunks the device batch store holds; set_batch fails beyond (4096)
    uint64_t seed;        // initial params: xt_model_init_params with this seed, as the CPU backend (1)
} xt_cuda_config;

void xt_cuda_config_default(xt_cuda_config *c);

// A CUDA backend for spec on `device` with the default xt_cuda_config.
// *out is owned by the caller (xt_backend_destroy). Everything the backend
// needs on the device and in pinned host memory is allocated here.
int xt_backend_cuda_new(xt_backend **out, const xt_model_spec *spec,
                        const xt_backend_config *cfg, int device, xt_err *err);
int xt_backend_cuda_new_ex(xt_backend **out, const xt_model_spec *spec,
                           const xt_backend_config *cfg, const xt_cuda_config *cc, xt_err *err);

// 1 when be is a CUDA backend.
int xt_backend_is_cuda(const xt_backend *be);

// Seconds per stage since creation, measured with CUDA events (device time)
// except `plan` (host time spent building segment plans and staging). The
// loss_grad stages add up to xt_backend_timing's forward + backward.
typedef struct {
    double plan;       // host: segment plans, staging of per-minibatch data
    double h2d;        // per-minibatch host-to-device copy
    double gather;     // minibatch assembly from the device batch store
    double lstm_fwd;   // cuDNN forward of the LSTM stacks
    double mlp_fwd;    // dense layers and heads
    double loss;       // head log-probs, advantage normalization, PPO loss
    double mlp_bwd;    // heads, dense layers backward
    double lstm_bwd;   // cuDNN backward data + weights, weight-space unpacking
    double allreduce;  // NCCL gradient all-reduce (0 on one GPU)
    double set_batch;  // batch staging and its one host-to-device copy (host wall time)
    int64_t max_segments; // most sequences in one cuDNN batch so far
} xt_cuda_stages;
int xt_backend_cuda_stages(const xt_backend *be, xt_cuda_stages *out, xt_err *err);

// GAE over the current batch on the device (nn/gae.h semantics; rewards,
// terminated, truncated and trunc_value come from set_batch's copy):
// values [C][T + 1] (host) -> adv, ret [C][T] (host).
int xt_backend_cuda_gae(xt_backend *be, float *adv, float *ret, const float *values,
                        double gamma, double lambda, xt_err *err);

// Per-sample outputs of the last loss_grad (for parity tests and
// debugging): log-prob of the taken action, entropy and value of each
// sample, time-major [T][n] as xt_minibatch (row t * n + b for chunk
// chunks[b]). Any array may be NULL. XT_ESTATE when another pass ran since.
int xt_backend_cuda_last_samples(xt_backend *be, float *logp, float *entropy, float *value,
                                 xt_err *err);

// ---- multi-GPU

typedef struct xt_nccl xt_nccl; // learner/cuda/nccl.h

// After this call every loss_grad all-reduces the gradient slab (mean over
// the ranks) and sums the loss statistics over the ranks before returning,
// so every rank steps with the same gradient and sees the same stats (and
// takes the same target-KL decision). comm is borrowed and must outlive the
// backend or be detached with comm = NULL.
int xt_backend_cuda_attach_nccl(xt_backend *be, xt_nccl *comm, xt_err *err);

#ifdef __cplusplus
}
#endif

#endif
