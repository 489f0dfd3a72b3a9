// Synchronization (Go's package sync).
//
//   Go                            gocxx
//   var mu sync.Mutex             go::mutex mu;
//   mu.Lock(); mu.Unlock()        mu.lock(); mu.unlock();   or std::lock_guard / std::unique_lock
//   mu.TryLock()                  mu.try_lock()
//   var rw sync.RWMutex           go::rw_mutex rw;
//   rw.Lock(); rw.Unlock()        rw.lock(); rw.unlock();
//   rw.RLock(); rw.RUnlock()      rw.r_lock(); rw.r_unlock();   or std::shared_lock
//   rw.TryLock(), TryRLock()      rw.try_lock(), rw.try_r_lock()
//   rw.RLocker()                  rw.r_locker()
//   var l sync.Locker = &mu       go::locker l = mu;     (any type with lock() and unlock())
//   c := sync.NewCond(&mu)        go::cond c(mu);
//   c.Wait(); c.Signal()          c.wait(); c.signal();
//   c.Broadcast(); c.L            c.broadcast(); c.L
//   var once sync.Once            go::once once;
//   once.Do(f)                    once.call(f);
//   var wg sync.WaitGroup         go::wait_group wg;
//   wg.Add(n); wg.Done()          wg.add(n); wg.done();
//   wg.Wait()                     wg.wait();
//   wg.Go(f)                      wg.go(f);              (Go 1.25)
//   f := sync.OnceFunc(g)         auto f = go::once_func(g);
//   v := sync.OnceValue(g)        auto v = go::once_value(g);     (v() returns const T&)
//   vs := sync.OnceValues(g)      auto vs = go::once_values(g);   (g returns a pair: auto [a, b] = vs();)
//   p := sync.Pool{New: f}        go::pool<T> p(f);      (f returns std::unique_ptr<T>)
//   x := p.Get().(*T); p.Put(x)   std::unique_ptr<T> x = p.get(); p.put(std::move(x));
//   in a stackless goroutine:     co_await go::async_lock(mu), async_rlock(rw), async_wait(wg),
//                                 async_wait(c)   (go/task.hpp)
//
// Guarantees
// - Everything here parks the goroutine, never the worker thread, and also works from plain
//   OS threads (which then block on a futex); goroutines and threads may share one object.
// - Objects must not move while in use: they are neither copyable nor movable (Go's noCopy).
//   A default-constructed object is ready to use, as Go's zero value (a cond needs its L).
//   Nothing allocates, except cond::wait when L's unlock throws, once_func and its relatives
//   (one allocation when made), a pool (its shards, and what its new function makes), and
//   the awaitable forms (go/task.hpp) when they wait: a coroutine frame from the frame pool.
// - Misuse is what Go makes it. Unlocking a mutex that is not locked, or an rw_mutex's write
//   or read side that is not held, is a fatal error, as in Go: the program prints
//   "fatal error: sync: unlock of unlocked mutex" (or "sync: Unlock of unlocked RWMutex",
//   "sync: RUnlock of unlocked RWMutex") and the goroutine dump on stderr, and exits with
//   status 2; nothing can catch it. Such an unlock means the lock no longer knows who holds
//   it, so no state it could be left in would make the critical sections it guards correct
//   again; and unlock must not throw, since std::lock_guard and std::unique_lock call it in
//   destructors (the standard's Lockable requirements say it throws nothing). What Go makes
//   a panic throws go::sync_error with Go's message and leaves the object unchanged:
//   "sync: negative WaitGroup counter", "sync: WaitGroup misuse: Add called concurrently
//   with Wait".
// - Go's memory model: the n-th unlock of a mutex happens before the (n+1)-th lock returns;
//   for an rw_mutex, unlock happens before every later lock and r_lock, and r_unlock before
//   the next lock; signal and broadcast happen before the wait they unblock returns; the
//   return of the function called by once.call happens before any once.call returns; a done
//   happens before the wait it unblocks returns.
// - Locks are not owned, as in Go: one goroutine (or thread) may lock and another unlock.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "go/detail/park.hpp"
#include "go/detail/source_location.hpp"
#include "go/runtime.hpp"

namespace go {

// sync_error is thrown for misuse that Go reports with a panic; what() is Go's message.
class sync_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

class rw_mutex;
class cond;
template <class T>
class task;
class GOCXX_CALL_SITE_ABI wait_group_awaiter;
template <class F>
class GOCXX_CALL_SITE_ABI once_awaiter;

namespace detail {

struct mutex_lock_op;  // go/task.hpp's async_lock and async_rlock
struct rw_lock_op;
struct rw_rlock_op;

// sema is a counting semaphore that parks (Go's runtime sema, runtime/sema.go), one per use
// instead of Go's table keyed by address. src/runtime/sema.cpp has the protocol.
struct sema {
  std::atomic<std::uint32_t> count{0};
  std::atomic<std::uint32_t> nwait{0};  // waiters queued or about to recheck count
  std::atomic<std::uint32_t> lock{0};   // runtime lock guarding the queue
  void* head = nullptr;                 // FIFO of detail::waiter, guarded by lock
  void* tail = nullptr;
};

// semacquire waits until count > 0 and decrements it. A waiter queues at the back, or at the
// front if lifo (a woken mutex waiter that lost the race again).
void semacquire(sema& s, bool lifo, wait_reason reason, const source_location& site) noexcept;
// semacquire_async is semacquire in a stackless goroutine (go/task.hpp): it completes at once,
// without suspending, if a permit is there.
go::task<void> semacquire_async(sema& s, bool lifo, wait_reason reason, source_location site);
// semrelease increments count and wakes the first waiter. With handoff, the count goes to
// that waiter directly and a goroutine caller yields to it (starving mutex).
void semrelease(sema& s, bool handoff) noexcept;

// sync_fatal reports a misused lock as Go's fatal does (see the top) and exits.
[[noreturn]] void sync_fatal(const char* msg) noexcept;

}  // namespace detail

// async_wait (go/task.hpp) is cond::wait in a stackless goroutine.
task<void> async_wait(cond& c, detail::source_location site = detail::source_location::current());

// mutex is a mutual exclusion lock (Go's sync.Mutex). It meets the standard Lockable
// requirements, so std::lock_guard, std::unique_lock and std::scoped_lock work with it.
//
// Fairness, in Go's words: a mutex operates in two modes, normal and starvation. In normal
// mode waiters are queued in FIFO order, but a woken waiter does not own the mutex and
// competes with new arriving goroutines, which have an advantage (they are already running).
// A waiter that fails to acquire the mutex for more than 1 ms switches the mutex to
// starvation mode: ownership is handed off from the unlocking goroutine directly to the
// waiter at the front of the queue; new arrivals do not try to acquire it and queue at the
// tail. The mutex returns to normal mode when a waiter that gets it is the last one or
// waited less than 1 ms. Normal mode is much faster; starvation mode prevents tail latency.
//
// lock spins briefly first (only with more than one worker, and nothing else runnable on
// the caller's worker), then parks. Uncontended lock and unlock are one compare-and-swap
// each (bench/peer_scenarios.cpp, sync_mutex_uncontended). unlock of an unlocked mutex is
// fatal: "fatal error: sync: unlock of unlocked mutex" (see the top).
//
// Example:
//   go::mutex mu;
//   std::map<std::string, int> hits;  // guarded by mu
//   void record(const std::string& page) {
//     std::lock_guard lock(mu);
//     ++hits[page];
//   }
class mutex {
 public:
  mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  // lock locks the mutex, blocking until it is available.
  void lock(const detail::source_location& site = detail::source_location::current()) noexcept {
    if (!lock_fast()) lock_slow(detail::wait_reason::mutex_lock, site);
  }

  // try_lock locks the mutex if that does not block; it fails while the mutex is starving.
  [[nodiscard]] bool try_lock() noexcept {
    std::int32_t old = state_.load(std::memory_order_relaxed);
    if (old & (locked | starving)) return false;
    return state_.compare_exchange_strong(old, old | locked, std::memory_order_acquire, std::memory_order_relaxed);
  }

  // unlock unlocks the mutex. It is a fatal error if the mutex is not locked.
  void unlock() noexcept {
    std::int32_t held = locked;
    if (!state_.compare_exchange_strong(held, 0, std::memory_order_release, std::memory_order_relaxed)) {
      unlock_slow(held);
    }
  }

 private:
  friend class rw_mutex;
  friend struct detail::mutex_lock_op;
  friend struct detail::rw_lock_op;

  // state_: bit 0 locked, bit 1 a woken waiter is running, bit 2 starving; the rest counts
  // the waiters parked on sema_ (Go's mutexLocked, mutexWoken, mutexStarving).
  static constexpr std::int32_t locked = 1, woken = 2, starving = 4, waiter_shift = 3;

  // lock_fast is lock's uncontended path: one compare-and-swap.
  bool lock_fast() noexcept {
    std::int32_t unlocked = 0;
    return state_.compare_exchange_strong(unlocked, locked, std::memory_order_acquire, std::memory_order_relaxed);
  }

  // What lock's slow path keeps between its tries (src/sync/mutex.cpp): lock_or_queue
  // competes for the lock until it holds it (true) or has counted itself a waiter that must
  // acquire sema_ (false; `lifo` says where it queues), and lock_woken, once it has, either
  // takes the lock (true: handed off) or readies the next lock_or_queue. Both forms of lock
  // (lock_slow, lock_slow_async) are these two steps around their own semacquire.
  struct lock_wait {
    std::int32_t old;
    std::int64_t wait_start = 0;
    bool is_starving = false;  // this waiter has waited longer than the threshold
    bool awoke = false;        // this goroutine owns the woken bit
    bool lifo = false;         // it has waited before: it queues at the front
    int iter = 0;
  };
  bool lock_or_queue(lock_wait& st) noexcept;
  bool lock_woken(lock_wait& st) noexcept;

  void lock_slow(detail::wait_reason reason, const detail::source_location& site) noexcept;
  task<void> lock_slow_async(detail::wait_reason reason, detail::source_location site);
  void unlock_slow(std::int32_t seen) noexcept;

  std::atomic<std::int32_t> state_{0};
  detail::sema sema_;
};

// locker is a reference to anything that can be locked and unlocked (Go's sync.Locker): a
// go::mutex, a std::mutex, an rw_mutex's read side (r_locker), a user type. It does not own
// what it refers to, which must outlive it. A locker is itself Lockable.
class locker {
 public:
  template <class L>
    requires(!std::same_as<std::remove_cv_t<L>, locker>) && requires(L& l) {
      l.lock();
      l.unlock();
    }
  locker(L& l) noexcept  // implicit, as a Go value converts to the Locker interface
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(l)))),
        lock_([](void* p) { static_cast<L*>(p)->lock(); }),
        unlock_([](void* p) { static_cast<L*>(p)->unlock(); }),
        kind_(std::same_as<std::remove_cv_t<L>, mutex>      ? kind::mutex
              : std::same_as<std::remove_cv_t<L>, rw_mutex> ? kind::rw_mutex
                                                            : kind::other) {}

  void lock() { lock_(object_); }
  void unlock() { unlock_(object_); }

 private:
  friend class rw_mutex;
  friend task<void> async_wait(cond& c, detail::source_location site);

  // What the object is, for async_wait(cond&), which relocks a go:: lock with its awaitable.
  enum class kind : std::uint8_t { other, mutex, rw_mutex, rw_mutex_read };

  locker(void* object, void (*lock)(void*), void (*unlock)(void*), kind k) noexcept
      : object_(object), lock_(lock), unlock_(unlock), kind_(k) {}

  void* object_;
  void (*lock_)(void*);
  void (*unlock_)(void*);
  kind kind_;
};

// rw_mutex is a reader/writer mutual exclusion lock (Go's sync.RWMutex): held by any number
// of readers or by one writer. It meets the standard Lockable and SharedLockable
// requirements (lock/unlock for writers, lock_shared/unlock_shared for std::shared_lock);
// r_lock and r_unlock are Go's names for the shared side.
//
// In Go's words: if a goroutine holds an rw_mutex for reading and another goroutine might
// call lock, no goroutine should expect to acquire a read lock until the initial read lock
// is released. A blocked lock call excludes new readers, so a writer is never starved by a
// stream of readers, and recursive read locking can deadlock. Writers queue among
// themselves on a go::mutex (with its starvation mode).
//
// Misuse is fatal (see the top): "sync: Unlock of unlocked RWMutex" (unlock without the
// write lock) or "sync: RUnlock of unlocked RWMutex" (r_unlock without a read lock).
//
// Example:
//   go::rw_mutex mu;
//   std::unordered_map<std::string, std::string> cache;  // guarded by mu
//   std::optional<std::string> get(const std::string& k) {
//     std::shared_lock lock(mu);
//     auto it = cache.find(k);
//     return it == cache.end() ? std::nullopt : std::optional(it->second);
//   }
//   void put(std::string k, std::string v) {
//     std::lock_guard lock(mu);
//     cache[std::move(k)] = std::move(v);
//   }
class rw_mutex {
 public:
  rw_mutex() noexcept = default;
  rw_mutex(const rw_mutex&) = delete;
  rw_mutex& operator=(const rw_mutex&) = delete;

  // lock locks for writing: it waits for the writer and the readers holding it to leave.
  void lock(const detail::source_location& site = detail::source_location::current()) noexcept;
  [[nodiscard]] bool try_lock() noexcept;
  // unlock releases the write lock. It is a fatal error if not locked for writing.
  void unlock() noexcept;

  // r_lock locks for reading; it waits while a writer holds or waits for the lock.
  void r_lock(const detail::source_location& site = detail::source_location::current()) noexcept {
    if (!r_lock_fast()) detail::semacquire(reader_sem_, false, detail::wait_reason::rw_mutex_rlock, site);
  }
  [[nodiscard]] bool try_r_lock() noexcept;
  // r_unlock undoes one r_lock. It is a fatal error if not locked for reading.
  void r_unlock() noexcept {
    std::int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) r_unlock_slow(r);
  }

  void lock_shared(const detail::source_location& site = detail::source_location::current()) noexcept { r_lock(site); }
  [[nodiscard]] bool try_lock_shared() noexcept { return try_r_lock(); }
  void unlock_shared() noexcept { r_unlock(); }

  // r_locker returns a locker whose lock and unlock are r_lock and r_unlock (Go's RLocker).
  locker r_locker() noexcept {
    return locker(
        this, [](void* p) { static_cast<rw_mutex*>(p)->r_lock(); },
        [](void* p) { static_cast<rw_mutex*>(p)->r_unlock(); }, locker::kind::rw_mutex_read);
  }

 private:
  friend struct detail::rw_lock_op;
  friend struct detail::rw_rlock_op;

  static constexpr std::int32_t max_readers = 1 << 30;

  // r_lock_fast is r_lock up to its wait: false if the caller must acquire reader_sem_.
  bool r_lock_fast() noexcept { return reader_count_.fetch_add(1, std::memory_order_acquire) >= 0; }
  // announce_writer, called holding writer_, turns readers away; true if the caller must
  // still wait on writer_sem_ for the readers inside to leave.
  bool announce_writer() noexcept;
  // lock_slow_async is lock in a stackless goroutine from where its fast path stopped:
  // before writer_ is held, or after (waiting for the readers only).
  task<void> lock_slow_async(bool writer_held, detail::source_location site);
  void r_unlock_slow(std::int32_t r) noexcept;

  mutex writer_;                               // held while a writer holds or waits for the lock
  std::atomic<std::int32_t> reader_count_{0};  // readers; minus max_readers once a writer came
  std::atomic<std::int32_t> reader_wait_{0};   // readers the waiting writer still waits for
  detail::sema writer_sem_;                    // the writer waits here for departing readers
  detail::sema reader_sem_;                    // readers wait here for the writer
};

// cond is a condition variable (Go's sync.Cond): a rendezvous point for goroutines waiting
// for or announcing the occurrence of an event. L, a locker (usually a go::mutex), must be
// held while changing the condition and when calling wait.
//
// wait atomically unlocks L and parks the caller; after a signal or broadcast wakes it, it
// locks L again before returning. Because L is not locked while wait is parked, the caller
// cannot assume the condition holds when wait returns and waits in a loop (see the example).
// signal wakes the goroutine that has waited longest, if any; broadcast wakes all waiting
// goroutines. Neither needs L held. Wakeups are FIFO: a signal never wakes a goroutine whose
// wait started after the signal (Go's notifyList tickets).
//
// L's unlock may block or throw (a user's locker): if it throws, wait rethrows without
// waiting and without locking L, and no signal is lost to it.
//
// Example:
//   go::mutex mu;
//   go::cond ready(mu);
//   std::deque<job> queue;  // guarded by mu
//   job take() {
//     std::lock_guard lock(mu);
//     while (queue.empty()) ready.wait();
//     job j = std::move(queue.front());
//     queue.pop_front();
//     return j;
//   }
//   void put(job j) {
//     { std::lock_guard lock(mu); queue.push_back(std::move(j)); }
//     ready.signal();
//   }
class cond {
 public:
  explicit cond(locker l) noexcept : L(l) {}
  cond(const cond&) = delete;
  cond& operator=(const cond&) = delete;
  ~cond();

  // L is held while observing or changing the condition (Go's c.L).
  locker L;

  void wait(const detail::source_location& site = detail::source_location::current());
  void signal() noexcept;
  void broadcast() noexcept;

 private:
  friend task<void> async_wait(cond& c, detail::source_location site);

  // The steps of wait that both of its forms share (src/sync/cond.cpp): wait_begin takes a
  // ticket and unlocks L (rethrowing what L's unlock throws); wait_queue, true if the ticket
  // is not notified yet: the waiter w is queued and lock_ held, for the park to release.
  std::uint32_t wait_begin();
  bool wait_queue(std::uint32_t ticket, void* w) noexcept;

  // Go's notifyList: wait takes ticket wait_++ before unlocking L; notify_ is the next
  // ticket to wake. src/sync/cond.cpp has the protocol.
  std::atomic<std::uint32_t> wait_{0};
  std::atomic<std::uint32_t> notify_{0};
  std::atomic<std::uint32_t> lock_{0};
  void* head_ = nullptr;  // parked waiters, ordered by ticket; guarded by lock_
  void* tail_ = nullptr;
};

// once performs exactly one action (Go's sync.Once). call(f) calls f if and only if call is
// being called for the first time for this once object; every other call blocks until that
// first f returns, then returns without calling its own f. If f throws, as Go's Once after a
// panic, once considers it done: the exception propagates from that first call and later
// calls return without calling their f. f must not call call on the same once (deadlock).
// In a stackless goroutine, co_await go::async_call(o, f) is o.call(f) (go/task.hpp), in
// any mix with call.
//
// Example:
//   go::once load_once;
//   config* cfg;
//   const config& get_config() {
//     load_once.call([] { cfg = load_config("app.toml"); });
//     return *cfg;
//   }
class once {
 public:
  once() noexcept = default;
  once(const once&) = delete;
  once& operator=(const once&) = delete;

  template <class F>
    requires std::invocable<F&&>
  void call(F&& f) {
    // The acquire load pairs with the release store after f: a call that sees done sees
    // everything f did (BM_once_done).
    if (is_done()) return;
    call_slow(std::forward<F>(f));
  }

 private:
  template <class F>
  void call_slow(F&& f) {
    mutex_.lock();
    running r(*this);
    if (r.first) std::invoke(std::forward<F>(f));
  }

  template <class F>
  friend class once_awaiter;

  bool is_done() const noexcept { return done_.load(std::memory_order_acquire) != 0; }

  // running is call's step once mutex_ is held, shared by call and async_call (go/task.hpp):
  // `first` says whether f is to run; when it goes, it marks the once done (f returned or
  // threw) and unlocks mutex_.
  struct running {
    explicit running(once& o) noexcept : o(o), first(o.done_.load(std::memory_order_relaxed) == 0) {}
    running(const running&) = delete;
    running& operator=(const running&) = delete;
    ~running() {
      if (first) o.done_.store(1, std::memory_order_release);
      o.mutex_.unlock();
    }
    once& o;
    const bool first;
  };

  std::atomic<std::uint32_t> done_{0};
  mutex mutex_;
};

namespace detail {

// What a once_func, once_value or once_values shares among its copies: f until it has been
// called, then its result or the exception it threw. Everything but done_ is written once,
// inside done_.call, and read after it: once's release and acquire order them.
template <class F>
class once_call {
 public:
  using result_type = std::invoke_result_t<F&>;

  explicit once_call(F f) : f_(std::in_place, std::move(f)) {}

  // call returns f's result (nothing for void), calling f the first time; it rethrows what
  // f threw, on every call.
  decltype(auto) call() {
    done_.call([this] {
      struct drop_f {  // f and what it captured go once it has been called
        std::optional<F>& f;
        ~drop_f() { f.reset(); }
      } drop{f_};
      try {
        if constexpr (std::is_void_v<result_type>) {
          (*f_)();
          result_ = true;
        } else {
          result_.emplace((*f_)());
        }
      } catch (...) {
        thrown_ = std::current_exception();
        throw;  // the first call: the exception itself, as it left f
      }
    });
    if constexpr (std::is_void_v<result_type>) {
      if (!result_) std::rethrow_exception(thrown_);
    } else {
      if (!result_) std::rethrow_exception(thrown_);
      return static_cast<const result_type&>(*result_);
    }
  }

 private:
  once done_;
  std::optional<F> f_;
  std::exception_ptr thrown_;
  // What f returned; for a void f, whether it returned.
  std::conditional_t<std::is_void_v<result_type>, bool, std::optional<result_type>> result_{};
};

}  // namespace detail

// once_func returns a function that calls f only once (Go's sync.OnceFunc). The returned
// function may be called concurrently, from goroutines and threads; its copies share the
// one call, and every call returns after f has returned. If f throws, the returned function
// throws the same exception on every call: the first call propagates it as it left f, later
// calls rethrow it (std::rethrow_exception). f, and what it captured, is destroyed once it
// has been called, though the returned function lives on. f must not call the returned
// function (deadlock). Making one allocates once; calling it allocates nothing.
//
// Example:
//   auto init = go::once_func([] { std::puts("initialized"); });
//   for (int i = 0; i < 4; ++i) wg.go(init);   // prints once
template <class F>
  requires std::invocable<std::decay_t<F>&> && std::is_void_v<std::invoke_result_t<std::decay_t<F>&>>
auto once_func(F&& f) {
  auto s = std::make_shared<detail::once_call<std::decay_t<F>>>(std::forward<F>(f));
  return [s]() -> void { s->call(); };
}

// once_value returns a function that calls f only once and returns the value f returned
// (Go's sync.OnceValue): a const reference to it, valid while a copy of the returned
// function lives. Otherwise as once_func: concurrent calls, and if f throws, every call
// throws the same exception.
//
// Example:
//   auto config = go::once_value([] { return load_config("app.toml"); });
//   const config_t& c = config();  // loads it on the first call only
template <class F>
  requires std::invocable<std::decay_t<F>&> && (!std::is_void_v<std::invoke_result_t<std::decay_t<F>&>>)
auto once_value(F&& f) {
  using result = std::invoke_result_t<std::decay_t<F>&>;
  auto s = std::make_shared<detail::once_call<std::decay_t<F>>>(std::forward<F>(f));
  return [s]() -> const result& { return s->call(); };
}

// once_values is once_value for a function of two results (Go's sync.OnceValues): f returns
// a std::pair (or a tuple of two), and so does the returned function.
//
// Example:
//   auto read_config = go::once_values([]() -> std::pair<std::string, go::error> { ... });
//   auto [text, err] = read_config();
template <class F>
  requires std::invocable<std::decay_t<F>&> && (std::tuple_size<std::invoke_result_t<std::decay_t<F>&>>::value == 2)
auto once_values(F&& f) {
  return once_value(std::forward<F>(f));
}

// wait_group waits for a collection of goroutines to finish. add(n) adds n to the counter,
// done() subtracts one, and wait() blocks until the counter is zero. A counter that goes
// negative throws sync_error("sync: negative WaitGroup counter"). As in Go, calls to add
// with a positive delta that start when the counter is zero must happen before wait; an add
// caught racing with the wake-up of waiters throws
// sync_error("sync: WaitGroup misuse: Add called concurrently with Wait"). Both leave the
// counter unchanged. A wait_group may be reused once the waits of the last round returned.
//
// Example:
//   go::wait_group wg;
//   for (auto& url : urls) wg.go([&url] { fetch(url); });
//   wg.wait();
class wait_group {
 public:
  wait_group() noexcept = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  void add(int delta) {
    std::uint64_t state = state_.fetch_add(counter_delta(delta), std::memory_order_acq_rel) + counter_delta(delta);
    // Inline for the common case, counter still positive and nobody waiting (bench
    // sync_waitgroup): the out-of-line rest checks misuse and wakes the waiters.
    if (static_cast<std::int32_t>(state >> 32) > 0 && static_cast<std::uint32_t>(state) == 0) return;
    add_slow(delta, state);
  }
  void done() { add(-1); }
  void wait(const detail::source_location& site = detail::source_location::current()) noexcept;

  // go calls f in a new goroutine and adds that task to the group.
  template <class F>
  void go(F&& f) {
    add(1);
    try {
      spawn([this, f = std::forward<F>(f)]() mutable {
        struct done_on_exit {
          wait_group* wg;
          ~done_on_exit() noexcept(false) { wg->done(); }
        } guard{this};
        f();
      });
    } catch (...) {
      done();
      throw;
    }
  }

 private:
  friend class wait_group_awaiter;

  bool at_zero() const noexcept { return static_cast<std::int32_t>(state_.load(std::memory_order_acquire) >> 32) == 0; }
  // wait_queue is wait up to its park: true if the waiter w is queued, with lock_ held for
  // the park to release; false if the counter is zero. wait_suspend is that park for a
  // stackless goroutine suspended at `handle` (go/task.hpp).
  bool wait_queue(void* w) noexcept;
  bool wait_suspend(void* handle, const detail::source_location& site) noexcept;
  void add_slow(int delta, std::uint64_t state);  // state: after this add's RMW
  // What add(delta) adds to state_: delta in the counter's (high) half.
  static constexpr std::uint64_t counter_delta(int delta) noexcept {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(delta)) << 32;
  }

  // state_: the counter (signed) in the high 32 bits, the number of waiters in the low 32,
  // one word as in Go, so the add that reaches zero learns from its own RMW whether anyone
  // waits and never touches the object again if not (the last done may race the waiter's
  // return and the end of the wait_group's life).
  std::atomic<std::uint64_t> state_{0};
  std::atomic<std::uint32_t> lock_{0};
  void* waiters_ = nullptr;  // detail::waiter list, guarded by lock_
};

namespace detail {

// pool_core is go::pool<T> without the T: it keeps objects as void* and destroys those it
// does not keep with `destroy`. src/sync/pool.cpp has the design.
class pool_core {
 public:
  explicit pool_core(void (*destroy)(void*) noexcept) noexcept : destroy_(destroy) {}
  pool_core(const pool_core&) = delete;
  pool_core& operator=(const pool_core&) = delete;
  ~pool_core();  // destroys what the pool holds

  void* get() noexcept;        // an object, or null if it has none at hand
  void put(void* x) noexcept;  // x: not null; it is kept, or destroyed if the pool is full

 private:
  struct shard;
  shard* local(bool make) noexcept;
  void* get_slow(const shard* own) noexcept;
  void put_slow(void* x) noexcept;

  void (*destroy_)(void*) noexcept;
  std::atomic<std::atomic<shard*>*> shards_{nullptr};  // by worker id, made on first use
  std::atomic<int> shards_end_{0};                     // 1 + the highest id with a shard
  std::atomic<std::uint32_t> lock_{0};                 // guards the overflow list
  void** overflow_ = nullptr;                          // guarded by lock_
  std::atomic<int> noverflow_{0};                      // written under lock_; a hint without it
};

}  // namespace detail

// pool is a set of temporary objects that may be individually saved and retrieved (Go's
// sync.Pool), for objects of type T owned through std::unique_ptr<T>.
//
// In Go's words: any item stored in the pool may be removed automatically at any time
// without notification. A pool is safe for use by multiple goroutines (and threads)
// simultaneously. Its purpose is to cache allocated but unused items for later reuse,
// relieving pressure on the allocator: it makes it easy to build efficient, thread-safe free
// lists. It is not suitable for all free lists: a free list maintained as part of a
// short-lived object is better kept in that object.
// - get removes an arbitrary object from the pool and returns it. It may choose to ignore the
//   pool and treat it as empty; callers should not assume any relation between the objects
//   passed to put and those returned by get. When the pool has nothing at hand, get returns
//   what the new function (given at construction) returns, or null without one.
// - put adds x to the pool; a null x is ignored. The pool owns x from then on.
// - Memory model: a put(x) happens before the get that returns x, and a call of the new
//   function happens before the get that returns its object.
//
// Per-P fast path, as Go's: each worker has a private slot and a small shard of its own, and
// get and put on a worker touch only those, with no lock and no contended write, while they
// have an object (get) or room (put). A get that finds its worker's slot and shard empty
// takes from the other workers' shards, then from a shared overflow list under a lock; a
// plain thread (or a synctest bubble's goroutine) always goes that way.
//
// There is no garbage collector to empty a pool, so a pool bounds what it keeps instead: an
// object put where the slot, the shard and the overflow list are all full is destroyed at
// once (today a slot and 32 objects per worker, 128 overflow; not a guarantee).
// Destroying the pool destroys what it holds; it must not be in use then, and must not move
// while in use.
//
// Example:
//   go::pool<std::string> buffers([] { return std::make_unique<std::string>(); });
//   void log(std::string_view msg) {
//     std::unique_ptr<std::string> b = buffers.get();
//     b->assign(timestamp()).append(msg);
//     write_out(*b);
//     b->clear();
//     buffers.put(std::move(b));
//   }
template <class T>
class pool {
 public:
  // A pool without a new function: get returns null when it has nothing.
  pool() noexcept : core_(&destroy) {}
  // A pool whose get calls make_new when it has nothing (Go's New).
  template <class F>
    requires std::convertible_to<std::invoke_result_t<F&>, std::unique_ptr<T>>
  explicit pool(F make_new) : core_(&destroy), new_(std::move(make_new)) {}
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  std::unique_ptr<T> get() {
    if (void* x = core_.get()) return std::unique_ptr<T>(static_cast<T*>(x));
    return new_ ? new_() : nullptr;
  }

  void put(std::unique_ptr<T> x) noexcept {
    if (x) core_.put(x.release());
  }

 private:
  static void destroy(void* x) noexcept { delete static_cast<T*>(x); }

  detail::pool_core core_;
  std::function<std::unique_ptr<T>()> new_;
};

}  // namespace go
