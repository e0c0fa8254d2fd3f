#include "testing/prometheus.h"

#include <cstdlib>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "testing/http_client.h"

namespace otlpd::testing {

std::vector<PromSample> ParsePrometheus(std::string_view text) {
  std::vector<PromSample> samples;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    PromSample sample;
    size_t name_end = line.find_first_of("{ ");
    if (name_end == absl::string_view::npos) continue;
    sample.name = std::string(line.substr(0, name_end));
    size_t pos = name_end;
    if (line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        size_t eq = line.find('=', pos);
        if (eq == absl::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') break;
        std::string key(absl::StripAsciiWhitespace(line.substr(pos, eq - pos)));
        std::string value;
        size_t i = eq + 2;
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value.push_back(line[i] == 'n' ? '\n' : line[i]);
          } else {
            value.push_back(line[i]);
          }
        }
        sample.labels.emplace_back(std::move(key), std::move(value));
        pos = i + 1;
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      pos = line.find('}', pos);
      if (pos == absl::string_view::npos) continue;
      ++pos;
    }
    absl::string_view rest = absl::StripLeadingAsciiWhitespace(line.substr(pos));
    std::string value_text(rest.substr(0, rest.find(' ')));
    char* end = nullptr;
    sample.value = std::strtod(value_text.c_str(), &end);
    if (end == value_text.c_str()) continue;
    samples.push_back(std::move(sample));
  }
  return samples;
}

std::optional<double> PromValue(std::string_view text, std::string_view name,
                                const std::vector<std::pair<std::string, std::string>>& labels) {
  std::optional<double> total;
  for (const PromSample& s : ParsePrometheus(text)) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& want : labels) {
      bool found = false;
      for (const auto& have : s.labels) found |= (have == want);
      match &= found;
    }
    if (match) total = total.value_or(0) + s.value;
  }
  return total;
}

std::optional<double> SelfMetric(std::string_view text, const std::string& name,
                                 const std::vector<std::pair<std::string, std::string>>& labels) {
  if (auto v = PromValue(text, name, labels)) return v;
  return PromValue(text, name + "_total", labels);
}

std::string ScrapeMetrics(int port) {
  HttpResult r = HttpGet(LocalUrl(port, "/metrics"), absl::Seconds(5));
  return r.status == 200 ? r.body : "";
}

}  // namespace otlpd::testing
