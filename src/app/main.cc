// otlpd: an OTLP telemetry collector daemon.
//
//   otlpd [--config FILE] [--shutdown-timeout 10s]
//   otlpd validate --config FILE
//   otlpd --version
//   otlpd --print-default-config
//   otlpd storage inspect|verify DIR
#include <grpc/support/log.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "app/log_format.h"
#include "config/config.h"
#include "core/registry.h"
#include "service/service.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "storage/store_check.h"

namespace {

constexpr int kExitConfigError = 2;

void Usage(std::FILE* out) {
  std::fprintf(out,
               "usage: otlpd [--config FILE] [--shutdown-timeout DURATION]\n"
               "       otlpd validate --config FILE\n"
               "       otlpd --version\n"
               "       otlpd --print-default-config\n"
               "       otlpd storage inspect DIR   (what a tiered_storage directory holds)\n"
               "       otlpd storage verify DIR    (checks every checksum; exit 1 on damage)\n"
               "Without --config, otlpd runs its embedded default configuration\n"
               "(OTLP on 127.0.0.1:4317/4318, data under ./data).\n");
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

spdlog::level::level_enum LogLevel(std::string level) {
  for (char& c : level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (level == "debug") return spdlog::level::debug;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  return spdlog::level::info;
}

// gRPC's own log lines (errors, or more with GRPC_VERBOSITY) go to stderr in gRPC's format;
// with encoding json they are written as JSON lines too. Not through spdlog: gRPC may log
// while static objects (spdlog's registry among them) are being destroyed at exit. One
// fwrite per line, as spdlog's stderr sink does, so lines never interleave.
spdlog::level::level_enum g_grpc_log_level = spdlog::level::info;

void GrpcLogAsJson(gpr_log_func_args* args) {
  const spdlog::level::level_enum level =
      args->severity == GPR_LOG_SEVERITY_ERROR  ? spdlog::level::err
      : args->severity == GPR_LOG_SEVERITY_INFO ? spdlog::level::info
                                                : spdlog::level::debug;
  if (level < g_grpc_log_level) return;
  const std::string text = absl::StrCat("grpc: ", args->file, ":", args->line, ": ",
                                        args->message != nullptr ? args->message : "");
  spdlog::details::log_msg msg(spdlog::log_clock::now(), spdlog::source_loc{}, "grpc", level,
                               spdlog::string_view_t(text.data(), text.size()));
  spdlog::memory_buf_t line;
  otlpd::JsonLogFormatter().format(msg, line);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

// otlpd storage inspect|verify DIR. Exit 0 / 1 (verify found damage) / 2 (usage, unreadable).
int StorageCommand(int argc, char** argv) {
  if (argc != 4 || (std::string(argv[2]) != "inspect" && std::string(argv[2]) != "verify")) {
    std::fprintf(stderr, "usage: otlpd storage inspect DIR | otlpd storage verify DIR\n");
    return kExitConfigError;
  }
  const std::string dir = argv[3];
  if (std::string(argv[2]) == "inspect") {
    absl::StatusOr<std::string> report = otlpd::storage::InspectStore(dir);
    if (!report.ok()) {
      std::fprintf(stderr, "otlpd storage inspect: %s\n", report.status().ToString().c_str());
      return kExitConfigError;
    }
    std::fwrite(report->data(), 1, report->size(), stdout);
    return 0;
  }
  std::string report;
  absl::StatusOr<bool> intact = otlpd::storage::VerifyStore(dir, &report);
  if (!intact.ok()) {
    std::fprintf(stderr, "otlpd storage verify: %s\n", intact.status().ToString().c_str());
    return kExitConfigError;
  }
  std::fwrite(report.data(), 1, report.size(), stdout);
  std::printf("%s\n", *intact ? "OK: no damage found" : "DAMAGED: see the lines above");
  return *intact ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "storage") return StorageCommand(argc, argv);
  // Debian's abseil checks every Mutex for lock-order cycles, which costs on every lock
  // taken by gRPC and by us; our lock order is checked by tests under sanitizers instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  bool validate_only = false;
  std::string config_path;
  absl::Duration shutdown_timeout = absl::Seconds(10);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& flag) -> std::string {
      if (arg.size() > flag.size() && arg.compare(0, flag.size() + 1, flag + "=") == 0) {
        return arg.substr(flag.size() + 1);
      }
      if (i + 1 >= argc) {
        std::fprintf(stderr, "otlpd: %s needs a value\n", flag.c_str());
        std::exit(kExitConfigError);
      }
      return argv[++i];
    };
    if (arg == "--version" || arg == "version") {
      std::printf("otlpd %s\n", OTLPD_VERSION);
      return 0;
    } else if (arg == "--print-default-config") {
      std::fwrite(otlpd::DefaultConfigYaml().data(), 1, otlpd::DefaultConfigYaml().size(), stdout);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      Usage(stdout);
      return 0;
    } else if (arg == "validate") {
      validate_only = true;
    } else if (arg.rfind("--config", 0) == 0) {
      config_path = value("--config");
    } else if (arg.rfind("--shutdown-timeout", 0) == 0) {
      std::string v = value("--shutdown-timeout");
      if (!absl::ParseDuration(v, &shutdown_timeout)) {
        std::fprintf(stderr, "otlpd: invalid --shutdown-timeout \"%s\"\n", v.c_str());
        return kExitConfigError;
      }
    } else {
      std::fprintf(stderr, "otlpd: unknown argument \"%s\"\n", arg.c_str());
      Usage(stderr);
      return kExitConfigError;
    }
  }
  if (validate_only && config_path.empty()) {
    std::fprintf(stderr, "otlpd: validate needs --config FILE\n");
    return kExitConfigError;
  }

  std::string text;
  if (config_path.empty()) {
    text = std::string(otlpd::DefaultConfigYaml());
  } else if (!ReadFile(config_path, &text)) {
    std::fprintf(stderr, "otlpd: cannot read config file \"%s\"\n", config_path.c_str());
    return kExitConfigError;
  }

  otlpd::ComponentRegistry registry;
  otlpd::RegisterBuiltinComponents(&registry);
  otlpd::Diagnostics diag(config_path.empty() ? "<default config>" : config_path);
  std::unique_ptr<otlpd::Config> config = otlpd::ParseConfig(text, registry, &diag);
  if (!diag.ok()) {
    std::fprintf(stderr, "otlpd: invalid configuration (%zu error%s):\n%s", diag.errors().size(),
                 diag.errors().size() == 1 ? "" : "s", diag.Format().c_str());
    return kExitConfigError;
  }
  if (validate_only) {
    std::printf("otlpd: configuration is valid\n");
    return 0;
  }

  auto logger = spdlog::stderr_color_mt("otlpd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(LogLevel(config->telemetry.log_level));
  if (config->telemetry.log_encoding == "json") {
    spdlog::set_formatter(std::make_unique<otlpd::JsonLogFormatter>());
    g_grpc_log_level = LogLevel(config->telemetry.log_level);
    gpr_set_log_function(GrpcLogAsJson);
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  }

  // Signals are taken by sigwait below; block them before any thread starts so that no
  // component thread receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client that goes away mid-write must not kill the daemon.
  signal(SIGPIPE, SIG_IGN);

  auto service = otlpd::Service::Build(*config, registry);
  if (!service.ok()) {
    spdlog::error("cannot build pipelines: {}", std::string(service.status().message()));
    return 1;
  }
  absl::Status started = (*service)->Start();
  if (!started.ok()) {
    spdlog::error("cannot start: {}", std::string(started.message()));
    return 1;
  }
  spdlog::info("otlpd {} running ({})", OTLPD_VERSION,
               config_path.empty() ? "embedded default config" : config_path);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down (timeout {})", sig == SIGINT ? "SIGINT" : "SIGTERM",
               absl::FormatDuration(shutdown_timeout));
  (*service)->Shutdown(shutdown_timeout);
  spdlog::info("shutdown complete");
  return 0;
}
