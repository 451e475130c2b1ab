#include "s3_xml.hpp"

#include <catch2/catch.hpp>

using namespace kbk::storage;

TEST_CASE("xml::elements and xml::text: S3 response shapes") {
  const std::string doc =
      "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"x\"><IsTruncated>true</IsTruncated>"
      "<Contents><Key>a&amp;b &lt;c&gt; &#233;&#x4E2D;</Key><Size>3</Size></Contents>"
      "<Contents><Key>d</Key><Size>0</Size><Owner/></Contents><KeyCount>2</KeyCount></ListBucketResult>";
  auto contents = xml::elements(doc, "Contents");
  REQUIRE(contents.size() == 2);
  CHECK(xml::text(contents[0], "Key") == "a&b <c> \xC3\xA9\xE4\xB8\xAD");
  CHECK(xml::text(contents[1], "Size") == "0");
  CHECK(xml::text(contents[1], "Owner") == "");
  CHECK(xml::text(doc, "IsTruncated") == "true");
  CHECK_FALSE(xml::text(doc, "NextContinuationToken").has_value());
  CHECK(xml::elements(doc, "Key").size() == 2);   // <KeyCount> is not <Key>
  CHECK(xml::escape("a<&>\"'") == "a&lt;&amp;&gt;&quot;&apos;");
  CHECK(xml::unescape(xml::escape("x\n<y>&z")) == "x\n<y>&z");
}
