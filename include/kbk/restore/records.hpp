// What a location remembers of finished restores (restores/<name>/, docs/format-archive.md) as the JSON documents
// `kbk restore list|describe -o json` print and `kbk ui` serves (docs/ui.md): one place, so they cannot drift.
#pragma once

#include <string>
#include <vector>

#include <kbk/json/json.hpp>
#include <kbk/storage/backend.hpp>
#include <kbk/util/error.hpp>

namespace kbk::restore {

// The names under restores/ (finished or not), in listing order.
Result<std::vector<std::string>> list_restore_names(storage::Backend& backend);

// The record kbk-restore.json, with the field names of docs/output.md (a record written before them, with
// "started"/"completed", is read as startTimestamp/completionTimestamp), bounded and type-checked
// (archive::restore_record_schema: Errc::corrupt naming the field). Errc::not_found when there is none.
Result<json::Document> read_restore_record(storage::Backend& backend, const std::string& name);

// A restore as describe shows it: the record, its results file and, with details, its resource list (each empty
// when absent; one that is there and does not read, bounded and type-checked, is the error).
struct RestoreRecord {
  json::Document record;
  json::Document results;
  json::Document resource_list;
};
Result<RestoreRecord> load_restore_record(storage::Backend& backend, const std::string& name, bool details);

// `restore describe -o json`: the record with "results" and "resourceList" when present.
json::Document restore_describe_to_json(const RestoreRecord& r);

// `restore list -o json`: {"apiVersion", "kind": "RestoreList", "items": [record...]}.
json::Document restore_list_to_json(const std::vector<json::Document>& records);

}  // namespace kbk::restore
