#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace otlpd::storage {

// `otlpd storage inspect DIR`: what a tiered_storage directory holds, per tier — files,
// bytes, records, items per signal and time ranges — as text. Reads only.
absl::StatusOr<std::string> InspectStore(const std::string& dir);

// `otlpd storage verify DIR`: checks every checksum of every file (hot log records, warm
// and local cold blocks with their metas and sections) without changing anything. *report lists
// each problem with its file and byte offset; returns whether the store is intact (a torn tail of
// the newest hot segment, which recovery cuts off, is reported but is not damage).
absl::StatusOr<bool> VerifyStore(const std::string& dir, std::string* report);

}  // namespace otlpd::storage
