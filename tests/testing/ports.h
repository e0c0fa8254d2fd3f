#pragma once

#include "absl/time/time.h"

namespace otlpd::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound with port 0, then closed).
// Every call returns a different port within this process.
int FreePort();

// A port on 127.0.0.1 where nothing listens (for "upstream is down" tests).
int ClosedPort();

// True once a TCP connect to 127.0.0.1:port succeeds.
bool PortOpen(int port);

}  // namespace otlpd::testing
