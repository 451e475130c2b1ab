// The mover protocol's frames and storage calls (mover_protocol.hpp, docs/mover.md section 2).
#include "mover_protocol.hpp"

#include <cstdlib>
#include <cstring>

#include <kbk/repo/repository.hpp>
#include <kbk/storage/aws.hpp>
#include <kbk/util/fs.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::volume::protocol {

namespace {

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Parses the frame in buf[0..4+len).
Result<Frame> parse(std::string_view rest) {
  if (rest.size() < 9) return unexpected(Errc::corrupt, "mover protocol: a frame shorter than its fixed fields");
  Frame f;
  const auto t = static_cast<uint8_t>(rest[0]);
  if (t < 1 || t > 7) return unexpected(Errc::corrupt, "mover protocol: unknown frame type " + std::to_string(t));
  f.type = static_cast<Type>(t);
  f.id = get_u32(rest.data() + 1);
  const uint32_t h = get_u32(rest.data() + 5);
  if (h > rest.size() - 9) return unexpected(Errc::corrupt, "mover protocol: a header longer than its frame");
  f.header.assign(rest.substr(9, h));
  f.body.assign(rest.substr(9 + h));
  return f;
}

}  // namespace

std::string encode_head(const Frame& f) {
  std::string out;
  out.reserve(13 + f.header.size());
  put_u32(out, static_cast<uint32_t>(9 + f.header.size() + f.body.size()));
  out.push_back(static_cast<char>(f.type));
  put_u32(out, f.id);
  put_u32(out, static_cast<uint32_t>(f.header.size()));
  out += f.header;
  return out;
}

std::string encode(const Frame& f) {
  std::string out = encode_head(f);
  out.reserve(out.size() + f.body.size());
  out += f.body;
  return out;
}

Result<void> Decoder::feed(std::string_view data, const std::function<Result<void>(Frame&&)>& on_frame) {
  m_buf.append(data);
  size_t pos = 0;
  while (m_buf.size() - pos >= 4) {
    const uint32_t len = get_u32(m_buf.data() + pos);
    if (len > k_max_frame) return unexpected(Errc::corrupt, "mover protocol: a frame of " + std::to_string(len) + " bytes");
    if (m_buf.size() - pos - 4 < len) break;
    KBK_ASSIGN_OR_RETURN(Frame f, parse(std::string_view(m_buf).substr(pos + 4, len)));
    pos += 4 + len;
    KBK_TRY(on_frame(std::move(f)));
  }
  m_buf.erase(0, pos);
  return {};
}

Result<std::optional<Frame>> read_frame(const std::function<Result<size_t>(char*, size_t)>& read) {
  auto exact = [&](char* p, size_t n, bool at_start) -> Result<bool> {
    size_t got = 0;
    while (got < n) {
      KBK_ASSIGN_OR_RETURN(size_t k, read(p + got, n - got));
      if (k == 0) {
        if (at_start && got == 0) return false;
        return unexpected(Errc::corrupt, "mover protocol: the stream ended inside a frame");
      }
      got += k;
    }
    return true;
  };
  // The fixed fields first, then the header and the body read straight into the frame: a body (a pack's range, up
  // to 16 MiB) is not read into a buffer of the whole frame and copied out of it again.
  char fixed[13];
  KBK_ASSIGN_OR_RETURN(bool more, exact(fixed, 4, true));
  if (!more) return std::optional<Frame>();
  const uint32_t len = get_u32(fixed);
  if (len > k_max_frame) return unexpected(Errc::corrupt, "mover protocol: a frame of " + std::to_string(len) + " bytes");
  if (len < 9) return unexpected(Errc::corrupt, "mover protocol: a frame shorter than its fixed fields");
  KBK_TRY(exact(fixed + 4, 9, false));
  const auto t = static_cast<uint8_t>(fixed[4]);
  if (t < 1 || t > 7) return unexpected(Errc::corrupt, "mover protocol: unknown frame type " + std::to_string(t));
  const uint32_t h = get_u32(fixed + 9);
  if (h > len - 9) return unexpected(Errc::corrupt, "mover protocol: a header longer than its frame");
  Frame f;
  f.type = static_cast<Type>(t);
  f.id = get_u32(fixed + 5);
  f.header.resize(h);
  KBK_TRY(exact(f.header.data(), h, false));
  f.body.resize(len - 9 - h);
  KBK_TRY(exact(f.body.data(), f.body.size(), false));
  return std::optional<Frame>(std::move(f));
}

json::Document error_header(const Error& e) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "ok", json::Value(false), a);
  json::set(d, "code", json::Value(static_cast<int>(e.code)), a);
  json::set(d, "message", json::make_string(e.message, a), a);
  return d;
}

Error header_error(const json::Value& header, std::string_view what) {
  Error e;
  const json::Value* c = json::find(header, "code");
  int code = c && c->IsInt() ? c->GetInt() : static_cast<int>(Errc::unknown);
  if (code < 0 || code > static_cast<int>(Errc::unknown)) code = static_cast<int>(Errc::unknown);
  e.code = static_cast<Errc>(code);
  e.message = json::get_string(header, {"message"}, std::string(what) + " failed");
  return e;
}

// ---------------------------------------------------------------------------------------------------------------
RemoteBackend::RemoteBackend(std::function<Result<void>(const std::string&)> send) : m_send(std::move(send)) {}

void RemoteBackend::deliver(Frame&& reply) {
  std::lock_guard lock(m_mutex);
  auto it = m_waiting.find(reply.id);
  if (it == m_waiting.end()) return;
  it->second = std::move(reply);
  m_cv.notify_all();
}

void RemoteBackend::fail_all(const Error& e) {
  std::lock_guard lock(m_mutex);
  m_failed = e;
  m_cv.notify_all();
}

Result<Frame> RemoteBackend::call(json::Document header, std::string_view body) {
  uint32_t id;
  {
    std::lock_guard lock(m_mutex);
    if (m_failed) return unexpected(*m_failed);
    id = m_next++;
    m_waiting.emplace(id, std::nullopt);
  }
  Frame f;
  f.type = Type::request;
  f.id = id;
  f.header = json::to_string(header);
  f.body.assign(body);
  if (auto s = m_send(encode(f)); !s) {
    std::lock_guard lock(m_mutex);
    m_waiting.erase(id);
    return unexpected(s.error());
  }
  std::unique_lock lock(m_mutex);
  m_cv.wait(lock, [&] { return m_waiting[id].has_value() || m_failed.has_value(); });
  auto node = m_waiting.extract(id);
  if (!node.mapped()) return unexpected(*m_failed);
  Frame reply = std::move(*node.mapped());
  lock.unlock();
  auto h = json::parse(reply.header, "mover protocol reply");
  if (!h || !h->IsObject()) return unexpected(Errc::corrupt, "mover protocol: a reply without a JSON header");
  const json::Value* ok = json::find(*h, "ok");
  if (!ok || !ok->IsBool() || !ok->GetBool())
    return unexpected(header_error(*h, json::get_string(header, {"op"}) + " " + json::get_string(header, {"key"})));
  return reply;
}

namespace {

json::Document request_header(const char* op, const std::string& key) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "op", json::make_string(op, a), a);
  json::set(d, "key", json::make_string(key, a), a);
  return d;
}

class StringReader final : public storage::Reader {
public:
  explicit StringReader(std::string s) : m_data(std::move(s)) {}
  Result<size_t> read(char* buffer, size_t size) override {
    const size_t n = std::min(size, m_data.size() - m_pos);
    std::memcpy(buffer, m_data.data() + m_pos, n);
    m_pos += n;
    return n;
  }

private:
  std::string m_data;
  size_t m_pos = 0;
};

class BufferWriter final : public storage::Writer {
public:
  BufferWriter(RemoteBackend& b, std::string key, storage::PutOptions o) : m_b(b), m_key(std::move(key)), m_o(o) {}
  Result<void> write(std::string_view data) override {
    m_data.append(data);
    return {};
  }
  Result<void> commit() override { return m_b.put(m_key, m_data, m_o); }
  void abort() override { m_data.clear(); }
  uint64_t bytes_written() const override { return m_data.size(); }

private:
  RemoteBackend& m_b;
  std::string m_key;
  storage::PutOptions m_o;
  std::string m_data;
};

std::vector<storage::ObjectInfo> objects_of(const json::Value& h) {
  std::vector<storage::ObjectInfo> out;
  const json::Value* objs = json::find(h, "objects");
  if (!objs || !objs->IsArray()) return out;
  for (const auto& o : objs->GetArray()) {
    storage::ObjectInfo info;
    info.key = json::get_string(o, {"key"});
    const json::Value* s = json::find(o, "size");
    info.size = s && s->IsUint64() ? s->GetUint64() : 0;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace

Result<void> RemoteBackend::put(const std::string& key, std::string_view data, const storage::PutOptions& options) {
  auto h = request_header("put", key);
  if (options.if_exists == storage::IfExists::fail)
    json::set(h, "ifExists", json::make_string("fail", h.GetAllocator()), h.GetAllocator());
  KBK_TRY(call(std::move(h), data));
  return {};
}

Result<std::unique_ptr<storage::Writer>> RemoteBackend::put_stream(const std::string& key,
                                                                   const storage::PutOptions& options) {
  return std::unique_ptr<storage::Writer>(std::make_unique<BufferWriter>(*this, key, options));
}

Result<std::string> RemoteBackend::get(const std::string& key) {
  KBK_ASSIGN_OR_RETURN(Frame r, call(request_header("get", key), {}));
  return std::move(r.body);
}

Result<std::unique_ptr<storage::Reader>> RemoteBackend::get_stream(const std::string& key, uint64_t offset,
                                                                  uint64_t length) {
  auto h = request_header("getRange", key);
  json::set(h, "offset", json::Value(offset), h.GetAllocator());
  json::set(h, "length", json::Value(length), h.GetAllocator());
  KBK_ASSIGN_OR_RETURN(Frame r, call(std::move(h), {}));
  return std::unique_ptr<storage::Reader>(std::make_unique<StringReader>(std::move(r.body)));
}

Result<std::string> RemoteBackend::get_range(const std::string& key, uint64_t offset, uint64_t length) {
  if (length == 0) return std::string();
  auto h = request_header("getRange", key);
  json::set(h, "offset", json::Value(offset), h.GetAllocator());
  json::set(h, "length", json::Value(length), h.GetAllocator());
  KBK_ASSIGN_OR_RETURN(Frame r, call(std::move(h), {}));
  if (r.body.size() != length)
    return unexpected(Errc::corrupt, "storage object " + key + ": kbk sent " + std::to_string(r.body.size()) +
                                         " bytes of the range " + std::to_string(offset) + "+" + std::to_string(length));
  return std::move(r.body);
}

Result<std::optional<storage::ObjectInfo>> RemoteBackend::stat(const std::string& key) {
  KBK_ASSIGN_OR_RETURN(Frame r, call(request_header("stat", key), {}));
  auto h = json::parse(r.header, "mover protocol reply");
  if (!h) return unexpected(h.error());
  auto objs = objects_of(*h);
  if (objs.empty()) return std::optional<storage::ObjectInfo>();
  return std::optional<storage::ObjectInfo>(objs.front());
}

Result<void> RemoteBackend::list(const std::string& prefix,
                                 const std::function<Result<void>(const storage::ObjectInfo&)>& on_object) {
  KBK_ASSIGN_OR_RETURN(Frame r, call(request_header("list", prefix), {}));
  auto h = json::parse(r.header, "mover protocol reply");
  if (!h) return unexpected(h.error());
  for (const auto& o : objects_of(*h)) KBK_TRY(on_object(o));
  return {};
}

Result<std::vector<std::string>> RemoteBackend::list_prefixes(const std::string& prefix) {
  return unexpected(Errc::unsupported, "a mover does not list folders (" + prefix + ")");
}
Result<void> RemoteBackend::remove(const std::string& key) {
  return unexpected(Errc::forbidden, "a mover removes nothing (" + key + ")");
}
Result<void> RemoteBackend::remove_many(const std::vector<std::string>&) {
  return unexpected(Errc::forbidden, "a mover removes nothing");
}

Result<storage::sigv4::Credentials> RemoteBackend::fresh_credentials(const std::string& rejected) {
  json::Document h;
  h.SetObject();
  json::set(h, "op", json::make_string("credentials", h.GetAllocator()), h.GetAllocator());
  json::set(h, "rejected", json::make_string(rejected, h.GetAllocator()), h.GetAllocator());
  KBK_ASSIGN_OR_RETURN(Frame r, call(std::move(h), {}));
  auto reply = json::parse(r.header, "mover protocol reply");
  if (!reply || !reply->IsObject()) return unexpected(Errc::corrupt, "mover protocol: a reply without a JSON header");
  return credentials_of(*reply);
}

// ---------------------------------------------------------------------------------------------------------------
// start's "s3" member and the credentials request (docs/mover.md section 6).

namespace {

const char* addressing_name(storage::Addressing a) {
  switch (a) {
    case storage::Addressing::path: return "path";
    case storage::Addressing::virtual_host: return "virtual";
    case storage::Addressing::automatic: break;
  }
  return "auto";
}
const char* signing_name(storage::PayloadSigning p) {
  switch (p) {
    case storage::PayloadSigning::always: return "always";
    case storage::PayloadSigning::never: return "never";
    case storage::PayloadSigning::automatic: break;
  }
  return "auto";
}

void set_credentials(json::Value& out, const storage::sigv4::Credentials& c, const std::string& source, json::Allocator& a) {
  json::Value v(rapidjson::kObjectType);
  json::set(v, "accessKeyId", json::make_string(c.access_key_id, a), a);
  json::set(v, "secretAccessKey", json::make_string(c.secret_access_key, a), a);
  json::set(v, "sessionToken", json::make_string(c.session_token, a), a);
  json::set(v, "source", json::make_string(source, a), a);
  json::set(out, "credentials", std::move(v), a);
}

// The CA store of this host, for an https endpoint without a ca-bundle: a busybox image has none.
std::string host_ca_store() {
  const char* env = std::getenv("SSL_CERT_FILE");
  const char* const candidates[] = {env, "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"};
  for (const char* p : candidates)
    if (p && *p)
      if (auto pem = util::read_file(p); pem && !pem->empty()) return std::move(*pem);
  return "";
}

}  // namespace

json::Value s3_settings_json(const storage::S3Access& access, json::Allocator& a) {
  const auto& s = access.settings;
  json::Value v(rapidjson::kObjectType);
  json::set(v, "bucket", json::make_string(s.bucket, a), a);
  json::set(v, "prefix", json::make_string(s.prefix, a), a);
  json::set(v, "endpoint", json::make_string(s.endpoint, a), a);
  json::set(v, "region", json::make_string(s.region, a), a);
  json::set(v, "addressing", json::make_string(addressing_name(s.addressing), a), a);
  json::set(v, "payloadSigning", json::make_string(signing_name(s.payload_signing), a), a);
  json::set(v, "insecureTls", json::Value(s.insecure_tls), a);
  json::set(v, "partSize", json::Value(s.part_size), a);
  json::set(v, "uploadConcurrency", json::Value(s.upload_concurrency), a);
  json::set(v, "maxRetries", json::Value(s.max_retries), a);
  json::set(v, "retryBackoffSeconds", json::Value(s.retry_backoff_seconds), a);
  json::set(v, "timeoutSeconds", json::Value(s.timeout_seconds), a);
  json::set(v, "objectLock", json::Value(s.object_lock), a);
  json::set(v, "delimiterListing", json::Value(s.delimiter_listing), a);
  json::set(v, "limitUploadBytesPerSecond", json::Value(access.limit_upload_bytes_per_second), a);
  json::set(v, "limitDownloadBytesPerSecond", json::Value(access.limit_download_bytes_per_second), a);
  return v;
}

Result<void> add_s3_secrets(json::Value& s3, const storage::S3Access& access, json::Allocator& a) {
  if (!access.credentials) return unexpected(Errc::config, "s3://" + access.settings.bucket + ": no credentials");
  KBK_ASSIGN_OR_RETURN(auto c, access.credentials->get());
  set_credentials(s3, c, access.credentials->source(), a);
  std::string pem = access.ca_pem;
  if (pem.empty() && util::starts_with(access.settings.endpoint, "https://")) pem = host_ca_store();
  if (!pem.empty()) json::set(s3, "caPem", json::make_string(pem, a), a);
  return {};
}

Result<storage::sigv4::Credentials> credentials_of(const json::Value& header) {
  const json::Value* c = json::find(header, "credentials");
  if (!c || !c->IsObject()) return unexpected(Errc::bad_request, "mover protocol: no credentials for the S3 location");
  storage::sigv4::Credentials out;
  out.access_key_id = json::get_string(*c, {"accessKeyId"});
  out.secret_access_key = json::get_string(*c, {"secretAccessKey"});
  out.session_token = json::get_string(*c, {"sessionToken"});
  if (out.access_key_id.empty() || out.secret_access_key.empty())
    return unexpected(Errc::bad_request, "mover protocol: S3 credentials without a key");
  return out;
}

Result<storage::S3Access> s3_access_of(const json::Value& v) {
  if (!v.IsObject()) return unexpected(Errc::bad_request, "the start frame's s3 member is not an object");
  storage::S3Access access;
  auto& s = access.settings;
  auto num = [&](const char* k, double def) {
    const json::Value* x = json::find(v, k);
    return x && x->IsNumber() ? x->GetDouble() : def;
  };
  auto boolean = [&](const char* k, bool def) {
    const json::Value* x = json::find(v, k);
    return x && x->IsBool() ? x->GetBool() : def;
  };
  s.bucket = json::get_string(v, {"bucket"});
  s.prefix = json::get_string(v, {"prefix"});
  s.endpoint = json::get_string(v, {"endpoint"});
  s.region = json::get_string(v, {"region"}, "us-east-1");
  const std::string addressing = json::get_string(v, {"addressing"});
  s.addressing = addressing == "path"      ? storage::Addressing::path
                 : addressing == "virtual" ? storage::Addressing::virtual_host
                                           : storage::Addressing::automatic;
  const std::string signing = json::get_string(v, {"payloadSigning"});
  s.payload_signing = signing == "always"  ? storage::PayloadSigning::always
                      : signing == "never" ? storage::PayloadSigning::never
                                           : storage::PayloadSigning::automatic;
  s.insecure_tls = boolean("insecureTls", false);
  s.part_size = static_cast<uint64_t>(num("partSize", static_cast<double>(s.part_size)));
  s.upload_concurrency = static_cast<int>(num("uploadConcurrency", s.upload_concurrency));
  s.max_retries = static_cast<int>(num("maxRetries", s.max_retries));
  s.retry_backoff_seconds = num("retryBackoffSeconds", s.retry_backoff_seconds);
  s.timeout_seconds = num("timeoutSeconds", 0);
  s.object_lock = boolean("objectLock", false);
  s.delimiter_listing = boolean("delimiterListing", true);
  access.limit_upload_bytes_per_second = static_cast<uint64_t>(num("limitUploadBytesPerSecond", 0));
  access.limit_download_bytes_per_second = static_cast<uint64_t>(num("limitDownloadBytesPerSecond", 0));
  access.ca_pem = json::get_string(v, {"caPem"});
  if (s.bucket.empty() || s.endpoint.empty())
    return unexpected(Errc::bad_request, "the start frame's s3 member names no bucket or endpoint");
  return access;
}

std::string mover_session_policy(const storage::S3Settings& settings, bool write) {
  const std::string partition = util::starts_with(settings.region, "cn-")       ? "aws-cn"
                                : util::starts_with(settings.region, "us-gov-") ? "aws-us-gov"
                                                                               : "aws";
  const std::string bucket = "arn:" + partition + ":s3:::" + settings.bucket;
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  json::set(d, "Version", json::make_string("2012-10-17", a), a);
  json::Value statements(rapidjson::kArrayType);
  json::Value packs(rapidjson::kObjectType);
  json::set(packs, "Effect", json::make_string("Allow", a), a);
  json::Value actions(rapidjson::kArrayType);
  actions.PushBack(json::make_string("s3:GetObject", a), a);
  if (write) {
    actions.PushBack(json::make_string("s3:PutObject", a), a);
    actions.PushBack(json::make_string("s3:AbortMultipartUpload", a), a);
  }
  json::set(packs, "Action", std::move(actions), a);
  json::set(packs, "Resource", json::make_string(bucket + "/" + settings.prefix + repo::k_prefix + "data/*", a), a);
  statements.PushBack(packs, a);
  json::Value list(rapidjson::kObjectType);
  json::set(list, "Effect", json::make_string("Allow", a), a);
  json::set(list, "Action", json::make_string("s3:ListBucket", a), a);
  json::set(list, "Resource", json::make_string(bucket, a), a);
  statements.PushBack(list, a);
  json::set(d, "Statement", std::move(statements), a);
  return json::to_string(d);
}

bool is_credentials_request(const Frame& request) {
  auto h = json::parse(request.header, "mover request");
  return h && h->IsObject() && json::get_string(*h, {"op"}) == "credentials";
}

Frame serve_credentials(const Frame& request, storage::aws::CredentialsProvider& provider) {
  Frame reply;
  reply.type = Type::reply;
  reply.id = request.id;
  auto h = json::parse(request.header, "mover request");
  const std::string rejected = h && h->IsObject() ? json::get_string(*h, {"rejected"}) : "";
  // Drops kbk's cached copy when it is still the rejected key; the chain then fetches a new session.
  (void)provider.invalidate(rejected);
  auto c = provider.get();
  if (!c) {
    reply.header = json::to_string(error_header(c.error()));
    return reply;
  }
  json::Document out;
  out.SetObject();
  json::set(out, "ok", json::Value(true), out.GetAllocator());
  set_credentials(out, *c, provider.source(), out.GetAllocator());
  reply.header = json::to_string(out);
  return reply;
}

// ---------------------------------------------------------------------------------------------------------------
Frame serve_request(storage::Backend& backend, const Frame& request, ServeCounts& counts,
                    const std::function<void(const std::string&, std::string_view)>& on_written,
                    const std::function<void(const Error&)>& on_refused) {
  Frame reply;
  reply.type = Type::reply;
  reply.id = request.id;
  auto fail = [&](Error e) {
    reply.header = json::to_string(error_header(e));
    reply.body.clear();
    return reply;
  };
  auto h = json::parse(request.header, "mover request");
  if (!h || !h->IsObject()) return fail(Error{Errc::bad_request, "a request without a JSON header"});
  const std::string op = json::get_string(*h, {"op"});
  const std::string key = json::get_string(*h, {"key"});
  if (!util::starts_with(key, repo::k_prefix) || key.find("..") != std::string::npos)
    return fail(Error{Errc::forbidden, "a mover may only reach the repository, not " + util::printable(key)});
  json::Document out;
  out.SetObject();
  auto& a = out.GetAllocator();
  json::set(out, "ok", json::Value(true), a);
  auto object_list = [&](const std::vector<storage::ObjectInfo>& objs) {
    json::Value arr(rapidjson::kArrayType);
    for (const auto& o : objs) {
      json::Value v(rapidjson::kObjectType);
      json::set(v, "key", json::make_string(o.key, a), a);
      json::set(v, "size", json::Value(o.size), a);
      arr.PushBack(v, a);
    }
    json::set(out, "objects", std::move(arr), a);
  };
  if (op == "get") {
    auto r = backend.get(key);
    if (!r) return fail(r.error());
    reply.body = std::move(*r);
  } else if (op == "getRange") {
    const json::Value* o = json::find(*h, "offset");
    const json::Value* l = json::find(*h, "length");
    const uint64_t offset = o && o->IsUint64() ? o->GetUint64() : 0;
    const uint64_t length = l && l->IsUint64() ? l->GetUint64() : 0;
    if (length > k_max_frame - 4096) return fail(Error{Errc::bad_request, "a range read larger than a frame"});
    if (length > 0) {  // a pack's range from the index: read straight into the reply (one request on S3)
      auto r = backend.get_range(key, offset, length);
      if (!r) return fail(r.error());
      reply.body = std::move(*r);
      counts.bytes_out += reply.body.size();
      reply.header = json::to_string(out);
      return reply;
    }
    auto r = backend.get_stream(key, offset, length);
    if (!r) return fail(r.error());
    char buf[1 << 16];
    for (;;) {
      auto n = (*r)->read(buf, sizeof buf);
      if (!n) return fail(n.error());
      if (*n == 0) break;
      reply.body.append(buf, *n);
      if (reply.body.size() > k_max_frame - 4096) return fail(Error{Errc::bad_request, "a read larger than a frame"});
    }
  } else if (op == "stat") {
    auto r = backend.stat(key);
    if (!r) return fail(r.error());
    std::vector<storage::ObjectInfo> objs;
    if (*r) objs.push_back(**r);
    object_list(objs);
  } else if (op == "list") {
    std::vector<storage::ObjectInfo> objs;
    auto r = backend.list(key, [&](const storage::ObjectInfo& info) -> Result<void> {
      objs.push_back(info);
      return {};
    });
    if (!r) return fail(r.error());
    object_list(objs);
  } else if (op == "put") {
    const std::string rel = key.substr(std::strlen(repo::k_prefix));
    if (!util::starts_with(rel, "data/") && !util::starts_with(rel, "index/") && !util::starts_with(rel, "snapshots/"))
      return fail(Error{Errc::forbidden, "a mover may not write " + util::printable(key)});
    counts.bytes_in += request.body.size();
    // Never over an existing file, whatever the mover asked: index files and snapshots are named by the SHA-256 of
    // their bytes and packs by a random id, so kbk's own mover writes each name once (it asks ifExists "fail" and
    // takes an index file that exists for written). A put that would replace one could change what earlier
    // backups' snapshots restore: it is refused as already_exists and, when the mover did not ask "fail", told to
    // on_refused (the CLI's line naming the pod).
    storage::PutOptions po;
    po.if_exists = storage::IfExists::fail;
    auto r = backend.put(key, request.body, po);
    if (!r && r.error().is(Errc::already_exists) && json::get_string(*h, {"ifExists"}) != "fail") {
      Error refused{Errc::already_exists, "refused to overwrite " + util::printable(key) +
                                              ", which exists (a mover never replaces a repository file)"};
      if (on_refused) on_refused(refused);
      return fail(std::move(refused));
    }
    if (!r) return fail(r.error());
    counts.bytes_written += request.body.size();
    if (on_written) on_written(key, request.body);
  } else {
    return fail(Error{Errc::bad_request, "unknown request " + util::printable(op)});
  }
  counts.bytes_out += reply.body.size();
  reply.header = json::to_string(out);
  return reply;
}

namespace {

// A mountinfo field with the kernel's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) decoded.
std::string unescape_mount_field(std::string_view f) {
  std::string out;
  out.reserve(f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '\\' && f.size() - i >= 4 && f[i + 1] >= '0' && f[i + 1] <= '3' && f[i + 2] >= '0' && f[i + 2] <= '7' && f[i + 3] >= '0' && f[i + 3] <= '7') {
      out.push_back(static_cast<char>((f[i + 1] - '0') * 64 + (f[i + 2] - '0') * 8 + (f[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(f[i]);
    }
  }
  return out;
}

}  // namespace

bool mount_point_listed(std::string_view mountinfo, std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  while (!mountinfo.empty()) {
    const size_t nl = mountinfo.find('\n');
    std::string_view line = mountinfo.substr(0, nl);
    mountinfo.remove_prefix(nl == std::string_view::npos ? mountinfo.size() : nl + 1);
    // mount ID, parent ID, major:minor, root, mount point, ...
    for (int field = 0; field < 4 && !line.empty(); ++field) {
      const size_t sp = line.find(' ');
      line.remove_prefix(sp == std::string_view::npos ? line.size() : sp + 1);
    }
    const std::string_view point = line.substr(0, line.find(' '));
    if (!point.empty() && unescape_mount_field(point) == path) return true;
  }
  return false;
}

}  // namespace kbk::volume::protocol
