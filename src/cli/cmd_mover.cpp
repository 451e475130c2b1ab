// kbk mover: the in-pod mover's bundle (docs/mover.md). `kbk mover bundle` writes it to a folder for inspection and
// tests; `kbk mover serve` (hidden) is what runs inside a helper pod, speaking the framed protocol on stdin/stdout.
#include <cstdio>
#include <unistd.h>

#include "commands.hpp"
#include <kbk/json/json.hpp>
#include <kbk/output/output.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/volume/kbk_mover.hpp>

namespace kbk::cli {
namespace {

struct BundleOptions {
  std::string target;
  bool with_libcurl = false;
};

int run_bundle(const GlobalOptions& g, const BundleOptions& o) {
  const output::Format format = output_format(g, {output::Format::json});
  auto bundle = volume::current_bundle(o.with_libcurl);
  if (!bundle) {
    log::error("kbk mover bundle: " + bundle.error().message);
    return static_cast<int>(exit_code_for(bundle.error()));
  }
  if (o.target.empty() || o.target[0] != '/')
    throw Fatal(ExitCode::usage, "kbk mover bundle: --target must be an absolute folder (the argv names it)");
  if (auto w = volume::write_bundle(**bundle, o.target); !w) {
    log::error("kbk mover bundle: " + w.error().message);
    return static_cast<int>(exit_code_for(w.error()));
  }
  json::Document doc;
  doc.SetObject();
  auto& a = doc.GetAllocator();
  json::Value argv(rapidjson::kArrayType);
  for (const auto& s : (*bundle)->argv(o.target)) argv.PushBack(json::make_string(s, a), a);
  doc.AddMember("argv", argv, a);
  doc.AddMember("id", json::make_string((*bundle)->id, a), a);
  doc.AddMember("arch", json::make_string((*bundle)->arch, a), a);
  doc.AddMember("files", json::Value(static_cast<uint64_t>((*bundle)->files.size())), a);
  doc.AddMember("bytes", json::Value((*bundle)->bytes), a);
  if (format.structured()) {
    output::print(doc, format);
  } else {
    std::printf("wrote the kbk bundle %s (%zu files, %s) to %s; start it with:\n ", (*bundle)->id.c_str(),
                (*bundle)->files.size(), util::human_bytes((*bundle)->bytes).c_str(), o.target.c_str());
    for (const auto& s : (*bundle)->argv(o.target)) std::printf(" %s", s.c_str());
    std::printf(" version\n");
  }
  return 0;
}

}  // namespace

void register_mover(CLI::App& app, GlobalOptions& g, RunState& state) {
  auto* group = app.add_subcommand("mover", "The in-pod data mover: kbk itself, run inside helper pods");
  document(group, {"kbk mover bundle --target /tmp/kbk-bundle -o json"},
           "backup create and restore create copy a bundle of this kbk (the binary, its shared libraries and the "
           "dynamic loader) into each helper pod and run it there (--volume-mover kbk, the default). See "
           "docs/mover.md.");

  auto bo = std::make_shared<BundleOptions>();
  auto* bundle = group->add_subcommand("bundle", "Write the bundle that runs kbk in a helper pod to a folder");
  bundle->add_option("--target", bo->target, "Folder to write the bundle to (absolute; created)")
      ->required()
      ->type_name(value::k_dir);
  bundle->add_flag("--with-libcurl", bo->with_libcurl,
                   "The bundle an s3:// location's mover gets: with libcurl and the libraries it needs (the mover "
                   "stores packs in the bucket itself)");
  document(bundle,
           {"kbk mover bundle --target /tmp/kbk-bundle",
            "kbk mover bundle --target /tmp/b -o json    # {\"argv\": [\"/tmp/b/ld.so\", \"--library-path\", ...]}",
            "\"$(kbk mover bundle --target /tmp/b -o jsonpath='{.argv[0]}')\" --library-path /tmp/b/lib /tmp/b/kbk version"},
           "The bundle is what backup create and restore create copy into a helper pod: this binary, the shared "
           "libraries it needs at start (libarchive and libcurl, which the mover does not use, are opened only by the "
           "commands that need them and are not in it) and the dynamic loader, started as `ld.so --library-path LIB "
           "kbk`, so it needs nothing from the image but a shell and tar to unpack it (it travels gzip'ed where the "
           "image has gzip). -o json prints {\"argv\": [...], \"id\", \"arch\", \"files\", \"bytes\"}: argv is "
           "the command line that starts kbk from the folder. --with-libcurl writes the bundle a helper pod gets for an "
           "s3:// location, whose mover talks to the bucket itself: the same plus libcurl and its libraries.");
  set_runner(bundle, state, [&g, bo] { return run_bundle(g, *bo); });

  auto* serve = group->add_subcommand("serve", "Speak the mover protocol on stdin/stdout (run by kbk in a pod)");
  serve->group("");  // internal: kbk starts it; docs/mover.md describes it
  set_runner(serve, state, [] { return volume::serve_mover(STDIN_FILENO, STDOUT_FILENO); });
}

}  // namespace kbk::cli
