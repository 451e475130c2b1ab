// Bandwidth limiting: a pacing clock per direction. Each transfer reserves its bytes and sleeps until the moment
// they are due at the capped rate, so the average over the whole transfer stays at the cap however many threads
// transfer at once. Time lost while nobody transferred is made up for at most k_catch_up (scheduler jitter, a
// reader busy between reads), and a fresh pacer starts with no more credit than that: no first-second burst.
#include <kbk/storage/wrappers.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <thread>

#include <kbk/storage/s3.hpp>
#include <kbk/util/strings.hpp>

namespace kbk::storage {
namespace {

int minute_of_day_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm.tm_hour * 60 + tm.tm_min;
}

class Pacer {
public:
  explicit Pacer(uint64_t rate, std::vector<RateWindow> windows = {}) {
    m_schedule.base = rate;
    m_schedule.windows = std::move(windows);
  }
  bool unlimited() const { return m_schedule.empty(); }
  // The cap in force now (0 = none).
  uint64_t rate_now() const { return m_schedule.windows.empty() ? m_schedule.base : m_schedule.at(minute_of_day_now()); }

  void consume(uint64_t bytes) {
    if (unlimited() || bytes == 0) return;
    const double rate = static_cast<double>(m_schedule.windows.empty() ? m_schedule.base : m_schedule.at(minute_of_day_now()));
    if (rate <= 0) return;  // a window without a cap
    using Clock = std::chrono::steady_clock;
    Clock::time_point wake;
    {
      std::lock_guard lock(m_mutex);
      const auto now = Clock::now();
      constexpr auto k_catch_up = std::chrono::milliseconds(100);
      if (m_next < now - k_catch_up) m_next = now - k_catch_up;
      m_next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(bytes) / rate));
      wake = m_next;
    }
    std::this_thread::sleep_until(wake);
  }

private:
  RateSchedule m_schedule;
  std::mutex m_mutex;
  std::chrono::steady_clock::time_point m_next{};
};

constexpr size_t k_slice = 256 * 1024;  // pace (and count) big writes in slices so parallel streams interleave fairly

class LimitedWriter final : public Writer {
public:
  LimitedWriter(std::unique_ptr<Writer> inner, std::shared_ptr<Pacer> pacer) : m_inner(std::move(inner)), m_pacer(std::move(pacer)) {}
  Result<void> write(std::string_view data) override {
    while (!data.empty()) {
      auto slice = data.substr(0, k_slice);
      m_pacer->consume(slice.size());
      KBK_TRY(m_inner->write(slice));
      data.remove_prefix(slice.size());
    }
    return {};
  }
  Result<void> commit() override { return m_inner->commit(); }
  void abort() override { m_inner->abort(); }
  uint64_t bytes_written() const override { return m_inner->bytes_written(); }

private:
  std::unique_ptr<Writer> m_inner;
  std::shared_ptr<Pacer> m_pacer;
};

class LimitedReader final : public Reader {
public:
  LimitedReader(std::unique_ptr<Reader> inner, std::shared_ptr<Pacer> pacer) : m_inner(std::move(inner)), m_pacer(std::move(pacer)) {}
  Result<size_t> read(char* buffer, size_t size) override {
    KBK_ASSIGN_OR_RETURN(size_t n, m_inner->read(buffer, std::min(size, k_slice)));
    m_pacer->consume(n);
    return n;
  }

private:
  std::unique_ptr<Reader> m_inner;
  std::shared_ptr<Pacer> m_pacer;
};

// A Backend that hands every call to the backend it wraps; a wrapper derives from it and overrides only the calls
// it changes (one concern per wrapper).
class ForwardingBackend : public Backend {
public:
  explicit ForwardingBackend(std::unique_ptr<Backend> inner) : m_inner(std::move(inner)) {}
  std::string display_url() const override { return m_inner->display_url(); }
  Result<void> put(const std::string& key, std::string_view data, const PutOptions& options) override {
    return m_inner->put(key, data, options);
  }
  Result<std::unique_ptr<Writer>> put_stream(const std::string& key, const PutOptions& options) override {
    return m_inner->put_stream(key, options);
  }
  Result<std::string> get(const std::string& key) override { return m_inner->get(key); }
  Result<std::unique_ptr<Reader>> get_stream(const std::string& key, uint64_t offset, uint64_t length) override {
    return m_inner->get_stream(key, offset, length);
  }
  Result<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) override {
    return m_inner->get_range(key, offset, length);
  }
  Result<std::optional<ObjectInfo>> stat(const std::string& key) override { return m_inner->stat(key); }
  Result<void> list(const std::string& prefix, const std::function<Result<void>(const ObjectInfo&)>& f) override {
    return m_inner->list(prefix, f);
  }
  Result<std::vector<std::string>> list_prefixes(const std::string& prefix) override { return m_inner->list_prefixes(prefix); }
  Result<void> remove(const std::string& key) override { return m_inner->remove(key); }
  Result<void> remove_many(const std::vector<std::string>& keys) override { return m_inner->remove_many(keys); }
  Result<uint64_t> cleanup_incomplete(std::chrono::seconds older_than, const std::string& folder) override {
    return m_inner->cleanup_incomplete(older_than, folder);
  }
  std::shared_ptr<S3Access> s3_access() const override { return m_inner->s3_access(); }

protected:
  std::unique_ptr<Backend> m_inner;
};

class Faulty final : public ForwardingBackend {
public:
  Faulty(std::unique_ptr<Backend> inner, FaultPlan plan) : ForwardingBackend(std::move(inner)), m_plan(plan) {}
  Result<void> put(const std::string& key, std::string_view data, const PutOptions& options) override {
    if (m_plan.delay.count()) std::this_thread::sleep_for(m_plan.delay);
    const uint64_t n = ++m_puts;
    if (m_plan.fail_every && n % m_plan.fail_every == 0)
      return unexpected(Errc::network, "injected fault: put " + key + " failed");
    if (m_plan.truncate_every && n % m_plan.truncate_every == 0) {
      KBK_TRY(m_inner->put(key, data.substr(0, data.size() / 2), options));
      return unexpected(Errc::network, "injected fault: put " + key + " cut off");
    }
    return m_inner->put(key, data, options);
  }
  Result<std::unique_ptr<Writer>> put_stream(const std::string& key, const PutOptions& options) override {
    if (m_plan.delay.count()) std::this_thread::sleep_for(m_plan.delay);
    const uint64_t n = ++m_puts;
    if (m_plan.fail_every && n % m_plan.fail_every == 0)
      return unexpected(Errc::network, "injected fault: put " + key + " failed");
    return m_inner->put_stream(key, options);
  }
  Result<std::string> get(const std::string& key) override {
    if (m_plan.delay.count()) std::this_thread::sleep_for(m_plan.delay);
    return m_inner->get(key);
  }

private:
  FaultPlan m_plan;
  std::atomic<uint64_t> m_puts{0};
};

class BandwidthLimited final : public ForwardingBackend {
public:
  BandwidthLimited(std::unique_ptr<Backend> inner, BandwidthLimits limits)
      : ForwardingBackend(std::move(inner)),
        m_up(std::make_shared<Pacer>(limits.upload_bytes_per_second, limits.upload_windows)),
        m_down(std::make_shared<Pacer>(limits.download_bytes_per_second, limits.download_windows)) {}

  Result<void> put(const std::string& key, std::string_view data, const PutOptions& options) override {
    if (m_up->unlimited()) return m_inner->put(key, data, options);
    KBK_ASSIGN_OR_RETURN(auto w, put_stream(key, options));
    KBK_TRY(w->write(data));
    return w->commit();
  }
  Result<std::unique_ptr<Writer>> put_stream(const std::string& key, const PutOptions& options) override {
    KBK_ASSIGN_OR_RETURN(auto w, m_inner->put_stream(key, options));
    if (m_up->unlimited()) return w;
    return std::unique_ptr<Writer>(std::make_unique<LimitedWriter>(std::move(w), m_up));
  }
  Result<std::string> get(const std::string& key) override {
    if (m_down->unlimited()) return m_inner->get(key);
    KBK_ASSIGN_OR_RETURN(auto r, get_stream(key, 0, 0));
    std::string out;
    char buf[65536];
    while (true) {
      KBK_ASSIGN_OR_RETURN(size_t n, r->read(buf, sizeof buf));
      if (n == 0) return out;
      out.append(buf, n);
    }
  }
  Result<std::unique_ptr<Reader>> get_stream(const std::string& key, uint64_t offset, uint64_t length) override {
    KBK_ASSIGN_OR_RETURN(auto r, m_inner->get_stream(key, offset, length));
    if (m_down->unlimited()) return r;
    return std::unique_ptr<Reader>(std::make_unique<LimitedReader>(std::move(r), m_down));
  }
  // Paced after the read, in slices, as a reader is: the next range waits for the cap.
  Result<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) override {
    KBK_ASSIGN_OR_RETURN(std::string r, m_inner->get_range(key, offset, length));
    for (uint64_t done = 0; done < r.size(); done += k_slice) m_down->consume(std::min<uint64_t>(k_slice, r.size() - done));
    return r;
  }
  // Another process reaching the location by itself (the in-pod mover) gets the caps in force now.
  std::shared_ptr<S3Access> s3_access() const override {
    auto a = m_inner->s3_access();
    if (!a) return a;
    auto tighter = [](uint64_t have, uint64_t cap) { return cap && (!have || cap < have) ? cap : have; };
    a->limit_upload_bytes_per_second = tighter(a->limit_upload_bytes_per_second, m_up->rate_now());
    a->limit_download_bytes_per_second = tighter(a->limit_download_bytes_per_second, m_down->rate_now());
    return a;
  }

private:
  std::shared_ptr<Pacer> m_up, m_down;
};

}  // namespace

std::unique_ptr<Backend> wrap_bandwidth_limit(std::unique_ptr<Backend> inner, BandwidthLimits limits) {
  if (!limits.upload_bytes_per_second && !limits.download_bytes_per_second && limits.upload_windows.empty() &&
      limits.download_windows.empty())
    return inner;
  return std::make_unique<BandwidthLimited>(std::move(inner), limits);
}

Result<uint64_t> parse_rate(std::string_view text) {
  std::string s(util::trim(text));
  char* end = nullptr;
  double n = std::strtod(s.c_str(), &end);
  std::string unit = util::to_lower(util::trim(end ? std::string_view(end) : std::string_view()));
  if (util::ends_with(unit, "/s")) unit.resize(unit.size() - 2);
  double mult = 0;
  if (unit.empty() || unit == "k" || unit == "ki" || unit == "kib" || unit == "kb") mult = 1024;
  else if (unit == "b") mult = 1;
  else if (unit == "m" || unit == "mi" || unit == "mib" || unit == "mb") mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gi" || unit == "gib" || unit == "gb") mult = 1024.0 * 1024 * 1024;
  if (end == s.c_str() || mult == 0 || !(n >= 0) || std::isinf(n))
    return unexpected(Errc::config, "bandwidth limit \"" + s + "\": expected a rate like 500KiB, 10MiB or 1G (per second)");
  return static_cast<uint64_t>(n * mult);
}

uint64_t RateSchedule::at(int minute) const {
  for (const auto& w : windows) {
    const bool in = w.start_minute <= w.end_minute ? minute >= w.start_minute && minute < w.end_minute
                                                   : minute >= w.start_minute || minute < w.end_minute;
    if (in) return w.bytes_per_second;
  }
  return base;
}

std::string RateSchedule::describe() const {
  auto rate = [](uint64_t r) { return r ? util::human_bytes(r) + "/s" : std::string("unlimited"); };
  auto hhmm = [](int m) {
    char b[32];
    std::snprintf(b, sizeof b, "%02d:%02d", m / 60, m % 60);
    return std::string(b);
  };
  if (windows.empty()) return rate(base);
  std::string s;
  for (const auto& w : windows) s += (s.empty() ? "" : ", ") + rate(w.bytes_per_second) + " " + hhmm(w.start_minute) + "-" + hhmm(w.end_minute);
  return s + ", else " + rate(base) + " (local time)";
}

Result<RateSchedule> parse_rate_schedule(std::string_view text) {
  RateSchedule out;
  bool base_seen = false;
  auto minute = [](std::string_view t) -> std::optional<int> {
    auto colon = t.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    char* e = nullptr;
    const std::string h(t.substr(0, colon)), m(t.substr(colon + 1));
    long hh = std::strtol(h.c_str(), &e, 10);
    if (h.empty() || *e) return std::nullopt;
    long mm = std::strtol(m.c_str(), &e, 10);
    if (m.size() != 2 || *e || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm)) return std::nullopt;
    return static_cast<int>(hh * 60 + mm);
  };
  for (const auto& part : util::split(text, ',')) {
    const std::string entry(util::trim(part));
    if (entry.empty()) continue;
    const auto at = entry.find('@');
    if (at == std::string::npos) {
      if (base_seen) return unexpected(Errc::config, "bandwidth limit \"" + std::string(text) + "\": more than one rate without @HH:MM-HH:MM");
      base_seen = true;
      KBK_ASSIGN_OR_RETURN(out.base, parse_rate(entry));
      continue;
    }
    RateWindow w;
    KBK_ASSIGN_OR_RETURN(w.bytes_per_second, parse_rate(entry.substr(0, at)));
    const std::string span = entry.substr(at + 1);
    const auto dash = span.find('-');
    auto from = dash == std::string::npos ? std::nullopt : minute(span.substr(0, dash));
    auto to = dash == std::string::npos ? std::nullopt : minute(span.substr(dash + 1));
    if (!from || !to || *from == *to)
      return unexpected(Errc::config, "bandwidth limit window \"" + entry + "\": expected RATE@HH:MM-HH:MM (e.g. 50MiB@08:00-20:00)");
    w.start_minute = *from % 1440;
    w.end_minute = *to % 1440;
    out.windows.push_back(w);
  }
  return out;
}

Result<std::unique_ptr<Backend>> apply_wrappers(std::unique_ptr<Backend> inner, const OpenOptions& options) {
  BandwidthLimits limits;
  for (const auto& [k, v] : options.settings) {
    if (k == "limit-upload") {
      KBK_ASSIGN_OR_RETURN(auto sched, parse_rate_schedule(v));
      limits.upload_bytes_per_second = sched.base;
      limits.upload_windows = std::move(sched.windows);
    } else if (k == "limit-download") {
      KBK_ASSIGN_OR_RETURN(auto sched, parse_rate_schedule(v));
      limits.download_bytes_per_second = sched.base;
      limits.download_windows = std::move(sched.windows);
    }
  }
  return wrap_bandwidth_limit(std::move(inner), limits);
}

}  // namespace kbk::storage

// ---- transfer progress ------------------------------------------------------------------------------------------

namespace kbk::storage {

void TransferProgress::expect_upload(const std::string& key, uint64_t bytes) {
  std::lock_guard lock(m_mutex);
  m_expected[key] = bytes;
}

std::optional<uint64_t> TransferProgress::take_expected_upload(const std::string& key) {
  std::lock_guard lock(m_mutex);
  auto it = m_expected.find(key);
  if (it == m_expected.end()) return std::nullopt;
  uint64_t n = it->second;
  m_expected.erase(it);
  return n;
}

util::ProgressState TransferProgress::state_locked(Direction d, const std::string& current) const {
  const Counts& c = m_counts[static_cast<int>(d)];
  util::ProgressState s;
  s.phase = d == Direction::upload ? "upload" : "download";
  s.current = current;
  s.bytes_done = c.done;
  s.bytes_total = c.unknown_running ? 0 : std::max(c.total, c.done);
  return s;
}

util::ProgressState TransferProgress::state(Direction d) const {
  std::lock_guard lock(m_mutex);
  return state_locked(d, "");
}

void TransferProgress::begin(const Transfer& t) {
  util::ProgressState s;
  {
    std::lock_guard lock(m_mutex);
    Counts& c = m_counts[static_cast<int>(t.direction)];
    c.used = true;
    if (t.known) c.total += t.expected;
    else ++c.unknown_running;
    s = state_locked(t.direction, t.key);
  }
  m_sink.update(s);
}

void TransferProgress::add(Direction d, const std::string& key, uint64_t bytes) {
  if (bytes == 0) return;
  util::ProgressState s;
  {
    std::lock_guard lock(m_mutex);
    m_counts[static_cast<int>(d)].done += bytes;
    s = state_locked(d, key);
  }
  m_sink.update(s);
}

void TransferProgress::end(const Transfer& t, uint64_t moved) {
  util::ProgressState s;
  {
    std::lock_guard lock(m_mutex);
    Counts& c = m_counts[static_cast<int>(t.direction)];
    if (t.known) {
      c.total -= std::min(c.total, t.expected);
    } else if (c.unknown_running) {
      --c.unknown_running;
    }
    c.total += moved;  // an ended transfer counts at what it moved (an aborted one at what got through)
    s = state_locked(t.direction, t.key);
  }
  m_sink.update(s);
}

void TransferProgress::finish() {
  for (Direction d : {Direction::upload, Direction::download}) {
    util::ProgressState s;
    {
      std::lock_guard lock(m_mutex);
      if (!m_counts[static_cast<int>(d)].used) continue;
      s = state_locked(d, "");
    }
    m_sink.finish(s);
  }
}

namespace {

using Direction = TransferProgress::Direction;

class CountingWriter final : public Writer {
public:
  CountingWriter(std::unique_ptr<Writer> inner, std::shared_ptr<TransferProgress> progress, TransferProgress::Transfer t)
      : m_inner(std::move(inner)), m_progress(std::move(progress)), m_transfer(std::move(t)) {
    m_progress->begin(m_transfer);
  }
  ~CountingWriter() override {
    if (!m_ended) m_progress->end(m_transfer, m_moved);
  }
  Result<void> write(std::string_view data) override {
    // Slices, so one big write still moves the count along (the inner writer uploads as it fills parts).
    while (!data.empty()) {
      auto slice = data.substr(0, k_slice);
      KBK_TRY(m_inner->write(slice));
      m_moved += slice.size();
      m_progress->add(Direction::upload, m_transfer.key, slice.size());
      data.remove_prefix(slice.size());
    }
    return {};
  }
  Result<void> commit() override {
    auto r = m_inner->commit();
    m_ended = true;
    m_progress->end(m_transfer, m_moved);
    return r;
  }
  void abort() override {
    m_inner->abort();
    if (!m_ended) m_progress->end(m_transfer, m_moved);
    m_ended = true;
  }
  uint64_t bytes_written() const override { return m_inner->bytes_written(); }

private:
  std::unique_ptr<Writer> m_inner;
  std::shared_ptr<TransferProgress> m_progress;
  TransferProgress::Transfer m_transfer;
  uint64_t m_moved = 0;
  bool m_ended = false;
};

class CountingReader final : public Reader {
public:
  CountingReader(std::unique_ptr<Reader> inner, std::shared_ptr<TransferProgress> progress, TransferProgress::Transfer t)
      : m_inner(std::move(inner)), m_progress(std::move(progress)), m_transfer(std::move(t)) {
    m_progress->begin(m_transfer);
  }
  ~CountingReader() override {
    if (!m_ended) m_progress->end(m_transfer, m_moved);
  }
  Result<size_t> read(char* buffer, size_t size) override {
    KBK_ASSIGN_OR_RETURN(size_t n, m_inner->read(buffer, std::min(size, k_slice)));
    if (n == 0 && !m_ended) {
      m_ended = true;
      m_progress->end(m_transfer, m_moved);
    }
    m_moved += n;
    m_progress->add(Direction::download, m_transfer.key, n);
    return n;
  }

private:
  std::unique_ptr<Reader> m_inner;
  std::shared_ptr<TransferProgress> m_progress;
  TransferProgress::Transfer m_transfer;
  uint64_t m_moved = 0;
  bool m_ended = false;
};

class ProgressReporting final : public ForwardingBackend {
public:
  ProgressReporting(std::unique_ptr<Backend> inner, std::shared_ptr<TransferProgress> progress)
      : ForwardingBackend(std::move(inner)), m_progress(std::move(progress)) {}

  Result<void> put(const std::string& key, std::string_view data, const PutOptions& options) override {
    TransferProgress::Transfer t{Direction::upload, key, data.size(), true};
    m_progress->begin(t);
    auto r = m_inner->put(key, data, options);
    if (r) m_progress->add(Direction::upload, key, data.size());
    m_progress->end(t, r ? data.size() : 0);
    return r;
  }
  Result<std::unique_ptr<Writer>> put_stream(const std::string& key, const PutOptions& options) override {
    auto expected = m_progress->take_expected_upload(key);
    KBK_ASSIGN_OR_RETURN(auto w, m_inner->put_stream(key, options));
    TransferProgress::Transfer t{Direction::upload, key, expected.value_or(0), expected.has_value()};
    return std::unique_ptr<Writer>(std::make_unique<CountingWriter>(std::move(w), m_progress, std::move(t)));
  }
  Result<std::string> get(const std::string& key) override {
    TransferProgress::Transfer t{Direction::download, key, 0, false};
    m_progress->begin(t);
    auto r = m_inner->get(key);
    uint64_t n = r ? r->size() : 0;
    m_progress->add(Direction::download, key, n);
    m_progress->end(t, n);
    return r;
  }
  // The size is the range's: no stat first.
  Result<std::string> get_range(const std::string& key, uint64_t offset, uint64_t length) override {
    TransferProgress::Transfer t{Direction::download, key, length, true};
    m_progress->begin(t);
    auto r = m_inner->get_range(key, offset, length);
    const uint64_t n = r ? r->size() : 0;
    m_progress->add(Direction::download, key, n);
    m_progress->end(t, n);
    return r;
  }
  Result<std::unique_ptr<Reader>> get_stream(const std::string& key, uint64_t offset, uint64_t length) override {
    KBK_ASSIGN_OR_RETURN(auto info, m_inner->stat(key));
    KBK_ASSIGN_OR_RETURN(auto r, m_inner->get_stream(key, offset, length));
    TransferProgress::Transfer t{Direction::download, key, 0, false};
    if (info) {
      uint64_t avail = info->size > offset ? info->size - offset : 0;
      t.expected = length ? std::min(length, avail) : avail;
      t.known = true;
    }
    return std::unique_ptr<Reader>(std::make_unique<CountingReader>(std::move(r), m_progress, std::move(t)));
  }

private:
  std::shared_ptr<TransferProgress> m_progress;
};

}  // namespace

std::unique_ptr<Backend> wrap_transfer_progress(std::unique_ptr<Backend> inner, std::shared_ptr<TransferProgress> progress) {
  return std::make_unique<ProgressReporting>(std::move(inner), std::move(progress));
}

std::unique_ptr<Backend> wrap_faults(std::unique_ptr<Backend> inner, FaultPlan plan) {
  return std::make_unique<Faulty>(std::move(inner), plan);
}

}  // namespace kbk::storage
