// The volume-data repository's decoders (docs/format-repository.md) over what a bucket writer can put in the
// location: the first byte picks a pack header, a pack trailer, an index file, a content list, a tree, a stored
// blob or a stored object (index files and snapshots: codec, declared length, zstd/lz4 data) opened by a plain
// repository. Whatever decodes must encode back to the same entries; a blob or object must never make the reader
// allocate more than its declared length, which is bounded (64 MiB a blob, 1 GiB an object, and no more than the
// codec can produce from the stored bytes).
// fuzz-link: kbk_repo
#include <cstdlib>

#include <kbk/repo/format.hpp>
#include <kbk/repo/repository.hpp>
#include <kbk/repo/tree.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace kbk;

repo::Repository& plain_repo() {
  static std::unique_ptr<storage::Backend> backend = [] {
    auto b = storage::open(fuzz::scratch() + "/repo", {{}, true});
    if (!b) std::abort();
    return std::move(*b);
  }();
  static std::unique_ptr<repo::Repository> r = [] {
    repo::OpenOptions oo;
    oo.create = true;
    auto opened = repo::Repository::open(*backend, oo);
    if (!opened) std::abort();
    return std::move(*opened);
  }();
  return *r;
}

void say(const Error& e) { (void)util::printable(e.message); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0: {
      auto h = repo::decode_pack_header(in);
      if (!h) return say(h.error()), 0;
      auto again = repo::decode_pack_header(repo::encode_pack_header(*h));
      if (!again || again->size() != h->size()) std::abort();
      break;
    }
    case 1: {
      auto t = repo::decode_pack_trailer(in);
      if (!t) return say(t.error()), 0;
      auto again = repo::decode_pack_trailer(repo::encode_pack_trailer(*t));
      if (!again || *again != *t) std::abort();
      break;
    }
    case 2: {
      auto idx = repo::decode_index(in);
      if (!idx) return say(idx.error()), 0;
      auto again = repo::decode_index(repo::encode_index(*idx));
      if (!again || again->size() != idx->size()) std::abort();
      break;
    }
    case 3: {
      auto l = repo::decode_list(in);
      if (!l) return say(l.error()), 0;
      break;
    }
    case 4: {
      auto t = repo::decode_tree(in, "tree");
      if (!t) return say(t.error()), 0;
      auto again = repo::decode_tree(repo::encode_tree(*t), "tree");
      if (!again || again->size() != t->size()) std::abort();
      break;
    }
    case 5: {
      if (in.size() < 32) return 0;
      repo::Id id{};
      std::memcpy(id.data(), in.data(), 32);
      auto b = plain_repo().decode_blob(id, in.substr(32));
      if (!b) say(b.error());
      break;
    }
    default: {
      auto o = plain_repo().open_object(in, "index file");
      if (!o) say(o.error());
    }
  }
  return 0;
}
