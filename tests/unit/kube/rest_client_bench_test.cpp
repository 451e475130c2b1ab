// LIST throughput of the real client against a live cluster. Hidden ([.bench]): run by
// tests/e2e/foundation/bench-list, which starts kubesim with preloaded ConfigMaps and compares with curl.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <kbk/kube/config.hpp>
#include <kbk/kube/rest_client.hpp>

using namespace kbk;
using namespace kbk::kube;

TEST_CASE("list throughput against KBK_BENCH_KUBECONFIG", "[.bench]") {
  const char* kubeconfig = std::getenv("KBK_BENCH_KUBECONFIG");
  if (!kubeconfig) {
    WARN("KBK_BENCH_KUBECONFIG is not set");
    return;
  }
  ConfigFlags flags;
  flags.kubeconfig = kubeconfig;
  if (const char* c = std::getenv("KBK_BENCH_CONTEXT")) flags.context = c;
  const RestConfig config = load_config(flags);
  auto client = make_client(config, ClientOptions{});
  ResourceType cm;
  cm.version = "v1";
  cm.resource = "configmaps";
  cm.kind = "ConfigMap";
  cm.namespaced = true;
  const char* ns_env = std::getenv("KBK_BENCH_NAMESPACE");
  const std::string ns = ns_env ? ns_env : "bench";
  const int runs = std::getenv("KBK_BENCH_RUNS") ? std::atoi(std::getenv("KBK_BENCH_RUNS")) : 3;
  ListOptions options;
  options.limit = std::getenv("KBK_BENCH_LIMIT") ? std::atoll(std::getenv("KBK_BENCH_LIMIT")) : 500;
  for (int run = 0; run < runs; ++run) {
    size_t items = 0;
    size_t pages = 0;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = client->list(cm, ns, options, [&](ListPage& p) -> Result<void> {
      items += p.list["items"].Size();
      ++pages;
      return {};
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE(r.ok());
    std::printf("kbk-list run=%d items=%zu pages=%zu seconds=%.3f objects_per_second=%.0f\n", run, items, pages, s,
                items / s);
    std::fflush(stdout);
  }
}
