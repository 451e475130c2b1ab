// Strategic merge patch: a port of the apply half of k8s.io/apimachinery/pkg/util/strategicpatch (mergeMap,
// mergeSlice, the directive handlers and the element-order normalisation), with the options the API server and
// `kubectl patch` use (MergeParallelList and IgnoreUnmatchedNulls on). Keys of a patch are processed in document
// order; Go's random map order only matters for patches that name a list twice, which the server also leaves
// undefined.
#include <kbk/patch/strategic.hpp>

#include <algorithm>
#include <functional>

#include <kbk/patch/json_patch.hpp>

#include "smp_meta.hpp"

namespace kbk::patch {

using detail::FieldInfo;
using detail::MetaSource;
using detail::Strategy;
using detail::TypeRef;

const char* smp_source_name(SmpSource s) {
  switch (s) {
    case SmpSource::builtin: return "built-in patch metadata";
    case SmpSource::schema: return "OpenAPI schema list metadata";
    case SmpSource::merge_patch: return "JSON merge patch (no list metadata for this kind)";
  }
  return "?";
}

bool has_builtin_patch_meta(std::string_view api_version, std::string_view kind) {
  return detail::builtin_root(api_version, kind) != nullptr;
}

namespace {

using V = json::Value;
using List = std::vector<V*>;  // views into patch/original arrays while a list is merged

constexpr std::string_view k_directive = "$patch";
constexpr std::string_view k_retain_keys = "$retainKeys";
constexpr std::string_view k_delete_prefix = "$deleteFromPrimitiveList";
constexpr std::string_view k_order_prefix = "$setElementOrder";

Error smp_error(std::string msg) { return Error{Errc::invalid, "strategic merge patch: " + std::move(msg)}; }

// Go's dynamic types after json.Unmarshal into interface{}.
enum class GoType { null, boolean, number, string, map, slice };
GoType go_type(const V& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return GoType::null;
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return GoType::boolean;
    case rapidjson::kNumberType: return GoType::number;
    case rapidjson::kStringType: return GoType::string;
    case rapidjson::kObjectType: return GoType::map;
    case rapidjson::kArrayType: return GoType::slice;
  }
  return GoType::null;
}
const char* go_type_name(GoType t) {
  switch (t) {
    case GoType::null: return "<nil>";
    case GoType::boolean: return "bool";
    case GoType::number: return "float64";
    case GoType::string: return "string";
    case GoType::map: return "map[string]interface {}";
    case GoType::slice: return "[]interface {}";
  }
  return "?";
}

// Go's == on two interface{} values holding JSON scalars (maps and slices never compare equal here).
bool go_eq(const V* a, const V* b) {
  if (!a || !b) return a == b;
  GoType ta = go_type(*a), tb = go_type(*b);
  if (ta != tb) return false;
  switch (ta) {
    case GoType::null: return true;
    case GoType::boolean: return a->GetBool() == b->GetBool();
    case GoType::number: return a->GetDouble() == b->GetDouble();
    case GoType::string: return json::equal(*a, *b);
    default: return a == b;
  }
}

std::string short_json(const V& v) {
  std::string s = json::to_string(v);
  if (s.size() > 200) s = s.substr(0, 197) + "...";
  return s;
}

Error err_no_merge_key(const V& m, const std::string& key) {
  return smp_error("map: " + short_json(m) + " does not contain declared merge key: " + key);
}
Error err_bad_arg_type(const char* expected, const V& actual) {
  return smp_error(std::string("expected a ") + expected + ", but received a " + go_type_name(go_type(actual)));
}

bool has_prefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
std::string_view name_of(const V::Member& m) { return {m.name.GetString(), m.name.GetStringLength()}; }

const V* member(const V& obj, std::string_view key) { return json::find(obj, key); }
const V* merge_key_of(const V* item, const std::string& key) {
  if (!item || !item->IsObject()) return nullptr;
  return member(*item, key);
}

// extractKey: "$setElementOrder/containers" -> "containers".
Result<std::string> extract_key(std::string_view key, std::string_view prefix) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos || key.substr(0, slash) != prefix) {
    if (prefix == k_delete_prefix) return smp_error("invalid patch format of primitive list");
    return smp_error("invalid patch format of setElementOrder list");
  }
  return std::string(key.substr(slash + 1));
}

class Merger {
public:
  Merger(json::Allocator& alloc, const MetaSource& meta) : m_alloc(alloc), m_meta(meta) {}

  // mergeMap: original and patch are objects; original becomes the result. patch may be consumed.
  Result<void> merge_map(V& original, V& patch, TypeRef t) {
    if (const V* d = member(patch, k_directive)) {
      if (d->IsString() && std::string_view(d->GetString()) == "replace") {
        json::erase(patch, k_directive);
        original = std::move(patch);
        return {};
      }
      if (d->IsString() && std::string_view(d->GetString()) == "delete") {
        original.SetObject();
        return {};
      }
      return smp_error("unknown patch type: " + (d->IsString() ? std::string(d->GetString()) : short_json(*d)) +
                       " in map: " + short_json(patch));
    }
    if (!original.IsObject()) original.SetObject();
    KBK_TRY(apply_retain_keys(original, patch));
    KBK_TRY(merge_element_order(original, patch, t));

    for (auto it = patch.MemberBegin(); it != patch.MemberEnd(); ++it) {
      std::string key(name_of(*it));
      bool is_delete_list = false;
      if (has_prefix(key, k_delete_prefix)) {
        KBK_ASSIGN_OR_RETURN(key, extract_key(key, k_delete_prefix));
        is_delete_list = true;
      }
      V& patch_v = it->value;
      if (patch_v.IsNull()) {
        json::erase(original, key);
        continue;
      }
      V* orig_v = json::find(original, key);
      if (!orig_v || go_type(*orig_v) != go_type(patch_v)) {
        // Not in the original, or of another type: take the patch value without its nulls and directives
        // (a delete list never adds anything).
        if (is_delete_list) continue;
        V v(patch_v, m_alloc);
        discard_nulls(v);
        bool keep = remove_directives(v);
        if (!keep) {
          json::erase(original, key);
        } else if (orig_v) {
          *orig_v = std::move(v);
        } else {
          original.AddMember(json::make_string(key, m_alloc), v, m_alloc);
        }
        continue;
      }
      if (orig_v->IsObject()) {
        FieldInfo f = m_meta.lookup(t, key);
        if (f.strategy == Strategy::replace) *orig_v = V(patch_v, m_alloc);
        else KBK_TRY(merge_map(*orig_v, patch_v, f.type));
      } else if (orig_v->IsArray()) {
        FieldInfo f = m_meta.lookup(t, key);
        // Delete lists apply whatever the field's strategy is.
        if (f.strategy == Strategy::merge || is_delete_list) KBK_TRY(merge_slice(*orig_v, patch_v, f, is_delete_list));
        else *orig_v = V(patch_v, m_alloc);
      } else {
        *orig_v = V(patch_v, m_alloc);
      }
    }
    return {};
  }

private:
  // discardNullValuesFromPatch: drops null members at any depth.
  static void discard_nulls(V& v) {
    if (v.IsObject()) {
      for (auto m = v.MemberBegin(); m != v.MemberEnd();) {
        if (m->value.IsNull()) {
          m = v.EraseMember(m);
        } else {
          discard_nulls(m->value);
          ++m;
        }
      }
    } else if (v.IsArray()) {
      for (auto& e : v.GetArray()) discard_nulls(e);
    }
  }
  // removeDirectives: maps holding $patch are dropped (from maps and lists); false when v itself is one.
  static bool remove_directives(V& v) {
    if (v.IsObject()) {
      if (member(v, k_directive)) return false;
      for (auto m = v.MemberBegin(); m != v.MemberEnd();) {
        if (!remove_directives(m->value)) m = v.EraseMember(m);
        else ++m;
      }
    } else if (v.IsArray()) {
      for (auto e = v.Begin(); e != v.End();) {
        if (!remove_directives(*e)) e = v.Erase(e);
        else ++e;
      }
    }
    return true;
  }

  Result<void> apply_retain_keys(V& original, V& patch) {
    auto it = patch.FindMember(V(rapidjson::StringRef(k_retain_keys.data(), k_retain_keys.size())));
    if (it == patch.MemberEnd()) return {};
    V keep;
    keep = std::move(it->value);
    patch.EraseMember(it);
    if (!keep.IsArray()) return smp_error("invalid patch format of retainKeys");
    auto kept = [&](std::string_view k) {
      for (const auto& e : keep.GetArray())
        if (e.IsString() && std::string_view(e.GetString(), e.GetStringLength()) == k) return true;
      return false;
    };
    for (const auto& m : patch.GetObject()) {
      std::string_view k = name_of(m);
      if (m.value.IsNull() || has_prefix(k, k_delete_prefix) || has_prefix(k, k_order_prefix)) continue;
      if (!kept(k)) return smp_error("invalid patch format of retainKeys");
    }
    for (auto m = original.MemberBegin(); m != original.MemberEnd();) {
      if (!kept(name_of(*m))) m = original.EraseMember(m);
      else ++m;
    }
    return {};
  }

  // sliceElementType over several lists: all elements share one Go type, which is not a list.
  Result<GoType> element_type(std::initializer_list<const V*> lists) {
    bool found = false;
    GoType prev = GoType::null;
    for (const V* l : lists) {
      if (!l || !l->IsArray()) continue;
      for (const auto& e : l->GetArray()) {
        GoType cur = go_type(e);
        if (!found) {
          if (cur == GoType::slice) return smp_error("lists of lists are not supported");
          if (cur == GoType::null) return smp_error("null elements are not supported in a merging list");
          prev = cur;
          found = true;
        } else if (cur != prev) {
          return smp_error("list element types are not identical");
        }
      }
    }
    if (!found) return smp_error("no elements in any of the given slices");
    return prev;
  }

  // index(): position of item in l by merge key (maps) or value (scalars); -1 when absent.
  static int index_of(const List& l, const V* item, const std::string& merge_key, bool maps) {
    const V* want = maps ? merge_key_of(item, merge_key) : item;
    for (size_t i = 0; i < l.size(); ++i) {
      const V* got = maps ? merge_key_of(l[i], merge_key) : l[i];
      if (go_eq(want, got)) return static_cast<int>(i);
    }
    return -1;
  }

  static bool is_delete_element(const V* v) {
    const V* d = v->IsObject() ? member(*v, k_directive) : nullptr;
    return d && d->IsString() && std::string_view(d->GetString()) == "delete";
  }

  // Go's sort.SliceStable (insertion sort in blocks of 20, then SymMerge), reproduced because the comparator
  // normalizeSliceOrder uses is not a strict weak order and the result depends on the algorithm.
  static void go_stable_sort(List& data, const std::function<bool(const V*, const V*)>& less_fn) {
    auto less = [&](size_t i, size_t j) { return less_fn(data[i], data[j]); };
    auto swap = [&](size_t i, size_t j) { std::swap(data[i], data[j]); };
    auto insertion = [&](size_t a, size_t b) {
      for (size_t i = a + 1; i < b; ++i)
        for (size_t j = i; j > a && less(j, j - 1); --j) swap(j, j - 1);
    };
    auto swap_range = [&](size_t a, size_t b, size_t n) {
      for (size_t i = 0; i < n; ++i) swap(a + i, b + i);
    };
    auto rotate = [&](size_t a, size_t m, size_t b) {
      size_t i = m - a, j = b - m;
      while (i != j) {
        if (i > j) {
          swap_range(m - i, m, j);
          i -= j;
        } else {
          swap_range(m - i, m + j - i, i);
          j -= i;
        }
      }
      swap_range(m - i, m, i);
    };
    std::function<void(size_t, size_t, size_t)> sym_merge = [&](size_t a, size_t m, size_t b) {
      if (m - a == 1) {
        size_t i = m, j = b;
        while (i < j) {
          size_t h = (i + j) / 2;
          if (less(h, a)) i = h + 1;
          else j = h;
        }
        for (size_t k = a; k + 1 < i; ++k) swap(k, k + 1);
        return;
      }
      if (b - m == 1) {
        size_t i = a, j = m;
        while (i < j) {
          size_t h = (i + j) / 2;
          if (!less(m, h)) i = h + 1;
          else j = h;
        }
        for (size_t k = m; k > i; --k) swap(k, k - 1);
        return;
      }
      size_t mid = (a + b) / 2;
      size_t n = mid + m;
      size_t start, r;
      if (m > mid) {
        start = n - b;
        r = mid;
      } else {
        start = a;
        r = m;
      }
      size_t p = n - 1;
      while (start < r) {
        size_t c = (start + r) / 2;
        if (!less(p - c, c)) start = c + 1;
        else r = c;
      }
      size_t end = n - start;
      if (start < m && m < end) rotate(start, m, end);
      if (a < start && start < mid) sym_merge(a, start, mid);
      if (mid < end && end < b) sym_merge(mid, end, b);
    };
    size_t n = data.size();
    size_t block = 20, a = 0, b = block;
    while (b <= n) {
      insertion(a, b);
      a = b;
      b += block;
    }
    insertion(a, n);
    while (block < n) {
      a = 0;
      b = 2 * block;
      while (b <= n) {
        sym_merge(a, a + block, b);
        a = b;
        b += 2 * block;
      }
      if (size_t m = a + block; m < n) sym_merge(a, m, n);
      block *= 2;
    }
  }

  Result<void> validate_merge_keys(const std::string& merge_key, std::initializer_list<const List*> lists) {
    for (const List* l : lists)
      for (const V* item : *l) {
        if (!item->IsObject()) return err_bad_arg_type("map[string]interface {}", *item);
        if (!member(*item, merge_key)) return err_no_merge_key(*item, merge_key);
      }
    return {};
  }

  Result<List> normalize_slice_order(List to_sort, const List& order, const std::string& merge_key, bool maps) {
    List to_delete;
    if (maps) {
      KBK_TRY(validate_merge_keys(merge_key, {&to_sort, &order}));
      List keep;
      for (V* v : to_sort) (is_delete_element(v) ? to_delete : keep).push_back(v);
      to_sort = std::move(keep);
    }
    go_stable_sort(to_sort, [&](const V* x, const V* y) {
      int ii = index_of(order, x, merge_key, maps);
      if (ii >= 0) {
        int ij = index_of(order, y, merge_key, maps);
        if (ij >= 0) return ii < ij;
      }
      return true;
    });
    to_sort.insert(to_sort.end(), to_delete.begin(), to_delete.end());
    return to_sort;
  }

  static List merge_sorted(const List& left, const List& right, const List& server_order, const std::string& merge_key,
                           bool maps) {
    List out;
    size_t i = 0, j = 0, size = left.size() + right.size();
    for (size_t k = 0; k < size; ++k) {
      if (i >= left.size() && j < right.size()) {
        out.push_back(right[j++]);
      } else if (j >= right.size() && i < left.size()) {
        out.push_back(left[i++]);
      } else {
        int li = index_of(server_order, left[i], merge_key, maps);
        int ri = index_of(server_order, right[j], merge_key, maps);
        if (li >= 0 && ri >= 0 && li < ri) out.push_back(left[i++]);
        else out.push_back(right[j++]);
      }
    }
    return out;
  }

  Result<List> normalize_element_order(List patch_items, List server_only, const List& patch_order,
                                       const List& server_order, const std::string& merge_key, bool maps) {
    KBK_ASSIGN_OR_RETURN(patch_items, normalize_slice_order(std::move(patch_items), patch_order, merge_key, maps));
    KBK_ASSIGN_OR_RETURN(server_only, normalize_slice_order(std::move(server_only), server_order, merge_key, maps));
    return merge_sorted(server_only, patch_items, server_order, merge_key, maps);
  }

  // Splits merged into (items present in `by`, server-only items).
  Result<std::pair<List, List>> partition(const List& merged, const List& by, const std::string& merge_key) {
    List in, out;
    for (V* v : merged) {
      if (merge_key.empty()) {
        bool found = false;
        for (const V* b : by)
          if (go_eq(v, b)) found = true;
        (found ? in : out).push_back(v);
        continue;
      }
      if (!v->IsObject()) return err_bad_arg_type("map[string]interface {}", *v);
      const V* key = member(*v, merge_key);
      if (!key) return err_no_merge_key(*v, merge_key);
      bool found = false;
      for (size_t k = 0; k < by.size(); ++k) {
        if (!by[k]->IsObject()) return smp_error("value for key " + std::to_string(k) + " is not a map");
        if (const V* bk = member(*by[k], merge_key); bk && go_eq(bk, key)) {
          found = true;
          break;
        }
      }
      (found ? in : out).push_back(v);
    }
    return std::make_pair(std::move(in), std::move(out));
  }

  static List view(V& arr) {
    List l;
    if (arr.IsArray())
      for (auto& e : arr.GetArray()) l.push_back(&e);
    return l;
  }

  // Builds the final array from element views; the views point into `a` and `b`, which are consumed.
  V materialize(const List& items) {
    V out(rapidjson::kArrayType);
    out.Reserve(static_cast<rapidjson::SizeType>(items.size()), m_alloc);
    for (V* v : items) {
      V tmp;
      tmp = std::move(*v);
      out.PushBack(tmp, m_alloc);
    }
    return out;
  }

  // mergeSlice. original and patch are arrays; original receives the result.
  // go_backing (optional) receives what Go's caller still sees through its header of the original list after
  // in-place deletions and appends (mergePatchIntoOriginal uses it as the live order).
  Result<void> merge_slice(V& original, V& patch, const FieldInfo& f, bool is_delete_list, V* go_backing = nullptr) {
    if (original.Empty() && patch.Empty()) return {};
    KBK_ASSIGN_OR_RETURN(GoType elem, element_type({&original, &patch}));
    const std::string& merge_key = f.merge_key;
    List orig = view(original), pl = view(patch);
    List merged;
    bool maps = elem == GoType::map;
    if (!maps) {
      if (is_delete_list) {
        List kept;
        for (V* v : orig) {
          bool del = false;
          for (V* d : pl)
            if (go_eq(v, d)) del = true;
          if (!del) kept.push_back(v);
        }
        V out = materialize(kept);
        original = std::move(out);
        return {};
      }
      merged = orig;
      merged.insert(merged.end(), pl.begin(), pl.end());
      // deduplicateScalars, exactly as Go does it (swap-with-last, so order changes; normalisation follows).
      size_t length = merged.size() - 1;
      for (size_t i = 0; merged.size() > 0 && i < length; ++i) {
        for (size_t j = i + 1; j <= length; ++j) {
          if (go_eq(merged[i], merged[j])) {
            merged[j] = merged[length];
            merged.resize(length);
            --length;
            --j;
          }
        }
      }
    } else {
      if (merge_key.empty()) return smp_error("cannot merge lists without merge key for type struct");
      // mergeSliceWithSpecialElements
      List plain;
      bool replace = false;
      List backing = orig;  // Go's backing array of the original list
      size_t blen = orig.size();
      bool aliased = true;
      for (V* v : pl) {
        const V* d = member(*v, k_directive);
        if (!d) {
          plain.push_back(v);
          continue;
        }
        std::string_view dv = d->IsString() ? std::string_view(d->GetString(), d->GetStringLength()) : "";
        if (dv == "delete") {
          const V* mv = member(*v, merge_key);
          if (!mv) return err_no_merge_key(*v, merge_key);
          // deleteMatchingEntries: append(original[:k], original[k+1:]...) shifts the shared backing array.
          for (;;) {
            size_t k = 0;
            while (k < orig.size() && !(orig[k]->IsObject() && go_eq(member(*orig[k], merge_key), mv))) ++k;
            if (k == orig.size()) break;
            if (aliased)
              for (size_t i = k; i + 1 < blen; ++i) backing[i] = backing[i + 1];
            --blen;
            orig.erase(orig.begin() + static_cast<std::ptrdiff_t>(k));
          }
        } else if (dv == "replace") {
          replace = true;
        } else if (dv == "merge") {
          return smp_error("merging lists cannot yet be specified in the patch");
        } else {
          return smp_error("unknown patch type: " + (d->IsString() ? std::string(dv) : short_json(*d)) +
                           " in map: " + short_json(*v));
        }
      }
      if (replace) {
        orig = plain;
        plain.clear();
        aliased = false;
      }
      pl = plain;
      // mergeSliceWithoutSpecialElements
      merged = orig;
      for (V* v : pl) {
        const V* mv = member(*v, merge_key);
        if (!mv) return err_no_merge_key(*v, merge_key);
        V* found = nullptr;
        for (size_t k = 0; k < merged.size(); ++k) {
          if (!merged[k]->IsObject()) return smp_error("value for key " + std::to_string(k) + " is not a map");
          if (go_eq(member(*merged[k], merge_key), mv)) {
            found = merged[k];
            break;
          }
        }
        if (found) {
          KBK_TRY(merge_map(*found, *v, f.type));
        } else {
          merged.push_back(v);
          if (aliased && blen < backing.size()) backing[blen] = v;
          ++blen;
        }
      }
      if (go_backing) {
        go_backing->SetArray();
        for (V* b : backing) go_backing->PushBack(V(*b, m_alloc), m_alloc);
      }
    }
    KBK_ASSIGN_OR_RETURN(auto parts, partition(merged, pl, maps ? merge_key : std::string()));
    KBK_ASSIGN_OR_RETURN(List result, normalize_element_order(std::move(parts.first), std::move(parts.second), pl, orig,
                                                              maps ? merge_key : std::string(), maps));
    V out = materialize(result);
    original = std::move(out);
    return {};
  }

  // mergePatchIntoOriginal: the $setElementOrder directives and the lists they order.
  Result<void> merge_element_order(V& original, V& patch, TypeRef t) {
    std::vector<std::string> keys;
    for (const auto& m : patch.GetObject())
      if (has_prefix(name_of(m), k_order_prefix)) keys.emplace_back(name_of(m));
    for (const std::string& key : keys) {
      V order_v;
      {
        auto it = patch.FindMember(V(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
        order_v = std::move(it->value);
        patch.EraseMember(it);
      }
      if (!order_v.IsArray()) return err_bad_arg_type("[]interface {}", order_v);
      KBK_ASSIGN_OR_RETURN(std::string field, extract_key(key, k_order_prefix));
      V* orig_list = json::find(original, field);
      V* patch_list = json::find(patch, field);
      if (orig_list && !orig_list->IsArray()) return err_bad_arg_type("[]interface {}", *orig_list);
      if (patch_list && !patch_list->IsArray()) return err_bad_arg_type("[]interface {}", *patch_list);
      FieldInfo f = m_meta.lookup(t, field);
      std::string merge_key = f.strategy == Strategy::merge ? f.merge_key : std::string();
      List order = view(order_v);
      if (patch_list) KBK_TRY(validate_order(view(*patch_list), order, merge_key));
      if (!orig_list && !patch_list) continue;
      // Element type over the original and patch lists as they were.
      KBK_ASSIGN_OR_RETURN(GoType elem, element_type({orig_list, patch_list}));
      V orig_copy(rapidjson::kArrayType);
      if (orig_list) json::copy_into(orig_copy, *orig_list, m_alloc);  // serverOrder: the live list before merging
      V merged_v;
      if (orig_list && !patch_list) {
        merged_v = std::move(*orig_list);
      } else if (!orig_list && patch_list) {
        merged_v = std::move(*patch_list);
        remove_directives(merged_v);
      } else {
        if (f.strategy == Strategy::merge) {
          KBK_TRY(merge_slice(*orig_list, *patch_list, f, false, elem == GoType::map ? &orig_copy : nullptr));
          merged_v = std::move(*orig_list);
        } else {
          merged_v = std::move(*patch_list);
        }
      }
      List merged = view(merged_v), server_order = view(orig_copy);
      bool maps = elem == GoType::map;
      KBK_ASSIGN_OR_RETURN(auto parts, partition(merged, order, merge_key));
      KBK_ASSIGN_OR_RETURN(List result, normalize_element_order(std::move(parts.first), std::move(parts.second), order,
                                                                server_order, merge_key, maps));
      V out = materialize(result);
      json::set(original, field, std::move(out), m_alloc);
      json::erase(patch, field);
    }
    return {};
  }

  Result<void> validate_order(const List& patch_list, const List& order, const std::string& merge_key) {
    if (order.empty() || patch_list.empty()) return {};
    List non_delete;
    if (!merge_key.empty()) {
      for (V* v : patch_list) {
        if (!v->IsObject()) return err_bad_arg_type("map[string]interface {}", *v);
        if (!is_delete_element(v)) non_delete.push_back(v);
      }
    } else {
      non_delete = patch_list;
    }
    size_t pi = 0, si = 0;
    while (pi < non_delete.size() && si < order.size()) {
      if (non_delete[pi]->IsObject() && member(*non_delete[pi], k_directive)) {
        ++pi;
        continue;
      }
      bool eq;
      if (merge_key.empty()) {
        eq = go_eq(non_delete[pi], order[si]);
      } else {
        if (!order[si]->IsObject()) return err_bad_arg_type("map[string]interface {}", *order[si]);
        const V* l = member(*non_delete[pi], merge_key);
        if (!l) return err_no_merge_key(*non_delete[pi], merge_key);
        const V* r = member(*order[si], merge_key);
        if (!r) return err_no_merge_key(*order[si], merge_key);
        eq = go_eq(l, r);
      }
      if (eq) ++pi;
      ++si;
    }
    if (pi < non_delete.size() && si >= order.size())
      return smp_error("the order in the patch list doesn't match the $setElementOrder list");
    return {};
  }

  json::Allocator& m_alloc;
  const MetaSource& m_meta;
};

}  // namespace

Result<SmpSource> apply_strategic_merge_patch(json::Document& obj, const json::Value& patch, const SmpOptions& opts) {
  if (!patch.IsObject()) return smp_error("invalid JSON document: the patch must be a JSON object");
  std::string api_version = json::get_string(obj, {"apiVersion"});
  std::string kind = json::get_string(obj, {"kind"});
  TypeRef root;
  SmpSource source = SmpSource::merge_patch;
  if (const detail::Node* n = detail::builtin_root(api_version, kind)) {
    root.node = n;
    source = SmpSource::builtin;
  } else if (opts.schema) {
    root.schema = opts.schema;
    source = SmpSource::schema;
  } else if (opts.require_metadata) {
    return unexpected(Errc::unsupported, "strategic merge patch is not supported for " + api_version + ", Kind=" + kind +
                                             " (no patch metadata; use a JSON merge patch or pass the kind's schema)");
  }
  // Work on a copy in the object's own pool (no new allocator chunk); the old tree stays there as garbage until
  // the document goes, which is the price of atomicity without an undo log.
  auto& alloc = obj.GetAllocator();
  V work = json::copy(obj, alloc);  // iterative: RapidJSON's copy constructor recurses once per level
  if (source == SmpSource::merge_patch) {
    apply_merge_patch(work, patch, alloc);
  } else {
    if (!work.IsObject()) work.SetObject();
    V p = json::copy(patch, alloc);  // the merge consumes the patch; own a copy in the result's allocator
    MetaSource meta(opts.schema_root);
    Merger m(alloc, meta);
    KBK_TRY(m.merge_map(work, p, root));
  }
  static_cast<V&>(obj) = std::move(work);
  return source;
}

}  // namespace kbk::patch
