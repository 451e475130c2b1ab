// Tree blobs as JSON; see docs/format-repository.md section 7.
#include <kbk/repo/tree.hpp>

#include <algorithm>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <kbk/util/strings.hpp>

namespace kbk::repo {
using util::base64_decode;
using util::base64_encode;
using util::hex_encode;
using util::join;
using util::to_lower;

const char* node_type_name(NodeType t) {
  switch (t) {
    case NodeType::file: return "file";
    case NodeType::dir: return "dir";
    case NodeType::symlink: return "symlink";
    case NodeType::fifo: return "fifo";
    case NodeType::chardev: return "chardev";
    case NodeType::blockdev: return "blockdev";
    case NodeType::socket: return "socket";
  }
  return "?";
}

static std::optional<NodeType> parse_type(std::string_view s) {
  for (NodeType t : {NodeType::file, NodeType::dir, NodeType::symlink, NodeType::fifo, NodeType::chardev,
                     NodeType::blockdev, NodeType::socket})
    if (s == node_type_name(t)) return t;
  return std::nullopt;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1fu;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0fu;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07u;
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

namespace {
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_bytes(Writer& w, const char* key, const char* key_b64, const std::string& v) {
  if (valid_utf8(v)) {
    w.Key(key);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  } else {
    w.Key(key_b64);
    std::string b = base64_encode(v);
    w.String(b.data(), static_cast<rapidjson::SizeType>(b.size()));
  }
}
}  // namespace

std::string encode_tree(std::vector<Node>& nodes) {
  std::sort(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) { return a.name < b.name; });
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("v");
  w.Int(1);
  w.Key("nodes");
  w.StartArray();
  for (const auto& n : nodes) {
    w.StartObject();
    write_bytes(w, "name", "nameB64", n.name);
    w.Key("type");
    w.String(node_type_name(n.type));
    w.Key("mode");
    w.Uint(n.mode);
    w.Key("uid");
    w.Uint(n.uid);
    w.Key("gid");
    w.Uint(n.gid);
    if (!n.user.empty()) write_bytes(w, "user", "userB64", n.user);
    if (!n.group.empty()) write_bytes(w, "group", "groupB64", n.group);
    w.Key("mtime");
    w.Int64(n.mtime_ns);
    if (n.ctime_ns) {
      w.Key("ctime");
      w.Int64(n.ctime_ns);
    }
    if (n.type == NodeType::file) {
      w.Key("size");
      w.Uint64(n.size);
    }
    if (n.inode) {
      w.Key("inode");
      w.Uint64(n.inode);
    }
    if (n.links > 1) {
      w.Key("links");
      w.Uint(n.links);
    }
    if (n.rdev) {
      w.Key("rdev");
      w.Uint64(n.rdev);
    }
    if (n.content_list) {
      w.Key("contentList");
      w.String(to_hex(*n.content_list).c_str());
    } else if (n.type == NodeType::file) {
      w.Key("content");
      w.StartArray();
      for (const auto& id : n.content) w.String(to_hex(id).c_str(), 64);
      w.EndArray();
    }
    if (n.subtree) {
      w.Key("subtree");
      w.String(to_hex(*n.subtree).c_str(), 64);
    }
    if (n.type == NodeType::symlink) write_bytes(w, "linkTarget", "linkTargetB64", n.link_target);
    if (!n.xattrs.empty()) {
      w.Key("xattrs");
      w.StartArray();
      for (const auto& [k, v] : n.xattrs) {
        w.StartObject();
        write_bytes(w, "name", "nameB64", k);
        w.Key("value");
        std::string b = base64_encode(v);
        w.String(b.data(), static_cast<rapidjson::SizeType>(b.size()));
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

namespace {
bool get_bytes(const rapidjson::Value& o, const char* key, const char* key_b64, std::string& out) {
  auto it = o.FindMember(key);
  if (it != o.MemberEnd() && it->value.IsString()) {
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
  }
  it = o.FindMember(key_b64);
  if (it != o.MemberEnd() && it->value.IsString()) {
    auto d = base64_decode(std::string_view(it->value.GetString(), it->value.GetStringLength()));
    if (!d) return false;
    out = std::move(*d);
    return true;
  }
  return false;
}
template <class T>
T num(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return 0;
  if constexpr (std::is_same_v<T, int64_t>) return it->value.IsInt64() ? it->value.GetInt64() : 0;
  else return it->value.IsUint64() ? static_cast<T>(it->value.GetUint64()) : 0;
}
}  // namespace

Result<std::vector<Node>> decode_tree(std::string_view json, std::string_view what) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());  // a deep tree costs memory, never stack
  auto bad = [&](const std::string& why) { return unexpected(Errc::corrupt, std::string(what) + ": " + why); };
  if (d.HasParseError() || !d.IsObject()) return bad("not a tree (bad JSON)");
  auto v = d.FindMember("v");
  if (v == d.MemberEnd() || !v->value.IsInt()) return bad("tree without a version");
  if (v->value.GetInt() > 1)
    return unexpected(Errc::unsupported, std::string(what) + ": tree version " + std::to_string(v->value.GetInt()) +
                                             " is newer than this kbk reads (1)");
  auto ns = d.FindMember("nodes");
  if (ns == d.MemberEnd() || !ns->value.IsArray()) return bad("tree without nodes");
  std::vector<Node> out;
  out.reserve(ns->value.Size());
  for (const auto& o : ns->value.GetArray()) {
    if (!o.IsObject()) return bad("a node is not an object");
    Node n;
    if (!get_bytes(o, "name", "nameB64", n.name) || n.name.empty() || n.name.find('/') != std::string::npos ||
        n.name == "." || n.name == "..")
      return bad("a node has no valid name");
    auto t = o.FindMember("type");
    std::optional<NodeType> type;
    if (t != o.MemberEnd() && t->value.IsString()) type = parse_type(t->value.GetString());
    if (!type) return bad("node " + n.name + " has no known type");
    n.type = *type;
    n.mode = num<uint32_t>(o, "mode");
    n.uid = num<uint32_t>(o, "uid");
    n.gid = num<uint32_t>(o, "gid");
    get_bytes(o, "user", "userB64", n.user);
    get_bytes(o, "group", "groupB64", n.group);
    n.mtime_ns = num<int64_t>(o, "mtime");
    n.ctime_ns = num<int64_t>(o, "ctime");
    n.size = num<uint64_t>(o, "size");
    n.inode = num<uint64_t>(o, "inode");
    n.links = num<uint32_t>(o, "links");
    n.rdev = num<uint64_t>(o, "rdev");
    auto id_of = [&](const char* key, std::optional<Id>& dst) -> bool {
      auto it = o.FindMember(key);
      if (it == o.MemberEnd()) return true;
      if (!it->value.IsString()) return false;
      dst = parse_id(std::string_view(it->value.GetString(), it->value.GetStringLength()));
      return dst.has_value();
    };
    if (!id_of("contentList", n.content_list) || !id_of("subtree", n.subtree)) return bad("node " + n.name + " has a bad id");
    auto c = o.FindMember("content");
    if (c != o.MemberEnd()) {
      if (!c->value.IsArray()) return bad("node " + n.name + " has a bad content list");
      n.content.reserve(c->value.Size());
      for (const auto& e : c->value.GetArray()) {
        std::optional<Id> id;
        if (e.IsString()) id = parse_id(std::string_view(e.GetString(), e.GetStringLength()));
        if (!id) return bad("node " + n.name + " has a bad content id");
        n.content.push_back(*id);
      }
    }
    if (n.type == NodeType::dir && !n.subtree) return bad("directory " + n.name + " has no subtree");
    if (n.type == NodeType::symlink) get_bytes(o, "linkTarget", "linkTargetB64", n.link_target);
    auto x = o.FindMember("xattrs");
    if (x != o.MemberEnd() && x->value.IsArray()) {
      for (const auto& e : x->value.GetArray()) {
        std::string k, val;
        if (!e.IsObject() || !get_bytes(e, "name", "nameB64", k)) return bad("node " + n.name + " has a bad xattr");
        auto vv = e.FindMember("value");
        if (vv != e.MemberEnd() && vv->value.IsString()) {
          auto dec = base64_decode(std::string_view(vv->value.GetString(), vv->value.GetStringLength()));
          if (!dec) return bad("node " + n.name + " has a bad xattr value");
          val = std::move(*dec);
        }
        n.xattrs.emplace_back(std::move(k), std::move(val));
      }
    }
    // encode_tree writes the nodes sorted by name, so each name is greater than the last: a name twice would be
    // two things at one path (a symlink and a folder), and a restore must never have to choose.
    if (!out.empty() && !(out.back().name < n.name))
      return bad(out.back().name == n.name ? "node " + n.name + " is named twice" : "nodes are not sorted by name");
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace kbk::repo
