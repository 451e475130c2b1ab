// The built-in backends. Each backend's translation unit exposes a factory; this is the one list of them.
#include <kbk/storage/backend.hpp>

namespace kbk::storage {

void register_builtin_backends() {
  // Backends register here, e.g. register_scheme("file", make_file_backend);
}

}  // namespace kbk::storage
