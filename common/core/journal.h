// journal.h - append-only, fsync'd record log (the broker's broker.journal).
//
// A restarted broker rebuilds its state by replaying the journal, so a record
// that xt_journal_append returned 0 for survives any crash. File layout, all
// integers little-endian:
//
//   record  = [u32 length][u32 crc32][u8 type][payload: length bytes]
//   crc32   = CRC-32 (core/crc32.h) over the 4 length bytes, the type byte
//             and the payload, so a flipped bit in the length is caught too
//   record 0 is the header: type 0, payload "XTJOURN1" (magic + version)
//
// Types 1..255 belong to the caller; type 0 is reserved for the header.
// Opening replays every complete record whose length is within the limit and
// whose crc matches, in file order, then stops at the first record that is
// torn (the file ends inside it: a crash mid-append) or corrupt (bad crc, or
// a length above the limit). The file is truncated there with a warning
// naming the offset, and appends continue after the last good record. A
// complete-but-corrupt record is not a crash artefact, so before truncating
// the bytes from it to the end of the file are saved to
// "<path>.corrupt-<offset>" for an operator; a torn tail is simply cut.
//
// A file whose first bytes are not a journal header (nor a torn prefix of
// one) is refused and left untouched, so a wrong path never destroys data.
// One process appends at a time: open takes an exclusive flock and a second
// open of the same file fails until the first is destroyed.
#ifndef XT_JOURNAL_H
#define XT_JOURNAL_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define XT_JOURNAL_HEADER_BYTES 9                 // u32 length + u32 crc + u8 type
#define XT_JOURNAL_MAX_RECORD_DEFAULT (16u << 20) // payload bytes
#define XT_JOURNAL_PATH_MAX 1024

typedef struct xt_journal xt_journal;

// Called once per replayed record (header record excluded) in file order.
// offset is the record's first byte in the file. payload is valid only for
// the duration of the call. Return 0 to continue; a negative XT_E* code stops
// the open, which then fails with that code (the file is left as it was).
typedef int (*xt_journal_fn)(void *user, uint8_t type, const void *payload, uint32_t len,
                             uint64_t offset, xt_err *err);

// What an open (or scan) found.
typedef struct {
    uint64_t records;      // records replayed (header excluded)
    uint64_t valid_bytes;  // bytes up to the end of the last good record
    uint64_t file_bytes;   // file size before any truncation
    int truncated;         // 1 when bytes after valid_bytes were cut (or, for scan, would be)
    uint64_t bad_offset;   // offset of the first torn/corrupt record (valid when truncated)
    char reason[96];       // "torn (file ends inside it)", "crc mismatch", ...
    char saved_path[XT_JOURNAL_PATH_MAX + 32]; // where a corrupt tail was saved ("" if none)
    char warning[2 * XT_JOURNAL_PATH_MAX + 512]; // the sentence that was logged ("" if none)
} xt_journal_info;

// Opens (creating if missing) the journal at path, replays it through fn
// (may be NULL), truncates a torn/corrupt tail and positions for appending.
// max_record: payload limit in bytes (0 = XT_JOURNAL_MAX_RECORD_DEFAULT); it
// must not shrink between runs, or longer records read as corrupt.
// info may be NULL. Returns the journal (caller owns; xt_journal_destroy) or
// NULL with err set.
xt_journal *xt_journal_open(const char *path, uint32_t max_record, xt_journal_fn fn, void *user,
                            xt_journal_info *info, xt_err *err);

// Appends one record and fsyncs it before returning 0. len > max_record is
// refused (XT_ERANGE) and type 0 is refused (XT_EINVAL). If the write or
// fsync fails the file is cut back to its previous length; if even that
// fails the journal refuses further appends (XT_ESTATE) so a torn record can
// never sit in front of later ones.
int xt_journal_append(xt_journal *j, uint8_t type, const void *payload, uint32_t len, xt_err *err);

uint64_t xt_journal_records(const xt_journal *j); // replayed + appended (header excluded)
uint64_t xt_journal_bytes(const xt_journal *j);   // current file length
const char *xt_journal_path(const xt_journal *j);

// Closes the file and releases the lock. Accepts NULL and *j == NULL.
void xt_journal_destroy(xt_journal **j);

// Read-only replay (e.g. `xtrade status` beside a live broker): same checks
// and callbacks as open, but never creates, locks, truncates or logs; info
// reports where a torn/corrupt record would be cut.
int xt_journal_scan(const char *path, uint32_t max_record, xt_journal_fn fn, void *user,
                    xt_journal_info *info, xt_err *err);

#endif
