// The built-in backends. Each backend's translation unit exposes a factory; this is the one list of them.
#include <kbk/storage/backend.hpp>

namespace kbk::storage {

Result<std::unique_ptr<Backend>> make_file_backend(const std::string& url, const OpenOptions& options);

void register_builtin_backends() {
  register_scheme("file", make_file_backend);
  // Backends register here, e.g. register_scheme("file", make_file_backend);
}

}  // namespace kbk::storage
