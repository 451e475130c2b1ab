// kbk storage: look at and move objects in a backup location directly (ls, put, get, rm, cleanup) — for checking
// that a location and its credentials work, for scripts, and for the storage cross-checks and benchmarks.
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.hpp"
#include "key_file.hpp"
#include <kbk/archive/encryption.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/output/output.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/wrappers.hpp>
#include <kbk/util/log.hpp>
#include <kbk/util/strings.hpp>
#include <kbk/util/time.hpp>

namespace kbk::cli {
namespace {

struct StorageOptions {
  std::string prefix;
  std::string key;
  std::string file = "-";
  std::vector<std::string> keys;
  bool exclusive = false;
  double older_than = 24 * 3600;
  std::string key_file;               // --encryption-key-file
};

std::string folder_of(const std::string& key) {
  auto slash = key.rfind('/');
  return slash == std::string::npos ? std::string() : key.substr(0, slash + 1);
}

int fail(const Error& e) {
  log::error(e.message);
  return static_cast<int>(exit_code_for(e));
}

// --progress for put and get: the transfer's bytes, bytes/s and ETA (a TTY line or JSON lines on stderr).
struct Progress {
  std::unique_ptr<util::ProgressSink> sink;
  std::shared_ptr<storage::TransferProgress> meter;
  explicit Progress(const GlobalOptions& g) {
    auto mode = output::parse_progress_mode(g.progress);
    if (!mode) throw Fatal(ExitCode::usage, mode.error().message);
    sink = output::make_progress(*mode);
    meter = std::make_shared<storage::TransferProgress>(*sink);
  }
};

int run_ls(const GlobalOptions& g, const StorageOptions& o) {
  const output::Format format = output_format(g, {output::Format::json});
  auto b = open_storage(g);
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("apiVersion", "kbk.io/v1alpha1", a);
  doc.AddMember("kind", "ObjectList", a);
  json::Value items(rapidjson::kArrayType);
  output::Table table({"SIZE", "MODIFIED", "KEY"});
  auto r = b->list(o.prefix, [&](const storage::ObjectInfo& i) -> Result<void> {
    if (format.structured()) {
      json::Value v(rapidjson::kObjectType);
      v.AddMember("key", json::make_string(i.key, a), a);
      v.AddMember("bytes", i.size, a);
      v.AddMember("lastModified", json::make_string(util::format_rfc3339(i.modified), a), a);
      v.AddMember("etag", json::make_string(i.etag, a), a);
      items.PushBack(v, a);
    } else {
      table.add_row({std::to_string(i.size), util::format_rfc3339(i.modified), i.key});
    }
    return {};
  });
  if (!r) return fail(r.error());
  doc.AddMember("items", items, a);
  if (format.structured()) output::print(doc, format);
  else if (!table.empty()) std::fputs(table.render().c_str(), stdout);
  return 0;
}

int run_put(const GlobalOptions& g, const StorageOptions& o) {
  Progress progress(g);
  auto b = open_storage(g, false, progress.meter);
  int fd = o.file == "-" ? 0 : ::open(o.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Fatal(ExitCode::usage, o.file + ": cannot open for reading");
  // A regular file's size is the upload's total (encrypted, the sealed size is not known up front).
  struct stat st {};
  if (o.key_file.empty() && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
    progress.meter->expect_upload(o.key, static_cast<uint64_t>(st.st_size));
  storage::PutOptions po;
  if (o.exclusive) po.if_exists = storage::IfExists::fail;
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<crypto::Encryptor> enc;
  if (!o.key_file.empty()) {
    // Envelope: a fresh data key, wrapped by the user's key into a key object next to the object.
    auto user = load_encryption_key(o.key_file);
    auto nk = archive::new_backup_key(*user);
    if (!nk) return fail(nk.error());
    auto kr = b->put(folder_of(o.key) + "kbk-key-" + nk->object.key_id, nk->object.json, {});
    if (!kr) return fail(kr.error());
    enc = std::make_unique<crypto::Encryptor>(nk->data_key);
  }
  auto w = b->put_stream(o.key, po);
  if (!w) return fail(w.error());
  std::string buf(1 << 20, '\0');
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      (*w)->abort();
      throw Fatal(ExitCode::failed, o.file + ": read error");
    }
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    std::string sealed;
    if (enc) {
      sealed = enc->update(chunk);
      chunk = sealed;
    }
    auto r = (*w)->write(chunk);
    if (!r) return fail(r.error());
  }
  if (fd != 0) ::close(fd);
  if (enc) {
    auto r = (*w)->write(enc->finish());
    if (!r) return fail(r.error());
  }
  auto c = (*w)->commit();
  if (!c) return fail(c.error());
  progress.meter->finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::info(1, "uploaded " + util::human_bytes((*w)->bytes_written()) + " to " + b->display_url() + "/" + o.key +
                   " in " + util::human_duration(secs));
  return 0;
}

int run_get(const GlobalOptions& g, const StorageOptions& o) {
  Progress progress(g);
  auto b = open_storage(g, false, progress.meter);
  std::unique_ptr<crypto::Decryptor> dec;
  if (!o.key_file.empty()) {
    auto user = load_encryption_key(o.key_file);
    auto dk = archive::open_data_key(*b, folder_of(o.key), *user, o.key);
    if (!dk) return fail(dk.error());
    dec = std::make_unique<crypto::Decryptor>(*dk, b->display_url() + "/" + o.key);
  }
  auto r = b->get_stream(o.key);
  if (!r) return fail(r.error());
  int fd = o.file == "-" ? 1 : ::open(o.file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Fatal(ExitCode::usage, o.file + ": cannot open for writing");
  auto write_all = [&](std::string_view data) {
    for (size_t off = 0; off < data.size();) {
      ssize_t k = ::write(fd, data.data() + off, data.size() - off);
      if (k <= 0) throw Fatal(ExitCode::failed, o.file + ": write error");
      off += static_cast<size_t>(k);
    }
  };
  std::string buf(1 << 20, '\0');
  while (true) {
    auto n = (*r)->read(buf.data(), buf.size());
    if (!n) return fail(n.error());
    if (*n == 0) break;
    std::string_view chunk(buf.data(), *n);
    if (dec) {
      auto plain = dec->update(chunk);
      if (!plain) return fail(plain.error());
      write_all(*plain);
    } else {
      write_all(chunk);
    }
  }
  if (dec) {
    // Only a complete, authenticated stream succeeds; a truncated one fails here (the partial output stays for
    // inspection, and the exit code says it is not to be trusted).
    auto tail = dec->finish();
    if (!tail) return fail(tail.error());
    write_all(*tail);
  }
  if (fd != 1) ::close(fd);
  progress.meter->finish();
  return 0;
}

int run_rm(const GlobalOptions& g, const StorageOptions& o) {
  auto b = open_storage(g);
  auto r = b->remove_many(o.keys);
  return r ? 0 : fail(r.error());
}

int run_cleanup(const GlobalOptions& g, const StorageOptions& o) {
  const output::Format format = output_format(g, {output::Format::json});
  auto b = open_storage(g);
  auto r = b->cleanup_incomplete(std::chrono::seconds(static_cast<int64_t>(o.older_than)), "");
  if (!r) return fail(r.error());
  if (format.structured()) {
    json::Document d(rapidjson::kObjectType);
    d.AddMember("removed", *r, d.GetAllocator());
    output::print(d, format);
  } else {
    std::printf("%llu incomplete upload(s) removed\n", static_cast<unsigned long long>(*r));
  }
  return 0;
}

}  // namespace

void register_storage(CLI::App& app, GlobalOptions& g, RunState& state) {
  static StorageOptions o;
  CLI::App* cmd = app.add_subcommand("storage", "Look at and move objects in a backup location (--storage URL)");
  document(cmd, {"kbk storage ls backups/ --storage s3://corp-backups/prod", "kbk storage put probe.txt ./probe.txt"});

  auto* ls = cmd->add_subcommand("ls", "List the objects under a prefix (-o json for JSON)");
  ls->add_option("PREFIX", o.prefix, "Key prefix, e.g. backups/")->type_name("PREFIX");
  document(ls, {"kbk storage ls", "kbk storage ls backups/nightly/ -o json",
                "kbk storage ls -o jsonpath='{range .items[*]}{.bytes}{\"\\t\"}{.key}{\"\\n\"}{end}'"},
           "-o json prints {\"kind\": \"ObjectList\", \"items\": [{\"key\", \"bytes\", \"lastModified\", \"etag\"}]}.");
  set_runner(ls, state, [&g] { return run_ls(g, o); });

  auto* put = cmd->add_subcommand("put", "Upload a file (or stdin) as KEY (--progress shows bytes, bytes/s and ETA)");
  put->add_option("KEY", o.key, "Object key")->required()->type_name("KEY");
  put->add_option("FILE", o.file, "File to upload, - for stdin")->capture_default_str()->type_name(value::k_file);
  put->add_flag("--if-not-exists", o.exclusive, "Fail (exit 1) when KEY already exists");
  add_encryption_key_option(put, o.key_file, "Encrypt (docs/format-encryption.md); the key object goes next to KEY");
  document(put, {"kbk storage put probe/hello.txt ./hello.txt", "tar c ./etc | kbk storage put probe/etc.tar - --limit-upload 5MiB"});
  set_runner(put, state, [&g] { return run_put(g, o); });

  auto* get = cmd->add_subcommand("get", "Download KEY to a file (or stdout) (--progress shows bytes, bytes/s and ETA)");
  get->add_option("KEY", o.key, "Object key")->required()->type_name("KEY");
  get->add_option("FILE", o.file, "Destination file, - for stdout")->capture_default_str()->type_name(value::k_file);
  add_encryption_key_option(get, o.key_file, "Decrypt with the key object next to KEY that this key opens");
  document(get, {"kbk storage get backups/nightly/kbk-manifest.json - | jq .phase",
                 "kbk storage get probe/hello.txt ./hello.txt"});
  set_runner(get, state, [&g] { return run_get(g, o); });

  auto* rm = cmd->add_subcommand("rm", "Remove objects (missing ones are not an error)");
  rm->add_option("KEYS", o.keys, "Object keys")->required()->type_name("KEY");
  document(rm, {"kbk storage rm probe/hello.txt probe/etc.tar"},
           "Removes exactly the keys named; use kbk backup delete for a backup (marker first, lock last).");
  set_runner(rm, state, [&g] { return run_rm(g, o); });

  auto* cleanup = cmd->add_subcommand("cleanup", "Remove leftovers of interrupted uploads (S3 multipart uploads, temp files)");
  add_duration_option(cleanup, "--older-than", o.older_than, "Only leftovers older than this");
  document(cleanup, {"kbk storage cleanup", "kbk storage cleanup --older-than 1h -o json"},
           "Leftovers younger than --older-than may belong to an upload still running and are kept.");
  set_runner(cleanup, state, [&g] { return run_cleanup(g, o); });
}

}  // namespace kbk::cli
