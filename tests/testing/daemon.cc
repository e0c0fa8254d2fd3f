#include "testing/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "testing/ports.h"
#include "testing/wait.h"

extern char** environ;

namespace otlpd::testing {

std::string OtlpdBinary() {
  if (const char* bin = getenv("OTLPD_BIN"); bin != nullptr && *bin) return bin;
  if (const char* dir = getenv("OTLPD_BUILD_DIR"); dir != nullptr && *dir) {
    return absl::StrCat(dir, "/otlpd");
  }
  return "otlpd";
}

std::string FindProgram(std::string_view name) {
  const char* path = getenv("PATH");
  if (path == nullptr) return "";
  std::string_view rest(path);
  while (!rest.empty()) {
    size_t colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    std::string candidate =
        absl::StrCat(dir.empty() ? std::string(".") : std::string(dir), "/", std::string(name));
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return "";
}

std::string Substitute(std::string_view text, const std::map<std::string, std::string>& vars) {
  std::vector<std::pair<std::string, std::string>> replacements;
  replacements.reserve(vars.size());
  for (const auto& [key, value] : vars)
    replacements.emplace_back(absl::StrCat("{{", key, "}}"), value);
  return absl::StrReplaceAll(absl::string_view(text.data(), text.size()), replacements);
}

DaemonProcess::DaemonProcess(std::string_view name) : dir_(name), name_(name) {}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0 && !status_.has_value()) Kill9();
}

std::string DaemonProcess::WriteConfig(std::string_view yaml,
                                       const std::map<std::string, std::string>& vars,
                                       std::string_view name) {
  std::map<std::string, std::string> all = vars;
  all.emplace("DIR", dir_.path());
  return dir_.Write(name, Substitute(yaml, all));
}

absl::Status DaemonProcess::Start(const std::vector<std::string>& args, const EnvVars& env) {
  return StartProgram(OtlpdBinary(), args, env);
}

absl::Status DaemonProcess::StartProgram(const std::string& bin,
                                         const std::vector<std::string>& args, const EnvVars& env) {
  if (pid_ > 0) return absl::FailedPreconditionError("already started");
  if (access(bin.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("not executable: ", bin));
  }

  // Everything the child needs is prepared before fork: after it, only async-signal-safe
  // calls are allowed (the test process has threads).
  std::vector<std::string> argv_storage;
  argv_storage.push_back(bin);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& [k, v] : env) overridden |= (k == key);
    if (!overridden) env_storage.emplace_back(entry);
  }
  for (const auto& [k, v] : env) env_storage.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  const std::string out_path = dir_.File(name_ + ".stdout");
  const std::string err_path = dir_.File(name_ + ".stderr");
  int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (in_fd < 0 || out_fd < 0 || err_fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open output files: ", strerror(errno)));
  }
  const pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    // Child. Die with the test process, whatever way it goes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    // Sockets of the test (in-test servers) must not leak into the daemon.
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
      for (int fd = 3; fd < 4096; ++fd) close(fd);
    }
    // The test may block signals in its threads; the daemon must see SIGTERM.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(in_fd);
  close(out_fd);
  close(err_fd);
  pid_ = pid;
  status_.reset();
  return absl::OkStatus();
}

absl::Status DaemonProcess::StartWithConfig(std::string_view yaml,
                                            const std::map<std::string, std::string>& vars,
                                            const EnvVars& env) {
  std::string path = WriteConfig(yaml, vars);
  return Start({"--config", path}, env);
}

bool DaemonProcess::Reap(bool block) {
  if (pid_ <= 0) return false;
  if (status_.has_value()) return true;
  int wstatus = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &wstatus, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  if (WIFEXITED(wstatus)) {
    status_ = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    status_ = 128 + WTERMSIG(wstatus);
  } else {
    status_ = -1;
  }
  return true;
}

bool DaemonProcess::Running() { return pid_ > 0 && !Reap(false); }

std::optional<int> DaemonProcess::exit_status() {
  Reap(false);
  return status_;
}

bool DaemonProcess::WaitForPort(int port, absl::Duration timeout) {
  bool open =
      WaitUntil([&] { return !Running() || PortOpen(port); }, timeout, absl::Milliseconds(10));
  return open && Running();
}

int DaemonProcess::Stop(int sig, absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  if (Reap(false)) return *status_;
  kill(pid_, sig);
  if (!WaitUntil([&] { return Reap(false); }, timeout, absl::Milliseconds(10))) {
    kill(pid_, SIGKILL);
    Reap(true);
  }
  return *status_;
}

int DaemonProcess::Kill9() { return Stop(SIGKILL, absl::Seconds(10)); }

int DaemonProcess::WaitExit(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  if (!WaitUntil([&] { return Reap(false); }, timeout, absl::Milliseconds(5))) {
    kill(pid_, SIGKILL);
    Reap(true);
  }
  return *status_;
}

std::string DaemonProcess::Stderr() const { return ReadFileOrEmpty(dir_.File(name_ + ".stderr")); }
std::string DaemonProcess::Stdout() const { return ReadFileOrEmpty(dir_.File(name_ + ".stdout")); }

namespace {
long ProcStatusKib(pid_t pid, std::string_view field) {
  if (pid <= 0) return -1;
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0 && line.size() > field.size() && line[field.size()] == ':') {
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return -1;
}
}  // namespace

long DaemonProcess::VmHwmKib() const { return ProcStatusKib(pid_, "VmHWM"); }
long DaemonProcess::VmRssKib() const { return ProcStatusKib(pid_, "VmRSS"); }

CommandResult RunOtlpd(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& files, const EnvVars& env,
                       absl::Duration timeout) {
  DaemonProcess process("otlpd-cmd");
  std::map<std::string, std::string> vars = {{"DIR", process.dir().path()}};
  for (const auto& [name, content] : files) process.dir().Write(name, Substitute(content, vars));
  std::vector<std::string> substituted;
  for (const auto& a : args) substituted.push_back(Substitute(a, vars));
  CommandResult result;
  if (absl::Status s = process.Start(substituted, env); !s.ok()) {
    result.err = s.ToString();
    return result;
  }
  result.exit_status = process.WaitExit(timeout);
  result.out = process.Stdout();
  result.err = process.Stderr();
  return result;
}

}  // namespace otlpd::testing
