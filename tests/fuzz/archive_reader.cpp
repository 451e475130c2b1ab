// The archive reader as every command meets it (archive::verify_stream = read_archive + the verifier): gzip through
// compress::GzipReader, tar through libarchive with read_archive's rules, every item parsed and checked against its
// path, kbk/manifest.json and kbk/results.json against their schemas, the checksums. Limits are small so a run
// stays fast; a problem report is printed as the CLI would (util::printable).
// fuzz-link: kbk_archive
#include <kbk/archive/reader.hpp>
#include <kbk/json/json.hpp>
#include <kbk/util/strings.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kbk;
  fuzz::InputReader reader(data, size);
  archive::ReaderLimits limits;
  limits.max_entry_bytes = 1 << 20;
  limits.max_total_bytes = 16 << 20;
  limits.max_entries = 10000;
  auto report = archive::verify_stream(reader, "fuzz", limits,
                                       [](const archive::Entry& e, const json::Value* object) -> Result<void> {
                                         (void)util::printable(e.path);
                                         if (object) json::write_compact(*object, fuzz::discard);
                                         return {};
                                       });
  if (!report) {
    (void)util::printable(report.error().message);
    return 0;
  }
  for (const auto& p : report->problems) (void)util::printable(p);
  if (!report->problems.empty()) (void)archive::verification_error("fuzz", *report);
  return 0;
}
