// boost-fiber-peer: the Boost.Fiber side of gocxx's side-by-side benchmark (bench/compare.py).
//
//   boost-fiber-peer -scenario NAME|all [-reps K] [-n N]
//   boost-fiber-peer -list
//
// Same command line and output as the Go peer (bench/peers/go/SCENARIOS.md): one line
// `NAME VALUE UNIT CHECKSUM` per result and repetition. Only the scenarios Boost.Fiber can
// express are listed; those needing select, timers (ctx_cancel_10k, timers_1m_start_stop: it has
// neither context nor timers, only sleep_for), or a reader/writer lock are left out, and so is
// ping_pong_hog: its hog never yields, and a fiber that never yields keeps its thread for good
// (with one thread the ping-pong would never run). The networking and blocking-call rows are left
// out too: Boost.Fiber has no I/O of its own, and a fiber in a system call holds its thread.
//
// Runtime, as a Boost.Fiber user would set it up for Go's model:
// - GOMAXPROCS threads (unset or invalid: the number of CPUs), each running Boost's
//   work_stealing algorithm with its default suspend = false: an idle thread spins looking for
//   work at 100% CPU (Boost.Fiber issue #203). With suspend = true a sleeping thread is woken
//   only for fibers it owns, never for new work queued by another thread (issue #327), so the
//   scenarios ran on one thread. Spinning needs a core per thread: on a machine with more
//   runnable threads than cores every cross-thread hand-off waits for the OS to run the spinning
//   thread (chan_pingpong at GOMAXPROCS=2: 170 us per round trip instead of about 1 us at a load
//   of 10 on 2 cores), so compare multi-threaded Boost.Fiber numbers on an idle machine only.
//   With GOMAXPROCS=1 the thread runs the default round_robin algorithm (work_stealing with one
//   thread loops forever looking for a victim to steal from).
// - A thread's main fiber cannot migrate, so the scenario body runs in a fiber of its own, like
//   gocxx's and Go's main goroutine; the other threads' main fibers sleep on a fiber condition
//   variable until the program ends.
// - Fibers get a 16 KiB stack (peer.hpp says why not Boost's default 128 KiB).
// - wait_group and channel capacities are explained in peer.hpp.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <thread>

#include "peer.hpp"

namespace {

using peer::scenario;

// max_procs reads GOMAXPROCS as Go does: a positive integer, else the number of CPUs.
unsigned max_procs() {
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const char* env = std::getenv("GOMAXPROCS");
  if (!env || !*env) return cpus;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(env, &end, 10);
  if (errno != 0 || *end != '\0' || v < 1 || v > 1 << 16) return cpus;
  return static_cast<unsigned>(v);
}

// The worker threads: each joins the work-stealing pool, then parks its main fiber until
// stop_workers().
class worker_pool {
 public:
  explicit worker_pool(unsigned procs) {
    if (procs == 1) return;  // round_robin, Boost's default, on this thread alone
    for (unsigned i = 1; i < procs; ++i) {
      threads_.emplace_back([this, procs] {
        peer::fibers::use_scheduling_algorithm<peer::fibers::algo::work_stealing>(procs);
        std::unique_lock<peer::fibers::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_; });
      });
    }
    peer::fibers::use_scheduling_algorithm<peer::fibers::algo::work_stealing>(procs);
  }

  ~worker_pool() {
    {
      std::lock_guard<peer::fibers::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  std::vector<std::thread> threads_;
  peer::fibers::mutex mu_;
  peer::fibers::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

// format_value prints v like Go's strconv.FormatFloat(v, 'f', 3, 64) with trailing zeros (and
// a trailing dot) removed.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

[[noreturn]] void usage(const char* prog, int status) {
  std::fprintf(stderr,
               "Usage of %s:\n"
               "  -list\n\tlist scenario names with their default N and exit\n"
               "  -n int\n\toverride the scenario's N (0: use the default table)\n"
               "  -reps int\n\trepetitions per scenario (default 1)\n"
               "  -scenario string\n\tscenario name, or all (default \"all\")\n",
               prog);
  std::exit(status);
}

bool parse_int(const std::string& s, long long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < INT32_MIN || v > INT32_MAX) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "all";
  long long reps = 1;
  long long n_override = 0;
  bool list = false;

  // Go's flag syntax: -flag or --flag, with the value as -flag=value or the next argument.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") break;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    std::string key(arg.substr(0, arg.find('=')));
    std::optional<std::string> value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) value = std::string(arg.substr(eq + 1));
    if (key == "h" || key == "help") usage(argv[0], 0);
    if (key == "list") {
      list = !value || *value == "true" || *value == "1";
      continue;
    }
    if (key != "scenario" && key != "reps" && key != "n") {
      std::fprintf(stderr, "flag provided but not defined: -%s\n", key.c_str());
      usage(argv[0], 2);
    }
    if (!value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "flag needs an argument: -%s\n", key.c_str());
        usage(argv[0], 2);
      }
      value = argv[++i];
    }
    if (key == "scenario") {
      name = *value;
    } else {
      long long v = 0;
      if (!parse_int(*value, &v)) {
        std::fprintf(stderr, "invalid value \"%s\" for flag -%s: parse error\n", value->c_str(), key.c_str());
        usage(argv[0], 2);
      }
      (key == "reps" ? reps : n_override) = v;
    }
  }

  std::vector<scenario> scenarios = peer::sched_scenarios();
  for (auto& s : peer::chan_scenarios()) scenarios.push_back(std::move(s));
  for (auto& s : peer::sync_scenarios()) scenarios.push_back(std::move(s));
  for (auto& s : peer::pattern_scenarios()) scenarios.push_back(std::move(s));
  if (list) {
    for (const auto& s : scenarios) std::printf("%s %d\n", s.name.c_str(), s.n);
    return 0;
  }
  std::vector<const scenario*> todo;
  for (const auto& s : scenarios) {
    if (name == "all" || s.name == name) todo.push_back(&s);
  }
  if (todo.empty()) {
    std::fprintf(stderr, "unknown scenario \"%s\" (try -list)\n", name.c_str());
    return 2;
  }
  if (reps < 1 || n_override < 0) {
    std::fprintf(stderr, "-reps must be >= 1 and -n >= 0\n");
    return 2;
  }

  worker_pool pool(max_procs());
  for (const scenario* s : todo) {
    int n = n_override > 0 ? static_cast<int>(n_override) : s->n;
    for (long long r = 0; r < reps; ++r) {
      peer::results res;
      peer::fibers::fiber([&res, s, n] { res = s->run(n); }).join();
      for (const auto& x : res) {
        std::printf("%s %s %s %lld\n", x.name.c_str(), format_value(x.value).c_str(), x.unit,
                    static_cast<long long>(x.checksum));
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
