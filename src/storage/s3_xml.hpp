// The little XML S3 and STS speak: flat elements, no namespaces prefixes, entities. Not a general parser: it
// finds elements by tag name, which is all their responses need (ListBucketResult, Error, DeleteResult, ...).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kbk::storage::xml {

// The inner text of the first <tag> element, entities decoded; nullopt when there is none.
std::optional<std::string> text(std::string_view doc, std::string_view tag);
// The raw inner content of every <tag> element at any depth (not nested in one another), in order.
std::vector<std::string_view> elements(std::string_view doc, std::string_view tag);
std::string escape(std::string_view s);
std::string unescape(std::string_view s);

}  // namespace kbk::storage::xml
