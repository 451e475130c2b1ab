// Backend wrappers: one concern each, implementing Backend around another Backend (kopia's and restic's layering).
//   wrap_bandwidth_limit  caps upload and download throughput (--limit-upload / --limit-download), shared by every
//                         stream of the backend, so parallel parts together stay under the cap.
// Retries live in the S3 backend itself, at the HTTP request, where a request body can be replayed.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include <kbk/storage/backend.hpp>

namespace kbk::storage {

struct BandwidthLimits {
  uint64_t upload_bytes_per_second = 0;    // 0 = unlimited
  uint64_t download_bytes_per_second = 0;
};

std::unique_ptr<Backend> wrap_bandwidth_limit(std::unique_ptr<Backend> inner, BandwidthLimits limits);

// "500KiB", "10MiB", "1.5M", "2G" (binary units; a bare number is KiB/s, as restic's flags). Errc::config otherwise.
Result<uint64_t> parse_rate(std::string_view text);

// Wraps `inner` as OpenOptions::settings ask (limit-upload=RATE, limit-download=RATE); unchanged otherwise.
Result<std::unique_ptr<Backend>> apply_wrappers(std::unique_ptr<Backend> inner, const OpenOptions& options);

}  // namespace kbk::storage
