#include "processors/consistent_sampling/tracestate.h"

#include <array>

#include "absl/strings/str_cat.h"

namespace otlpd::consistent_sampling {

namespace {

bool IsLcAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsKeyChar(char c) {
  return IsLcAlpha(c) || IsDigit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}

// W3C key: simple-key = lcalpha 0*255(keychar), or multi-tenant
// tenant-id "@" system-id with tenant-id = (lcalpha / DIGIT) 0*240(keychar) and
// system-id = lcalpha 0*13(keychar).
bool IsValidKey(std::string_view key) {
  if (key.empty()) return false;
  const size_t at = key.find('@');
  if (at == std::string_view::npos) {
    if (key.size() > 256 || !IsLcAlpha(key[0])) return false;
    for (char c : key.substr(1)) {
      if (!IsKeyChar(c)) return false;
    }
    return true;
  }
  const std::string_view tenant = key.substr(0, at);
  const std::string_view system = key.substr(at + 1);
  if (tenant.empty() || tenant.size() > 241 || system.empty() || system.size() > 14) return false;
  if (!IsLcAlpha(tenant[0]) && !IsDigit(tenant[0])) return false;
  for (char c : tenant.substr(1)) {
    if (!IsKeyChar(c)) return false;
  }
  if (!IsLcAlpha(system[0])) return false;
  for (char c : system.substr(1)) {
    if (!IsKeyChar(c)) return false;
  }
  return true;
}

// W3C value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
// nblk-chr = %x21-2B / %x2D-3C / %x3E-7E (no ',' and no '=').
bool IsValidValue(std::string_view value) {
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsOtelValueChar(char c) {
  return IsLcAlpha(c) || IsDigit(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
}

}  // namespace

absl::Status ParseOtelValue(std::string_view value, OtelTraceState* out) {
  *out = OtelTraceState();
  if (value.size() > kMaxOtelValueLength) {
    return absl::InvalidArgumentError("tracestate: the ot value is longer than 256 characters");
  }
  // Sub-keys seen, to refuse duplicates (an `ot` value holds only a few).
  std::vector<std::string_view> keys;
  size_t pos = 0;
  while (true) {
    const size_t end = std::min(value.find(';', pos), value.size());
    const std::string_view member = value.substr(pos, end - pos);
    const size_t colon = member.find(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("tracestate: ot sub-key without ':' in \"", std::string(member), "\""));
    }
    const std::string_view key = member.substr(0, colon);
    const std::string_view val = member.substr(colon + 1);
    if (key.empty() || !IsLcAlpha(key[0])) {
      return absl::InvalidArgumentError(
          absl::StrCat("tracestate: invalid ot sub-key \"", std::string(key), "\""));
    }
    for (char c : key) {
      if (!IsLcAlpha(c) && !IsDigit(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tracestate: invalid ot sub-key \"", std::string(key), "\""));
      }
    }
    for (char c : val) {
      if (!IsOtelValueChar(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tracestate: invalid ot value for \"", std::string(key), "\""));
      }
    }
    for (std::string_view seen : keys) {
      if (seen == key) {
        return absl::InvalidArgumentError(
            absl::StrCat("tracestate: duplicate ot sub-key \"", std::string(key), "\""));
      }
    }
    keys.push_back(key);
    if (key == "th") {
      out->threshold = ParseThreshold(val);
      if (!out->threshold) {
        return absl::InvalidArgumentError(
            absl::StrCat("tracestate: th \"", std::string(val), "\" is not 1 to 14 hex digits"));
      }
    } else if (key == "rv") {
      out->randomness = ParseRandomness(val);
      if (!out->randomness) {
        return absl::InvalidArgumentError(
            absl::StrCat("tracestate: rv \"", std::string(val), "\" is not 14 hex digits"));
      }
    } else {
      out->extra.emplace_back(key, val);
    }
    if (end == value.size()) break;
    pos = end + 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<TraceState> ParseTraceState(std::string_view text) {
  TraceState ts;
  if (TrimOws(text).empty()) return ts;
  std::array<std::string_view, kMaxTraceStateMembers> keys;
  size_t key_count = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find(',', pos), text.size());
    const std::string_view member = TrimOws(text.substr(pos, end - pos));
    pos = end + 1;
    // W3C allows empty list members; they are skipped.
    if (member.empty()) continue;
    const size_t eq = member.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("tracestate: list member without '=': \"", std::string(member), "\""));
    }
    const std::string_view key = member.substr(0, eq);
    const std::string_view value = member.substr(eq + 1);
    if (!IsValidKey(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tracestate: invalid key \"", std::string(key), "\""));
    }
    if (!IsValidValue(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tracestate: invalid value for key \"", std::string(key), "\""));
    }
    for (size_t i = 0; i < key_count; ++i) {
      if (keys[i] == key) {
        return absl::InvalidArgumentError(
            absl::StrCat("tracestate: duplicate key \"", std::string(key), "\""));
      }
    }
    if (key_count == kMaxTraceStateMembers) {
      return absl::InvalidArgumentError("tracestate: more than 32 list members");
    }
    keys[key_count++] = key;
    if (key == "ot") {
      ts.has_ot = true;
      if (absl::Status status = ParseOtelValue(value, &ts.ot); !status.ok()) return status;
    } else {
      ts.others.push_back(member);
    }
  }
  return ts;
}

absl::Status AppendTraceState(const TraceState& ts, std::string* out) {
  const size_t start = out->size();
  size_t members = 0;
  if (!ts.ot.empty()) {
    out->append("ot=");
    const size_t value_start = out->size();
    bool first = true;
    auto separate = [&] {
      if (!first) out->push_back(';');
      first = false;
    };
    if (ts.ot.threshold) {
      separate();
      out->append("th:");
      AppendThreshold(*ts.ot.threshold, out);
    }
    if (ts.ot.randomness) {
      separate();
      out->append("rv:");
      AppendRandomness(*ts.ot.randomness, out);
    }
    for (const auto& [key, value] : ts.ot.extra) {
      separate();
      out->append(key);
      out->push_back(':');
      out->append(value);
    }
    if (out->size() - value_start > kMaxOtelValueLength) {
      out->resize(start);
      return absl::FailedPreconditionError(
          "tracestate: the ot value would be longer than 256 characters");
    }
    ++members;
  }
  // Which other members fit: W3C drops from the right, entries over 128 characters first.
  const size_t ot_length = out->size() - start;
  std::vector<bool> kept(ts.others.size(), true);
  size_t kept_count = ts.others.size();
  size_t kept_chars = 0;
  for (std::string_view m : ts.others) kept_chars += m.size();
  auto fits = [&] {
    const size_t items = members + kept_count;
    const size_t chars = items == 0 ? 0 : ot_length + kept_chars + (items - 1);
    return items <= kMaxTraceStateMembers && chars <= kMaxTraceStateLength;
  };
  for (int pass = 0; pass < 2 && !fits(); ++pass) {
    for (size_t i = ts.others.size(); i-- > 0 && !fits();) {
      if (!kept[i] || (pass == 0 && ts.others[i].size() <= 128)) continue;
      kept[i] = false;
      --kept_count;
      kept_chars -= ts.others[i].size();
    }
  }
  for (size_t i = 0; i < ts.others.size(); ++i) {
    if (!kept[i]) continue;
    if (out->size() != start) out->push_back(',');
    out->append(ts.others[i]);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> WithThreshold(std::string_view text,
                                          std::optional<uint64_t> threshold) {
  absl::StatusOr<TraceState> ts = ParseTraceState(text);
  if (!ts.ok()) return ts.status();
  if (threshold && *threshold >= kNeverSampleThreshold) {
    return absl::InvalidArgumentError("the never-sample threshold has no th encoding");
  }
  ts->ot.threshold = threshold;
  std::string out;
  if (absl::Status status = AppendTraceState(*ts, &out); !status.ok()) return status;
  return out;
}

Decision DecideParsed(const Stage& stage, uint64_t randomness, TraceState* ts,
                      std::string* out_tracestate) {
  Decision decision;
  decision.randomness = randomness;
  std::optional<uint64_t> arriving = ts->ot.threshold;
  if (arriving && !ShouldSample(*arriving, randomness)) {
    // The specification: erase a threshold that is apparently inconsistent.
    decision.error = DecisionError::kInconsistentThreshold;
    arriving.reset();
    ts->ot.threshold.reset();
  }
  decision.arriving_threshold = arriving;
  const uint64_t outgoing = stage.Outgoing(arriving);
  decision.keep = ShouldSample(outgoing, randomness);
  if (!decision.keep) return decision;
  decision.threshold = outgoing;
  if (arriving == outgoing && decision.error == DecisionError::kNone) return decision;
  ts->ot.threshold = outgoing;
  out_tracestate->clear();
  if (!AppendTraceState(*ts, out_tracestate).ok()) {
    decision.keep = false;
    decision.error = DecisionError::kTraceStateTooLong;
    return decision;
  }
  decision.tracestate_changed = true;
  return decision;
}

Decision Decide(const Stage& stage, std::string_view trace_id, std::string_view tracestate,
                std::string* out_tracestate) {
  TraceState ts;
  // Most items arrive without a tracestate: skip the parser.
  if (!tracestate.empty()) {
    absl::StatusOr<TraceState> parsed = ParseTraceState(tracestate);
    if (!parsed.ok()) {
      Decision decision;
      decision.error = DecisionError::kInvalidTraceState;
      return decision;
    }
    ts = *std::move(parsed);
  }
  uint64_t randomness = 0;
  if (ts.ot.randomness) {
    randomness = *ts.ot.randomness;
  } else if (IsInvalidTraceId(trace_id)) {
    Decision decision;
    decision.error = DecisionError::kMissingRandomness;
    return decision;
  } else {
    randomness = RandomnessFromTraceId(trace_id);
  }
  return DecideParsed(stage, randomness, &ts, out_tracestate);
}

}  // namespace otlpd::consistent_sampling
