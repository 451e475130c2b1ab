// An application definition (docs/format-application.md) as `kbk app` and `kbk backup create --app` read it. The
// file lives in the harness's empty scratch folder, so a relative include finds nothing; problems must come back as
// Errc::invalid with FILE:LINE:COL causes, and a definition that reads must name itself.
// fuzz-link: kbk_app kbk_storage
#include <kbk/app/definition.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = app::parse(text, fuzz::scratch() + "/app.yaml");
  if (!a) {
    (void)util::printable(a.error().message);
    for (const auto& c : a.error().causes) (void)util::printable(c.message);
    return 0;
  }
  (void)util::printable(a->display_name());
  for (const auto& w : a->warnings) (void)util::printable(w);
  return 0;
}
