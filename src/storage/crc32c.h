#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace otlpd::storage {

// CRC-32C (Castagnoli), the checksum of every record and block in src/storage: SSE4.2's
// crc32 instruction where the CPU has it, a table otherwise. Extend(Crc32c(a), b) equals
// Crc32c(a + b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);
inline uint32_t Crc32c(const void* data, size_t size) { return Crc32cExtend(0, data, size); }
inline uint32_t Crc32c(std::string_view s) { return Crc32c(s.data(), s.size()); }

// A CRC stored next to the data it covers is masked (as LevelDB does), so that a CRC of
// bytes that themselves contain CRCs does not degenerate.
inline uint32_t MaskCrc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t UnmaskCrc(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace otlpd::storage
