#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "testing/temp_dir.h"

namespace otlpd::testing {

// Path of the daemon binary under test: $OTLPD_BIN, else $OTLPD_BUILD_DIR/otlpd.
std::string OtlpdBinary();

// Full path of `name` found in $PATH; "" if absent.
std::string FindProgram(std::string_view name);

// Replaces every "{{KEY}}" in `text` by vars[KEY]. Unknown keys are left as they are, so a
// missing substitution shows up as a config error instead of silently vanishing. The
// daemon's own "${env:VAR}" syntax is not touched.
std::string Substitute(std::string_view text, const std::map<std::string, std::string>& vars);

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// A real otlpd process. Owns a temp dir holding its config and its captured stdout/stderr.
// The process is killed (SIGKILL) when this object goes away while it still runs, and also
// when the test process dies (PR_SET_PDEATHSIG), so a crashed test leaves no daemon behind.
class DaemonProcess {
 public:
  explicit DaemonProcess(std::string_view name = "otlpd");
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  const TempDir& dir() const { return dir_; }
  // A path inside the temp dir (for exporter output files etc.).
  std::string File(std::string_view name) const { return dir_.File(name); }

  // Writes `yaml` (after Substitute with `vars` plus {{DIR}} = the temp dir) to
  // <dir>/<name> and returns its path.
  std::string WriteConfig(std::string_view yaml,
                          const std::map<std::string, std::string>& vars = {},
                          std::string_view name = "config.yaml");

  // Starts OtlpdBinary() with `args`, stdin from /dev/null, stdout and stderr into files in
  // the temp dir, and the test's environment plus `env` (which overrides).
  absl::Status Start(const std::vector<std::string>& args, const EnvVars& env = {});
  // Same for any program (e.g. node for the SDK test); `program` is a path.
  absl::Status StartProgram(const std::string& program, const std::vector<std::string>& args,
                            const EnvVars& env = {});
  // WriteConfig + Start({"--config", path}).
  absl::Status StartWithConfig(std::string_view yaml,
                               const std::map<std::string, std::string>& vars = {},
                               const EnvVars& env = {});

  // Waits until 127.0.0.1:port accepts connections. Fails early (false) if the process
  // exits meanwhile.
  bool WaitForPort(int port, absl::Duration timeout = absl::Seconds(15));

  // True while the process has not exited.
  bool Running();
  pid_t pid() const { return pid_; }

  // Sends `sig` and waits up to `timeout` for the process to exit; SIGKILLs it after that.
  // Returns the exit status as a shell would: the exit code, or 128+N if killed by signal N
  // (so 137 means it had to be SIGKILLed). -1 if it was never started.
  int Stop(int sig = 15 /* SIGTERM */, absl::Duration timeout = absl::Seconds(20));
  // Stop(SIGKILL).
  int Kill9();
  // Waits up to `timeout` for the process to exit by itself; SIGKILLs it after that and
  // returns 137. For short-lived commands like `otlpd validate`.
  int WaitExit(absl::Duration timeout = absl::Seconds(30));
  // The exit status once the process has exited (see Stop), nullopt while it runs.
  std::optional<int> exit_status();

  // Everything the process wrote so far.
  std::string Stderr() const;
  std::string Stdout() const;

  // Peak resident set size (VmHWM) and current RSS (VmRSS) in KiB from /proc/PID/status;
  // -1 if unknown.
  long VmHwmKib() const;
  long VmRssKib() const;

 private:
  bool Reap(bool block);

  TempDir dir_;
  std::string name_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

struct CommandResult {
  int exit_status = -1;  // as in DaemonProcess::Stop
  std::string out;
  std::string err;
};

// Runs otlpd with `args` to completion (bounded by `timeout`) in its own temp dir.
// `files` are written into that dir first (name -> content, with {{DIR}} substituted) and
// "{{DIR}}" in args is replaced as well.
CommandResult RunOtlpd(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& files = {},
                       const EnvVars& env = {}, absl::Duration timeout = absl::Seconds(30));

}  // namespace otlpd::testing
