// Objects held as JSON text (see json_text.hpp).
#include <kbk/restore/json_text.hpp>

#include <mutex>

#include <kbk/crypto/aead.hpp>
#include <kbk/crypto/encryption.hpp>

namespace kbk::restore {

namespace {

class GcmCipher final : public util::SpoolCipher {
public:
  GcmCipher() : m_aead(crypto::SecretKey::random().bytes()) {}
  size_t overhead() const override { return crypto::k_gcm_nonce_size + crypto::k_gcm_tag_size; }
  // The context's encryption and decryption halves are separate: one lock each.
  void seal(std::string_view text, std::string& out) override {
    std::lock_guard lock(m_seal);
    m_aead.seal("", text, out);
  }
  bool open(std::string_view sealed, std::string& out) override {
    std::lock_guard lock(m_open);
    return m_aead.open("", sealed, out);
  }

private:
  std::mutex m_seal, m_open;
  crypto::Aes256Gcm m_aead;
};

}  // namespace

std::shared_ptr<TextSpool> make_sealed_spool() { return std::make_shared<TextSpool>(std::make_unique<GcmCipher>()); }

JsonText::JsonText(const JsonText& o)
    : m_text(o.m_text ? std::make_unique<std::string>(*o.m_text) : nullptr), m_spool(o.m_spool),
      m_offset(o.m_offset), m_size(o.m_size) {}

JsonText& JsonText::operator=(const JsonText& o) {
  if (this != &o) *this = JsonText(o);
  return *this;
}

JsonText::JsonText(JsonText&& o) noexcept
    : m_text(std::move(o.m_text)), m_spool(std::move(o.m_spool)), m_offset(o.m_offset), m_size(o.m_size) {
  o.m_offset = 0;
  o.m_size = 0;
}

JsonText& JsonText::operator=(JsonText&& o) noexcept {
  if (this != &o) {
    m_text = std::move(o.m_text);
    m_spool = std::move(o.m_spool);
    m_offset = o.m_offset;
    m_size = o.m_size;
    o.m_offset = 0;
    o.m_size = 0;
  }
  return *this;
}

JsonText JsonText::of(const json::Value& v, const std::shared_ptr<TextSpool>& spool) {
  if (v.IsNull()) return JsonText();
  return adopt(json::to_string(v), spool);
}

JsonText JsonText::adopt(std::string text, const std::shared_ptr<TextSpool>& spool) {
  JsonText t;
  if (text.empty()) return t;
  t.m_size = text.size();
  if (spool) {
    if (auto at = spool->add(text)) {
      t.m_spool = spool;
      t.m_offset = *at;
      return t;
    }
  }
  t.m_text = std::make_unique<std::string>(std::move(text));
  return t;
}

const std::string* JsonText::held_text() const {
  static const std::string k_empty;
  if (m_spool) return nullptr;
  return m_text ? m_text.get() : &k_empty;
}

std::string JsonText::text() const {
  if (m_spool) return m_spool->read(m_offset, m_size);
  return m_text ? *m_text : std::string();
}

json::Document JsonText::parse() const {
  if (m_size == 0) return json::Document();
  auto doc = m_spool ? json::parse(text()) : json::parse(*m_text);
  if (!doc) return json::Document();
  return std::move(*doc);
}

void JsonText::release() {
  m_text.reset();
  m_spool.reset();
  m_offset = 0;
  m_size = 0;
}

}  // namespace kbk::restore
