// Executing a plan tier by tier with a small pool of workers (see engine.hpp).
#include <kbk/restore/engine.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <thread>

#include <kbk/util/log.hpp>
#include <kbk/util/time.hpp>

namespace kbk::restore {

size_t RestoreReport::count(Outcome o) const {
  return static_cast<size_t>(std::count_if(items.begin(), items.end(), [o](const ItemReport& i) { return i.result.outcome == o; }));
}

bool RestoreReport::hook_failed() const {
  for (const auto& p : hooks)
    for (const auto& h : p.hooks)
      if (h.outcome == "failed" && h.on_error == "Fail") return true;
  return false;
}

std::string RestoreReport::phase() const {
  size_t failed = count(Outcome::failed);
  if (failed == 0) return hook_failed() ? "PartiallyFailed" : "Completed";
  size_t tried = 0;
  for (const ItemReport& i : items)
    if (i.order > 0 || i.result.outcome == Outcome::failed) ++tried;
  return failed == tried ? "Failed" : "PartiallyFailed";
}

ExitCode exit_code(const RestoreReport& report) {
  std::string phase = report.phase();
  if (phase == "Completed") return ExitCode::ok;
  if (phase == "Failed") return ExitCode::failed;
  return ExitCode::partial;
}

namespace {

// How many items may wait out a retry per worker (ItemResult::retry_in) before the workers stop taking new items
// and wait for those: under a server that answers every request with 429, the restore then sends at most
// parallel * (1 + k_waiting_per_worker) requests per Retry-After instead of starting every object of the wave.
constexpr size_t k_waiting_per_worker = 16;

// The items of one wave (indexes 0..size-1) for the workers: each is taken, then either finished or put back with
// a time before which it is not taken again. Items due again go before new ones. take() waits while nothing is
// ready but items are still being applied or waiting, and says nullopt once every item is finished.
class WaveQueue {
public:
  using Clock = std::chrono::steady_clock;
  WaveQueue(size_t size, size_t max_waiting) : m_size(size), m_max_waiting(std::max<size_t>(1, max_waiting)) {}

  std::optional<size_t> take() {
    std::unique_lock lock(m_mutex);
    for (;;) {
      if (!m_waiting.empty() && m_waiting.top().first <= Clock::now()) {
        const size_t n = m_waiting.top().second;
        m_waiting.pop();
        ++m_taken;
        return n;
      }
      if (m_next < m_size && m_waiting.size() < m_max_waiting) {
        ++m_taken;
        return m_next++;
      }
      if (m_waiting.empty() && m_taken == 0 && m_next >= m_size) return std::nullopt;
      if (m_waiting.empty()) m_changed.wait(lock);
      else m_changed.wait_until(lock, m_waiting.top().first);
    }
  }

  void later(size_t n, double seconds) {
    {
      std::lock_guard lock(m_mutex);
      --m_taken;
      m_waiting.emplace(Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(std::max(0.0, seconds))),
                        n);
    }
    m_changed.notify_all();
  }

  void finished() {
    {
      std::lock_guard lock(m_mutex);
      --m_taken;
    }
    m_changed.notify_all();
  }

private:
  using Entry = std::pair<Clock::time_point, size_t>;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  const size_t m_size;
  const size_t m_max_waiting;
  size_t m_next = 0;   // the first item never taken
  size_t m_taken = 0;  // items being applied
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> m_waiting;  // soonest first
};

// `release`, when given, is the same plan as `plan`: each item's object, status and managedFields texts are
// freed once the item is applied (only the thread that applied it touches them).
RestoreReport run_plan(const Plan& plan, Plan* release, Applier& applier, const RunOptions& options) {
  const util::Clock& clock = options.clock ? *options.clock : util::system_clock();
  util::ProgressSink& progress = options.progress ? *options.progress : util::null_progress();
  RestoreReport report;
  report.mode = applier.mode();
  report.dry_run = applier.dry_run();
  report.started = clock.now();
  report.warnings = plan.warnings;

  std::deque<ItemResult> results(plan.items.size());  // given to the report from the front, as the plan
  util::ProgressState state;
  state.phase = "restore";
  state.items_total = plan.items.size();
  std::mutex progress_mutex;
  auto done = [&](const PlannedItem& item, const ItemResult& r) {
    std::lock_guard<std::mutex> lock(progress_mutex);
    ++state.items_done;
    if (r.outcome == Outcome::failed) ++state.errors;
    state.current = item.display();
    progress.update(state);
    if (r.outcome == Outcome::failed && applier.halted()) return;  // one line for the whole run, from the caller
    std::string line = std::string(outcome_name(r.outcome)) + " " + item.display() + " (" + r.reason + ")" +
                       (r.message.empty() ? "" : ": " + r.message);
    // The log file and the stored log get every outcome; stderr does not repeat failures the summary (or the
    // JSON document) lists on stdout.
    if (r.outcome == Outcome::failed) log::record(log::Level::error, line);
    else log::info(2, line);
  };

  size_t i = 0;
  while (i < plan.items.size()) {
    Tier tier = plan.items[i].tier;
    size_t end = i;
    while (end < plan.items.size() && plan.items[end].tier == tier) ++end;
    // Within the tier, wave by wave (restore order hints; one wave without them).
    std::vector<size_t> todo;
    for (size_t k = i; k < end; ++k)
      if (!plan.items[k].skip) {
        applier.before_tier(tier);
        break;
      }
    for (size_t w = i; w < end;) {
      size_t wave_end = w;
      while (wave_end < end && plan.items[wave_end].wave == plan.items[w].wave) ++wave_end;
      std::vector<size_t> wave;
      for (size_t k = w; k < wave_end; ++k) {
        const PlannedItem& item = plan.items[k];
        if (item.skip) {
          results[k] = ItemResult{item.skip->failed ? Outcome::failed : Outcome::skipped, item.skip->reason, item.skip->message};
          done(item, results[k]);
        } else {
          wave.push_back(k);
        }
      }
      if (!wave.empty())
        log::info(1, std::string("restoring tier ") + tier_name(tier) +
                         (w == i && wave_end == end ? "" : " (wave " + std::to_string(plan.items[w].wave + 1) + ")") +
                         ": " + std::to_string(wave.size()) + " item(s)");
      WaveQueue queue(wave.size(), static_cast<size_t>(std::max(1, options.parallel)) * k_waiting_per_worker);
      auto worker = [&] {
        for (std::optional<size_t> n = queue.take(); n; n = queue.take()) {
          const PlannedItem& item = plan.items[wave[*n]];
          if (applier.halted()) {
            results[wave[*n]] = ItemResult{Outcome::skipped, "not-attempted", "the restore stopped before this item"};
            queue.finished();
            continue;
          }
          ItemResult r = applier.apply(item);
          if (r.retry_in && !applier.halted()) {
            // The server asked for a wait: the item goes back in the queue and this worker takes another one.
            queue.later(*n, *r.retry_in);
            continue;
          }
          r.retry_in.reset();
          results[wave[*n]] = std::move(r);
          done(item, results[wave[*n]]);
          if (release) {
            PlannedItem& applied = release->items[wave[*n]];
            applied.object.release();
            applied.status.release();
            applied.managed_fields.release();
          }
          queue.finished();
        }
      };
      size_t workers = std::min<size_t>(static_cast<size_t>(std::max(1, options.parallel)), wave.size());
      std::vector<std::thread> pool;
      for (size_t t = 1; t < workers; ++t) pool.emplace_back(worker);
      if (workers > 0) worker();
      for (auto& t : pool) t.join();
      todo.insert(todo.end(), wave.begin(), wave.end());
      w = wave_end;
    }
    std::vector<const PlannedItem*> items;
    std::vector<ItemResult*> res;
    for (size_t k : todo) {
      items.push_back(&plan.items[k]);
      res.push_back(&results[k]);
    }
    applier.end_tier(tier, items, res);
    i = end;
    if (applier.halted()) {
      for (size_t k = i; k < plan.items.size(); ++k)
        results[k] = ItemResult{Outcome::skipped, "not-attempted", "the restore stopped before this item"};
      break;
    }
  }
  report.halted = applier.halted();
  applier.finish();

  // A consumed plan gives its names to the report item by item and each item goes as soon as it is given (the
  // deque's blocks are freed from the front; the report's are allocated as the freed ones), so a restore holds
  // about one copy of every item's names at this point, not two.
  const size_t n = plan.items.size();
  for (size_t k = 0; k < n; ++k) {
    const PlannedItem& p = release ? release->items.front() : plan.items[k];
    ItemReport r;
    r.order = p.order;
    r.tier = tier_name(p.tier);
    r.synthesized = p.synthesized;
    r.result = std::move(release ? results.front() : results[k]);
    if (release) {
      PlannedItem& q = release->items.front();
      r.group = std::move(q.group);
      r.version = std::move(q.version);
      r.resource = std::move(q.resource);
      r.kind = std::move(q.kind);
      r.source_namespace = std::move(q.source_namespace);
      r.source_name = std::move(q.source_name);
      r.target_namespace = std::move(q.target_namespace);
      r.target_name = std::move(q.target_name);
      r.notes = std::move(q.notes);
      release->items.pop_front();
      results.pop_front();
    } else {
      r.group = p.group;
      r.version = p.version;
      r.resource = p.resource;
      r.kind = p.kind;
      r.source_namespace = p.source_namespace;
      r.source_name = p.source_name;
      r.target_namespace = p.target_namespace;
      r.target_name = p.target_name;
      r.notes = p.notes;
    }
    report.items.push_back(std::move(r));
  }
  std::deque<ItemResult>().swap(results);
  report.completed = clock.now();
  state.current.clear();
  progress.finish(state);
  return report;
}

}  // namespace

RestoreReport execute(const Plan& plan, Applier& applier, const RunOptions& options) {
  return run_plan(plan, nullptr, applier, options);
}

RestoreReport execute(Plan&& plan, Applier& applier, const RunOptions& options) {
  return run_plan(plan, &plan, applier, options);
}

}  // namespace kbk::restore
