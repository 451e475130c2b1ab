#include <kbk/storage/wrappers.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <vector>

using namespace kbk;
using namespace kbk::storage;

TEST_CASE("parse_rate: units, restic's KiB default, errors") {
  CHECK(*parse_rate("100") == 100 * 1024);
  CHECK(*parse_rate("500KiB") == 500 * 1024);
  CHECK(*parse_rate("10MiB") == 10 * 1024 * 1024);
  CHECK(*parse_rate("1.5M") == 3 * 512 * 1024);
  CHECK(*parse_rate("2G/s") == 2ull << 30);
  CHECK(*parse_rate("4096b") == 4096);
  for (const char* bad : {"", "fast", "10 parsecs", "-1M"}) {
    INFO(bad);
    auto r = parse_rate(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().is(Errc::config));
  }
}

TEST_CASE("parse_rate_schedule: a rate, windows of the day, the rest of the day") {
  auto plain = parse_rate_schedule("10MiB");
  REQUIRE(plain);
  CHECK(plain->base == 10u << 20);
  CHECK(plain->windows.empty());
  auto day = parse_rate_schedule("50MiB@08:00-20:00,500MiB");
  REQUIRE(day);
  CHECK(day->base == 500u << 20);
  REQUIRE(day->windows.size() == 1);
  CHECK(day->at(7 * 60 + 59) == 500u << 20);
  CHECK(day->at(8 * 60) == 50u << 20);
  CHECK(day->at(19 * 60 + 59) == 50u << 20);
  CHECK(day->at(20 * 60) == 500u << 20);
  CHECK(day->describe() == "50.0 MiB/s 08:00-20:00, else 500.0 MiB/s (local time)");
  // A window across midnight, and no cap for the rest of the day.
  auto night = parse_rate_schedule("1MiB@22:00-06:00");
  REQUIRE(night);
  CHECK(night->at(23 * 60) == 1u << 20);
  CHECK(night->at(5 * 60) == 1u << 20);
  CHECK(night->at(12 * 60) == 0);
  CHECK(night->describe() == "1.0 MiB/s 22:00-06:00, else unlimited (local time)");
  for (const char* bad : {"50MiB@8-20", "50MiB@08:00", "50MiB@08:00-08:00", "1M,2M", "x@08:00-09:00", "5MiB@25:00-01:00"}) {
    auto r = parse_rate_schedule(bad);
    CHECK_FALSE(r);
    if (!r) CHECK(r.error().code == Errc::config);
  }
}

TEST_CASE("wrap_bandwidth_limit: data passes through unchanged; no limits means no wrapper") {
  const auto dir = std::filesystem::temp_directory_path() / ("kbk-wrap-" + std::to_string(::getpid()));
  OpenOptions o;
  o.create = true;
  auto inner = storage::open("file://" + dir.string(), o);
  REQUIRE(inner.ok());
  Backend* raw = inner->get();
  auto same = wrap_bandwidth_limit(std::move(*inner), {});
  CHECK(same.get() == raw);
  BandwidthLimits caps;
  caps.upload_bytes_per_second = caps.download_bytes_per_second = 64ull << 20;
  auto limited = wrap_bandwidth_limit(std::move(same), caps);
  std::string data(3u << 20, 'x');
  for (size_t i = 0; i < data.size(); i += 7) data[i] = static_cast<char>(i);
  REQUIRE(limited->put("k", data, {}).ok());
  auto back = limited->get("k");
  REQUIRE(back.ok());
  CHECK((*back == data));
  auto s = limited->get_stream("k", 5, 10);
  REQUIRE(s.ok());
  char buf[32];
  auto n = (*s)->read(buf, sizeof buf);
  REQUIRE(n.ok());
  CHECK(std::string(buf, *n) == data.substr(5, 10));
  std::filesystem::remove_all(dir);
}

namespace {
// Records what a progress sink is told.
struct RecordingSink final : util::ProgressSink {
  std::vector<util::ProgressState> updates, finishes;
  void update(const util::ProgressState& s) override { updates.push_back(s); }
  void finish(const util::ProgressState& s) override { finishes.push_back(s); }
  std::vector<util::ProgressState> of(const std::string& phase) const {
    std::vector<util::ProgressState> out;
    for (const auto& s : updates)
      if (s.phase == phase) out.push_back(s);
    return out;
  }
};

bool never_shrinks(const std::vector<util::ProgressState>& v) {
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i].bytes_done < v[i - 1].bytes_done) return false;
  return true;
}
}  // namespace

TEST_CASE("wrap_transfer_progress: uploads and downloads counted with their totals, finished once per direction") {
  const auto dir = std::filesystem::temp_directory_path() / ("kbk-progress-" + std::to_string(::getpid()));
  OpenOptions o;
  o.create = true;
  auto inner = storage::open("file://" + dir.string(), o);
  REQUIRE(inner.ok());
  RecordingSink sink;
  auto meter = std::make_shared<TransferProgress>(sink);
  auto b = wrap_transfer_progress(std::move(*inner), meter);
  const std::string small(1000, 's');
  std::string big(3u << 20, 'b');
  for (size_t i = 0; i < big.size(); i += 11) big[i] = static_cast<char>(i);

  // A stream whose size was declared (a file), written in one big write: counted in slices, total known.
  meter->expect_upload("a/big", big.size());
  auto w = b->put_stream("a/big", {});
  REQUIRE(w.ok());
  REQUIRE((*w)->write(big).ok());
  REQUIRE((*w)->commit().ok());
  auto up = sink.of("upload");
  REQUIRE(up.size() >= 4);  // begin, several slices, end
  CHECK(never_shrinks(up));
  CHECK(up.front().bytes_done == 0);
  CHECK(up.front().bytes_total == big.size());
  CHECK(up[1].bytes_done < big.size());  // moved along during the write
  CHECK(up.back().bytes_done == big.size());
  CHECK(up.back().current == "a/big");

  // put() of a buffer adds its size; a stream of unknown size makes the total unknown until it ends.
  REQUIRE(b->put("a/small", small, {}).ok());
  CHECK(sink.of("upload").back().bytes_done == big.size() + small.size());
  CHECK(sink.of("upload").back().bytes_total == big.size() + small.size());
  auto w2 = b->put_stream("a/unknown", {});
  REQUIRE(w2.ok());
  REQUIRE((*w2)->write("12345").ok());
  CHECK(sink.of("upload").back().bytes_total == 0);
  REQUIRE((*w2)->commit().ok());
  CHECK(sink.of("upload").back().bytes_total == big.size() + small.size() + 5);

  // get_stream learns the size from stat; a range counts only its bytes.
  auto r = b->get_stream("a/big");
  REQUIRE(r.ok());
  std::string back;
  std::vector<char> buf(1 << 20);
  while (true) {
    auto n = (*r)->read(buf.data(), buf.size());
    REQUIRE(n.ok());
    if (*n == 0) break;
    back.append(buf.data(), *n);
  }
  CHECK((back == big));
  auto down = sink.of("download");
  REQUIRE(down.size() >= 3);
  CHECK(never_shrinks(down));
  CHECK(down.front().bytes_total == big.size());
  CHECK(down.back().bytes_done == big.size());
  auto ranged = b->get_stream("a/big", 10, 100);
  REQUIRE(ranged.ok());
  REQUIRE((*ranged)->read(buf.data(), buf.size()).ok());
  CHECK(sink.of("download").back().bytes_total == big.size() + 100);

  // get() counts what it read; a failed get counts nothing.
  REQUIRE(b->get("a/small").ok());
  CHECK(sink.of("download").back().bytes_done == big.size() + 100 + small.size());
  CHECK_FALSE(b->get("a/missing").ok());
  CHECK(sink.of("download").back().bytes_done == big.size() + 100 + small.size());

  meter->finish();
  REQUIRE(sink.finishes.size() == 2);
  CHECK(sink.finishes[0].phase == "upload");
  CHECK(sink.finishes[0].bytes_done == big.size() + small.size() + 5);
  CHECK(sink.finishes[0].bytes_total == sink.finishes[0].bytes_done);
  CHECK(sink.finishes[1].phase == "download");
  CHECK(sink.finishes[1].bytes_done == big.size() + 100 + small.size());
  std::filesystem::remove_all(dir);
}

TEST_CASE("wrap_transfer_progress: an aborted upload counts what got through, and only one direction finishes") {
  const auto dir = std::filesystem::temp_directory_path() / ("kbk-progress-abort-" + std::to_string(::getpid()));
  OpenOptions o;
  o.create = true;
  auto inner = storage::open("file://" + dir.string(), o);
  REQUIRE(inner.ok());
  RecordingSink sink;
  auto meter = std::make_shared<TransferProgress>(sink);
  auto b = wrap_transfer_progress(std::move(*inner), meter);
  meter->expect_upload("x", 1000);
  {
    auto w = b->put_stream("x", {});
    REQUIRE(w.ok());
    REQUIRE((*w)->write(std::string(300, 'x')).ok());
  }  // destroyed uncommitted: aborted
  CHECK_FALSE(b->stat("x")->has_value());
  CHECK(sink.of("upload").back().bytes_done == 300);
  CHECK(sink.of("upload").back().bytes_total == 300);
  meter->finish();
  REQUIRE(sink.finishes.size() == 1);
  CHECK(sink.finishes[0].phase == "upload");
  std::filesystem::remove_all(dir);
}
