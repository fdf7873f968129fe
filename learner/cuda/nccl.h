// nccl.h - the multi-GPU side of the learner: one process per GPU, one NCCL
// communicator, gradient all-reduce (mean) after every minibatch.
//
// Setup: rank 0 makes a unique id (xt_nccl_id_new) and hands it to the
// other ranks, either through a file every rank can read
// (xt_nccl_id_save / xt_nccl_id_load, which waits for the file) or as a
// hex string through the broker (xt_nccl_id_hex / xt_nccl_id_parse). Every
// rank then calls xt_nccl_init with the same id.
//
// Failure: the communicator is non-blocking. init and every all-reduce poll
// ncclCommGetAsyncError with a timeout; an error or a timeout (a peer that
// died or never came) aborts the communicator (ncclCommAbort) and returns
// XT_EDEVICE with a sentence naming this rank, instead of hanging. An
// aborted communicator refuses further work; the learner exits and the
// broker restarts the group.
//
// Plain C; without CUDA the functions fail with "built without CUDA"
// (learner/cuda_stub.c), except the id file and hex helpers, which are
// plain C on every build (learner/cuda/nccl_id.c).
#ifndef XT_NCCL_H
#define XT_NCCL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/err.h"

#define XT_NCCL_ID_BYTES 128 // sizeof(ncclUniqueId)

typedef struct {
    uint8_t bytes[XT_NCCL_ID_BYTES];
} xt_nccl_id;

typedef struct xt_nccl xt_nccl;

// Rank 0: a fresh id (ncclGetUniqueId; it names rank 0's bootstrap socket).
int xt_nccl_id_new(xt_nccl_id *id, xt_err *err);

// 256 lowercase hex digits + NUL.
void xt_nccl_id_hex(const xt_nccl_id *id, char out[2 * XT_NCCL_ID_BYTES + 1]);
// Exactly 256 hex digits (surrounding whitespace allowed).
int xt_nccl_id_parse(const char *hex, xt_nccl_id *id, xt_err *err);
// The hex line, written atomically (temp file + rename), so a reader never
// sees half an id.
int xt_nccl_id_save(const char *path, const xt_nccl_id *id, xt_err *err);
// Reads path, waiting up to wait_s seconds for it to appear.
int xt_nccl_id_load(const char *path, double wait_s, xt_nccl_id *id, xt_err *err);

// Joins the group as rank of nranks on `device`, waiting at most timeout_s
// for the others. Caller owns *out (xt_nccl_destroy).
int xt_nccl_init(xt_nccl **out, int rank, int nranks, const xt_nccl_id *id, int device,
                 double timeout_s, xt_err *err);
// Aborts if still healthy work is pending, then frees; accepts NULL.
void xt_nccl_destroy(xt_nccl **self_p);

int xt_nccl_rank(const xt_nccl *self);
int xt_nccl_nranks(const xt_nccl *self);

// In place on device memory, on the given CUDA stream (a cudaStream_t, or
// NULL for the default stream): buf = mean over the ranks of buf (ncclSum,
// then a scale by 1 / nranks). Waits for completion with the communicator's
// timeout. n floats.
int xt_nccl_allreduce_mean(xt_nccl *self, float *buf, size_t n, void *stream, xt_err *err);
// buf = sum over the ranks (n doubles), same waiting rules.
int xt_nccl_allreduce_sum_f64(xt_nccl *self, double *buf, size_t n, void *stream, xt_err *err);

#ifdef __cplusplus
}
#endif

#endif
