// nccl.cu - one NCCL communicator per learner process: init, all-reduce,
// and failure handling that returns instead of hanging (nccl.h).
//
// Purpose: gradient averaging across GPUs. Every call is non-blocking on
// the NCCL side (ncclConfig_t.blocking = 0) and waited for here by polling
// ncclCommGetAsyncError (and a CUDA event for the collective's completion)
// against the communicator's timeout. Invariants: after any failure the
// communicator is aborted (ncclCommAbort) and marked broken; later calls
// fail at once. Ownership: the xt_nccl owns its communicator and event.
// Threads: one (the learner's update thread).
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern "C" {
#include "cuda/nccl.h"
}
#include "cuda/cuda_check.h"
#include "cuda/optim.h"

static_assert(sizeof(ncclUniqueId) == XT_NCCL_ID_BYTES, "ncclUniqueId size");

struct xt_nccl {
    ncclComm_t comm;
    cudaEvent_t done;
    int rank, nranks, device, broken;
    double timeout_s;
};

static double s_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Aborts the communicator after a failure and says which rank gave up.
static int s_fail(xt_nccl *self, const char *what, const char *why, xt_err *err) {
    const char *last = self->comm ? ncclGetLastError(self->comm) : "";
    if (self->comm && !self->broken) ncclCommAbort(self->comm);
    self->broken = 1;
    return xt_err_set(err, XT_EDEVICE, "nccl: rank %d of %d: %s %s%s%s; communicator aborted",
                      self->rank, self->nranks, what, why, last && *last ? ": " : "",
                      last ? last : "");
}

// Waits until the communicator has no call in flight and, with ev, until the
// stream passed ev; an asynchronous error or the timeout aborts.
static int s_wait(xt_nccl *self, cudaEvent_t ev, const char *what, xt_err *err) {
    const double t0 = s_now();
    const struct timespec nap = {0, 50 * 1000};
    for (;;) {
        ncclResult_t st = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(self->comm, &st);
        if (r != ncclSuccess) st = r;
        if (st != ncclSuccess && st != ncclInProgress)
            return s_fail(self, what, ncclGetErrorString(st), err);
        int finished = st == ncclSuccess;
        if (finished && ev) {
            cudaError_t q = cudaEventQuery(ev);
            if (q != cudaSuccess && q != cudaErrorNotReady)
                return s_fail(self, what, cudaGetErrorString(q), err);
            finished = q == cudaSuccess;
        }
        if (finished) return 0;
        if (s_now() - t0 > self->timeout_s) {
            char why[96];
            snprintf(why, sizeof why, "did not complete within %g s (a peer died or never joined)",
                     self->timeout_s);
            return s_fail(self, what, why, err);
        }
        nanosleep(&nap, NULL);
    }
}

// ---- setup

extern "C" int xt_nccl_id_new(xt_nccl_id *id, xt_err *err) {
    ncclUniqueId uid;
    XT_NCCL_CHECK(err, ncclGetUniqueId(&uid));
    memcpy(id->bytes, &uid, sizeof uid);
    return 0;
}

extern "C" int xt_nccl_init(xt_nccl **out, int rank, int nranks, const xt_nccl_id *id, int device,
                            double timeout_s, xt_err *err) {
    *out = NULL;
    if (nranks < 1 || rank < 0 || rank >= nranks || !(timeout_s > 0))
        return xt_err_set(err, XT_EINVAL,
                          "nccl: rank %d of %d with timeout %g s: need 0 <= rank < nranks and a "
                          "positive timeout",
                          rank, nranks, timeout_s);
    XT_CUDA_CHECK(err, cudaSetDevice(device));
    xt_nccl *self = (xt_nccl *)calloc(1, sizeof *self);
    if (!self) return xt_err_set(err, XT_ENOMEM, "nccl: out of memory");
    self->rank = rank, self->nranks = nranks, self->device = device, self->timeout_s = timeout_s;
    cudaError_t ce = cudaEventCreateWithFlags(&self->done, cudaEventDisableTiming);
    if (ce != cudaSuccess) {
        free(self);
        return xt_err_set(err, XT_EDEVICE, "nccl: cannot create an event: %s",
                          cudaGetErrorString(ce));
    }
    // non-blocking: init returns at once; s_wait polls it against the timeout
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclUniqueId uid;
    memcpy(&uid, id->bytes, sizeof uid);
    ncclResult_t r = ncclCommInitRankConfig(&self->comm, nranks, uid, rank, &config);
    int rc = (r != ncclSuccess && r != ncclInProgress)
                 ? s_fail(self, "init", ncclGetErrorString(r), err)
                 : s_wait(self, NULL, "init", err);
    if (rc) {
        xt_nccl_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

extern "C" void xt_nccl_destroy(xt_nccl **self_p) {
    if (!self_p || !*self_p) return;
    xt_nccl *self = *self_p;
    cudaSetDevice(self->device);
    // every collective was waited for: abort just frees the local resources
    if (self->comm && !self->broken) ncclCommAbort(self->comm);
    if (self->done) cudaEventDestroy(self->done);
    free(self);
    *self_p = NULL;
}

extern "C" int xt_nccl_rank(const xt_nccl *self) { return self->rank; }
extern "C" int xt_nccl_nranks(const xt_nccl *self) { return self->nranks; }

// ---- collectives

static int s_allreduce(xt_nccl *self, void *buf, size_t n, ncclDataType_t type, cudaStream_t st,
                       const char *what, xt_err *err) {
    if (self->broken)
        return xt_err_set(err, XT_EDEVICE,
                          "nccl: rank %d of %d: the communicator was aborted after an earlier "
                          "failure",
                          self->rank, self->nranks);
    XT_CUDA_CHECK(err, cudaSetDevice(self->device));
    ncclResult_t r = ncclAllReduce(buf, buf, n, type, ncclSum, self->comm, st);
    if (r != ncclSuccess && r != ncclInProgress) return s_fail(self, what, ncclGetErrorString(r), err);
    // the enqueue may still be in progress: wait for it before adding work
    int rc = s_wait(self, NULL, what, err);
    if (rc) return rc;
    if (type == ncclFloat && self->nranks > 1) {
        rc = xt_cuda_scale((float *)buf, 1.0f / (float)self->nranks, n, st, err);
        if (rc) return rc;
    }
    XT_CUDA_CHECK(err, cudaEventRecord(self->done, st));
    return s_wait(self, self->done, what, err);
}

extern "C" int xt_nccl_allreduce_mean(xt_nccl *self, float *buf, size_t n, void *stream,
                                      xt_err *err) {
    return s_allreduce(self, buf, n, ncclFloat, (cudaStream_t)stream, "gradient all-reduce", err);
}

extern "C" int xt_nccl_allreduce_sum_f64(xt_nccl *self, double *buf, size_t n, void *stream,
                                         xt_err *err) {
    return s_allreduce(self, buf, n, ncclDouble, (cudaStream_t)stream, "statistics all-reduce",
                       err);
}
