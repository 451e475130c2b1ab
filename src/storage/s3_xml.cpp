#include "s3_xml.hpp"

#include <cstdlib>

namespace kbk::storage::xml {
namespace {

// Finds the next start tag <tag>, <tag ...> or <tag/> at or after pos. Returns {start of tag, end of start tag
// (after '>'), self_closing}.
struct Found {
  size_t begin = std::string_view::npos;
  size_t content = 0;
  bool self_closing = false;
};

Found find_start(std::string_view doc, std::string_view tag, size_t pos) {
  while (true) {
    size_t lt = doc.find('<', pos);
    if (lt == std::string_view::npos) return {};
    size_t name_end = lt + 1 + tag.size();
    if (doc.compare(lt + 1, tag.size(), tag) == 0 && name_end < doc.size() &&
        (doc[name_end] == '>' || doc[name_end] == ' ' || doc[name_end] == '/' || doc[name_end] == '\t' ||
         doc[name_end] == '\n' || doc[name_end] == '\r')) {
      size_t gt = doc.find('>', name_end);
      if (gt == std::string_view::npos) return {};
      return {lt, gt + 1, doc[gt - 1] == '/'};
    }
    pos = lt + 1;
  }
}

}  // namespace

std::vector<std::string_view> elements(std::string_view doc, std::string_view tag) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  const std::string close = "</" + std::string(tag) + ">";
  while (true) {
    Found f = find_start(doc, tag, pos);
    if (f.begin == std::string_view::npos) break;
    if (f.self_closing) {
      out.emplace_back();
      pos = f.content;
      continue;
    }
    size_t end = doc.find(close, f.content);
    if (end == std::string_view::npos) break;
    out.push_back(doc.substr(f.content, end - f.content));
    pos = end + close.size();
  }
  return out;
}

std::optional<std::string> text(std::string_view doc, std::string_view tag) {
  auto e = elements(doc, tag);
  if (e.empty()) return std::nullopt;
  return unescape(e.front());
}

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\r': out += "&#13;"; break;
      case '\n': out += "&#10;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out += s[i];
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      long cp = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X')
                    ? std::strtol(std::string(ent.substr(2)).c_str(), nullptr, 16)
                    : std::strtol(std::string(ent.substr(1)).c_str(), nullptr, 10);
      // UTF-8 encode the code point.
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

}  // namespace kbk::storage::xml
