// Profiles of the goroutines, in pprof's format (Go's runtime/pprof, and the profiling rates
// of package runtime).
//
//   Go                                        gocxx
//   pprof.Lookup("goroutine")                 go::pprof::lookup("goroutine")
//   pprof.Profiles()                          go::pprof::profiles()
//   (*pprof.Profile).WriteTo(w, debug)        profile::write_to(out, debug)
//   (*pprof.Profile).Name(), Count()          profile::name(), profile::count()
//   runtime.SetBlockProfileRate(rate)         go::set_block_profile_rate(rate)
//   runtime.SetMutexProfileFraction(rate)     go::set_mutex_profile_fraction(rate)
//   pprof.StartCPUProfile(w)                  go::pprof::start_cpu_profile(out)
//   pprof.StopCPUProfile()                    go::pprof::stop_cpu_profile()
//   pprof.Labels("k", "v")                    go::pprof::label_set{{"k", "v"}}
//   pprof.Do(ctx, labels, f)                  go::pprof::with_labels(labels, f)  (`do` is a keyword)
//   pprof.SetGoroutineLabels(ctx)             go::pprof::set_goroutine_labels(labels)
//   pprof.ForLabels(ctx, f)                   go::pprof::goroutine_labels()
//   net/http/pprof                            go/pprof_http.hpp
//
// Profiles
// - "goroutine": every goroutine that exists, by stack. Goroutines with the same stack, the
//   same state and the same labels form one sample; the state is the sample's label "state",
//   in the words of Go's goroutine dump ("chan receive", "sync.Mutex.Lock", "runnable",
//   "running"), beside the goroutines' own labels (stackful and stackless alike), which
//   `go tool pprof -tags` lists and the text form prints as Go's does
//   (`# labels: {"state":"chan receive", "worker":"a"}`). A goroutine running on another
//   worker has no stack in the profile (the profile does not stop the world): its one frame
//   is named "(running)"; a runnable one "(not started)"; a stackless one (go::task), whose
//   suspended frames are not a stack to walk, "(stackless)". The profile holds the parked
//   goroutines' stacks still as one batch and reads them one at a time: a worker about to
//   resume one of them takes it back from the batch (it then shows as "(running)"), or, while
//   its stack is being read, waits for that read.
// - "block": where goroutines waited, and for how long, sampled as set_block_profile_rate
//   says: channel operations, select, go::mutex and rw_mutex, wait_group, cond, semaphores.
//   Sleeps, timers and network waits are not in it, as in Go. The stack is the waiter's.
// - "mutex": contended go::mutex and go::rw_mutex, charged to the stack of the goroutine
//   whose unlock woke a waiter (as Go does: the holder that delayed the others), with the
//   time that waiter waited, sampled as set_mutex_profile_fraction says.
//
// CPU profile. Between start_cpu_profile and stop_cpu_profile, SIGPROF interrupts the
// program 100 times per second of CPU time it uses and records where the interrupted thread
// was. As Go's (since 1.18, on Linux), each worker thread has a timer of its own on its own
// CPU time, whose signal goes to that thread, so each thread's samples follow the CPU it
// uses however many are busy; a worker thread started during the profile gets one as it
// starts. The other threads (the program's own, and a worker whose timer the kernel refuses)
// share one process-wide timer (setitimer(ITIMER_PROF)), whose signal Linux sends to a thread
// of its choosing, one at a time. A sample records the address the thread was at, the
// return addresses found by following frame pointers, and the labels of the goroutine it
// was running. stop writes the samples to `out` as profile.proto, with sample types
// samples/count and cpu/nanoseconds and the labels on the samples
// (`go tool pprof -tagfocus=worker=a`).
// - Stacks: the innermost function is always right; its callers are found only through
//   frame pointers, so build the code to profile with -fno-omit-frame-pointer (GCC and
//   clang omit them at -O1 and above). Without them a sample has its innermost function and
//   whichever callers the chain of saved frame pointers still reaches.
// - A sample carries the labels of the goroutine the signal interrupted: a stackful one
//   running on its own stack, or a stackless one (go::task) running on its worker's stack
//   (with it, the few instructions of the scheduler around its resumption). A sample
//   elsewhere in the scheduler, or on a plain thread, has none.
// - The profiler owns SIGPROF while on, and leaves its handler installed after stop (a
//   signal already sent must not kill the program); a program's own SIGPROF handler is
//   replaced. A system call interrupted by the signal restarts (SA_RESTART), except those
//   that Linux never restarts (sleeps, epoll_wait, futex waits): the runtime retries those.
// - When more samples arrive than the profiler drains (every 100 ms, by a thread of its
//   own), the excess is dropped and counted in a sample with the frame "(lost samples)".
// - Only one CPU profile runs at a time: start throws std::logic_error ("cpu profiling
//   already in use") while one runs, as Go's StartCPUProfile returns an error. stop without
//   start does nothing.
//
// Labels (Go's profiler labels): a goroutine carries a set of key/value labels, empty unless
// set, which a goroutine it spawns inherits (a copy taken at the spawn). with_labels(l, f)
// runs f with the goroutine's labels and l merged (l's values win), then restores them, even
// if f throws; set_goroutine_labels replaces them. Outside a goroutine both do nothing (a
// plain thread has no labels). The CPU and goroutine profiles record them.
//
// Format. write_to(out) writes profile.proto, gzip-compressed, which `go tool pprof` and
// every pprof tool reads: `go tool pprof -top prog goroutine.pb.gz`, or `-traces`. Frames
// are symbolized when the profile is written (function and file:line, through addr2line as
// the goroutine dump is, inlined calls as frames of their own), so the file needs no binary
// beside it. The runtime's own frames are left out, as Go's profiles leave out runtime
// internals. write_to(out, 1) writes the legacy text form of each sample instead, and for
// "goroutine", write_to(out, 2) writes the goroutine dump (go::dump_goroutines).
//
// Costs. CPU profile: off, nothing (a worker thread that starts or ends takes a lock to
// list itself for the timers). On, a timer per worker thread, made at start and deleted at
// stop, and a signal per 10 ms of CPU time, whose handler walks
// at most 64 frames and stores them in a fixed ring (no allocation, no lock), and a thread
// that drains the ring 10 times a second; stop symbolizes. Labels: a spawn copies one
// pointer and bumps a count when the spawner has labels; with_labels allocates the merged
// set. Block and mutex profiles: both rates are 0 by default: profiling is off, and a park
// pays one load and a branch on a global for it. When on, a sampled event walks its goroutine's stack and takes
// a lock; writing a profile runs addr2line. Symbolizing takes a second or more for a large
// program the first time, then is cached.
//
// Example:
//   go::set_block_profile_rate(1);
//   run_the_workload();
//   std::ofstream f("block.pb.gz");
//   go::pprof::lookup("block")->write_to(f);
//   // go tool pprof -top block.pb.gz
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace go {

namespace detail {
struct label_node;
// hold_goroutine_labels returns the calling goroutine's labels with a reference of the
// caller's; restore_goroutine_labels makes them the goroutine's labels again, consuming it.
label_node* hold_goroutine_labels() noexcept;
void restore_goroutine_labels(label_node* labels) noexcept;
}  // namespace detail

// set_block_profile_rate controls the block profile: on average one blocking event per
// `rate` nanoseconds spent blocked is recorded (an event blocked for `rate` ns or longer
// always is; a shorter one with probability its duration / rate, counted rate/duration
// times to remove the bias, as Go does). 1 records every event; 0 or less turns it off.
void set_block_profile_rate(std::int64_t rate) noexcept;

// set_mutex_profile_fraction controls the mutex profile: on average one in `rate`
// contention events is recorded (its count and delay then count `rate` times). 0 turns it
// off; a negative rate only returns the current one. Returns the previous rate.
int set_mutex_profile_fraction(int rate) noexcept;

namespace pprof {

// profile is a named profile (Go's *pprof.Profile): a handle; the samples are read when it
// is written.
class profile {
 public:
  // name returns the profile's name: "goroutine", "block" or "mutex".
  const std::string& name() const noexcept { return name_; }
  // count returns the number of samples in the profile now: goroutines for "goroutine",
  // distinct stacks for the others.
  int count() const;
  // write_to writes the profile to out: profile.proto, gzip-compressed (debug 0); the text
  // form (debug 1); the goroutine dump ("goroutine", debug 2).
  void write_to(std::ostream& out, int debug = 0) const;

 private:
  friend std::optional<profile> lookup(std::string_view name);
  explicit profile(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// lookup returns the profile of that name, or nothing if there is none.
std::optional<profile> lookup(std::string_view name);

// profiles returns every profile, sorted by name.
std::vector<profile> profiles();

// start_cpu_profile starts the CPU profile, to be written to out by stop_cpu_profile; out
// must outlive it. Throws std::logic_error("cpu profiling already in use") while one runs,
// and std::system_error if the timer or the signal handler cannot be set up.
void start_cpu_profile(std::ostream& out);

// stop_cpu_profile stops the CPU profile and writes it; it returns once it is written. It
// does nothing if no profile runs.
void stop_cpu_profile();

// label_set is a set of profiler labels, key to value (Go's LabelSet).
using label_set = std::map<std::string, std::string>;

// goroutine_labels returns the labels of the calling goroutine (empty on a plain thread).
label_set goroutine_labels();

// set_goroutine_labels replaces the calling goroutine's labels with `labels` (Go's
// SetGoroutineLabels); goroutines it spawns from now on inherit them.
void set_goroutine_labels(const label_set& labels);

// with_labels runs f with the calling goroutine's labels extended by `labels` (a key already
// set takes labels' value), then restores the labels it had, also when f throws (Go's Do).
// Goroutines that f spawns inherit the extended set. Returns what f returns.
//
// Example:
//   go::pprof::with_labels({{"worker", "a"}}, [&] { serve_requests(); });
template <class F>
decltype(auto) with_labels(const label_set& labels, F&& f) {
  label_set merged = goroutine_labels();
  for (const auto& [key, value] : labels) merged[key] = value;
  struct restore {
    detail::label_node* old;
    ~restore() { detail::restore_goroutine_labels(old); }
  } restore_on_return{detail::hold_goroutine_labels()};
  set_goroutine_labels(merged);
  return std::invoke(std::forward<F>(f));
}

}  // namespace pprof
}  // namespace go
