// The framed mover protocol over the exec stream (docs/mover.md section 2): frames, and the storage calls a mover
// makes through kbk (a storage::Backend on the pod side, a server of requests on the CLI side).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/storage/s3.hpp>
#include <kbk/util/error.hpp>

namespace kbk::volume::protocol {

inline constexpr int k_version = 2;
inline constexpr uint32_t k_max_frame = (64u << 20) + (64u << 10);

enum class Type : uint8_t { hello = 1, start = 2, request = 3, reply = 4, progress = 5, result = 6, cancel = 7 };

struct Frame {
  Type type = Type::hello;
  uint32_t id = 0;
  std::string header;  // JSON text
  std::string body;
};

std::string encode(const Frame& f);
// The frame without its body (length, type, id, header): a large body is sent after it as it is, not copied.
std::string encode_head(const Frame& f);

// Reassembles frames from a byte stream fed in pieces. Errc::corrupt for a frame that is too large or malformed.
class Decoder {
public:
  Result<void> feed(std::string_view data, const std::function<Result<void>(Frame&&)>& on_frame);

private:
  std::string m_buf;
};

// A blocking frame reader over a read function (0 = end).
Result<std::optional<Frame>> read_frame(const std::function<Result<size_t>(char*, size_t)>& read);

// --- pod side ---
// A storage backend whose every call is a request frame answered by kbk. Thread-safe: calls from several threads
// are outstanding at once. send writes one encoded frame (serialized by the caller's lock); deliver() is called by
// the stdin reader with each reply; fail_all() ends every waiting call (the stream is gone).
class RemoteBackend final : public storage::Backend {
public:
  explicit RemoteBackend(std::function<Result<void>(const std::string&)> send);
  void deliver(Frame&& reply);
  void fail_all(const Error& e);

  std::string display_url() const override { return "kbk (over the exec stream)"; }
  Result<void> put(const std::string& key, std::string_view data, const storage::PutOptions& options) override;
  Result<std::unique_ptr<storage::Writer>> put_stream(const std::string& key, const storage::PutOptions& options) override;
  Result<std::string> get(const std::string& key) override;
  Result<std::unique_ptr<storage::Reader>> get_stream(const std::string& key, uint64_t offset, uint64_t length) override;
  Result<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) override;
  Result<std::optional<storage::ObjectInfo>> stat(const std::string& key) override;
  Result<void> list(const std::string& prefix,
                    const std::function<Result<void>(const storage::ObjectInfo&)>& on_object) override;
  Result<std::vector<std::string>> list_prefixes(const std::string& prefix) override;
  Result<void> remove(const std::string& key) override;
  Result<void> remove_many(const std::vector<std::string>& keys) override;
  Result<uint64_t> cleanup_incomplete(std::chrono::seconds, const std::string&) override { return 0; }

  // One request and its reply (an error reply is an Error). Used for the calls above and for "credentials".
  Result<Frame> call(json::Document header, std::string_view body);
  // Fresh S3 credentials from kbk after S3 refused `rejected` (docs/mover.md section 6).
  Result<storage::sigv4::Credentials> fresh_credentials(const std::string& rejected);

private:
  std::function<Result<void>(const std::string&)> m_send;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  uint32_t m_next = 1;
  std::map<uint32_t, std::optional<Frame>> m_waiting;
  std::optional<Error> m_failed;
};

// --- CLI side ---
struct ServeCounts {
  uint64_t bytes_out = 0;   // bodies sent to the mover (reads)
  uint64_t bytes_in = 0;    // bodies received (writes)
  uint64_t bytes_written = 0;  // of which stored in the location (packs, index files, snapshots)
};
// Answers one request frame from `backend`: only keys under the repository prefix; writes only below data/,
// index/ and snapshots/, never over an existing file (already_exists, whatever the request's ifExists); no removal.
// on_written(key, body) is told of every stored object, on_refused of a put that would have replaced a file although
// the mover did not ask ifExists "fail" (kbk's mover always asks it: another one is trying to change the repository).
Frame serve_request(storage::Backend& backend, const Frame& request, ServeCounts& counts,
                    const std::function<void(const std::string&, std::string_view)>& on_written,
                    const std::function<void(const Error&)>& on_refused = {});

// The "credentials" request: whether the frame is one, and kbk's answer from its own credentials provider.
bool is_credentials_request(const Frame& request);
Frame serve_credentials(const Frame& request, storage::aws::CredentialsProvider& provider);

// start's "s3" member (docs/mover.md section 6). s3_settings_json: what may be logged (no credentials, no CA
// certificates); add_s3_secrets adds both to it, for the copy sent over stdin. s3_access_of reads it in the pod
// (credentials provider left empty) and the credentials it carries.
json::Value s3_settings_json(const storage::S3Access& access, json::Allocator& a);
Result<void> add_s3_secrets(json::Value& s3, const storage::S3Access& access, json::Allocator& a);
Result<storage::S3Access> s3_access_of(const json::Value& s3);
Result<storage::sigv4::Credentials> credentials_of(const json::Value& header);

// The IAM session policy of a mover's own STS session (where kbk's credentials come from a role it assumes): the
// location's repository packs, read (restore) or read and written (backup), and the bucket's listing, without which
// S3 answers the HEAD of a missing pack 403 instead of 404.
std::string mover_session_policy(const storage::S3Settings& settings, bool write);
inline constexpr int k_mover_session_seconds = 3600;

// A header document with an error ({"ok": false, "code": N, "message"}), and its reading.
json::Document error_header(const Error& e);
Error header_error(const json::Value& header, std::string_view what);

// The pod side's check before it reads or writes PATH (the claim's mount point, /data): true when MOUNTINFO (the
// text of /proc/self/mountinfo) lists a mount at PATH (its fifth field, octal escapes decoded). A mover whose volume
// is not mounted there would read an empty folder, or write into the container's own tree, and report success.
bool mount_point_listed(std::string_view mountinfo, std::string_view path);

}  // namespace kbk::volume::protocol
