// Stackless goroutines: C++20 coroutines that run as goroutines on the same scheduler, run
// queues, channels and timers as the stackful ones.
//
//   Go                                   gocxx, in a function that returns go::task<T>
//   go f(x)                              go::spawn(f, x);   or   go::spawn(f(x));
//   y := f(x)   (f may block)            T y = co_await f(x);
//   ch <- v                              co_await go::async_send(ch, v);
//   v, ok := <-ch                        std::optional<T> v = co_await go::async_recv(ch);
//   for v := range ch { ... }            while (auto v = co_await go::async_recv(ch)) { ... *v ... }
//   <-done   (chan struct{})             bool ok = co_await go::async_recv(done);
//   select { case v := <-a: ...          co_await go::async_select(go::recv_case(a, ...),
//            case b <- x: ...                                      go::send_case(b, x, ...),
//            case <-ctx.Done(): ... }                              go::recv_case(ctx.done(), ...));
//   time.Sleep(d)                        co_await go::async_sleep(d);
//   runtime.Gosched()                    co_await go::async_yield();
//   mu.Lock()                            co_await go::async_lock(mu);        (go::mutex)
//   rw.Lock(); rw.RLock()                co_await go::async_lock(rw);  co_await go::async_rlock(rw);
//   wg.Wait()                            co_await go::async_wait(wg);
//   c.Wait()   (sync.Cond)               co_await go::async_wait(c);         (relocks c.L)
//   once.Do(f)                           co_await go::async_call(once, f);   (go::once)
//   err := sem.Acquire(ctx, n)           go::error err = co_await go::async_acquire(sem, ctx, n);
//   err := g.Wait()   (errgroup)         go::error err = co_await go::async_wait(g);
//   g.Go(f)   (errgroup, under a limit)  co_await go::async_go(g, f);
//   err := lim.Wait(ctx)   (rate)        go::error err = co_await go::async_wait(lim, ctx);
//   err := lim.WaitN(ctx, n)             go::error err = co_await go::async_wait_n(lim, ctx, n);
//     (these five are in go/semaphore.hpp, go/errgroup.hpp and go/rate.hpp)
//   <-ctx.Done()                         co_await go::async_recv(ctx.done());  (done() is a channel)
//   return y                             co_return y;
//   c.Read(b), ln.Accept(), net.Dial...  co_await go::net::async_read(c, buf), ... (go/async_io.hpp)
//
// A task<T> is a coroutine that starts suspended. go::spawn starts it as a goroutine; a task
// that co_awaits it runs it inline, in the same goroutine, and gets its value or its
// exception. Everything else that a goroutine does not block on (go::spawn, try_send,
// try_recv, close, len, a mutex's try_lock and unlock, wg.done, cond.signal) is called as in
// a stackful goroutine.
//
// Stackful or stackless. A stackless goroutine has no stack of its own: while it runs it
// uses its worker thread's, and while it waits it is its coroutine frames (the variables
// live across a co_await, usually a few hundred bytes) and its goroutine record. It blocks
// only at a co_await of the awaitables above: a plain function it calls cannot block. A
// blocking call there (ch.send, ch.recv, go::sleep, go::select without a default, a
// contended mutex's lock, wg.wait, sem.acquire, errgroup's go under a limit, once.call while
// another goroutine runs f) ends the process
// with "fatal error: blocking call in a stackless goroutine (use co_await)". A
// stackful goroutine (go::spawn of a function that does not return a task) can call any
// code and block anywhere, and costs a page of stack at least. README.md has the trade-off.
//
// Guarantees
// - A stackless goroutine is a goroutine: it counts in go::num_goroutine(), has an id
//   (go::this_goroutine::id()), shows in goroutine dumps with its wait reason in Go's words
//   and the line of the co_await where it waits ("blocked at file:line"), takes part in
//   deadlock detection ("all goroutines are asleep"), and runs on the run queues, `next`
//   slot and work stealing of the stackful ones. It may resume on another worker thread
//   after any co_await that waited, as a stackful goroutine does after a park.
// - A mutex, rw_mutex, wait_group, cond, once, semaphore, errgroup or rate limiter serves both
//   kinds of goroutine and plain threads in any mix, with the guarantees of its blocking
//   calls (go/sync.hpp: fairness, starvation mode's hand-off, the memory model, the mutex
//   profile): an awaitable is its blocking call's algorithm on the same queue, and takes
//   the co_await's line and Go's wait reason ("sync.Mutex.Lock") for dumps. Where the
//   blocking call would not wait (an unlocked mutex, a wait_group at zero, a semaphore with
//   the tokens free), the co_await neither suspends nor allocates; the rate limiter's wait
//   and cond's wait are tasks, each a frame from the pool.
// - A channel serves stackful goroutines, stackless goroutines and plain threads in any mix,
//   with the same guarantees (include/go/chan.hpp): first come, first served; a send
//   happens before the matching receive completes; close wakes every waiter. async_send on
//   a closed channel throws go::chan_error("send on closed channel") at the co_await.
// - co_await of a task runs it at once, inline (symmetric transfer: no trip through the run
//   queue, no growth of the thread's stack however deep the chain of co_awaits). Its
//   exception is rethrown at the co_await, as its value is returned there.
// - An exception escaping the task of a goroutine is Go's unrecovered panic, as for a
//   stackful goroutine (go/runtime.hpp): "panic: <value>", the goroutine, exit status 2.
//   The frames of the task have been unwound by then, so the traceback does not show them.
// - It runs on one worker thread from one co_await that waited to the next. go::blocking
//   there calls its function without handing the processor to another thread (the goroutine
//   cannot finish the call elsewhere); lock_os_thread does nothing; go::yield() does nothing
//   (co_await go::async_yield() yields).
// - Coroutine frames come from a per-thread pool of a few size classes (no global lock on
//   the hot path) and go back to it when the coroutine ends; a frame larger than the largest
//   class comes from operator new. Frames are never handed back to the system, as goroutine
//   records are not.
// - A frame's size is what the coroutine keeps across its co_awaits, its awaiters included
//   (an async_recv holds its channel, call site, state and the value: 32 bytes for an
//   int64_t; the waiter it parks with is in the goroutine's record). docs/tuning.md
//   measures the benchmark coroutines and lists what keeps frames small.
// - The arguments of go::spawn(f, args...) are decay-copied into a frame of their own, which
//   lives until the goroutine returns. go::spawn(f(args...)) saves that frame; it is safe
//   when f takes its parameters by value (a coroutine keeps references as references).
//
// Example:
//   go::task<void> producer(go::chan<int> ch) {
//     for (int i = 0; i < 3; ++i) co_await go::async_send(ch, i);
//     ch.close();
//   }
//   go::task<void> consumer(go::chan<int> ch, go::chan<int> sum) {
//     int s = 0;
//     while (auto v = co_await go::async_recv(ch)) s += *v;
//     co_await go::async_send(sum, s);
//   }
//   auto ch = go::make_chan<int>(), sum = go::make_chan<int>();
//   go::spawn(producer(ch));
//   go::spawn(consumer(ch, sum));
//   int total = *sum.recv();  // 3
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <type_traits>
#include <tuple>
#include <utility>

#include "go/chan.hpp"
#include "go/detail/park.hpp"
#include "go/detail/source_location.hpp"
#include "go/runtime.hpp"
#include "go/select.hpp"
#include "go/sync.hpp"
#include "go/time.hpp"

namespace go {

template <class T = void>
class task;

namespace detail {

// A coroutine frame from the small-object pool (runtime/small_alloc.hpp); frame_alloc
// throws std::bad_alloc.
void* frame_alloc(std::size_t bytes);
void frame_free(void* p, std::size_t bytes) noexcept;

// A stackless goroutine's record around the coroutine at `handle` (not yet started), and its
// end: coroutine_exit destroys the finished coroutine and tells the scheduler.
void* new_coroutine(void* handle);
void coroutine_exit(void* handle) noexcept;

// Room for the runtime's waiter (runtime/waiter.hpp): one per case in a select's awaiter,
// in the coroutine frame while it waits, as on a stackful goroutine's stack. task.cpp checks
// the size.
struct alignas(8) waiter_space {
  unsigned char raw[48];
};

// The suspending halves of the awaitables, called from await_suspend with the suspended
// coroutine `handle` of the calling stackless goroutine. Each either completes at once
// (the coroutine then goes on without a trip through the scheduler) or parks the goroutine
// (the scheduler resumes `handle` once woken).
// A goroutine waits at one co_await at a time, so a channel operation's waiter (and a
// sleep's timer) lives in the goroutine's record rather than in the awaiter, where it would
// take 48 bytes of the frame for every co_await in it.
// chan_send_suspend: null if it sent at once, else the waiter it parked with, whose
// waiter_succeeded says, once resumed, whether it sent or was woken by close. Throws
// chan_error when c is closed.
const waiter_space* chan_send_suspend(chan_core* c, void* elem, void* handle, const source_location& site);
// chan_recv_suspend: recv_received, recv_closed (closed and drained), or the address of the
// waiter it parked with, as chan_send_suspend's.
inline constexpr std::uintptr_t recv_received = 1, recv_closed = 2;
std::uintptr_t chan_recv_suspend(chan_core* c, void* out, void* handle, const source_location& site);
bool waiter_succeeded(const waiter_space* w) noexcept;

// What a select keeps in its awaiter while it waits: the word its wakers race for (Go's
// selectDone), its channels in lock order, a waiter per case, the poll order.
inline constexpr int async_select_max_cases = 64;
struct select_state {
  std::atomic<std::uint32_t> done{0};
  int nlocks = 0;
  chan_core** locks = nullptr;      // n entries
  waiter_space* waiters = nullptr;  // n entries
  std::uint8_t* order = nullptr;    // n entries
};
// select_suspend is Go's selectgo up to the park, for n channel cases (n <= 64): the index of
// the case that ran at once (*received: a receive got a value), -2 if none was ready and
// !block, or -1: parked, and select_resume, once woken, withdraws the other waiters and
// returns the case that won. Both throw chan_error for a send case on a closed channel.
int select_suspend(select_case* cases, int n, bool block, bool* received, select_state* st, void* handle,
                   const source_location& site);
int select_resume(select_case* cases, int n, bool* received, select_state* st);
// sleep_suspend: its timer is in the goroutine's record, as a channel operation's waiter.
bool sleep_suspend(std::int64_t when, void* handle, const source_location& site) noexcept;
void yield_suspend(void* handle) noexcept;

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};
template <class T>
inline constexpr bool returns_task<task<T>> = true;

// What every task's promise has: the frame pool, the task that awaits it, its exception.
struct task_promise_base {
  std::coroutine_handle<> continuation;  // the awaiting task; null for a goroutine's own task
  std::exception_ptr error;

  static void* operator new(std::size_t bytes) { return frame_alloc(bytes); }
  static void operator delete(void* p, std::size_t bytes) noexcept { frame_free(p, bytes); }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      if (std::coroutine_handle<> c = h.promise().continuation) return c;  // symmetric transfer
      coroutine_exit(h.address());
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  // A goroutine's own task has nobody to rethrow to: a panic (panic.cpp's terminate handler).
  void unhandled_exception() noexcept {
    if (!continuation) std::terminate();
    error = std::current_exception();
  }
};

template <class T>
struct task_promise : task_promise_base {
  std::optional<T> value;
  task<T> get_return_object() noexcept;
  template <class U = T>
    requires std::convertible_to<U&&, T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
};

template <>
struct task_promise<void> : task_promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace detail

// task<T> is a stackless goroutine's function: a coroutine that returns T (see the top).
// It starts when spawned or awaited; a task that is neither is destroyed without running.
// Move-only; awaited once, as an rvalue (co_await f(x)).
template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    task tmp(std::move(o));
    std::swap(h_, tmp.h_);
    return *this;
  }
  ~task() {
    if (h_) h_.destroy();
  }

  struct awaiter {
    handle_type h;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      h.promise().continuation = awaiting;
      return h;
    }
    T await_resume() {
      if (h.promise().error) std::rethrow_exception(h.promise().error);
      if constexpr (!std::is_void_v<T>) return std::move(*h.promise().value);
    }
  };
  awaiter operator co_await() && noexcept { return awaiter{h_}; }

  // release gives up the coroutine (go::spawn's).
  void* release() noexcept { return std::exchange(h_, {}).address(); }

 private:
  friend promise_type;
  explicit task(handle_type h) noexcept : h_(h) {}
  handle_type h_;
};

template <class T>
task<T> detail::task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> detail::task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}

// spawn starts t as a new stackless goroutine (Go's `go f(x)` for f returning task<void>).
// Throws std::bad_alloc; t is then destroyed without running.
[[gnu::always_inline]] inline void spawn(task<void> t) {
  void* h = t.release();
  void* g;
  try {
    g = detail::new_coroutine(h);
  } catch (...) {
    std::coroutine_handle<>::from_address(h).destroy();
    throw;
  }
  detail::start_goroutine(g);
}

namespace detail {

// The frame that keeps a spawned callable and its arguments alive while its task runs.
template <class F, class... Args>
task<void> run_owned(F f, Args... args) {
  co_await std::invoke(std::move(f), std::move(args)...);
}

}  // namespace detail

// spawn starts f(args...), a function returning task<void>, as a stackless goroutine. f and
// args are decay-copied and live until it returns (see the top).
template <class F, class... Args>
  requires std::invocable<std::decay_t<F>, std::decay_t<Args>...> &&
           detail::is_task<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>::value
[[gnu::always_inline]] inline void spawn(F&& f, Args&&... args) {
  using D = std::decay_t<F>;
  if constexpr (sizeof...(Args) == 0 && (std::is_empty_v<D> || std::is_pointer_v<D>)) {
    // Nothing to keep alive: a captureless lambda or a function without arguments.
    spawn(std::invoke(f));
  } else {
    spawn(detail::run_owned(D(std::forward<F>(f)), std::decay_t<Args>(std::forward<Args>(args))...));
  }
}

// --- Awaitables. Each takes the co_await's line as a default argument, for dumps. ---

// send_awaiter: co_await go::async_send(ch, v) sends v on ch (Go's `ch <- v`), waiting for
// a receiver or room in the buffer. Throws chan_error("send on closed channel").
template <class T>
class [[nodiscard]] GOCXX_CALL_SITE_ABI send_awaiter {
 public:
  send_awaiter(detail::chan_core* c, detail::stored_t<T> v, detail::call_site site)
      : c_(c), v_(std::move(v)), site_(site) {}
  // Inlined into the coroutine, as chan::send is into its caller, and so is the ring's fast
  // path beneath it (chan_ring.hpp).
  [[gnu::always_inline]] bool await_ready() {
    if constexpr (detail::ring_inline<detail::stored_t<T>>) return detail::ring_send_inline(c_, v_);
    return false;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    parked_ = detail::chan_send_suspend(c_, &v_, h.address(), site_.location());
    return parked_ != nullptr;
  }
  [[gnu::always_inline]] void await_resume() const {
    if (parked_ && !detail::waiter_succeeded(parked_)) throw chan_error("send on closed channel");
  }

 private:
  detail::chan_core* c_;
  detail::stored_t<T> v_;
  detail::call_site site_;
  const detail::waiter_space* parked_ = nullptr;  // the goroutine's waiter, if it parked
};

// recv_awaiter: co_await go::async_recv(ch) receives from ch (Go's `v, ok := <-ch`): the
// value, or an empty optional once ch is closed and drained. For chan<void>: true, or false
// once closed and drained.
template <class T>
class [[nodiscard]] GOCXX_CALL_SITE_ABI recv_awaiter {
  using E = detail::stored_t<T>;

 public:
  recv_awaiter(detail::chan_core* c, detail::call_site site) noexcept : c_(c), site_(site) {}
  [[gnu::always_inline]] bool await_ready() {
    if constexpr (detail::ring_inline<E>) {
      if (detail::ring_recv_inline<E>(c_, buf_)) {
        status_ = detail::recv_received;
        return true;
      }
    }
    return false;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    status_ = detail::chan_recv_suspend(c_, buf_, h.address(), site_.location());
    return status_ > detail::recv_closed;
  }
  [[gnu::always_inline]] auto await_resume() {
    bool ok = status_ > detail::recv_closed
                  ? detail::waiter_succeeded(reinterpret_cast<const detail::waiter_space*>(status_))
                  : status_ == detail::recv_received;
    if constexpr (std::is_void_v<T>) {
      return ok;
    } else {
      if (!ok) return std::optional<T>();
      T* p = std::launder(reinterpret_cast<T*>(buf_));
      std::optional<T> out(std::move(*p));
      p->~T();
      return out;
    }
  }

 private:
  detail::chan_core* c_;
  detail::call_site site_;
  // recv_received, recv_closed, or the address of the goroutine's waiter, if it parked.
  std::uintptr_t status_ = 0;
  alignas(E) unsigned char buf_[sizeof(E)];
};

template <class T>
send_awaiter<T> async_send(const chan<T>& ch, detail::stored_t<T> v, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return send_awaiter<T>(ch.core(), std::move(v), site);
}
template <class T>
send_awaiter<T> async_send(const send_chan<T>& ch, detail::stored_t<T> v,
                           detail::call_site::arg site = GOCXX_CALL_SITE) {
  return send_awaiter<T>(ch.core(), std::move(v), site);
}
template <class T>
  requires std::is_void_v<T>
send_awaiter<T> async_send(const chan<T>& ch, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return send_awaiter<T>(ch.core(), detail::void_elem{}, site);
}
template <class T>
recv_awaiter<T> async_recv(const chan<T>& ch, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return recv_awaiter<T>(ch.core(), site);
}
template <class T>
recv_awaiter<T> async_recv(const recv_chan<T>& ch, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return recv_awaiter<T>(ch.core(), site);
}

// async_select: co_await go::async_select(cases...) is go::select(cases...) (select.hpp:
// recv_case, send_case, send_signal_case, default_case; the same guarantees, handlers and
// result) in a stackless goroutine: it waits by suspending. A timeout is a recv_case on
// go::after(d), a cancel a recv_case on ctx.done(). At most 64 channel cases. The awaiter
// keeps the cases; the co_await's line is where a dump shows the goroutine blocked.
template <class... In>
  requires detail::handlers_return_one_type<detail::case_result_t<In>...>
class [[nodiscard]] GOCXX_CALL_SITE_ABI async_select {
  static constexpr int n_default = (0 + ... + (detail::is_default<std::remove_cvref_t<In>>::value ? 1 : 0));
  static_assert(n_default <= 1, "async_select: at most one default_case");
  static constexpr int n_chan = static_cast<int>(sizeof...(In)) - n_default;
  static_assert(n_chan <= detail::async_select_max_cases, "async_select: at most 64 channel cases");
  static constexpr std::size_t slots = n_chan == 0 ? 1 : static_cast<std::size_t>(n_chan);
  static constexpr bool index_result = std::is_void_v<detail::handler_result_t<detail::case_result_t<In>...>>;
  using result = detail::select_result_t<detail::case_result_t<In>...>;

 public:
  async_select(In&&... cases, detail::call_site::arg site = GOCXX_CALL_SITE)
      : cases_(std::forward<In>(cases)...), site_(site) {}
  async_select(In&&... cases, detail::call_site site) : cases_(std::forward<In>(cases)...), site_(site) {}

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    int k = 0, arg = 0;
    std::apply(
        [&](auto&... c) {
          auto one = [&](auto& cs) {
            if constexpr (detail::is_default<std::remove_cvref_t<decltype(cs)>>::value) {
              default_position_ = arg;
            } else {
              cs.bind(raw_[static_cast<std::size_t>(k)]);
              position_[static_cast<std::size_t>(k++)] = arg;
            }
            ++arg;
          };
          (one(c), ...);
          (void)one;
        },
        cases_);
    st_.locks = locks_.data();
    st_.waiters = waiters_.data();
    st_.order = order_.data();
    chosen_ =
        detail::select_suspend(raw_.data(), n_chan, n_default == 0, &received_, &st_, h.address(), site_.location());
    return chosen_ == -1;
  }
  result await_resume() {
    if (chosen_ == -1) chosen_ = detail::select_resume(raw_.data(), n_chan, &received_, &st_);
    int arg = chosen_ == -2 ? default_position_ : position_[static_cast<std::size_t>(chosen_)];
    return detail::finish_case<result, index_result, 0>(cases_, arg, received_);
  }

 private:
  std::tuple<std::remove_cvref_t<In>...> cases_;
  detail::call_site site_;
  int chosen_ = -1;
  int default_position_ = -1;
  bool received_ = false;
  std::array<detail::select_case, slots> raw_{};
  std::array<int, slots> position_{};
  detail::select_state st_;
  std::array<detail::chan_core*, slots> locks_{};
  std::array<std::uint8_t, slots> order_{};
  std::array<detail::waiter_space, slots> waiters_;
};

template <class... In>
async_select(In&&...) -> async_select<In...>;

// sleep_awaiter: co_await go::async_sleep(d) pauses the goroutine for at least d (Go's
// time.Sleep); a zero or negative d goes on at once.
class [[nodiscard]] GOCXX_CALL_SITE_ABI sleep_awaiter {
 public:
  sleep_awaiter(std::int64_t ns, detail::call_site site) noexcept : ns_(ns), site_(site) {}
  bool await_ready() const noexcept { return ns_ <= 0; }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    return detail::sleep_suspend(detail::deadline_after(ns_), h.address(), site_.location());
  }
  void await_resume() const noexcept {}

 private:
  std::int64_t ns_;
  detail::call_site site_;
};

template <class Rep, class Period>
sleep_awaiter async_sleep(std::chrono::duration<Rep, Period> d, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return sleep_awaiter(detail::duration_ns(d), site);
}

// yield_awaiter: co_await go::async_yield() lets other goroutines run (runtime.Gosched): the
// goroutine goes behind the goroutines that are runnable now.
struct [[nodiscard]] yield_awaiter {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const noexcept { detail::yield_suspend(h.address()); }
  void await_resume() const noexcept {}
};
inline yield_awaiter async_yield() noexcept { return {}; }

// --- Awaitables of package sync (go/sync.hpp). Each is its blocking form's algorithm, with
// the same queue, fairness and hand-off, so one object serves stackful and stackless
// goroutines and plain threads in any mix. The uncontended path neither suspends nor
// allocates; a wait that loops (a mutex waiter woken without the lock competes again) runs
// as a task of its own, started by symmetric transfer, whose frame comes from the frame pool.
// A lock cannot fail, as its blocking form cannot: a frame that cannot be had ends the
// process (std::terminate from a noexcept await_suspend), where the lock may already count
// the goroutine as its waiter. ---

namespace detail {

// slow_path holds the task an awaiter runs, by symmetric transfer, when its fast path fails.
template <class T>
class slow_path {
 public:
  std::coroutine_handle<> start(task<T> t, std::coroutine_handle<> awaiting) {
    return std::move(t_.emplace(std::move(t))).operator co_await().await_suspend(awaiting);
  }
  // result is the task's value or exception; nothing if it never started (the fast path won).
  T result() {
    if constexpr (std::is_void_v<T>) {
      if (!t_) return;
    }
    return std::move(*t_).operator co_await().await_resume();
  }

 private:
  std::optional<task<T>> t_;
};

}  // namespace detail

namespace detail {

// The three locks' two halves, as lock_awaiter runs them: ready() is the lock's fast path
// (true: held, nothing to wait for), slow() the task that finishes the lock from where
// ready() stopped. Each is the blocking form's own step (go/sync.hpp), not a copy of it.
struct mutex_lock_op {
  mutex& m;
  bool ready() noexcept { return m.lock_fast(); }
  task<void> slow(source_location site) { return m.lock_slow_async(wait_reason::mutex_lock, site); }
};
struct rw_lock_op {
  rw_mutex& rw;
  bool writer_held = false;  // ready() took writer_, and only the readers are left to wait for
  bool ready() noexcept {
    writer_held = rw.writer_.lock_fast();
    return writer_held && !rw.announce_writer();
  }
  task<void> slow(source_location site) { return rw.lock_slow_async(writer_held, site); }
};
struct rw_rlock_op {
  rw_mutex& rw;
  bool ready() noexcept { return rw.r_lock_fast(); }
  task<void> slow(source_location site) {
    return semacquire_async(rw.reader_sem_, false, wait_reason::rw_mutex_rlock, site);
  }
};

}  // namespace detail

// lock_awaiter: co_await go::async_lock(mu) locks mu (mu.lock(): sync.Mutex.Lock),
// go::async_lock(rw) locks rw for writing (rw.lock()), and go::async_rlock(rw) for reading
// (rw.r_lock()). It does not suspend when the lock's fast path takes it.
template <class Op>
class [[nodiscard]] GOCXX_CALL_SITE_ABI lock_awaiter {
 public:
  lock_awaiter(Op op, detail::call_site site) noexcept : op_(op), site_(site) {}
  lock_awaiter(const lock_awaiter&) = delete;
  lock_awaiter& operator=(const lock_awaiter&) = delete;
  bool await_ready() noexcept { return op_.ready(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
    return slow_.start(op_.slow(site_.location()), h);
  }
  void await_resume() noexcept { slow_.result(); }

 private:
  Op op_;
  detail::call_site site_;
  detail::slow_path<void> slow_;
};

// wait_group_awaiter: co_await go::async_wait(wg) waits until wg's counter is zero
// (wg.wait()); it does not suspend if it is zero already.
class [[nodiscard]] GOCXX_CALL_SITE_ABI wait_group_awaiter {
 public:
  wait_group_awaiter(wait_group& wg, detail::call_site site) noexcept : wg_(wg), site_(site) {}
  bool await_ready() const noexcept { return wg_.at_zero(); }
  bool await_suspend(std::coroutine_handle<> h) noexcept { return wg_.wait_suspend(h.address(), site_.location()); }
  void await_resume() const noexcept {}

 private:
  wait_group& wg_;
  detail::call_site site_;
};

inline lock_awaiter<detail::mutex_lock_op> async_lock(mutex& m, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return {detail::mutex_lock_op{m}, site};
}
inline lock_awaiter<detail::rw_lock_op> async_lock(rw_mutex& rw, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return {detail::rw_lock_op{rw}, site};
}
inline lock_awaiter<detail::rw_rlock_op> async_rlock(rw_mutex& rw, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return {detail::rw_rlock_op{rw}, site};
}
inline wait_group_awaiter async_wait(wait_group& wg, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return wait_group_awaiter(wg, site);
}
// once_awaiter: co_await go::async_call(o, f) is o.call(f) (Go's once.Do(f)) in a stackless
// goroutine: the first caller of either form runs f, the others wait (suspended, as on a
// contended mutex) until it has returned, then go on without running theirs. f is a plain
// function, which must not block, or returns task<void>, which the first caller awaits;
// what f throws propagates from the first caller's co_await, and the once is done anyway
// (go/sync.hpp). When the once is done, the co_await neither suspends nor allocates.
template <class F>
class [[nodiscard]] GOCXX_CALL_SITE_ABI once_awaiter {
 public:
  once_awaiter(once& o, F f, detail::call_site site) : o_(o), f_(std::move(f)), site_(site) {}
  once_awaiter(const once_awaiter&) = delete;
  once_awaiter& operator=(const once_awaiter&) = delete;
  bool await_ready() const noexcept { return o_.is_done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    return slow_.start(call_slow(o_, std::move(f_), site_), h);
  }
  void await_resume() { slow_.result(); }

 private:
  static task<void> call_slow(once& o, F f, detail::call_site site) {
    co_await lock_awaiter<detail::mutex_lock_op>({o.mutex_}, site);
    once::running r(o);
    if (!r.first) co_return;
    if constexpr (detail::is_task<std::invoke_result_t<F&>>::value) {
      co_await std::invoke(f);
    } else {
      std::invoke(f);
    }
  }

  once& o_;
  F f_;
  detail::call_site site_;
  detail::slow_path<void> slow_;
};

template <class F>
  requires std::invocable<std::decay_t<F>&>
once_awaiter<std::decay_t<F>> async_call(once& o, F&& f, detail::call_site::arg site = GOCXX_CALL_SITE) {
  return once_awaiter<std::decay_t<F>>(o, std::forward<F>(f), site);
}

// async_wait(cond&) is declared with go::cond (go/sync.hpp): co_await go::async_wait(c) is
// c.wait(): it unlocks c.L, waits for a signal or broadcast, and locks c.L again, with
// async_lock or async_rlock when c.L is a go::mutex, a go::rw_mutex or its r_locker (any
// other locker's lock() is called, and must not block the goroutine). It always suspends.

}  // namespace go
