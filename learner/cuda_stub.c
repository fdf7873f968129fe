// cuda_stub.c - the CUDA entry points of a build without the toolkit.
//
// Compiled into libxtrade only when CMake did not find nvcc, cuDNN and NCCL
// (cmake/cuda.cmake), so that every caller links on every machine and
// learns at run time, with one sentence, why CUDA is unavailable. Nothing
// here pretends to compute: each function fails with "built without CUDA".
#include <stdio.h>

#include "cuda/backend_cuda.h"
#include "cuda/nccl.h"

#define S_WHY "built without CUDA (toolkit, cuDNN or NCCL not found at configure time, or XT_NO_CUDA set)"

int xt_cuda_probe(char *reason, size_t cap) {
    snprintf(reason, cap, "%s", S_WHY);
    return XT_EDEVICE;
}

int xt_backend_cuda_new(xt_backend **out, const xt_model_spec *spec,
                        const xt_backend_config *cfg, int device, xt_err *err) {
    *out = NULL;
    return xt_err_set(err, XT_EDEVICE, "cuda backend: %s", S_WHY);
}

int xt_backend_cuda_new_ex(xt_backend **out, const xt_model_spec *spec,
                           const xt_backend_config *cfg, const xt_cuda_config *cc, xt_err *err) {
    *out = NULL;
    return xt_err_set(err, XT_EDEVICE, "cuda backend: %s", S_WHY);
}

int xt_backend_is_cuda(const xt_backend *be) { return 0; }

int xt_backend_cuda_stages(const xt_backend *be, xt_cuda_stages *out, xt_err *err) {
    return xt_err_set(err, XT_EINVAL, "cuda stages: the backend is not a CUDA backend");
}

int xt_backend_cuda_gae(xt_backend *be, float *adv, float *ret, const float *values,
                        double gamma, double lambda, xt_err *err) {
    return xt_err_set(err, XT_EINVAL, "cuda gae: the backend is not a CUDA backend");
}

int xt_backend_cuda_attach_nccl(xt_backend *be, xt_nccl *comm, xt_err *err) {
    return xt_err_set(err, XT_EINVAL, "cuda nccl: the backend is not a CUDA backend");
}

int xt_nccl_id_new(xt_nccl_id *id, xt_err *err) {
    return xt_err_set(err, XT_EDEVICE, "nccl: %s", S_WHY);
}

int xt_nccl_init(xt_nccl **out, int rank, int nranks, const xt_nccl_id *id, int device,
                 double timeout_s, xt_err *err) {
    *out = NULL;
    return xt_err_set(err, XT_EDEVICE, "nccl: %s", S_WHY);
}

void xt_nccl_destroy(xt_nccl **self_p) {
    if (self_p) *self_p = NULL;
}

int xt_nccl_rank(const xt_nccl *self) { return -1; }

int xt_nccl_nranks(const xt_nccl *self) { return 0; }

int xt_nccl_allreduce_mean(xt_nccl *self, float *buf, size_t n, void *stream, xt_err *err) {
    return xt_err_set(err, XT_EDEVICE, "nccl: %s", S_WHY);
}

int xt_nccl_allreduce_sum_f64(xt_nccl *self, double *buf, size_t n, void *stream, xt_err *err) {
    return xt_err_set(err, XT_EDEVICE, "nccl: %s", S_WHY);
}

int xt_backend_cuda_last_samples(xt_backend *be, float *logp, float *entropy, float *value,
                                 xt_err *err) {
    return xt_err_set(err, XT_EINVAL, "cuda samples: the backend is not a CUDA backend");
}
