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
//
// Profiles
// - "goroutine": every goroutine that exists, by stack. Goroutines with the same stack and
//   the same state form one sample; the state is the sample's label "state", in the words of
//   Go's goroutine dump ("chan receive", "sync.Mutex.Lock", "runnable", "running"). A
//   goroutine running on another worker has no stack in the profile (the profile does not
//   stop the world): its one frame is named "(running)"; a runnable one "(not started)". Like
//   the goroutine dump, the profile reads the stacks of parked goroutines that may resume
//   while it reads (every read is checked: a stack that changes ends its walk early), which
//   ThreadSanitizer reports as a race when goroutines run meanwhile.
// - "block": where goroutines waited, and for how long, sampled as set_block_profile_rate
//   says: channel operations, select, go::mutex and rw_mutex, wait_group, cond, semaphores.
//   Sleeps, timers and network waits are not in it, as in Go. The stack is the waiter's.
// - "mutex": contended go::mutex and go::rw_mutex, charged to the stack of the goroutine
//   whose unlock woke a waiter (as Go does: the holder that delayed the others), with the
//   time that waiter waited, sampled as set_mutex_profile_fraction says.
//
// Format. write_to(out) writes profile.proto, gzip-compressed, which `go tool pprof` and
// every pprof tool reads: `go tool pprof -top prog goroutine.pb.gz`, or `-traces`. Frames
// are symbolized when the profile is written (function and file:line, through addr2line as
// the goroutine dump is, inlined calls as frames of their own), so the file needs no binary
// beside it. The runtime's own frames are left out, as Go's profiles leave out runtime
// internals. write_to(out, 1) writes the legacy text form of each sample instead, and for
// "goroutine", write_to(out, 2) writes the goroutine dump (go::dump_goroutines).
//
// Costs. Both rates are 0 by default: profiling is off, and a park pays one load and a
// branch on a global for it. When on, a sampled event walks its goroutine's stack and takes
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
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace go {

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

}  // namespace pprof
}  // namespace go
