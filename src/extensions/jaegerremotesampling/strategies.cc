#include "extensions/jaegerremotesampling/strategies.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/otlp_json.h"

namespace otlpd {

namespace {

// Jaeger's defaults (plugin/sampling/strategyprovider/static).
constexpr double kDefaultProbability = 0.001;

std::string Number(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return "0";
  return std::string(buf, end);
}

absl::StatusOr<double> NumberField(simdjson::dom::object object, std::string_view key,
                                   const std::string& where) {
  simdjson::dom::element value;
  if (object[key].get(value) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", std::string(key), "\" is missing"));
  }
  double number;
  switch (value.type()) {
    case simdjson::dom::element_type::DOUBLE:
      number = value.get_double().value_unsafe();
      break;
    case simdjson::dom::element_type::INT64:
      number = static_cast<double>(value.get_int64().value_unsafe());
      break;
    case simdjson::dom::element_type::UINT64:
      number = static_cast<double>(value.get_uint64().value_unsafe());
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", std::string(key), "\" must be a number"));
  }
  return number;
}

absl::StatusOr<std::string> StringField(simdjson::dom::object object, std::string_view key,
                                        const std::string& where) {
  std::string_view text;
  simdjson::dom::element value;
  if (object[key].get(value) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", std::string(key), "\" is missing"));
  }
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", std::string(key), "\" must be a string"));
  }
  return std::string(text);
}

absl::Status CheckProbability(double p, const std::string& where) {
  if (!(p >= 0 && p <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": a probabilistic param must be within [0, 1], got ", Number(p)));
  }
  return absl::OkStatus();
}

// {"type": "probabilistic"|"ratelimiting", "param": N, "operation_strategies": [...]}
absl::StatusOr<SamplingStrategy> ParseStrategy(simdjson::dom::object object,
                                               const std::string& where) {
  SamplingStrategy strategy;
  absl::StatusOr<std::string> type = StringField(object, "type", where);
  if (!type.ok()) return type.status();
  absl::StatusOr<double> param = NumberField(object, "param", where);
  if (!param.ok()) return param.status();
  if (*type == "probabilistic") {
    if (absl::Status s = CheckProbability(*param, where); !s.ok()) return s;
    strategy.probability = *param;
  } else if (*type == "ratelimiting") {
    if (!(*param >= 0) || *param != std::floor(*param) || *param > 1e9) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": a ratelimiting param must be a whole number of traces per second, got ",
          Number(*param)));
    }
    strategy.type = SamplingStrategy::Type::kRateLimiting;
    strategy.max_traces_per_second = static_cast<int64_t>(*param);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": \"type\" must be \"probabilistic\" or \"ratelimiting\", got \"", *type, "\""));
  }
  simdjson::dom::element ops_value;
  if (object["operation_strategies"].get(ops_value) != simdjson::SUCCESS || ops_value.is_null()) {
    return strategy;
  }
  simdjson::dom::array ops;
  if (ops_value.get_array().get(ops) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"operation_strategies\" must be an array"));
  }
  SamplingStrategy::Operations operations;
  operations.default_probability = strategy.type == SamplingStrategy::Type::kProbabilistic
                                       ? strategy.probability
                                       : kDefaultProbability;
  size_t index = 0;
  for (simdjson::dom::element op_value : ops) {
    const std::string op_where = absl::StrCat(where, ".operation_strategies[", index++, "]");
    simdjson::dom::object op;
    if (op_value.get_object().get(op) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(op_where, ": must be an object"));
    }
    absl::StatusOr<std::string> name = StringField(op, "operation", op_where);
    if (!name.ok()) return name.status();
    absl::StatusOr<SamplingStrategy> op_strategy = ParseStrategy(op, op_where);
    if (!op_strategy.ok()) return op_strategy.status();
    // Jaeger's per-operation sampling is probabilistic only (it skips others with a warning;
    // a file is checked here, so it is an error).
    if (op_strategy->type != SamplingStrategy::Type::kProbabilistic) {
      return absl::InvalidArgumentError(
          absl::StrCat(op_where, ": operation strategies must be probabilistic"));
    }
    for (const auto& [existing, p] : operations.probabilities) {
      if (existing == *name) {
        return absl::InvalidArgumentError(
            absl::StrCat(op_where, ": operation \"", *name, "\" is given twice"));
      }
    }
    operations.probabilities.emplace_back(*name, op_strategy->probability);
  }
  strategy.operations = std::move(operations);
  return strategy;
}

}  // namespace

const SamplingStrategy& SamplingStrategies::For(std::string_view service) const {
  auto it = services.find(std::string(service));
  return it != services.end() ? it->second : default_strategy;
}

absl::StatusOr<SamplingStrategies> ParseSamplingStrategies(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto error = parser.parse(simdjson::padded_string(json)).get(doc); error) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("the strategies must be a JSON object");
  }
  for (auto field : root) {
    if (field.key != "default_strategy" && field.key != "service_strategies") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown key \"", std::string(field.key),
                       "\" (expected default_strategy, service_strategies)"));
    }
  }
  SamplingStrategies result;
  result.default_strategy.probability = kDefaultProbability;
  simdjson::dom::element value;
  if (root["default_strategy"].get(value) == simdjson::SUCCESS && !value.is_null()) {
    simdjson::dom::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("default_strategy must be an object");
    }
    absl::StatusOr<SamplingStrategy> strategy = ParseStrategy(object, "default_strategy");
    if (!strategy.ok()) return strategy.status();
    result.default_strategy = std::move(*strategy);
  }
  if (root["service_strategies"].get(value) != simdjson::SUCCESS || value.is_null()) {
    return result;
  }
  simdjson::dom::array services;
  if (value.get_array().get(services) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("service_strategies must be an array");
  }
  const std::optional<SamplingStrategy::Operations>& default_ops =
      result.default_strategy.operations;
  size_t index = 0;
  for (simdjson::dom::element service_value : services) {
    const std::string where = absl::StrCat("service_strategies[", index++, "]");
    simdjson::dom::object object;
    if (service_value.get_object().get(object) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": must be an object"));
    }
    absl::StatusOr<std::string> name = StringField(object, "service", where);
    if (!name.ok()) return name.status();
    absl::StatusOr<SamplingStrategy> strategy = ParseStrategy(object, where);
    if (!strategy.ok()) return strategy.status();
    if (result.services.contains(*name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": service \"", *name, "\" is given twice"));
    }
    if (default_ops.has_value()) {
      if (!strategy->operations.has_value()) {
        // Jaeger: a probabilistic service takes the default's operations, with its own rate
        // as the default probability.
        if (strategy->type == SamplingStrategy::Type::kProbabilistic) {
          strategy->operations = default_ops;
          strategy->operations->default_probability = strategy->probability;
        }
      } else {
        for (const auto& [op, p] : default_ops->probabilities) {
          bool overridden = false;
          for (const auto& [own, unused] : strategy->operations->probabilities) {
            overridden = overridden || own == op;
          }
          if (!overridden) strategy->operations->probabilities.emplace_back(op, p);
        }
      }
    }
    result.services.emplace(*name, std::move(*strategy));
  }
  return result;
}

std::string SamplingStrategyJson(const SamplingStrategy& strategy) {
  std::string json;
  if (strategy.type == SamplingStrategy::Type::kProbabilistic) {
    absl::StrAppend(&json,
                    R"({"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":)",
                    Number(strategy.probability), "}");
  } else {
    absl::StrAppend(
        &json, R"({"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":)",
        strategy.max_traces_per_second, "}");
  }
  if (strategy.operations.has_value()) {
    const SamplingStrategy::Operations& ops = *strategy.operations;
    absl::StrAppend(&json, R"(,"operationSampling":{"defaultSamplingProbability":)",
                    Number(ops.default_probability), R"(,"defaultLowerBoundTracesPerSecond":)",
                    Number(ops.default_lower_bound_traces_per_second),
                    R"(,"perOperationStrategies":[)");
    bool first = true;
    for (const auto& [op, p] : ops.probabilities) {
      if (!first) json += ',';
      first = false;
      json += R"({"operation":)";
      AppendJsonString(op, &json);
      absl::StrAppend(&json, R"(,"probabilisticSampling":{"samplingRate":)", Number(p), "}}");
    }
    json += "]}";
  }
  json += '}';
  return json;
}

}  // namespace otlpd
