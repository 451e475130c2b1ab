// Transforms over the patch module: the user's resource-modifier files, storage-class / ingress-class / image
// mappings and API-version conversions for APIs the target no longer serves. The CLI builds them from flags.
#pragma once

#include <memory>
#include <string>

#include <kbk/patch/convert.hpp>
#include <kbk/patch/mappings.hpp>
#include <kbk/patch/modifiers.hpp>
#include <kbk/restore/transform.hpp>

namespace kbk::restore {

// Applies the file's rules (Stage::modify). A rule that fails fails the item (it is not restored half-changed).
std::shared_ptr<Transform> make_modifiers_transform(patch::ModifierSet rules, std::string file);
// --storage-class-mappings, --ingress-class-mappings, --image-mappings (Stage::modify, after modifiers).
std::shared_ptr<Transform> make_mappings_transform(patch::Mappings mappings);
// Rewrites objects of removed APIs to one the target serves (Stage::convert). With an empty ServedApis
// (no cluster: --to-dir, --dry-run=client) nothing is converted. An unserved API without a known
// conversion fails the item.
std::shared_ptr<Transform> make_conversion_transform(patch::ServedApis served);

}  // namespace kbk::restore
