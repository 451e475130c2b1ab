#include <kbk/util/progress.hpp>

namespace kbk::util {
namespace {
class NullProgress final : public ProgressSink {
public:
  void update(const ProgressState&) override {}
  void finish(const ProgressState&) override {}
};
}  // namespace

ProgressSink& null_progress() {
  static NullProgress sink;
  return sink;
}

}  // namespace kbk::util
