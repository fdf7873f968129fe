// crc32.c - table-driven CRC-32, one byte per step (~0.5 GB/s). The table is
// computed at compile time by a constant generator, so there is no mutable global.
#include "crc32.h"

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

static const uint32_t s_table[256] = {R256(0u)};

uint32_t xt_crc32(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    crc = ~crc;
    while (n--) crc = s_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
