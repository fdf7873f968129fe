// backend_select.c - learner.backend: auto | cpu | cuda (backend_select.h),
// and the CUDA backend's config defaults, which every build shares.
//
// Purpose: one place that turns the configured backend name into a backend
// and tells the operator which one runs and why. No state; one thread.
#include "backend_select.h"

#include <string.h>

#include "core/log.h"
#include "cuda/backend_cuda.h"

void xt_cuda_config_default(xt_cuda_config *c) {
    memset(c, 0, sizeof *c);
    c->device = 0;
    c->tf32 = 0;
    c->max_batch_chunks = 4096;
    c->seed = 1;
}

static int s_cuda(xt_backend **out, const xt_model_spec *spec, const xt_backend_config *cfg,
                  uint64_t seed, int device, xt_err *err) {
    xt_cuda_config cc;
    xt_cuda_config_default(&cc);
    cc.device = device;
    cc.seed = seed;
    return xt_backend_cuda_new_ex(out, spec, cfg, &cc, err);
}

int xt_backend_open(xt_backend **out, const char *kind, const xt_model_spec *spec,
                    const xt_backend_config *cfg, uint64_t seed, int device, xt_err *err) {
    *out = NULL;
    char why[256];
    const int auto_ = strcmp(kind, "auto") == 0;
    if (!auto_ && strcmp(kind, "cpu") != 0 && strcmp(kind, "cuda") != 0)
        return xt_err_set(err, XT_EINVAL, "learner.backend: must be auto, cpu or cuda (got \"%s\")",
                          kind);
    if (strcmp(kind, "cpu") == 0 || (auto_ && xt_cuda_probe(why, sizeof why) != 0)) {
        if (auto_) xt_info("learner.backend auto: using the CPU backend (no CUDA: %s)", why);
        *out = xt_backend_cpu_new(spec, cfg, seed, err);
        return *out ? 0 : (err ? err->code : XT_EINVAL);
    }
    if (!auto_ && xt_cuda_probe(why, sizeof why) != 0)
        return xt_err_set(err, XT_EDEVICE, "learner.backend: cuda was requested but %s", why);
    int rc = s_cuda(out, spec, cfg, seed, device, err);
    if (rc) return xt_err_prefix(err, "learner.backend %s", kind);
    xt_info("learner.backend %s: using the CUDA backend on device %d (%s)", kind, device, why);
    return 0;
}
