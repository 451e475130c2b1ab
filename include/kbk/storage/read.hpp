// Reading helpers over the Backend interface (storage/backend.hpp).
#pragma once

#include <cstdint>
#include <string>

#include <kbk/storage/backend.hpp>

namespace kbk::storage {

// Up to `length` bytes at `offset` of `key`, read through get_stream(): fewer when the object ends first, and it is
// the caller's to say whether that is damage (Backend::get_range's default: Errc::corrupt; `repo check`: each blob
// past the end is reported cut off and the others are still checked). "" for length 0, without a request.
Result<std::string> read_up_to(Backend& backend, const std::string& key, uint64_t offset, uint64_t length);

}  // namespace kbk::storage
