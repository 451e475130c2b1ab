// What kbk ui does with a request's body once its token and CSRF checks passed (HTTP itself is cpp-httplib's): the
// first byte picks the endpoint, the rest is the body. POST /api/validate (a patch as typed, or a modifier file),
// POST /api/restore and its preview (a restore spec -> the `kbk restore create` arguments), POST /api/backup (a
// backup spec -> `kbk backup create`). Every problem must be a message with a line and column, or Errc::config
// naming the field; the arguments built must be the name and --flag=VALUE words only.
// fuzz-link: kbk_ui
#include <cstdlib>

#include <kbk/json/json.hpp>
#include <kbk/ui/server.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

namespace {

void check_args(const kbk::ui::Command& c) {
  // After the two command words: the name (never starting with '-'), then only --flag=VALUE, so no value can be
  // read as a flag of its own.
  for (size_t i = 2; i < c.args.size(); ++i) {
    const std::string& a = c.args[i];
    const bool flag = a.rfind("--", 0) == 0 && a.find('=') != std::string::npos;
    if (!flag && (i != 2 || a.empty() || a[0] == '-')) std::abort();
  }
  (void)kbk::util::printable(c.display);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  if (size == 0) return 0;
  const uint8_t pick = data[0] % 5;
  auto body = json::parse(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), "request body");
  if (!body) return 0;
  switch (pick) {
    case 0: {  // /api/validate with a patch
      const std::string text = json::get_string(*body, {"text"});
      for (const auto& p : ui::validate_patch(json::get_string(*body, {"kind"}), text)) (void)util::printable(p.message);
      (void)json::parse_yaml(text, "patch");
      break;
    }
    case 1:  // /api/validate with a modifier file
      for (const auto& p : ui::validate_modifiers(json::get_string(*body, {"modifiers"}))) (void)util::printable(p.message);
      break;
    case 2:
    case 3: {  // /api/restore, /api/restore/preview
      auto c = ui::restore_command(*body, "/tmp/kbk-ui-x/modifiers.yaml", "file:///tmp/kbk-ui-x/store");
      if (c) check_args(*c);
      else (void)util::printable(c.error().message);
      break;
    }
    default: {  // /api/backup
      auto c = ui::backup_command(*body, "file:///tmp/kbk-ui-x/store");
      if (c) check_args(*c);
      else (void)util::printable(c.error().message);
    }
  }
  return 0;
}
