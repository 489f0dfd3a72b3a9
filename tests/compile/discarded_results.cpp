// Compiled, not run, by discarded_results.cmake: the compiler must warn of a discarded result
// on exactly the lines marked `// discarded` (so they are [[nodiscard]]), and on no other
// line (what Go lets a program ignore stays ignorable).
#include <chrono>
#include <mutex>

#include "go/go.hpp"

using namespace std::chrono_literals;

void discards(go::chan<int> ch, go::chan<void> signal, go::context parent, go::mutex& mu, go::rw_mutex& rw,
              go::semaphore& sem, go::rate::limiter& lim, go::errgroup& g) {
  // Results whose loss is a bug.
  go::make_chan<int>();                                                // discarded
  ch.try_recv();                                                       // discarded
  signal.try_recv();                                                   // discarded
  ch.len();                                                            // discarded
  ch.cap();                                                            // discarded
  go::recv_case(ch);                                                   // discarded
  go::send_case(ch, 1);                                                // discarded
  go::send_signal_case(signal);                                        // discarded
  go::default_case();                                                  // discarded
  go::after(1s);                                                       // discarded
  go::tick(1s);                                                        // discarded
  go::now();                                                           // discarded
  go::new_timer(1s);                                                   // discarded
  go::new_timer_until(go::now() + 1s);                                 // discarded
  go::new_ticker(1s);                                                  // discarded
  go::with_cancel(parent);                                             // discarded
  go::with_cancel_cause(parent);                                       // discarded
  go::with_deadline(parent, go::now());                                // discarded
  go::with_deadline_cause(parent, go::now(), go::make_error("late"));  // discarded
  go::with_timeout(parent, 1s);                                        // discarded
  go::with_timeout_cause(parent, 1s, go::make_error("late"));          // discarded
  static const go::context_key<int> key;
  go::with_value(parent, key, 1);                                       // discarded
  go::without_cancel(parent);                                           // discarded
  go::with_stop_token(parent, std::stop_token());                       // discarded
  go::errgroup::with_context(parent);                                   // discarded
  g.try_go([] {});                                                      // discarded
  sem.try_acquire();                                                    // discarded
  lim.allow();                                                          // discarded
  lim.allow_n(2);                                                       // discarded
  lim.reserve();                                                        // discarded
  lim.reserve_n(2);                                                     // discarded
  mu.try_lock();                                                        // discarded
  rw.try_lock();                                                        // discarded
  rw.try_r_lock();                                                      // discarded
  go::make_error("lost");                                               // discarded
  go::wrap_error(go::make_error("lost"), "context");                    // discarded
  go::map(g, parent, go::recv_chan<int>(ch), [](int v) { return v; });  // discarded

  // Results a Go program may ignore.
  ch.recv();
  signal.recv();
  ch.try_send(1);
  signal.try_send();
  go::select(go::recv_case(ch), go::default_case());
  go::after_func(1s, [] {});
  go::after_func(parent, [] {});
  go::send_ctx(parent, ch, 1);
  go::recv_ctx(parent, ch);
  g.wait();
  std::lock_guard lock(mu);
}
