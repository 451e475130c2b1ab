// Tree blobs (docs/format-repository.md section 7): one directory's entries as JSON, sorted by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <kbk/repo/format.hpp>
#include <kbk/util/error.hpp>

namespace kbk::repo {

enum class NodeType { file, dir, symlink, fifo, chardev, blockdev, socket };
const char* node_type_name(NodeType t);

struct Node {
  std::string name;  // bytes
  NodeType type = NodeType::file;
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  std::string user, group;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint64_t size = 0;
  uint64_t inode = 0;
  uint32_t links = 0;
  uint64_t rdev = 0;
  std::vector<Id> content;           // <= k_list_fanout ids inline
  std::optional<Id> content_list;    // or the root of a content list
  std::optional<Id> subtree;         // dir
  std::string link_target;           // symlink
  std::vector<std::pair<std::string, std::string>> xattrs;  // name, value bytes
};

// Sorts nodes by name and encodes them.
std::string encode_tree(std::vector<Node>& nodes);
// Errc::corrupt / unsupported naming `what` when malformed or newer.
Result<std::vector<Node>> decode_tree(std::string_view json, std::string_view what);

bool valid_utf8(std::string_view s);

}  // namespace kbk::repo
