// The location's documents: the first byte picks the reader, the rest is the object's text. Each is parsed by
// json::parse's rules and checked against its schema as the readers do (the marker also by check_marker, a key
// object opened with a fixed 32-byte key: scrypt objects are refused before deriving, as for any key file), then
// printed as the commands print them.
// fuzz-link: kbk_archive
#include <kbk/archive/documents.hpp>
#include <kbk/archive/encryption.hpp>
#include <kbk/archive/location.hpp>
#include <kbk/crypto/encryption.hpp>
#include <kbk/json/json.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const json::Schema* schemas[] = {&archive::marker_schema(),        &archive::manifest_schema(),
                                   &archive::results_schema(),       &archive::velero_backup_schema(),
                                   &archive::lock_schema(),          &archive::resource_list_schema(),
                                   &archive::velero_results_schema(), &archive::restore_record_schema()};
  const size_t pick = data[0] % (std::size(schemas) + 1);
  if (pick == std::size(schemas)) {
    static const auto user = crypto::parse_user_key(std::string(32, 'k'), "fuzz key");
    auto fields = crypto::parse_key_object(text, "backups/b1/kbk-key-fuzz");
    if (fields && user) (void)crypto::unwrap_data_key(*fields, *user, "backups/b1/kbk-key-fuzz");
    return 0;
  }
  auto doc = archive::parse_document(text, "backup b1: fuzz.json", *schemas[pick]);
  if (!doc) {
    (void)util::printable(doc.error().message);
    return 0;
  }
  if (pick <= 1) (void)archive::check_marker(*doc, "b1", "backup b1: kbk-manifest.json");
  json::write_pretty(*doc, fuzz::discard);
  (void)json::to_yaml(*doc);
  return 0;
}
