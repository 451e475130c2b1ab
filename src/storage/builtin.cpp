// The built-in backends. Each backend's translation unit exposes a factory; this is the one list of them.
#include <kbk/storage/backend.hpp>
#include <kbk/storage/s3.hpp>

namespace kbk::storage {

Result<std::unique_ptr<Backend>> make_file_backend(const std::string& url, const OpenOptions& options);

void register_builtin_backends() {
  register_scheme("file", make_file_backend);
  register_scheme("s3", [](const std::string& url, const OpenOptions& o) { return make_s3_backend(url, o); });
  // Backends register here, e.g. register_scheme("file", make_file_backend);
}

}  // namespace kbk::storage
