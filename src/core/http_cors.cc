#include "core/http_cors.h"

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace otlpd {

namespace {

// rs/cors limits (internal/sortedset.go): optional whitespace around a list element, and
// how many empty elements a header list may have.
constexpr size_t kMaxOwsBytes = 1;
constexpr int kMaxEmptyElements = 16;

bool OriginAllowed(const CorsSettings& s, absl::string_view origin, bool* all) {
  *all = false;
  const std::string lower = absl::AsciiStrToLower(origin);
  bool allowed = false;
  for (const std::string& entry : s.allowed_origins) {
    const std::string o = absl::AsciiStrToLower(entry);
    if (o == "*") {
      *all = true;  // as rs/cors: "*" anywhere turns the list into match-all
      return true;
    }
    if (allowed) continue;
    const size_t star = o.find('*');
    if (star == std::string::npos) {
      allowed = lower == o;
    } else {
      // rs/cors splits at the first '*'; the rest (even another '*') is a literal suffix.
      absl::string_view prefix = absl::string_view(o).substr(0, star);
      absl::string_view suffix = absl::string_view(o).substr(star + 1);
      allowed = lower.size() >= prefix.size() + suffix.size() && absl::StartsWith(lower, prefix) &&
                absl::EndsWith(lower, suffix);
    }
  }
  return allowed;
}

// GET, POST and HEAD (rs/cors's defaults, which otelcol keeps); OPTIONS always passes.
bool MethodAllowed(absl::string_view method) {
  return method == "GET" || method == "POST" || method == "HEAD" || method == "OPTIONS";
}

bool AllHeadersAllowed(const CorsSettings& s) {
  for (const std::string& h : s.allowed_headers) {
    if (h == "*") return true;
  }
  return false;
}

bool HeaderAllowed(const CorsSettings& s, absl::string_view name) {
  if (s.allowed_headers.empty()) {
    return name == "accept" || name == "content-type" || name == "x-requested-with";
  }
  for (const std::string& h : s.allowed_headers) {
    if (h.size() == name.size() && absl::AsciiStrToLower(h) == name) return true;
  }
  return false;
}

// rs/cors SortedSet.Accepts: Access-Control-Request-Headers in the Fetch standard's form,
// a comma list of lower-case names, sorted and unique, each allowed.
bool RequestHeadersAllowed(const CorsSettings& s, absl::string_view acrh) {
  absl::string_view last;
  bool seen_any = false;
  int empty = 0;
  while (true) {
    const size_t comma = acrh.find(',');
    absl::string_view name = acrh.substr(0, comma);
    for (size_t i = 0; i < kMaxOwsBytes && !name.empty() && (name[0] == ' ' || name[0] == '\t');
         ++i) {
      name.remove_prefix(1);
    }
    for (size_t i = 0;
         i < kMaxOwsBytes && !name.empty() && (name.back() == ' ' || name.back() == '\t'); ++i) {
      name.remove_suffix(1);
    }
    if (!name.empty() &&
        (name[0] == ' ' || name[0] == '\t' || name.back() == ' ' || name.back() == '\t')) {
      return false;
    }
    if (name.empty()) {
      if (++empty > kMaxEmptyElements) return false;
    } else {
      if (!HeaderAllowed(s, name)) return false;
      if (seen_any && name <= last) return false;
      last = name;
      seen_any = true;
    }
    if (comma == absl::string_view::npos) return true;
    acrh.remove_prefix(comma + 1);
  }
}

}  // namespace

void ParseCors(ConfigNode node, CorsSettings* out) {
  if (!node.IsDefined()) return;
  node.Get("allowed_origins", &out->allowed_origins);
  node.Get("allowed_headers", &out->allowed_headers);
  node.Get("max_age", &out->max_age);
  if (out->allowed_origins.empty() && !out->allowed_headers.empty()) {
    spdlog::warn(
        "{}: The CORS configuration specifies allowed headers but no allowed origins, and is "
        "therefore ignored.",
        node.path());
  }
}

std::optional<HttpResponse> HandleCors(
    const CorsSettings& settings, const HttpRequest& request,
    std::vector<std::pair<std::string, std::string>>* extra_headers) {
  const std::string* origin = request.Header("origin");
  const std::string* acrm = request.Header("access-control-request-method");
  bool all_origins = false;

  if (request.method == "OPTIONS" && acrm != nullptr && !acrm->empty()) {
    HttpResponse response;
    response.status = 204;
    response.headers.emplace_back(
        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    if (origin == nullptr || origin->empty()) return response;
    if (!OriginAllowed(settings, *origin, &all_origins)) return response;
    if (!MethodAllowed(*acrm)) return response;
    const std::string* acrh = request.Header("access-control-request-headers");
    if (acrh != nullptr && !AllHeadersAllowed(settings) &&
        !RequestHeadersAllowed(settings, *acrh)) {
      return response;
    }
    response.headers.emplace_back("Access-Control-Allow-Origin", all_origins ? "*" : *origin);
    response.headers.emplace_back("Access-Control-Allow-Methods", *acrm);
    if (acrh != nullptr && !acrh->empty()) {
      response.headers.emplace_back("Access-Control-Allow-Headers", *acrh);
    }
    response.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    if (settings.max_age != 0) {
      response.headers.emplace_back("Access-Control-Max-Age",
                                    settings.max_age > 0 ? absl::StrCat(settings.max_age) : "0");
    }
    return response;
  }

  extra_headers->emplace_back("Vary", "Origin");
  if (origin == nullptr || origin->empty()) return std::nullopt;
  if (!OriginAllowed(settings, *origin, &all_origins)) return std::nullopt;
  if (!MethodAllowed(request.method)) return std::nullopt;
  extra_headers->emplace_back("Access-Control-Allow-Origin", all_origins ? "*" : *origin);
  extra_headers->emplace_back("Access-Control-Allow-Credentials", "true");
  return std::nullopt;
}

}  // namespace otlpd
