#include "exporters/edge_sync/partition.h"

namespace otlpd {

namespace {

// One pass over the resource → scope → item tree of either signal.
template <class Resources, class AddResource, class Scopes, class Items, class AddScope,
          class AddItem, class Classify>
void Split(const Resources& resources, size_t parts, AddResource add_resource, Scopes scopes,
           Items items, AddScope add_scope, AddItem add_item, Classify classify,
           std::vector<size_t>* counts) {
  for (const auto& r : resources) {
    for (const auto& s : scopes(r)) {
      std::vector<decltype(add_scope(add_resource(0, r), s))> out(parts, nullptr);
      for (const auto& item : items(s)) {
        const size_t k = classify(item);
        if (out[k] == nullptr) out[k] = add_scope(add_resource(k, r), s);
        add_item(out[k], item);
        ++(*counts)[k];
      }
    }
  }
}

}  // namespace

std::vector<std::shared_ptr<Telemetry>> PartitionItems(const Telemetry& data, size_t parts,
                                                       const ItemClassifier& classify) {
  std::vector<std::shared_ptr<Telemetry>> out(parts);
  std::vector<size_t> counts(parts, 0);
  auto part = [&](size_t k) -> Telemetry& {
    if (out[k] == nullptr) out[k] = std::make_shared<Telemetry>(data.signal());
    return *out[k];
  };
  if (data.signal() == Signal::kTraces) {
    using opentelemetry::proto::trace::v1::ResourceSpans;
    using opentelemetry::proto::trace::v1::ScopeSpans;
    using opentelemetry::proto::trace::v1::Span;
    Split(
        data.traces().resource_spans(), parts,
        [&](size_t k, const ResourceSpans& r) {
          auto* o = part(k).mutable_traces()->add_resource_spans();
          *o->mutable_resource() = r.resource();
          o->set_schema_url(r.schema_url());
          return o;
        },
        [](const ResourceSpans& r) -> const auto& { return r.scope_spans(); },
        [](const ScopeSpans& s) -> const auto& { return s.spans(); },
        [](ResourceSpans* o, const ScopeSpans& s) {
          ScopeSpans* scope = o->add_scope_spans();
          *scope->mutable_scope() = s.scope();
          scope->set_schema_url(s.schema_url());
          return scope;
        },
        [](ScopeSpans* scope, const Span& span) { *scope->add_spans() = span; }, classify.span,
        &counts);
  } else if (data.signal() == Signal::kLogs) {
    using opentelemetry::proto::logs::v1::LogRecord;
    using opentelemetry::proto::logs::v1::ResourceLogs;
    using opentelemetry::proto::logs::v1::ScopeLogs;
    Split(
        data.logs().resource_logs(), parts,
        [&](size_t k, const ResourceLogs& r) {
          auto* o = part(k).mutable_logs()->add_resource_logs();
          *o->mutable_resource() = r.resource();
          o->set_schema_url(r.schema_url());
          return o;
        },
        [](const ResourceLogs& r) -> const auto& { return r.scope_logs(); },
        [](const ScopeLogs& s) -> const auto& { return s.log_records(); },
        [](ResourceLogs* o, const ScopeLogs& s) {
          ScopeLogs* scope = o->add_scope_logs();
          *scope->mutable_scope() = s.scope();
          scope->set_schema_url(s.schema_url());
          return scope;
        },
        [](ScopeLogs* scope, const LogRecord& log) { *scope->add_log_records() = log; },
        classify.log, &counts);
  }
  for (size_t k = 0; k < parts; ++k) {
    if (out[k] == nullptr) continue;
    out[k]->SetItemCount(counts[k]);
    out[k]->set_metadata(data.metadata());
  }
  return out;
}

}  // namespace otlpd
