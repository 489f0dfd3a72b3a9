// The execution trace (Go's runtime/trace): what every goroutine and worker did, and when.
//
//   Go                              gocxx
//   trace.Start(w)                  go::trace::start(out)
//   trace.Stop()                    go::trace::stop()
//   trace.IsEnabled()               go::trace::is_enabled()
//   go tool trace trace.out         open the file in https://ui.perfetto.dev or chrome://tracing
//
// Between start and stop the runtime records, with a timestamp each: goroutine creation
// (and by whom), a goroutine starting to run on a worker, stopping (it blocks, with the
// reason and the blocking call's file:line; it yields; it returns), being unblocked (and by
// whom), a worker going idle and waking, and a slot handed to another worker (go::blocking,
// a goroutine running long). stop() writes them to `out` as Chrome's trace event JSON, which
// Perfetto and chrome://tracing open:
// - process "workers": a track per worker thread, with a slice per goroutine run
//   ("G7") and per idle period; creations, unblocks and slot hand-offs are instants on the
//   track of the worker where they happened.
// - process "goroutines": a track per goroutine, with its states as slices: "running",
//   "runnable" (unblocked, waiting for a worker), and the wait reason while blocked
//   ("chan receive", with args.site the blocking call).
// The file holds one event per line, in time order.
//
// Guarantees and costs
// - Off (the default), the scheduler pays one load of a global and a branch that is not
//   taken where a goroutine starts or stops running, is created or woken. On, each event
//   is about 48 bytes in a buffer of the thread that records it (a worker's own, so
//   workers never contend), kept in memory until stop(); docs/tuning.md has what tracing
//   costs a channel hand-off.
// - Events of a plain thread (one that wakes a goroutine) go on a track of their own.
// - Only one trace runs at a time: start throws std::logic_error while one is running, as
//   Go's Start returns an error. stop without start does nothing.
//
// Example:
//   std::ofstream f("trace.json");
//   go::trace::start(f);
//   run_the_workload();
//   go::trace::stop();  // writes trace.json
#pragma once

#include <iosfwd>

namespace go::trace {

// start begins recording, to be written to out by stop(); out must outlive the trace.
void start(std::ostream& out);

// stop ends the trace and writes it; it returns once the trace is written.
void stop();

// is_enabled reports whether a trace is being recorded.
bool is_enabled() noexcept;

}  // namespace go::trace
