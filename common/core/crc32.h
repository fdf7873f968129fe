// crc32.h - CRC-32 (IEEE 802.3, reflected 0xEDB88320), as zlib computes it.
#ifndef XT_CRC32_H
#define XT_CRC32_H

#include <stddef.h>
#include <stdint.h>

// Continue a CRC: start with crc = 0. xt_crc32(0, "123456789", 9) == 0xCBF43926.
uint32_t xt_crc32(uint32_t crc, const void *data, size_t n);

#endif
