#pragma once

#include <string>

#include "absl/time/time.h"

namespace otlpd::testing {

// A TCP port on 127.0.0.1 that no other caller of FreePort() on this machine holds and that
// could be bound a moment ago. Ports come from 20000-32000 minus the kernel's ephemeral range
// (so no client socket or bind to port 0 gets one) and are reserved with a lock file in
// PortReservationDir() until this process exits: parallel test processes (ctest -j) never get
// the same port. Every port the tests put in a config must come from here.
int FreePort();

// A port on 127.0.0.1 where nothing listens (for "upstream is down" tests).
int ClosedPort();

// True once a TCP connect to 127.0.0.1:port succeeds.
bool PortOpen(int port);

// Where the lock files live: one file per reserved port, named by the port, holding the pid of
// its owner. A file whose owner died (no flock on it) is stale and is taken over.
std::string PortReservationDir();

}  // namespace otlpd::testing
