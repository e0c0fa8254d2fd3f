#pragma once

#include <memory>

#include "core/factory.h"

namespace otlpd {

// "file_storage": keeps exporters' sending queues (`sending_queue.storage`) on disk.
std::unique_ptr<ExtensionFactory> NewFileStorageExtensionFactory();

}  // namespace otlpd
