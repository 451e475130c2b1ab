// Numbers through both readers (json::parse, json::parse_split): kbk converts them itself since RapidJSON 1.1 read a
// zero with a large exponent as garbage (Tencent/rapidjson#1249); every other number must come out as RapidJSON's
// full-precision reader made it (same type, same value), so what kbk writes back is byte for byte what it wrote.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <kbk/json/json.hpp>

using namespace kbk;

namespace {

// The numbers of `text` (a JSON array) as parse() reads them and as parse_split() hands them out one by one.
std::vector<json::Document> through_split(const std::string& text) {
  std::vector<json::Document> out;
  auto doc = json::parse_split("{\"items\":" + text + "}", "list.json", "items", [&](json::Document& e) -> Result<void> {
    out.push_back(std::move(e));
    return {};
  });
  REQUIRE(doc.ok());
  return out;
}

uint64_t bits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

// Same RapidJSON type flags and the same value (a double to the bit).
void check_same(const json::Value& got, const json::Value& want) {
  REQUIRE(got.IsNumber());
  CHECK(got.IsInt() == want.IsInt());
  CHECK(got.IsUint() == want.IsUint());
  CHECK(got.IsInt64() == want.IsInt64());
  CHECK(got.IsUint64() == want.IsUint64());
  REQUIRE(got.IsDouble() == want.IsDouble());
  if (got.IsDouble()) CHECK(bits(got.GetDouble()) == bits(want.GetDouble()));
  else if (got.IsUint64()) CHECK(got.GetUint64() == want.GetUint64());
  else CHECK(got.GetInt64() == want.GetInt64());
  CHECK(json::to_string(got) == json::to_string(want));
}

// Each number as RapidJSON 1.1's full-precision reader reads it (what kbk read before), through both readers.
void check_as_rapidjson(const std::vector<std::string>& numbers) {
  std::string text = "[";
  for (const auto& n : numbers) text += (text.size() > 1 ? "," : "") + n;
  text += "]";
  rapidjson::Document want;
  want.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  REQUIRE_FALSE(want.HasParseError());
  auto doc = json::parse(text);
  REQUIRE(doc.ok());
  const auto split = through_split(text);
  REQUIRE(doc->Size() == numbers.size());
  REQUIRE(split.size() == numbers.size());
  for (size_t i = 0; i < numbers.size(); ++i) {
    INFO(numbers[i]);
    check_same((*doc)[static_cast<rapidjson::SizeType>(i)], want[static_cast<rapidjson::SizeType>(i)]);
    check_same(split[i], want[static_cast<rapidjson::SizeType>(i)]);
  }
  // Written back as before: the text kubectl and an API server see does not change.
  CHECK(json::to_string(*doc) == json::to_string(want));
  CHECK(json::to_pretty(*doc) == json::to_pretty(want));
  CHECK(json::to_yaml(*doc) == json::to_yaml(want));
}

}  // namespace

TEST_CASE("a zero with a large exponent is zero in both readers (RapidJSON 1.1 read it as garbage)") {
  struct Case {
    const char* text;
    bool negative;
  };
  // [0e100] came back as [-1.997919072202235e146], [0E66] as [2.1289799200040755e-109].
  const Case cases[] = {{"0e100", false},   {"0E66", false},     {"0.0e300", false},   {"0e-5", false},
                        {"0e-30", false},   {"0e308", false},  {"0.0e309", false},    {"0.000E+200", false}, {"-0e100", true},
                        {"-0.0e300", true}, {"-0E-400", true},   {"0e-99999999999", false}};
  for (const Case& c : cases) {
    const std::string text = std::string("[") + c.text + "]";
    INFO(text);
    auto doc = json::parse(text);
    REQUIRE(doc.ok());
    const auto split = through_split(text);
    REQUIRE(split.size() == 1);
    const json::Value& first = (*doc)[0];
    for (const json::Value* v : {&first, static_cast<const json::Value*>(&split[0])}) {
      REQUIRE(v->IsDouble());
      CHECK(v->GetDouble() == 0.0);
      CHECK(std::signbit(v->GetDouble()) == c.negative);
      CHECK(json::to_string(*v) == (c.negative ? "-0.0" : "0.0"));
    }
  }
  // An exponent beyond 308 (less the digits after the point) is refused before the number is read, a zero's too
  // (RapidJSON checks it as it reads; Go reads 0e400 as 0): an error naming the file, never another number.
  for (const char* text : {"[-0e400]", "[0e400]", "[0e309]", "[0.0e310]"}) {
    INFO(text);
    auto doc = json::parse(text, "f.json");
    REQUIRE_FALSE(doc.ok());
    CHECK(doc.error().message.find("f.json: invalid JSON at offset 1: Number too big") == 0);
    auto split = json::parse_split(std::string("{\"items\":") + text + "}", "list.json", "items",
                                   [](json::Document&) -> Result<void> { return {}; });
    REQUIRE_FALSE(split.ok());
    CHECK(split.error().message.find("Number too big") != std::string::npos);
  }
}

TEST_CASE("every other number reads as RapidJSON's full-precision reader read it, and is written back the same") {
  check_as_rapidjson({"1e3", "1.5E-7", "-0", "0", "0.0", "-0.0", "1e308", "0e-5", "1", "-1", "0.1", "2.5", "-2.5",
                      "1E+2", "1e-2", "123.456e-2", "4.9e-324", "5e-324", "2.2250738585072014e-308",
                      "1.7976931348623157e308", "-1.7976931348623157e308", "1e-400", "-1e-400", "1e-310",
                      "0.30000000000000004", "9007199254740993", "9007199254740993.0", "1.00000000000000011102230246"});
  // Integers at every type's edge: Int, Uint, Int64, Uint64, and beyond 64 bits a double.
  check_as_rapidjson({"2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "4294967296",
                      "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
                      "18446744073709551615", "18446744073709551616", "99999999999999999999", "-99999999999999999999",
                      "123456789012345678901234567890", "1000000000000000000000000000000000000000"});
  // A long run of digits (RapidJSON's reader keeps 17 and rounds with the rest).
  check_as_rapidjson({"3.14159265358979323846264338327950288419716939937510", "0." + std::string(300, '0') + "1",
                      "1" + std::string(300, '0'), std::string(30, '9') + "." + std::string(30, '9') + "e-20"});
  // A fixed-seed sweep over the shapes kbk meets: integers of every length, decimals, exponents.
  std::mt19937_64 rng(19);
  std::vector<std::string> numbers;
  for (int i = 0; i < 4000; ++i) {
    std::string n = (rng() % 3 == 0) ? "-" : "";
    const unsigned digits = 1 + static_cast<unsigned>(rng() % 22);
    n += static_cast<char>('1' + rng() % 9);
    for (unsigned k = 1; k < digits; ++k) n += static_cast<char>('0' + rng() % 10);
    if (rng() % 2) {
      n += '.';
      const unsigned frac = 1 + static_cast<unsigned>(rng() % 18);
      for (unsigned k = 0; k < frac; ++k) n += static_cast<char>('0' + rng() % 10);
    }
    if (rng() % 3 == 0) n += (rng() % 2 ? "e" : "E") + std::to_string(static_cast<int>(rng() % 560) - 300);
    numbers.push_back(n);
  }
  check_as_rapidjson(numbers);
}
