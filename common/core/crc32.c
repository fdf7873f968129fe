// crc32.c - CRC-32 (crc32.h) by slicing-by-8: eight bytes per step through
// eight 256-entry tables (several times the byte-wise loop's ~0.5 GB/s);
// inputs shorter than 16 bytes and the last 0-7 bytes go one byte per step.
//
// Tables: t[0] is the classic byte table (t[0][b] = the register after byte
// b's 8 bit steps); t[k][b] = t[k-1][b] >> 8 ^ t[0][t[k-1][b] & 0xff] is
// byte b followed by k zero bytes, so a word's 8 bytes are folded in at
// once. t[0] is a constant computed by the preprocessor; the 8 x 256 table
// is filled from it once, under pthread_once, and only read afterwards (the
// file's only mutable state). Any thread may call xt_crc32 at any time.
// Byte order: the 8-byte step assembles its words byte by byte, so the
// result depends neither on the host's endianness nor on the alignment.
#include "crc32.h"

#include <pthread.h>

#define P 0xEDB88320u
#define C1(c) (((c) & 1) ? (P ^ ((c) >> 1)) : ((c) >> 1))
#define C8(c) C1(C1(C1(C1(C1(C1(C1(C1(c))))))))
#define R2(n) C8(n), C8(n + 1)
#define R4(n) R2(n), R2(n + 2)
#define R8(n) R4(n), R4(n + 4)
#define R16(n) R8(n), R8(n + 8)
#define R32(n) R16(n), R16(n + 16)
#define R64(n) R32(n), R32(n + 32)
#define R128(n) R64(n), R64(n + 64)
#define R256(n) R128(n), R128(n + 128)

// t[0]: one byte through the register (reflected polynomial P).
static const uint32_t s_table0[256] = {R256(0u)};

// t[0..7], written once by s_init_tables (pthread_once), read-only afterwards.
static uint32_t s_tables[8][256];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_init_tables(void) {
    for (int b = 0; b < 256; b++) s_tables[0][b] = s_table0[b];
    // Byte b followed by k zero bytes: one more byte step of t[k-1].
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++) {
            uint32_t c = s_tables[k - 1][b];
            s_tables[k][b] = (c >> 8) ^ s_table0[c & 0xff];
        }
}

// Little-endian 32-bit word at p (compilers turn this into one load on x86/ARM).
static inline uint32_t s_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t xt_crc32(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    crc = ~crc;
    if (n >= 16) {
        pthread_once(&s_once, s_init_tables);
        uint32_t(*t)[256] = s_tables;
        // 8 bytes per step: the register is xored into the first 4; byte i of
        // the word (i = 0..7) has 7 - i more bytes to travel, hence t[7 - i].
        while (n >= 8) {
            uint32_t lo = s_le32(p) ^ crc, hi = s_le32(p + 4);
            crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
                  t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
            p += 8, n -= 8;
        }
    }
    // The tail, and short inputs (no table beyond t[0] needed).
    while (n--) crc = s_table0[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
