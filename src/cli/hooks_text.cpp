// Hook results as text (hooks_text.hpp).
#include "hooks_text.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include <kbk/util/strings.hpp>

namespace kbk::cli {

namespace {

std::string pr(std::string_view s) { return util::printable(s, 1024); }

std::string str_of(const json::Value& m, std::initializer_list<std::string_view> path) {
  return json::get_string(m, path);
}

unsigned long long uint_of(const json::Value& m, const char* key) {
  const json::Value* v = json::find(m, key);
  return v && v->IsUint64() ? static_cast<unsigned long long>(v->GetUint64()) : 0;
}

}  // namespace

void print_hooks(const json::Value& hk, bool details) {
  std::printf("\nHooks:        %llu attempted, %llu failed\n", uint_of(hk, "attempted"), uint_of(hk, "failed"));
  const json::Value* pods = json::find(hk, "pods");
  if (!pods || !pods->IsArray()) return;
  for (const auto& hp : pods->GetArray()) {
    std::string line = "  " + pr(str_of(hp, {"pod"}));
    if (const json::Value* w = json::find(hp, "window"); w && w->IsObject()) {
      const json::Value* secs = json::find(*w, "seconds");
      std::vector<std::string> vols;
      if (const json::Value* v = json::find(*w, "volumes"); v && v->IsArray())
        for (const auto& x : v->GetArray())
          if (x.IsString()) vols.push_back(pr(x.GetString()));
      line += ": window " + util::human_duration(secs && secs->IsNumber() ? secs->GetDouble() : 0) + " (" +
              pr(str_of(*w, {"cut"})) + (vols.empty() ? "" : ": " + util::join(vols, ", ")) + "), " +
              pr(str_of(*w, {"start"})) + " to " + pr(str_of(*w, {"end"}));
    }
    std::printf("%s\n", line.c_str());
    const json::Value* hs = json::find(hp, "hooks");
    if (!hs || !hs->IsArray()) continue;
    for (const auto& h : hs->GetArray()) {
      if (!details && str_of(h, {"outcome"}) == "ok") continue;
      std::vector<std::string> cmd;
      if (const json::Value* c = json::find(h, "command"); c && c->IsArray())
        for (const auto& x : c->GetArray())
          if (x.IsString()) cmd.push_back(pr(x.GetString()));
      const json::Value* ec = json::find(h, "exitCode");
      const json::Value* dur = json::find(h, "durationSeconds");
      std::string hl = "    " + pr(str_of(h, {"phase"})) + " " + pr(str_of(h, {"name"})) + " [" +
                       pr(str_of(h, {"container"})) + "] " + util::join(cmd, " ") + ": " + pr(str_of(h, {"outcome"}));
      if (ec && ec->IsInt()) hl += ", exit code " + std::to_string(ec->GetInt());
      hl += ", " + util::human_duration(dur && dur->IsNumber() ? dur->GetDouble() : 0);
      const std::string msg = str_of(h, {"message"});
      if (!msg.empty()) hl += ": " + pr(msg);
      std::printf("%s\n", hl.c_str());
      const std::string out = str_of(h, {"output"});
      if (details && !out.empty())
        for (const auto& ol : util::split(out, '\n', true)) std::printf("      | %s\n", pr(ol).c_str());
    }
  }
}

}  // namespace kbk::cli
