#include <kbk/json/json.hpp>

#include <kbk/json/yaml_reader.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <regex>
#include <sstream>
#include <streambuf>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

namespace kbk::json {

namespace {

// RapidJSON 1.1 decodes a lone low surrogate escape ("\udc00") into the bytes ED B0 80, which are not UTF-8 (raw
// text holding them is refused by kParseValidateEncodingFlag): the writers would pass them on and kbk could not
// read back what it wrote (found by fuzz.json). Later RapidJSON versions refuse the escape, as this does.
bool has_surrogate(const char* s, size_t n) {
  for (const char* p = s; (p = static_cast<const char*>(std::memchr(p, '\xed', n - static_cast<size_t>(p - s))));) {
    if (static_cast<size_t>(p - s) + 1 < n && static_cast<unsigned char>(p[1]) >= 0xa0) return true;
    ++p;
  }
  return false;
}

// RapidJSON 1.1's full-precision reader reads a zero with a large exponent (0e100, 0E66, 0.0e300, 0e-30) as garbage
// (Tencent/rapidjson#1249, fixed after 1.1.0): [0e100] came back as [-1.997919072202235e146], so kbk would have
// restored another number. The readers take numbers as text instead (kParseNumbersAsStringsFlag: RapidJSON still
// checks them against JSON's grammar and still refuses an exponent beyond 308, even on a zero) and this converts
// them, typed as RapidJSON types them: an integer that fits 32 bits is an Int (negative) or Uint, one that fits 64
// bits an Int64 or Uint64 ("-0" is the integer 0), anything else a double, correctly rounded as the full-precision
// reader rounds every other number: the same value, so the writers write the same text. A zero significand is zero
// whatever the exponent. The reader's next event is handed the value (h.Int(...), h.Double(...)).
template <class Handler>
bool number_event(Handler& h, const char* s, size_t n) {
  const bool minus = n > 0 && s[0] == '-';
  const char* const digits = s + (minus ? 1 : 0);
  const char* const end = s + n;
  const char* p = digits;
  uint64_t u = 0;
  while (p != end && p - digits < 19 && *p >= '0' && *p <= '9') u = u * 10 + static_cast<unsigned>(*p++ - '0');
  bool integer = p == end;
  if (!integer && p + 1 == end && *p >= '0' && *p <= '9') {  // a 20th digit: the integer may still fit 64 bits
    const unsigned last = static_cast<unsigned>(*p - '0');
    integer = u <= (UINT64_MAX - last) / 10;
    if (integer) u = u * 10 + last;
  }
  if (integer && !minus) return u <= UINT32_MAX ? h.Uint(static_cast<unsigned>(u)) : h.Uint64(u);
  if (integer && u <= 2147483648u) return h.Int(static_cast<int>(-static_cast<int64_t>(u)));
  if (integer && u <= (uint64_t{1} << 63)) return h.Int64(static_cast<int64_t>(~u + 1));
  // A double: u times ten to the power scale + exponent, u holding the significand's first 19 digits (from the
  // first non-zero one; exact: none of those dropped is non-zero). When u is at most 2^53 and that power at most 22
  // (both exact in a double), one multiplication or division rounds correctly (Clinger's fast path, as RapidJSON's
  // StrtodFast): most numbers. Otherwise std::from_chars, correctly rounded.
  u = 0;
  int kept = 0;
  long scale = 0;
  bool exact = true, point = false;
  for (p = digits; p != end && *p != 'e' && *p != 'E'; ++p) {
    if (*p == '.') {
      point = true;
      continue;
    }
    const unsigned digit = static_cast<unsigned>(*p - '0');
    if (kept < 19) {
      u = u * 10 + digit;
      kept += u != 0 ? 1 : 0;
      scale -= point ? 1 : 0;
    } else {
      exact = exact && digit == 0;
      scale += point ? 0 : 1;
    }
  }
  long exponent = 0;
  if (p != end) {  // at the 'e'
    const bool negative = ++p != end && *p == '-';
    if (p != end && (*p == '-' || *p == '+')) ++p;
    for (; p != end; ++p) exponent = std::min(exponent * 10 + (*p - '0'), 100000L);  // RapidJSON refused > 308
    if (negative) exponent = -exponent;
  }
  if (u == 0) return h.Double(minus ? -0.0 : 0.0);  // every digit zero, whatever the exponent
  static constexpr double k_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const long power = scale + exponent;
  double d = 0;
  if (exact && u <= (uint64_t{1} << 53) && power >= -22 && power <= 22) {
    d = power < 0 ? static_cast<double>(u) / k_pow10[-power] : static_cast<double>(u) * k_pow10[power];
    return h.Double(minus ? -d : d);
  }
  const auto [stop, ec] = std::from_chars(s, end, d);
  if (ec == std::errc::result_out_of_range) {
    // from_chars leaves d alone out of a double's range: beyond it (infinity, which the builders refuse) or below its
    // smallest step (zero, as RapidJSON and strtod read it). Which one: the power of ten of the first digit.
    d = kept + power > 0 ? HUGE_VAL : 0.0;
    if (minus) d = -d;
  } else if (ec != std::errc() || stop != end) {
    return false;  // not a JSON number: the reader checked it was one
  }
  return h.Double(d);
}

// RapidJSON's flags for both readers: iterative (a deep text costs memory, never stack), UTF-8 validated, numbers as
// text (number_event).
constexpr unsigned k_reader_flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag;

// Forwards the reader's events to the document, counting how deep they nest.
struct DepthLimitedBuilder {
  Document& doc;
  unsigned depth = 0;
  bool too_deep = false;

  bool Null() { return doc.Null(); }
  bool Bool(bool b) { return doc.Bool(b); }
  bool Int(int i) { return doc.Int(i); }
  bool Uint(unsigned u) { return doc.Uint(u); }
  bool Int64(int64_t i) { return doc.Int64(i); }
  bool Uint64(uint64_t u) { return doc.Uint64(u); }
  // A number beyond a double's range (1.8e308, within the exponent RapidJSON checks) would be infinity, which no
  // writer can write back: refused as RapidJSON refuses a larger exponent (found by fuzz.json).
  // Strings with a lone surrogate are refused too (has_surrogate). The parse ends with this error.
  rapidjson::ParseErrorCode refused = rapidjson::kParseErrorNone;
  bool Double(double d) {
    if (std::isfinite(d)) return doc.Double(d);
    refused = rapidjson::kParseErrorNumberTooBig;
    return false;
  }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return number_event(*this, s, n); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return text_ok(s, n) && doc.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return text_ok(s, n) && doc.Key(s, n, copy); }
  bool text_ok(const char* s, rapidjson::SizeType n) {
    if (!has_surrogate(s, n)) return true;
    refused = rapidjson::kParseErrorStringUnicodeSurrogateInvalid;
    return false;
  }
  bool StartObject() { return enter() && doc.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth;
    return doc.EndObject(n);
  }
  bool StartArray() { return enter() && doc.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth;
    return doc.EndArray(n);
  }
  bool enter() {
    if (++depth <= k_max_depth) return true;
    too_deep = true;
    return false;
  }
};

std::string_view name_of(const Value& name) { return {name.GetString(), name.GetStringLength()}; }

// The first member name that occurs twice in one object of v (iterative), or nullopt.
std::optional<std::string> duplicate_member(const Value& root) {
  std::vector<const Value*> todo{&root};
  std::vector<std::string_view> names;
  while (!todo.empty()) {
    const Value* v = todo.back();
    todo.pop_back();
    if (v->IsArray()) {
      for (const auto& item : v->GetArray())
        if (item.IsObject() || item.IsArray()) todo.push_back(&item);
      continue;
    }
    if (!v->IsObject()) continue;
    const rapidjson::SizeType n = v->MemberCount();
    if (n > 1 && n <= 8) {
      for (auto a = v->MemberBegin(); a != v->MemberEnd(); ++a)
        for (auto b = a + 1; b != v->MemberEnd(); ++b)
          if (name_of(a->name) == name_of(b->name)) return std::string(name_of(a->name));
    } else if (n > 8) {
      names.clear();
      for (const auto& m : v->GetObject()) names.push_back(name_of(m.name));
      std::sort(names.begin(), names.end());
      if (auto it = std::adjacent_find(names.begin(), names.end()); it != names.end()) return std::string(*it);
    }
    for (const auto& m : v->GetObject())
      if (m.value.IsObject() || m.value.IsArray()) todo.push_back(&m.value);
  }
  return std::nullopt;
}

// How a parse ended, in the words both parse() and parse_split() use: nested too deep, invalid JSON at an offset, a
// member twice in one object, or the document.
Result<Document> outcome(Document doc, const rapidjson::ParseResult& result, bool too_deep, std::string_view what,
                         Errc code) {
  if (too_deep)
    return unexpected(code, std::string(what) + ": nested more than " + std::to_string(k_max_depth) +
                                " levels deep (at offset " + std::to_string(result.Offset()) + ")");
  if (result.IsError())
    return unexpected(code, std::string(what) + ": invalid JSON at offset " + std::to_string(result.Offset()) + ": " +
                                rapidjson::GetParseError_En(result.Code()));
  if (auto dup = duplicate_member(doc))
    return unexpected(code, std::string(what) + ": member \"" + *dup + "\" appears twice in one object");
  return doc;
}

}  // namespace

Result<Document> parse(std::string_view text, std::string_view what, Errc code) {
  Document doc;
  rapidjson::ParseResult result;
  bool too_deep = false;
  auto generate = [&](Document& d) {
    DepthLimitedBuilder builder{d};
    rapidjson::Reader reader;
    rapidjson::MemoryStream ms(text.data(), text.size());
    result = reader.Parse<k_reader_flags>(ms, builder);
    too_deep = builder.too_deep;
    if (builder.refused != rapidjson::kParseErrorNone) result.Set(builder.refused, result.Offset());
    // The reader takes a NUL byte for the end of the text: one after the value would hide what follows.
    if (!result.IsError() && ms.Tell() != text.size())
      result.Set(rapidjson::kParseErrorDocumentRootNotSingular, ms.Tell());
    return !result.IsError();
  };
  doc.Populate(generate);
  return outcome(std::move(doc), result, too_deep, what, code);
}

namespace {

// Forwards the reader's events to the root document, except the elements of the root's member `member` (an array):
// each is recorded as it is read and, once whole, replayed into a document of its own and handed out.
class SplitBuilder {
public:
  SplitBuilder(Document& doc, std::string_view member, const ElementFn& on_element, std::string_view what, Errc code)
      : m_doc(doc), m_member(member), m_on_element(on_element), m_what(what), m_code(code) {}

  bool too_deep = false;
  std::optional<Error> failed;  // a duplicate member in an element, or on_element's error

  bool Null() { return scalar(Event::null, [&] { return m_doc.Null(); }); }
  bool Bool(bool b) {
    return scalar(Event::boolean, [&] { return m_doc.Bool(b); }, static_cast<uint64_t>(b));
  }
  bool Int(int i) { return Int64(i); }
  bool Uint(unsigned u) { return Uint64(u); }
  bool Int64(int64_t i) {
    // Replayed as Int64 (RapidJSON's Int and Int64 build the same value for numbers that fit an int).
    return scalar(Event::int64, [&] { return m_doc.Int64(i); }, static_cast<uint64_t>(i));
  }
  bool Uint64(uint64_t u) { return scalar(Event::uint64, [&] { return m_doc.Uint64(u); }, u); }
  rapidjson::ParseErrorCode refused = rapidjson::kParseErrorNone;  // as DepthLimitedBuilder's
  bool Double(double d) {
    if (!std::isfinite(d)) {
      refused = rapidjson::kParseErrorNumberTooBig;
      return false;
    }
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    return scalar(Event::dbl, [&] { return m_doc.Double(d); }, bits);
  }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) { return number_event(*this, s, n); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    if (has_surrogate(s, n)) {
      refused = rapidjson::kParseErrorStringUnicodeSurrogateInvalid;
      return false;
    }
    open_scalar_element();
    if (!recording()) {
      m_key_matches = false;
      return m_doc.String(s, n, copy);
    }
    record(Event::string, s, n);
    return element_value_done();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    if (has_surrogate(s, n)) {
      refused = rapidjson::kParseErrorStringUnicodeSurrogateInvalid;
      return false;
    }
    if (!recording()) {
      m_key_matches = m_depth == 1 && std::string_view(s, n) == m_member;
      return m_doc.Key(s, n, copy);
    }
    record(Event::key, s, n);
    return true;
  }
  bool StartObject() { return start(true); }
  bool StartArray() { return start(false); }
  bool EndObject(rapidjson::SizeType n) { return end(true, n); }
  bool EndArray(rapidjson::SizeType n) { return end(false, n); }

private:
  enum class Event : uint8_t { null, boolean, int64, uint64, dbl, string, key, start_object, end_object, start_array, end_array };
  struct Recorded {
    Event event;
    uint64_t value;  // the number's bits, a string's offset in m_strings, a count
    uint32_t size;   // a string's length
  };

  // Inside an element of the list.
  bool recording() const { return m_in_list && m_element_open; }

  // An element that is one scalar opens (and closes) with it.
  void open_scalar_element() {
    if (m_in_list && !m_element_open && m_depth == m_list_depth) m_element_open = true;
  }

  template <class F>
  bool scalar(Event e, F&& forward, uint64_t value = 0) {
    open_scalar_element();
    if (!recording()) {
      m_key_matches = false;
      return forward();
    }
    m_events.push_back({e, value, 0});
    return element_value_done();
  }

  void record(Event e, const char* s, rapidjson::SizeType n) {
    m_events.push_back({e, m_strings.size(), n});
    m_strings.append(s, n);
  }

  bool start(bool object) {
    if (++m_depth > k_max_depth) {
      too_deep = true;
      return false;
    }
    if (m_in_list && !m_element_open && m_depth == m_list_depth + 1) m_element_open = true;
    if (recording()) {
      m_events.push_back({object ? Event::start_object : Event::start_array, 0, 0});
      return true;
    }
    if (!object && m_key_matches && m_depth == 2) {  // the list begins
      m_in_list = true;
      m_list_depth = m_depth;
    }
    m_key_matches = false;
    return object ? m_doc.StartObject() : m_doc.StartArray();
  }

  bool end(bool object, rapidjson::SizeType n) {
    if (recording()) {
      m_events.push_back({object ? Event::end_object : Event::end_array, n, 0});
      --m_depth;
      return element_value_done();
    }
    --m_depth;
    if (!object && m_in_list && m_depth == m_list_depth - 1) {  // the list ends: empty in the root document
      m_in_list = false;
      return m_doc.EndArray(0);
    }
    return object ? m_doc.EndObject(n) : m_doc.EndArray(n);
  }

  // After a value inside an element: when the element is whole (back at the list's level), hand it out.
  bool element_value_done() {
    if (m_depth != m_list_depth) return true;
    m_element_open = false;
    bool ok = true;
    if (!failed) {
      Document element;
      auto generate = [&](Document& d) { return replay(d); };
      element.Populate(generate);
      if (auto dup = duplicate_member(element))
        failed = Error{m_code, std::string(m_what) + ": member \"" + *dup + "\" appears twice in one object"};
      else if (auto r = m_on_element(element); !r)
        failed = r.error();
      ok = !failed;
    }
    m_events.clear();
    m_strings.clear();
    return ok;
  }

  bool replay(Document& d) {
    for (const Recorded& r : m_events) {
      bool ok = true;
      switch (r.event) {
        case Event::null: ok = d.Null(); break;
        case Event::boolean: ok = d.Bool(r.value != 0); break;
        case Event::int64: ok = d.Int64(static_cast<int64_t>(r.value)); break;
        case Event::uint64: ok = d.Uint64(r.value); break;
        case Event::dbl: {
          double v;
          std::memcpy(&v, &r.value, sizeof v);
          ok = d.Double(v);
          break;
        }
        case Event::string: ok = d.String(m_strings.data() + r.value, r.size, true); break;
        case Event::key: ok = d.Key(m_strings.data() + r.value, r.size, true); break;
        case Event::start_object: ok = d.StartObject(); break;
        case Event::end_object: ok = d.EndObject(static_cast<rapidjson::SizeType>(r.value)); break;
        case Event::start_array: ok = d.StartArray(); break;
        case Event::end_array: ok = d.EndArray(static_cast<rapidjson::SizeType>(r.value)); break;
      }
      if (!ok) return false;
    }
    return true;
  }

  Document& m_doc;
  std::string_view m_member;
  const ElementFn& m_on_element;
  std::string_view m_what;
  Errc m_code;
  unsigned m_depth = 0;
  bool m_key_matches = false;  // the last key of the root object was `member`
  bool m_in_list = false;
  unsigned m_list_depth = 0;   // the list's depth (2: the root object is 1)
  bool m_element_open = false;
  std::vector<Recorded> m_events;
  std::string m_strings;
};

}  // namespace

namespace {

// A RapidJSON input stream over a pull function, through a 64 KiB buffer. A read error ends the stream (kept in
// `error`, which the caller reports instead of the syntax error it causes).
class PullStream {
public:
  using Ch = char;
  explicit PullStream(const ReadFn& read) : m_read(read), m_buf(64u << 10) {}
  Ch Peek() {
    if (m_pos == m_len && !fill()) return '\0';
    return m_buf[m_pos];
  }
  Ch Take() {
    const Ch c = Peek();
    if (m_pos < m_len) {
      ++m_pos;
      ++m_tell;
    }
    return c;
  }
  size_t Tell() const { return m_tell; }
  // Output (in-situ parsing only): never called.
  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }
  // Nothing left (a NUL byte in the text is something: the reader takes it for the end).
  bool at_end() { return m_pos == m_len && !fill(); }
  std::optional<Error> error;

private:
  bool fill() {
    if (m_eof) return false;
    auto n = m_read(m_buf.data(), m_buf.size());
    if (!n || *n == 0) {
      if (!n) error = n.error();
      m_eof = true;
      return false;
    }
    m_pos = 0;
    m_len = *n;
    return true;
  }
  const ReadFn& m_read;
  std::vector<char> m_buf;
  size_t m_pos = 0, m_len = 0, m_tell = 0;
  bool m_eof = false;
};

}  // namespace

Result<Document> parse_split(const ReadFn& read, std::string_view what, std::string_view member,
                             const ElementFn& on_element, Errc code) {
  Document doc;
  rapidjson::ParseResult result;
  bool too_deep = false;
  std::optional<Error> failed;
  PullStream in(read);
  auto generate = [&](Document& d) {
    SplitBuilder builder(d, member, on_element, what, code);
    rapidjson::Reader reader;
    result = reader.Parse<k_reader_flags>(in, builder);
    too_deep = builder.too_deep;
    if (builder.refused != rapidjson::kParseErrorNone) result.Set(builder.refused, result.Offset());
    failed = builder.failed;
    if (!result.IsError() && !in.at_end()) result.Set(rapidjson::kParseErrorDocumentRootNotSingular, in.Tell());
    return !result.IsError();
  };
  doc.Populate(generate);
  if (in.error) return unexpected(*in.error);
  if (failed) return unexpected(*failed);
  return outcome(std::move(doc), result, too_deep, what, code);
}

Result<Document> parse_split(std::string_view text, std::string_view what, std::string_view member,
                             const ElementFn& on_element, Errc code) {
  size_t at = 0;
  const ReadFn read = [&](char* buffer, size_t size) -> Result<size_t> {
    const size_t n = std::min(size, text.size() - at);
    std::memcpy(buffer, text.data() + at, n);
    at += n;
    return n;
  };
  return parse_split(read, what, member, on_element, code);
}

// ---- writers: iterative walks (a document may nest k_max_depth levels; recursion would need its stack) ----------

namespace {

// Collects text and hands it to the sink in chunks.
class ChunkedOut {
public:
  explicit ChunkedOut(const TextSink& sink) : m_sink(sink) { m_buf.reserve(k_chunk + 1024); }
  ~ChunkedOut() { flush(); }
  void put(std::string_view s) {
    m_buf.append(s);
    if (m_buf.size() >= k_chunk) flush();
  }
  void put(char c) {
    m_buf.push_back(c);
    if (m_buf.size() >= k_chunk) flush();
  }
  void flush() {
    if (!m_buf.empty()) m_sink(m_buf);
    m_buf.clear();
  }

private:
  static constexpr size_t k_chunk = 64 * 1024;
  const TextSink& m_sink;
  std::string m_buf;
};

// The characters that change how text displays and that RapidJSON's writer leaves raw: DEL, C1 controls,
// bidirectional marks, embeddings, overrides and isolates, line and paragraph separators, BOM. The length of the
// one starting at s[i] (its code point in cp), or 0.
size_t display_control_at(std::string_view s, size_t i, uint32_t& cp) {
  const auto b = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const unsigned c = b(0);
  if (c == 0x7f) return cp = 0x7f, 1;
  if (c == 0xc2 && b(1) >= 0x80 && b(1) <= 0x9f) return cp = b(1), 2;
  if (c == 0xd8 && b(1) == 0x9c) return cp = 0x061c, 2;
  if (c == 0xef && b(1) == 0xbb && b(2) == 0xbf) return cp = 0xfeff, 3;
  if (c == 0xe2 && (b(1) == 0x80 || b(1) == 0x81) && b(2) >= 0x80 && b(2) <= 0xbf) {
    cp = 0x2000 | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f);
    if (cp == 0x200e || cp == 0x200f || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069))
      return 3;
  }
  return 0;
}

bool hides_text(std::string_view s) {
  uint32_t cp = 0;
  for (size_t i = 0; i < s.size(); ++i)
    if (display_control_at(s, i, cp) > 0) return true;
  return false;
}

// Writes a string RapidJSON's Writer escaped, with display_control_at's characters as \uXXXX: the JSON means the
// same, and printing it cannot reorder or hide what a terminal shows.
void put_text(std::string_view s, ChunkedOut& out) {
  size_t plain = 0;
  uint32_t cp = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t n = display_control_at(s, i, cp);
    if (n == 0) continue;
    out.put(s.substr(plain, i - plain));
    char esc[8];
    std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(cp));
    out.put(esc);
    i += n - 1;
    plain = i + 1;
  }
  out.put(s.substr(plain));
}

// A scalar as RapidJSON's Writer writes it (its string escaping and shortest double form).
void put_scalar(const Value& v, ChunkedOut& out, rapidjson::StringBuffer& scratch) {
  scratch.Clear();
  rapidjson::Writer<rapidjson::StringBuffer> w(scratch);
  v.Accept(w);  // a scalar: no recursion
  const std::string_view text(scratch.GetString(), scratch.GetSize());
  if (v.IsString()) put_text(text, out);
  else out.put(text);
}

void put_name(const Value& name, ChunkedOut& out, rapidjson::StringBuffer& scratch) {
  scratch.Clear();
  rapidjson::Writer<rapidjson::StringBuffer> w(scratch);
  w.String(name.GetString(), name.GetStringLength());
  put_text(std::string_view(scratch.GetString(), scratch.GetSize()), out);
}

// indent_levels = 0: compact. Otherwise newlines and 4 spaces per level up to indent_levels, compact deeper.
void write_json(const Value& root, const TextSink& sink, unsigned indent_levels) {
  ChunkedOut out(sink);
  rapidjson::StringBuffer scratch;
  struct Frame {
    const Value* v;
    rapidjson::SizeType next;  // index of the next element or member
  };
  std::vector<Frame> stack;
  auto pretty_at = [&](size_t level) { return indent_levels > 0 && level <= indent_levels; };
  auto newline = [&](size_t level) {
    out.put('\n');
    for (size_t i = 0; i < level; ++i) out.put("    ");
  };
  // Opens v (or writes it whole when it is a scalar or empty).
  auto begin = [&](const Value& v) {
    if (v.IsObject() && v.MemberCount() > 0) {
      out.put('{');
      stack.push_back({&v, 0});
    } else if (v.IsArray() && !v.Empty()) {
      out.put('[');
      stack.push_back({&v, 0});
    } else if (v.IsObject()) {
      out.put("{}");
    } else if (v.IsArray()) {
      out.put("[]");
    } else {
      put_scalar(v, out, scratch);
    }
  };
  begin(root);
  while (!stack.empty()) {
    Frame& f = stack.back();
    const size_t level = stack.size();  // the level of f's children
    const bool pretty = pretty_at(level);
    const rapidjson::SizeType count = f.v->IsObject() ? f.v->MemberCount() : f.v->Size();
    if (f.next == count) {
      if (pretty) newline(level - 1);
      out.put(f.v->IsObject() ? '}' : ']');
      stack.pop_back();
      continue;
    }
    if (f.next > 0) out.put(',');
    if (pretty) newline(level);
    const rapidjson::SizeType i = f.next++;
    if (f.v->IsObject()) {
      const auto& m = *(f.v->MemberBegin() + i);
      put_name(m.name, out, scratch);
      out.put(pretty ? ": " : ":");
      begin(m.value);  // may grow the stack: f is not used after this
    } else {
      begin((*f.v)[i]);
    }
  }
}

}  // namespace

void write_compact(const Value& v, const TextSink& sink) { write_json(v, sink, 0); }
void write_pretty(const Value& v, const TextSink& sink) { write_json(v, sink, k_pretty_indent_levels); }

std::string to_string(const Value& v) {
  std::string out;
  write_compact(v, [&](std::string_view s) { out.append(s); });
  return out;
}

std::string to_pretty(const Value& v) {
  std::string out;
  write_pretty(v, [&](std::string_view s) { out.append(s); });
  return out;
}

unsigned depth(const Value& root) {
  unsigned deepest = 0;
  std::vector<std::pair<const Value*, unsigned>> todo{{&root, 0}};
  while (!todo.empty()) {
    auto [v, d] = todo.back();
    todo.pop_back();
    if (v->IsObject()) {
      deepest = std::max(deepest, d + 1);
      for (const auto& m : v->GetObject()) todo.push_back({&m.value, d + 1});
    } else if (v->IsArray()) {
      deepest = std::max(deepest, d + 1);
      for (const auto& item : v->GetArray()) todo.push_back({&item, d + 1});
    }
  }
  return deepest;
}

namespace {

const std::regex& int_re() {
  static const std::regex re(R"(^[-+]?(0|[1-9][0-9]*)$)");
  return re;
}
const std::regex& float_re() {
  static const std::regex re(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  return re;
}

enum class PlainKind { null, boolean_true, boolean_false, integer, floating, string };

PlainKind classify_plain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return PlainKind::null;
  static const char* const k_true[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"};
  static const char* const k_false[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"};
  for (const char* t : k_true)
    if (s == t) return PlainKind::boolean_true;
  for (const char* f : k_false)
    if (s == f) return PlainKind::boolean_false;
  if (std::regex_match(s, int_re())) return PlainKind::integer;
  if (std::regex_match(s, float_re()) && s.find_first_of("0123456789") != std::string::npos)
    return PlainKind::floating;
  if (s == ".inf" || s == ".Inf" || s == "-.inf" || s == ".nan" || s == ".NaN") return PlainKind::floating;
  return PlainKind::string;
}

// A plain scalar that reads as a number but not as a 64-bit integer. strtod, not std::stod: that throws
// std::out_of_range, which nothing catches, for 1e400 and also for 1e-400 (ERANGE); strtod gives infinity (refused,
// as .inf and .nan are) or the nearest double (0 or a denormal, as a JSON reader gives).
Result<void> set_floating(const std::string& s, Value& out, std::string_view what) {
  double d = 0;
  if (s == ".inf" || s == ".Inf") d = INFINITY;
  else if (s == "-.inf") d = -INFINITY;
  else if (s == ".nan" || s == ".NaN") d = NAN;
  else d = std::strtod(s.c_str(), nullptr);
  if (!std::isfinite(d))
    return unexpected(Errc::parse, std::string(what) + ": " + s + " cannot be represented in JSON");
  out.SetDouble(d);
  return {};
}

// budget: how many more nodes may be converted. YAML aliases share nodes, so a small text can name a huge tree
// ("billion laughs"); a real document has fewer nodes than bytes, and the caller's budget is the text's size.
Result<void> yaml_to_value(const YAML::Node& node, Value& out, Allocator& alloc, std::string_view what, unsigned depth,
                           uint64_t& budget) {
  if (depth > k_max_yaml_depth)
    return unexpected(Errc::parse, std::string(what) + ": nested more than " + std::to_string(k_max_yaml_depth) +
                                       " levels deep");
  if (budget == 0)
    return unexpected(Errc::parse, std::string(what) + ": aliases expand to more nodes than the text could hold");
  --budget;
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out.SetNull();
      return {};
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      // Quoted scalars carry the non-specific tag "!"; plain ones "?". Explicit tags: !!str, !!int, ...
      const std::string& tag = node.Tag();
      if (tag == "!" || tag == "tag:yaml.org,2002:str") {
        out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
        return {};
      }
      switch (classify_plain(s)) {
        case PlainKind::null: out.SetNull(); return {};
        case PlainKind::boolean_true: out.SetBool(true); return {};
        case PlainKind::boolean_false: out.SetBool(false); return {};
        case PlainKind::integer: {
          try {
            if (s[0] == '-') out.SetInt64(std::stoll(s));
            else {
              unsigned long long u = std::stoull(s[0] == '+' ? s.substr(1) : s);
              if (u <= static_cast<unsigned long long>(INT64_MAX)) out.SetInt64(static_cast<int64_t>(u));
              else out.SetUint64(u);
            }
            return {};
          } catch (...) {  // beyond 64 bits: a double, as a JSON reader takes it
          }
          return set_floating(s, out, what);
        }
        case PlainKind::floating: return set_floating(s, out, what);
        case PlainKind::string:
          out.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
          return {};
      }
      return {};
    }
    case YAML::NodeType::Sequence: {
      out.SetArray();
      for (const auto& item : node) {
        Value v;
        KBK_TRY(yaml_to_value(item, v, alloc, what, depth + 1, budget));
        out.PushBack(v, alloc);
      }
      return {};
    }
    case YAML::NodeType::Map: {
      out.SetObject();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return unexpected(Errc::parse, std::string(what) + ": line " + std::to_string(kv.first.Mark().line + 1) +
                                             ": only scalar keys can be converted to JSON");
        }
        const std::string& key = kv.first.Scalar();
        if (out.HasMember(key.c_str())) {
          return unexpected(Errc::parse, std::string(what) + ": line " + std::to_string(kv.first.Mark().line + 1) +
                                             ": duplicate key \"" + key + "\"");
        }
        Value v;
        KBK_TRY(yaml_to_value(kv.second, v, alloc, what, depth + 1, budget));
        out.AddMember(Value(key.c_str(), static_cast<rapidjson::SizeType>(key.size()), alloc), v, alloc);
      }
      return {};
    }
  }
  return {};
}

bool looks_like_json(std::string_view text) {
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

}  // namespace

Result<std::vector<Document>> parse_yaml_stream(std::string_view text, std::string_view what) {
  std::vector<Document> out;
  if (looks_like_json(text)) {
    // A single JSON value is the common case; anything else (several concatenated objects, as `kubectl get -o
    // json` loops produce) is read as YAML, whose flow style covers JSON.
    auto single = parse(text, what);
    if (single) {
      // Files a user gives (kubeconfig, modifiers, patches) nest as deep as YAML may, JSON or not.
      if (depth(*single) > k_max_yaml_depth)
        return unexpected(Errc::parse, std::string(what) + ": nested more than " + std::to_string(k_max_yaml_depth) +
                                           " levels deep");
      out.push_back(std::move(*single));
      return out;
    }
  }
  try {
    std::vector<YAML::Node> nodes = load_all_yaml(text);
    uint64_t budget = text.size() + 1024;
    for (const auto& node : nodes) {
      if (node.IsNull() || !node.IsDefined()) continue;
      Document doc;
      KBK_TRY(yaml_to_value(node, doc, doc.GetAllocator(), what, 0, budget));
      out.push_back(std::move(doc));
    }
  } catch (const YAML::Exception& e) {
    return unexpected(Errc::parse, std::string(what) + ":" + std::to_string(e.mark.line + 1) + ":" +
                                       std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return out;
}

Result<Document> parse_yaml(std::string_view text, std::string_view what) {
  KBK_ASSIGN_OR_RETURN(auto docs, parse_yaml_stream(text, what));
  if (docs.size() != 1) {
    return unexpected(Errc::parse, std::string(what) + ": expected one document, found " + std::to_string(docs.size()));
  }
  return std::move(docs[0]);
}

namespace {

bool needs_quotes(const std::string& s) {
  if (classify_plain(s) != PlainKind::string) return true;
  if (s.empty()) return true;
  // Leading/trailing space, indicators and ": " / " #" sequences confuse plain scalars.
  if (s.front() == ' ' || s.back() == ' ') return true;
  static const std::string k_lead = "-?:,[]{}#&*!|>'\"%@`";
  if (k_lead.find(s.front()) != std::string::npos) return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':') return true;
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n') return true;
  return false;
}

// Unicode noncharacters (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF): yaml-cpp's emitter takes them for invalid and writes
// U+FFFD in quoted and block scalars (docs/security.md section 9, item 8). Strings holding one are written by kbk
// itself, double-quoted with escapes, through a placeholder (YamlEscapes).
bool has_noncharacter(std::string_view s) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0xEF && i + 2 < s.size()) {  // U+FDD0-U+FDEF, U+FFFE, U+FFFF: EF B7 90-AF, EF BF BE-BF
      const auto c1 = static_cast<unsigned char>(s[i + 1]), c2 = static_cast<unsigned char>(s[i + 2]);
      if ((c1 == 0xB7 && c2 >= 0x90 && c2 <= 0xAF) || (c1 == 0xBF && (c2 == 0xBE || c2 == 0xBF))) return true;
    } else if (c >= 0xF0 && i + 3 < s.size()) {  // U+1FFFE ... U+10FFFF: F? 8F/9F/AF/BF BF BE-BF
      const auto c1 = static_cast<unsigned char>(s[i + 1]), c2 = static_cast<unsigned char>(s[i + 2]),
                 c3 = static_cast<unsigned char>(s[i + 3]);
      if ((c1 & 0x0F) == 0x0F && c2 == 0xBF && (c3 == 0xBE || c3 == 0xBF)) return true;
    }
  }
  return false;
}

// A YAML double-quoted scalar of s, every character outside printable ASCII escaped (\xXX, \uXXXX, \UXXXXXXXX).
// s is valid UTF-8 (json::parse refuses anything else).
std::string yaml_double_quoted(std::string_view s) {
  std::string out = "\"";
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = c;
    size_t n = 1;
    if (c >= 0xF0) cp = c & 0x07, n = 4;
    else if (c >= 0xE0) cp = c & 0x0F, n = 3;
    else if (c >= 0xC0) cp = c & 0x1F, n = 2;
    for (size_t k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += n;
    if (cp == '"' || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp >= 0x20 && cp < 0x7F) {
      out += static_cast<char>(cp);
    } else {
      if (cp < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      else if (cp < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
      out += buf;
    }
  }
  out += '"';
  return out;
}

// Strings yaml-cpp cannot write (has_noncharacter) go out as plain placeholders, swapped for kbk's own escaped
// scalars once the text is complete. The placeholders carry a nonce; a text that happens to hold one already gets
// another nonce.
struct YamlEscapes {
  std::string nonce;
  std::vector<std::string> quoted;
  std::vector<std::string> tokens;
  // As long as the scalar it stands for, so the emitter makes the same choices (a key over 1024 characters is
  // written as an explicit "? " key).
  std::string placeholder(std::string_view s) {
    quoted.push_back(yaml_double_quoted(s));
    std::string token = "kbkyamlescape" + nonce + "x" + std::to_string(quoted.size() - 1) + "z";
    if (token.size() < quoted.back().size()) token.append(quoted.back().size() - token.size(), '_');
    tokens.push_back(token);
    return token;
  }
};

bool any_noncharacter(const Value& v) {
  std::vector<const Value*> stack{&v};
  while (!stack.empty()) {
    const Value* x = stack.back();
    stack.pop_back();
    if (x->IsString()) {
      if (has_noncharacter(std::string_view(x->GetString(), x->GetStringLength()))) return true;
    } else if (x->IsArray()) {
      for (const auto& el : x->GetArray()) stack.push_back(&el);
    } else if (x->IsObject()) {
      for (const auto& m : x->GetObject()) {
        if (has_noncharacter(std::string_view(m.name.GetString(), m.name.GetStringLength()))) return true;
        stack.push_back(&m.value);
      }
    }
  }
  return false;
}

void emit_scalar(YAML::Emitter& e, const Value& v, YamlEscapes* escapes) {
  switch (v.GetType()) {
    case rapidjson::kNullType: e << YAML::Null; break;
    case rapidjson::kFalseType: e << false; break;
    case rapidjson::kTrueType: e << true; break;
    case rapidjson::kNumberType:
      if (v.IsInt64()) e << v.GetInt64();
      else if (v.IsUint64()) e << v.GetUint64();
      else {
        std::ostringstream os;
        os.precision(17);
        os << v.GetDouble();
        e << os.str();
      }
      break;
    case rapidjson::kStringType: {
      std::string s(v.GetString(), v.GetStringLength());
      if (escapes && has_noncharacter(s)) {
        e << escapes->placeholder(s);
        break;
      }
      // A literal block keeps exactly one trailing newline ("|" clips), so only such strings use it.
      bool one_trailing_newline = s.size() >= 2 && s.back() == '\n' && s[s.size() - 2] != '\n';
      if (hides_text(s)) {
        e << YAML::EscapeNonAscii << YAML::DoubleQuoted << s;
      } else if (one_trailing_newline && s.front() != ' ' &&
                 std::none_of(s.begin(), s.end(), [](char c) {
                   // A literal block holds printable text and line breaks only: a tab, a carriage return, a NUL or
                   // another control character (fuzz.json: "\u0000" and "\f") goes double-quoted, escaped.
                   const auto u = static_cast<unsigned char>(c);
                   return (u < 0x20 && c != '\n') || u == 0x7f;
                 })) {
        e << YAML::Literal << s;
      } else if (needs_quotes(s)) {
        e << YAML::DoubleQuoted << s;
      } else {
        e << s;
      }
      break;
    }
    default: break;
  }
}

// Iterative (documents nest up to k_max_depth levels). Below k_pretty_indent_levels collections switch to flow
// style, which yaml-cpp writes without indentation.
void emit(YAML::Emitter& e, const Value& root, YamlEscapes* escapes) {
  struct Frame {
    const Value* v;
    rapidjson::SizeType next;
  };
  std::vector<Frame> stack;
  auto begin = [&](const Value& v) {
    const bool flow = stack.size() >= k_pretty_indent_levels;
    if (v.IsArray()) {
      if (v.Empty() || flow) e << YAML::Flow;
      e << YAML::BeginSeq;
      stack.push_back({&v, 0});
    } else if (v.IsObject()) {
      if (v.MemberCount() == 0 || flow) e << YAML::Flow;
      e << YAML::BeginMap;
      stack.push_back({&v, 0});
    } else {
      emit_scalar(e, v, escapes);
    }
  };
  begin(root);
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.v->IsArray()) {
      if (f.next == f.v->Size()) {
        e << YAML::EndSeq;
        stack.pop_back();
        continue;
      }
      begin((*f.v)[f.next++]);
      continue;
    }
    if (f.next == f.v->MemberCount()) {
      e << YAML::EndMap;
      stack.pop_back();
      continue;
    }
    const auto& m = *(f.v->MemberBegin() + f.next++);
    std::string key(m.name.GetString(), m.name.GetStringLength());
    e << YAML::Key;
    if (escapes && has_noncharacter(key)) key = escapes->placeholder(key);
    else if (hides_text(key)) e << YAML::EscapeNonAscii << YAML::DoubleQuoted;
    else if (needs_quotes(key)) e << YAML::DoubleQuoted;
    e << key << YAML::Value;
    begin(m.value);
  }
}

}  // namespace

std::string to_yaml(const Value& v) {
  const bool escaping = any_noncharacter(v);
  for (unsigned attempt = 0;; ++attempt) {
    YamlEscapes escapes;
    escapes.nonce = std::to_string(attempt);
    YAML::Emitter e;
    e.SetIndent(2);
    e.SetSeqFormat(YAML::Block);
    emit(e, v, escaping ? &escapes : nullptr);
    std::string out = e.c_str();
    if (out.empty() || out.back() != '\n') out += '\n';
    if (!escaping) return out;
    // Each placeholder must appear once, where it was put: a text that holds one by itself gets the next nonce.
    std::string done;
    size_t from = 0;
    bool clean = true;
    const std::string prefix = "kbkyamlescape" + escapes.nonce + "x";
    for (size_t i = 0; i < escapes.quoted.size() && clean; ++i) {
      const std::string& token = escapes.tokens[i];
      const size_t at = out.find(token, from);
      if (at == std::string::npos) clean = false;
      else {
        done.append(out, from, at - from);
        done += escapes.quoted[i];
        from = at + token.size();
      }
    }
    if (clean && out.find(prefix, from) == std::string::npos && done.find(prefix) == std::string::npos) {
      done.append(out, from, std::string::npos);
      return done;
    }
  }
}

namespace {

// Passes characters on to another stream buffer, remembering the last one (to end the text with one newline).
class LastCharBuf final : public std::streambuf {
public:
  explicit LastCharBuf(std::streambuf* out) : m_out(out) {}
  int last = -1;

protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    last = c;
    return m_out->sputc(traits_type::to_char_type(c));
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n > 0) last = static_cast<unsigned char>(s[n - 1]);
    return m_out->sputn(s, n);
  }

private:
  std::streambuf* m_out;
};

}  // namespace

void write_yaml(const Value& v, std::ostream& out) {
  LastCharBuf buf(out.rdbuf());
  std::ostream tracked(&buf);
  {
    if (any_noncharacter(v)) {  // (rare) kbk's own escapes, swapped in once the text is whole: to_yaml's
      tracked << to_yaml(v);
      tracked.flush();
      return;
    }
    YAML::Emitter e(tracked);
    e.SetIndent(2);
    e.SetSeqFormat(YAML::Block);
    emit(e, v, nullptr);
  }
  tracked.flush();
  if (buf.last != '\n') out << '\n';
}

const Value* find(const Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

Value* find(Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

const Value* at(const Value& obj, std::initializer_list<std::string_view> path) {
  const Value* cur = &obj;
  for (auto key : path) {
    cur = find(*cur, key);
    if (!cur) return nullptr;
  }
  return cur;
}

Value* at(Value& obj, std::initializer_list<std::string_view> path) {
  Value* cur = &obj;
  for (auto key : path) {
    cur = find(*cur, key);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string get_string(const Value& obj, std::initializer_list<std::string_view> path, std::string_view def) {
  const Value* v = at(obj, path);
  if (!v || !v->IsString()) return std::string(def);
  return std::string(v->GetString(), v->GetStringLength());
}

Value make_string(std::string_view s, Allocator& alloc) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

void set(Value& obj, std::string_view key, Value value, Allocator& alloc) {
  if (!obj.IsObject()) obj.SetObject();
  if (Value* existing = find(obj, key)) {
    *existing = std::move(value);
    return;
  }
  obj.AddMember(make_string(key, alloc), value, alloc);
}

Value& ensure_object(Value& obj, std::string_view key, Allocator& alloc) {
  if (!obj.IsObject()) obj.SetObject();
  Value* existing = find(obj, key);
  if (existing) {
    if (!existing->IsObject()) existing->SetObject();
    return *existing;
  }
  obj.AddMember(make_string(key, alloc), Value(rapidjson::kObjectType), alloc);
  return *find(obj, key);
}

bool erase(Value& obj, std::string_view key) {
  if (!obj.IsObject()) return false;
  auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  if (it == obj.MemberEnd()) return false;
  obj.EraseMember(it);
  return true;
}

Value copy(const Value& root, Allocator& alloc) {
  Value out;
  std::vector<std::pair<const Value*, Value*>> todo{{&root, &out}};
  while (!todo.empty()) {
    auto [src, dst] = todo.back();
    todo.pop_back();
    if (src->IsObject()) {
      dst->SetObject();
      for (const auto& m : src->GetObject()) dst->AddMember(Value(m.name, alloc), Value(), alloc);
      // All members are in place (no more reallocation): their values can be filled from the stack.
      auto d = dst->MemberBegin();
      for (auto s = src->MemberBegin(); s != src->MemberEnd(); ++s, ++d) todo.push_back({&s->value, &d->value});
    } else if (src->IsArray()) {
      dst->SetArray();
      dst->Reserve(src->Size(), alloc);
      for (rapidjson::SizeType i = 0; i < src->Size(); ++i) dst->PushBack(Value(), alloc);
      for (rapidjson::SizeType i = 0; i < src->Size(); ++i) todo.push_back({&(*src)[i], &(*dst)[i]});
    } else {
      *dst = Value(*src, alloc);  // a scalar: RapidJSON copies strings, no recursion
    }
  }
  return out;
}

void copy_into(Value& dst, const Value& src, Allocator& alloc) { dst = copy(src, alloc); }

Document clone(const Value& v) {
  Document d;
  copy_into(d, v, d.GetAllocator());
  return d;
}

namespace {

bool equal_scalars(const Value& a, const Value& b) {
  if (a.IsNumber() && b.IsNumber()) {
    if (a.IsInt64() && b.IsInt64()) return a.GetInt64() == b.GetInt64();
    if (a.IsUint64() && b.IsUint64()) return a.GetUint64() == b.GetUint64();
    return a.GetDouble() == b.GetDouble();
  }
  if (a.GetType() != b.GetType()) return false;
  if (a.IsString())
    return a.GetStringLength() == b.GetStringLength() &&
           std::string_view(a.GetString(), a.GetStringLength()) == std::string_view(b.GetString(), b.GetStringLength());
  return a.GetType() == b.GetType();  // null, true, false
}

}  // namespace

bool equal(const Value& a, const Value& b) {
  std::vector<std::pair<const Value*, const Value*>> todo{{&a, &b}};
  while (!todo.empty()) {
    auto [x, y] = todo.back();
    todo.pop_back();
    if (x->IsObject()) {
      if (!y->IsObject() || x->MemberCount() != y->MemberCount()) return false;
      for (const auto& m : x->GetObject()) {
        auto it = y->FindMember(m.name);
        if (it == y->MemberEnd()) return false;
        todo.push_back({&m.value, &it->value});
      }
    } else if (x->IsArray()) {
      if (!y->IsArray() || x->Size() != y->Size()) return false;
      for (rapidjson::SizeType i = 0; i < x->Size(); ++i) todo.push_back({&(*x)[i], &(*y)[i]});
    } else if (!equal_scalars(*x, *y)) {
      return false;
    }
  }
  return true;
}

}  // namespace kbk::json
