#pragma once

#include <string>
#include <string_view>

namespace otlpd::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction
// unless OTLPD_KEEP_TEST_DIRS is set (useful to look at a failed test's daemon logs).
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "otlpd-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name.
  std::string File(std::string_view name) const;
  // Writes `content` to path()/name and returns that path.
  std::string Write(std::string_view name, std::string_view content) const;

 private:
  std::string path_;
};

// Whole content of a file; "" if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace otlpd::testing
