// scripts/bench-json's program: how fast json::parse and json::parse_split read a large list, against RapidJSON's
// own DOM parse of the same text with the flags kbk passed it before it converted numbers itself (iterative,
// UTF-8 validated, full precision): the baseline, measured in the same run. Thread CPU time, best of ROUNDS
// rounds, the three interleaved.
//   bench-json OBJECTS ROUNDS
// Two lists: Pods as an API server lists them (numbers are a few small integers per object), and the same with
// 64 numbers more per object (integers, 64-bit integers, decimals, exponents): the worst case for number reading.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <ctime>

#include <rapidjson/document.h>

#include <kbk/json/json.hpp>

namespace {

std::string pod(unsigned i, bool numbers) {
  const std::string n = std::to_string(i);
  std::string s = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-)" + n +
                  R"(","namespace":"bench","uid":"0b8f4a6e-5c1d-4e1a-9a3f-)" + std::to_string(100000000000 + i) +
                  R"(","resourceVersion":")" + std::to_string(4000000 + i) + R"(","generation":)" +
                  std::to_string(i % 7 + 1) +
                  R"(,"creationTimestamp":"2026-12-07T10:00:00Z","labels":{"app":"web","tier":"frontend"},)"
                  R"("annotations":{"kbk.io/note":"a pod of the benchmark list"}},"spec":{"containers":[{"name":"web",)"
                  R"("image":"registry.example/web:1.2.3","ports":[{"containerPort":8080,"protocol":"TCP"},)"
                  R"({"containerPort":9090,"protocol":"TCP"}],"resources":{"requests":{"cpu":"250m","memory":"64Mi"}},)"
                  R"("env":[{"name":"MODE","value":"production"},{"name":"LEVEL","value":"3"}]}],)"
                  R"("terminationGracePeriodSeconds":30,"priority":0,"restartPolicy":"Always"},)"
                  R"("status":{"phase":"Running","podIP":"10.0.0.1","restartCount":)" +
                  std::to_string(i % 3) + "}";
  if (numbers) {
    s += R"(,"samples":[)";
    for (unsigned k = 0; k < 64; ++k) {
      if (k) s += ',';
      switch (k % 8) {
        case 0: s += std::to_string(k * 37 + i % 1000); break;
        case 1: s += '-' + std::to_string(k + i); break;
        case 2: s += std::to_string(9007199254740993ull + i); break;
        case 3: s += "0.25"; break;
        case 4: s += std::to_string(i % 1000) + ".0625"; break;
        case 5: s += "1.5e-7"; break;
        case 6: s += "6.02214076e23"; break;
        default: s += "-0.000123"; break;
      }
    }
    s += ']';
  }
  return s + "}";
}

std::string list(unsigned objects, bool numbers) {
  std::string s = R"({"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"4100000"},"items":[)";
  for (unsigned i = 0; i < objects; ++i) {
    if (i) s += ',';
    s += pod(i, numbers);
  }
  return s + "]}";
}

// CPU time of this thread (a shared machine's other work costs wall time, much less this).
double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

template <class F>
void keep_best(double& best, F&& f) {
  const double t0 = cpu_ms();
  f();
  best = std::min(best, cpu_ms() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  const unsigned objects = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 20000;
  const unsigned rounds = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 7;
  for (bool numbers : {false, true}) {
    const std::string text = list(objects, numbers);
    size_t sink = 0;
    double raw = 1e300, parse = 1e300, split = 1e300;
    // Interleaved round by round, so the machine's drift hits the three alike; the best of each.
    for (unsigned r = 0; r < rounds; ++r) {
      keep_best(raw, [&] {
        rapidjson::Document d;
        d.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
        if (d.HasParseError()) std::abort();
        sink += d["items"].Size();
      });
      keep_best(parse, [&] {
        auto d = kbk::json::parse(text, "bench");
        if (!d) std::abort();
        sink += (*d)["items"].Size();
      });
      keep_best(split, [&] {
        auto d = kbk::json::parse_split(text, "bench", "items", [&](kbk::json::Document& e) -> kbk::Result<void> {
          sink += e.MemberCount();
          return {};
        });
        if (!d) std::abort();
      });
    }
    std::printf("%-26s %6.2f MiB  CPU: rapidjson %8.1f ms  json::parse %8.1f ms (%.3fx)  parse_split %8.1f ms (%.3fx)\n",
                numbers ? "pods + 64 numbers each" : "pods (API server list)",
                static_cast<double>(text.size()) / (1 << 20), raw, parse, parse / raw, split, split / raw);
    if (sink == 0) return 1;
  }
  return 0;
}
