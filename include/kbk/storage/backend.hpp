// Storage backends: where backups live (a folder, an S3 bucket). One small interface; backends register by
// URL scheme in one table (storage/registry.cpp); shared rules (retries, bandwidth limits, read-only) are
// wrappers that implement the same interface around another backend.
//
// Keys are relative to the location ("backups/b1/b1.tar.gz"), '/'-separated. Writes are atomic: an object is
// either absent or complete; put_stream()'s object appears only on commit(). Missing objects are
// Errc::not_found from get/get_stream and std::nullopt from stat.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <kbk/util/error.hpp>

namespace kbk::storage {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::chrono::system_clock::time_point modified;
  std::string etag;
};

struct S3Access;  // storage/s3.hpp

enum class IfExists { overwrite, fail };  // fail: Errc::already_exists (If-None-Match: * on S3, O_EXCL on files)

struct PutOptions {
  IfExists if_exists = IfExists::overwrite;
  std::string content_type = "application/octet-stream";
};

// A streaming upload. Nothing is visible until commit() succeeds; destroying an uncommitted writer aborts.
class Writer {
public:
  virtual ~Writer() = default;
  virtual Result<void> write(std::string_view data) = 0;
  virtual Result<void> commit() = 0;
  virtual void abort() = 0;
  virtual uint64_t bytes_written() const = 0;
};

// A streaming download. read() returns 0 at the end.
class Reader {
public:
  virtual ~Reader() = default;
  virtual Result<size_t> read(char* buffer, size_t size) = 0;
};

class Backend {
public:
  virtual ~Backend() = default;

  // The location as the user should see it (no credentials).
  virtual std::string display_url() const = 0;

  virtual Result<void> put(const std::string& key, std::string_view data, const PutOptions& options) = 0;
  virtual Result<std::unique_ptr<Writer>> put_stream(const std::string& key, const PutOptions& options) = 0;
  virtual Result<std::string> get(const std::string& key) = 0;
  // length 0 = to the end.
  virtual Result<std::unique_ptr<Reader>> get_stream(const std::string& key, uint64_t offset = 0,
                                                      uint64_t length = 0) = 0;
  // Exactly `length` bytes (> 0) at `offset` of an object that holds them and never changes once written (a pack,
  // whose range comes from an index entry): one request where the backend can make it so (S3: a ranged GET without
  // the HEAD and If-Match that get_stream() sends to bound and pin its ranges). Errc::not_found for a missing
  // object, Errc::corrupt when it holds fewer bytes. The default reads get_stream().
  virtual Result<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length);
  virtual Result<std::optional<ObjectInfo>> stat(const std::string& key) = 0;
  // Every object whose key starts with prefix, in key order.
  virtual Result<void> list(const std::string& prefix,
                            const std::function<Result<void>(const ObjectInfo&)>& on_object) = 0;
  // The "folders" directly under prefix (prefix ends with '/'): {"b1/", "b2/"} for "backups/".
  virtual Result<std::vector<std::string>> list_prefixes(const std::string& prefix) = 0;
  // Removing a missing object succeeds.
  virtual Result<void> remove(const std::string& key) = 0;
  virtual Result<void> remove_many(const std::vector<std::string>& keys) = 0;
  // Removes leftovers of interrupted writes older than the given age (temp files, multipart uploads) whose keys
  // are under `folder` ("" = the whole location; else a prefix ending in '/', e.g. "backups/b1/"). Returns how
  // many were removed.
  virtual Result<uint64_t> cleanup_incomplete(std::chrono::seconds older_than, const std::string& folder) = 0;

  // How another process reaches this location by itself (the in-pod mover, docs/mover.md section 6): an S3
  // location's resolved settings, CA certificates, credentials provider and the bandwidth caps of the wrappers
  // around it. nullptr for a location only this process can reach (a folder).
  virtual std::shared_ptr<S3Access> s3_access() const { return nullptr; }
};

struct OpenOptions {
  // Settings from flags (--s3-endpoint, --s3-region, --limit-upload, ...) as key/value pairs; URL query
  // options take the same keys.
  std::vector<std::pair<std::string, std::string>> settings;
  bool create = false;  // create the location (folder) when missing; backup create sets it
};

// Opens a location: "file:///abs/path", "/abs/path", "./rel", "s3://bucket/prefix?region=...".
// Errc::config for a malformed URL or unknown scheme; Errc::precondition when the location is unreachable.
Result<std::unique_ptr<Backend>> open(const std::string& url, const OpenOptions& options = {});

// Registration table entry; backends add themselves in registry.cpp.
using Factory = std::function<Result<std::unique_ptr<Backend>>(const std::string& url, const OpenOptions&)>;
void register_scheme(const std::string& scheme, Factory factory);

}  // namespace kbk::storage
