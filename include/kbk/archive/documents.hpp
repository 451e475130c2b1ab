// Reading the location's documents (docs/format-archive.md section 5, docs/security.md): whoever can write to a
// backup location can put anything there, so every object a reader takes from it goes through the same bounded
// read, the same JSON parser (json::parse: depth, UTF-8, duplicate members) and a type check against the format's
// schema, and every error is one line naming the backup, the object and the field.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <kbk/archive/archive.hpp>
#include <kbk/compress/gzip.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/json/schema.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::archive {

// What a reader takes from a location at most (a larger object is refused, never read whole).
inline constexpr uint64_t k_max_document_bytes = 64ull << 20;  // markers, velero-backup.json, restore records
inline constexpr uint64_t k_max_small_bytes = 1ull << 20;      // locks, key objects
inline constexpr uint64_t k_max_list_bytes = 256ull << 20;     // resource lists and results, decompressed
inline constexpr uint64_t k_max_log_bytes = 1ull << 30;        // logs, decompressed (streamed)
inline constexpr size_t k_max_key_objects = 16;                // kbk-key-* objects tried per backup

// An object read whole: at most max_bytes (else Errc::corrupt "<what>: larger than the limit of 64 MiB"), decrypted
// and authenticated to its final segment when data_key is given. Errc::not_found passes through.
Result<std::string> read_bounded(storage::Backend& backend, const std::string& key, std::string_view what,
                                 uint64_t max_bytes, const crypto::SecretKey* data_key = nullptr);

// A stream decompressed on the way with compress::GzipReader (bounded buffer, limits, CRC, nothing after the end).
std::unique_ptr<storage::Reader> gunzip_reader(std::unique_ptr<storage::Reader> inner, std::string what,
                                               const compress::InflateLimits& limits);
// A gzip object as a stream: get_stream, decrypt when data_key is given, gunzip within limits.
Result<std::unique_ptr<storage::Reader>> open_gzip_object(storage::Backend& backend, const std::string& key,
                                                          std::string what, const crypto::SecretKey* data_key,
                                                          const compress::InflateLimits& limits);

// The lines of a text stream (a log) as they come, without their '\n': memory is one line, and a line longer than
// max_line bytes is handed out in pieces of that size. Stops at the first error of the stream (returned).
Result<void> each_line(storage::Reader& reader, const std::function<void(std::string_view line)>& on_line,
                       size_t max_line = 1 << 20);

enum class Gzipped { no, yes };
struct DocumentOptions {
  Gzipped gzipped = Gzipped::no;
  uint64_t max_bytes = k_max_document_bytes;  // of the JSON text (decompressed)
  const crypto::SecretKey* data_key = nullptr;
};
// A JSON document of the location: read_bounded (or streamed through gunzip), json::parse, schema.check. Errors
// are Errc::corrupt naming `what` ("backup b1: kbk-manifest.json"); Errc::not_found when the object is absent.
Result<json::Document> read_document(storage::Backend& backend, const std::string& key, std::string_view what,
                                     const json::Schema& schema, const DocumentOptions& options = {});
// The same for a text already in memory (an archive entry): parse with Errc::corrupt, then check.
Result<json::Document> parse_document(std::string_view text, std::string_view what, const json::Schema& schema);

// The formats' schemas (docs/format-archive.md): the fields readers use, with their types.
const json::Schema& marker_schema();         // kbk-manifest.json, plain or sealed, and the sealed copy inside
const json::Schema& manifest_schema();       // kbk/manifest.json in the archive (the marker's fields and items)
const json::Schema& manifest_item_schema();  // one element of its items
const json::Schema& results_schema();        // kbk/results.json in the archive
const json::Schema& velero_backup_schema();  // velero-backup.json
const json::Schema& lock_schema();           // kbk-lock.json
const json::Schema& resource_list_schema();  // <name>-resource-list.json.gz: {"v1/Pod": ["ns/name", ...]}
const json::Schema& velero_results_schema(); // <name>-results.gz: {"errors": {...}, "warnings": {...}}
const json::Schema& restore_record_schema(); // restores/<name>/kbk-restore.json

// The item's identity as its archive entry names it, against what the object says (apiVersion's group and, for a
// versioned path, version; metadata.name; metadata.namespace): "" when they agree, else the first disagreement.
std::string item_identity_problem(const json::Value& object, const ItemKey& key, std::string_view version_dir);

}  // namespace kbk::archive
