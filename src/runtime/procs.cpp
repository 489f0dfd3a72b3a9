// GOMAXPROCS: how many workers run goroutines by default. As Go 1.25 does: the CPUs in the
// affinity mask, lowered to the cgroup CPU quota (rounded up) when there is one; the
// environment variable GOMAXPROCS overrides both.
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

namespace go::detail {

namespace {

// cgroup v2: "max 100000" or "<quota> <period>" in cpu.max of our cgroup.
double cgroup_v2_limit() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line, path;
  while (std::getline(cg, line)) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  }
  double limit = 0;
  for (std::string p = path;; p = p.substr(0, p.find_last_of('/'))) {
    std::ifstream f("/sys/fs/cgroup" + p + "/cpu.max");
    std::string quota;
    double period = 0;
    if (f >> quota >> period && quota != "max" && period > 0) {
      double l = std::stod(quota) / period;
      limit = limit == 0 ? l : std::min(limit, l);
    }
    if (p.empty() || p == "/") break;
  }
  return limit;
}

double cgroup_v1_limit() {
  std::ifstream q("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"), p("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us");
  double quota = 0, period = 0;
  if (q >> quota && p >> period && quota > 0 && period > 0) return quota / period;
  return 0;
}

}  // namespace

int default_max_procs() noexcept {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once at start-up; the library never calls setenv
  if (const char* env = std::getenv("GOMAXPROCS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  int n = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = std::max(1, CPU_COUNT(&set));
  try {
    double limit = cgroup_v2_limit();
    if (limit == 0) limit = cgroup_v1_limit();
    if (limit > 0) n = std::min(n, std::max(1, static_cast<int>(limit + 0.999999)));
  } catch (...) {
  }
  return n;
}

}  // namespace go::detail
