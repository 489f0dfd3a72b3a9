// The profiles of go/pprof.hpp: goroutine, block and mutex (Go's runtime/pprof and the
// profiling half of runtime/mprof.go).
//
// Goroutine profile. The goroutines are listed under the registry of goroutine records
// (for_each_goroutine), then read without stopping anybody: the parked ones' stacks are held
// as one batch, with one barrier for the profile, and walked as the goroutine dump walks
// them (unwind.hpp: a worker about to resume one takes it back unless it is being read, and
// then waits for that one); the caller's own stack is unwound in place;
// a goroutine running elsewhere shows no stack. Each goroutine's labels are read through
// labels_of (labels.hpp), whatever its state, and become the sample's labels beside
// "state". Symbolizing happens after the lock.
//
// Block and mutex profiles. Each is a table of buckets keyed by stack (return addresses,
// innermost first), guarded by its own std::mutex, a leaf: nothing else is locked while it
// is held, and it is never taken under a runtime lock (record_block runs after the switch
// back, record_mutex after the semaphore's lock is released). The runtime's hooks
// (profile.hpp) cost a load and a branch while a rate is 0. Sampling and the weights are
// Go's (mprof.go: blocksampled, saveblockevent):
// - block: an event of d ns is recorded if d >= rate, else with probability d/rate, and then
//   counts rate/d events of rate ns, so that the expected totals are the true ones.
// - mutex: one event in rate is recorded, counting rate events and rate times its delay.
// A recorded stack includes the runtime's frames down to the hook; the writer leaves them
// out (profile_proto.hpp).
#include "go/pprof.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "go/runtime.hpp"
#include "runtime/labels.hpp"
#include "runtime/rand.hpp"
#include "runtime/profile.hpp"
#include "runtime/profile_proto.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/symbolize.hpp"
#include "runtime/unwind.hpp"

namespace go::detail {

std::atomic<std::int64_t> block_profile_rate{0};
std::atomic<int> mutex_profile_rate{0};

namespace {

struct bucket {
  double count = 0;
  std::int64_t delay = 0;  // ns
};

struct bucket_table {
  std::mutex mutex;  // guards buckets; a leaf lock
  std::map<std::vector<std::uintptr_t>, bucket> buckets;
};

bucket_table& block_table() {
  static auto& t = *new bucket_table;  // never destroyed: goroutines may record during exit
  return t;
}

bucket_table& mutex_table() {
  static auto& t = *new bucket_table;
  return t;
}

// A per-thread random number for sampling (rand.hpp), seeded from the clock.
std::uint64_t sample_random() noexcept {
  static thread_local std::uint64_t s = static_cast<std::uint64_t>(nanotime());
  return cheaprand(s);
}

void add_event(bucket_table& t, double count, std::int64_t delay, std::vector<std::uintptr_t> stack) {
  std::lock_guard lk(t.mutex);
  bucket& b = t.buckets[std::move(stack)];
  b.count += count;
  b.delay += delay;
}

// The waits Go's block profile counts: not sleeps, timers, network waits, go::blocking, or
// the runtime's own.
bool counts_as_block(wait_reason r) noexcept {
  switch (r) {
    case wait_reason::chan_receive:
    case wait_reason::chan_send:
    case wait_reason::select:
    case wait_reason::mutex_lock:
    case wait_reason::rw_mutex_rlock:
    case wait_reason::rw_mutex_lock:
    case wait_reason::wait_group_wait:
    case wait_reason::cond_wait:
    case wait_reason::semacquire: return true;
    default: return false;
  }
}

}  // namespace

std::int64_t block_start_slow(wait_reason r) noexcept { return counts_as_block(r) ? nanotime() : 0; }

namespace {

// record_block_at records a wait that started at `start` with the stack stack() returns.
template <class Stack>
void record_block_at(std::int64_t start, Stack stack) noexcept {
  std::int64_t rate = block_profile_rate.load(std::memory_order_relaxed);
  std::int64_t d = std::max<std::int64_t>(nanotime() - start, 1);
  if (rate <= 0) return;
  try {
    if (d >= rate) {
      add_event(block_table(), 1, d, stack());
    } else if (static_cast<std::int64_t>(sample_random() % static_cast<std::uint64_t>(rate)) <= d) {
      add_event(block_table(), static_cast<double>(rate) / static_cast<double>(d), rate, stack());
    }
  } catch (...) {  // out of memory: the event is lost, as a sampled one would be
  }
}

}  // namespace

void record_block(std::int64_t start) noexcept {
  record_block_at(start, [] { return own_frames(); });
}

struct suspended_block {
  std::int64_t start;
  std::vector<std::uintptr_t> stack;
};

suspended_block* block_suspend_slow(wait_reason r) noexcept {
  std::int64_t start = block_start_slow(r);
  if (!start) return nullptr;
  try {
    return new suspended_block{start, own_frames()};
  } catch (...) {  // out of memory: the event is lost
    return nullptr;
  }
}

void block_resumed(suspended_block* e) noexcept {
  record_block_at(e->start, [e] { return std::move(e->stack); });
  delete e;
}

std::int64_t mutex_start_slow(wait_reason r) noexcept {
  bool lock_wait = r == wait_reason::mutex_lock || r == wait_reason::rw_mutex_lock || r == wait_reason::rw_mutex_rlock;
  return lock_wait ? nanotime() : 0;
}

void record_mutex(std::int64_t since) noexcept {
  int rate = mutex_profile_rate.load(std::memory_order_relaxed);
  if (rate <= 0 || sample_random() % static_cast<std::uint64_t>(rate) != 0) return;
  std::int64_t d = std::max<std::int64_t>(nanotime() - since, 1);
  try {
    add_event(mutex_table(), rate, d * rate, own_frames());
  } catch (...) {
  }
}

namespace {

// --- the goroutine profile ---

struct goroutine_record {
  std::vector<std::uintptr_t> pcs;
  std::string state;
  std::string leaf;                                         // no stack: why
  std::vector<std::pair<std::string, std::string>> labels;  // the goroutine's, sorted by key
};

// The labels of g, read from any thread (labels.hpp).
std::vector<std::pair<std::string, std::string>> labels_copy(goroutine* g) {
  label_node* n = labels_of(g->labels);
  if (!n) return {};
  std::vector<std::pair<std::string, std::string>> copy = n->labels;
  labels_release(n);
  return copy;
}

std::vector<goroutine_record> goroutine_records() {
  // A goroutine listed, with its kind as it was then (a record being reused writes it).
  struct listing {
    goroutine* g;
    bool stackless;
  };
  struct ctx {
    std::vector<listing>* all;
    goroutine* self;
  };
  std::vector<goroutine_record> records;
  goroutine* self = current_goroutine();
  if (self) records.push_back({own_frames(), "running", "", labels_copy(self)});
  std::vector<listing> all;
  ctx c{&all, self};
  for_each_goroutine(
      [](goroutine* g, void* arg) {
        auto* c = static_cast<ctx*>(arg);
        if (g == c->self || g->state.load(std::memory_order_acquire) == park_dead) return;
        c->all->push_back({g, listed(g->kind).load(std::memory_order_relaxed) == parker_kind::coroutine});
      },
      &c);
  // The parked stacks, held with one barrier (unwind.hpp); a record is never freed, so the
  // pointers stay valid after the registry's lock (one may be another goroutine's by now).
  read_stacks(
      all,
      [](const listing& l) {
        return !l.stackless && l.g->state.load(std::memory_order_acquire) == park_parked ? l.g : nullptr;
      },
      [&](const listing& l, held_stacks* held) {
        goroutine* g = l.g;
        std::uint32_t state = g->state.load(std::memory_order_acquire);
        if (state == park_dead) return;
        goroutine_record r;
        r.state = state_name(g, state);
        r.labels = labels_copy(g);
        // Parked and held: the saved registers start the walk (as the dump's; a runnable
        // goroutine's context is its worker's to write, so it is not read).
        if (l.stackless) {
          r.leaf = "(stackless)";  // its frame is not a stack to walk (task.cpp)
        } else if (held && state == park_parked) {
          r.pcs = held->frames(g);
        } else if (state == park_running && g->reason.load(std::memory_order_relaxed) == wait_reason::syscall) {
          if (void* pc = g->syscall_pc.load(std::memory_order_relaxed))
            r.pcs.push_back(reinterpret_cast<std::uintptr_t>(pc));
        }
        // Parked but not held: it ran after it was listed.
        bool ran = state == park_running || state == park_parked;
        if (r.pcs.empty() && r.leaf.empty()) r.leaf = ran ? "(running)" : "(not started)";
        records.push_back(std::move(r));
      });
  return records;
}

profile_builder goroutine_profile() {
  profile_builder p;
  p.sample_types = {{"goroutine", "count"}};
  p.period_type = {"goroutine", "count"};
  p.time_nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  using labels = std::vector<std::pair<std::string, std::string>>;
  std::map<std::tuple<std::vector<std::uintptr_t>, std::string, std::string, labels>, std::int64_t> groups;
  for (goroutine_record& r : goroutine_records()) {
    ++groups[{std::move(r.pcs), std::move(r.state), std::move(r.leaf), std::move(r.labels)}];
  }
  for (auto& [key, n] : groups) {
    auto& [pcs, state, leaf, goroutine_labels] = key;
    labels all = goroutine_labels;
    all.insert(std::upper_bound(all.begin(), all.end(), std::pair<std::string, std::string>("state", ""),
                                [](const auto& a, const auto& b) { return a.first < b.first; }),
               {"state", state});
    p.samples.push_back({pcs, {n}, std::move(all), leaf});
  }
  return p;
}

profile_builder bucket_profile(bucket_table& t) {
  profile_builder p;
  p.sample_types = {{"contentions", "count"}, {"delay", "nanoseconds"}};
  p.period_type = {"contentions", "count"};
  p.time_nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::lock_guard lk(t.mutex);
  for (const auto& [pcs, b] : t.buckets) {
    p.samples.push_back({pcs, {std::llround(b.count), b.delay}, {}, ""});
  }
  return p;
}

profile_builder build(const std::string& name) {
  if (name == "goroutine") return goroutine_profile();
  if (name == "block") return bucket_profile(block_table());
  return bucket_profile(mutex_table());
}

// A string quoted as Go's %q quotes a label: quotes, backslashes and control characters
// escaped, the rest (UTF-8 included) as it is.
std::string go_quote(const std::string& s) {
  std::string q = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      q += '\\';
      q += static_cast<char>(c);
    } else if (c == '\n') {
      q += "\\n";
    } else if (c == '\t') {
      q += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      q += hex;
    } else {
      q += static_cast<char>(c);
    }
  }
  return q + "\"";
}

// The legacy text form (debug 1): per sample its values, "@" and its addresses, then its
// labels on one line as Go prints them (`# labels: {"k":"v", "state":"chan receive"}`) and
// one "#" line per frame.
void write_text(std::ostream& out, const std::string& name, const profile_builder& p) {
  std::vector<std::uintptr_t> calls;
  std::int64_t total = 0;
  for (const profile_sample& s : p.samples) {
    for (std::uintptr_t ret : s.pcs) calls.push_back(ret - 1);
    total += s.values.empty() ? 0 : s.values[0];
  }
  symbolize_all(std::move(calls));
  if (name == "goroutine") out << "goroutine profile: total " << total << "\n";
  else out << "--- " << (name == "block" ? "contention" : "mutex") << ":\ncycles/second=1000000000\n";
  for (const profile_sample& s : p.samples) {
    std::ostringstream line;
    if (name == "goroutine") line << s.values[0];
    else line << s.values[1] << " " << s.values[0];
    line << " @";
    for (std::uintptr_t pc : s.pcs) line << " 0x" << std::hex << pc << std::dec;
    out << line.str() << "\n";
    if (!s.labels.empty()) {
      out << "# labels: {";
      for (std::size_t i = 0; i < s.labels.size(); ++i) {
        out << (i ? ", " : "") << go_quote(s.labels[i].first) << ":" << go_quote(s.labels[i].second);
      }
      out << "}\n";
    }
    if (!s.leaf.empty()) out << "#\t" << s.leaf << "\n";
    for (std::uintptr_t pc : s.pcs) {
      for (const code_frame& f : frames_at(pc - 1)) {
        out << "#\t0x" << std::hex << pc - 1 << std::dec << "\t" << f.function << "\t" << f.file;
        if (f.line) out << ":" << f.line;
        out << "\n";
      }
    }
    out << "\n";
  }
}

}  // namespace

}  // namespace go::detail

namespace go {

using namespace detail;

void set_block_profile_rate(std::int64_t rate) noexcept {
  block_profile_rate.store(rate > 0 ? rate : 0, std::memory_order_relaxed);
}

int set_mutex_profile_fraction(int rate) noexcept {
  if (rate < 0) return mutex_profile_rate.load(std::memory_order_relaxed);
  return mutex_profile_rate.exchange(rate, std::memory_order_relaxed);
}

namespace pprof {

int profile::count() const {
  if (name_ == "goroutine") return num_goroutine();
  bucket_table& t = name_ == "block" ? block_table() : mutex_table();
  std::lock_guard lk(t.mutex);
  return static_cast<int>(t.buckets.size());
}

void profile::write_to(std::ostream& out, int debug) const {
  if (debug >= 2 && name_ == "goroutine") {
    dump_goroutines(out);
    return;
  }
  profile_builder p = build(name_);
  if (debug >= 1) write_text(out, name_, p);
  else p.write(out);
}

std::optional<profile> lookup(std::string_view name) {
  if (name == "goroutine" || name == "block" || name == "mutex") return profile(std::string(name));
  return std::nullopt;
}

std::vector<profile> profiles() {
  std::vector<profile> all;
  for (const char* name : {"block", "goroutine", "mutex"}) all.push_back(*lookup(name));
  return all;
}

}  // namespace pprof
}  // namespace go
