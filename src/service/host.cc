#include "service/host.h"

#include "absl/strings/str_cat.h"

namespace otlpd {

absl::StatusOr<Extension*> ServiceHost::GetExtension(const ComponentId& id) const {
  auto it = extensions_.find(id);
  if (it == extensions_.end()) {
    return absl::NotFoundError(absl::StrCat("extension \"", id.ToString(),
                                            "\" is not running (not in service::extensions)"));
  }
  return it->second.get();
}

void ServiceHost::AddExtension(const ComponentId& id, std::shared_ptr<Extension> extension) {
  extensions_[id] = std::move(extension);
}

}  // namespace otlpd
