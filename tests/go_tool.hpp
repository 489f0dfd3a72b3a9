// Running Go's tools from a test: the profile tests read what gocxx writes with
// `go tool pprof`, and report themselves skipped where Go is not installed.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace gocxx_test {

inline bool have_go() { return std::system("go version >/dev/null 2>&1") == 0; }

// pprof returns the output of `go tool pprof <args> <source>`, stderr included; source is a
// file or a URL.
inline std::string pprof(const std::string& args, const std::string& source) {
  std::string cmd = "go tool pprof " + args + " '" + source + "' 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return out;
}

}  // namespace gocxx_test
