// Every component built into otlpd, registered by its config type name.
#include "connectors/forward/forward_connector.h"
#include "core/registry.h"
#include "exporters/debug/factory.h"
#include "exporters/edge_sync/factory.h"
#include "exporters/file/factory.h"
#include "exporters/loadbalancing/factory.h"
#include "exporters/nop/factory.h"
#include "exporters/otlp/factory.h"
#include "exporters/otlphttp/factory.h"
#include "exporters/tiered_storage/factory.h"
#include "extensions/basicauth/factory.h"
#include "extensions/bearertokenauth/factory.h"
#include "extensions/file_storage/factory.h"
#include "extensions/headers_setter/factory.h"
#include "extensions/health_check/factory.h"
#include "extensions/jaegerremotesampling/factory.h"
#include "extensions/query/factory.h"
#include "processors/adaptive_sampler/factory.h"
#include "processors/attributes/factory.h"
#include "processors/batch/factory.h"
#include "processors/filter/factory.h"
#include "processors/memory_limiter/factory.h"
#include "processors/probabilistic_sampler/factory.h"
#include "processors/redaction/factory.h"
#include "processors/resource/factory.h"
#include "processors/rule_sampler/factory.h"
#include "processors/tail_sampling/factory.h"
#include "processors/traffic_observer/factory.h"
#include "receivers/otlp/factory.h"

namespace otlpd {

void RegisterBuiltinComponents(ComponentRegistry* registry) {
  registry->Register(NewOtlpReceiverFactory());

  registry->Register(NewBatchProcessorFactory());
  registry->Register(NewMemoryLimiterProcessorFactory());
  registry->Register(NewAttributesProcessorFactory());
  registry->Register(NewResourceProcessorFactory());
  registry->Register(NewTrafficObserverProcessorFactory());
  registry->Register(NewFilterProcessorFactory());
  registry->Register(NewRedactionProcessorFactory());
  registry->Register(NewProbabilisticSamplerFactory());
  registry->Register(NewRuleSamplerFactory());
  registry->Register(NewAdaptiveSamplerFactory());
  registry->Register(NewTailSamplingProcessorFactory());

  registry->Register(NewOtlpExporterFactory());
  registry->Register(NewOtlpHttpExporterFactory());
  registry->Register(NewFileExporterFactory());
  registry->Register(NewDebugExporterFactory());
  registry->Register(NewNopExporterFactory());
  registry->Register(NewTieredStorageExporterFactory());
  registry->Register(NewEdgeSyncExporterFactory());
  // Its backends are otlp exporters, built by an otlp factory of its own.
  registry->Register(NewLoadBalancingExporterFactory(NewOtlpExporterFactory()));

  registry->Register(NewHealthCheckExtensionFactory());
  registry->Register(NewJaegerRemoteSamplingExtensionFactory());
  registry->Register(NewQueryExtensionFactory());
  registry->Register(NewBearerTokenAuthExtensionFactory());
  registry->Register(NewBasicAuthExtensionFactory());
  registry->Register(NewHeadersSetterExtensionFactory());
  registry->Register(NewFileStorageExtensionFactory());

  registry->Register(NewForwardConnectorFactory());
}

}  // namespace otlpd
