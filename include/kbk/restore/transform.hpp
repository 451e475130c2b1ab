// The Transform hook: a step of the per-item pipeline that rewrites the object about to be restored.
// Built-in sanitizers and namespace mapping are not transforms (they always run); transforms are what the
// user asked for: resource modifiers, storage-class / image / ingress-class mappings, API-version conversions
// (the patch module provides them; the CLI builds them from flags and hands them to PlanOptions).
//
// Pipeline per item: sanitize -> Stage::convert transforms (API versions) -> Stage::modify transforms (user
// modifiers, then storage-class/image/ingress-class mappings) -> namespace mapping -> restore labels.
// Modifiers run before namespace mapping, as in Velero, so a rule sees the object as backed up; the context
// still tells them where it is going. Transforms run in the order given within their stage.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/util/error.hpp>

namespace kbk::restore {

struct LoadedBackup;

struct TransformContext {
  std::string group;               // as backed up
  std::string version;             // as backed up (a convert transform may change apiVersion)
  std::string resource;            // plural
  std::string kind;
  std::string original_namespace;  // namespace in the backup ("" for cluster-scoped)
  std::string target_namespace;    // after mapping (equals original_namespace before it)
  std::string name;
  std::vector<std::string>* notes = nullptr;  // append one line per change, shown in the item's result
};

enum class TransformStage { convert, modify };

// What happened. skip = the transform decided this item must not be restored (e.g. a modifier said so).
struct TransformOutcome {
  bool changed = false;
  bool skip = false;
  std::string skip_message;
  // Objects the item needs beside itself, restored with it in its target namespace (a Route's certificate becomes
  // a Secret beside its Ingress). A transform may also change the object's kind (Route -> Ingress).
  std::vector<json::Document> extra;
};

class Transform {
public:
  virtual ~Transform() = default;
  virtual std::string name() const = 0;  // "resource-modifiers file.yaml", "storage-class-mappings"
  virtual TransformStage stage() const { return TransformStage::modify; }
  // Called by make_plan once before any item, with the whole backup (e.g. its CRDs, for custom-resource versions).
  // The backup is freed once planned: keep what is needed (parsed copies), not references into it.
  virtual void prepare(const LoadedBackup&) {}
  // Rewrites object in place (its allocator owns new values). An error fails this item only.
  virtual Result<TransformOutcome> apply(const TransformContext& ctx, json::Document& object) = 0;
};

}  // namespace kbk::restore
