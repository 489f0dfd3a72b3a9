// Goroutines and the scheduler's public face (Go's `go` statement and package runtime).
//
//   go::spawn(f, args...)            go f(args...)
//   go::run(f)                       func main() { f() }: runs f as the main goroutine
//   go::yield()                      runtime.Gosched()
//   go::num_goroutine()              runtime.NumGoroutine()
//   go::max_procs(), set_max_procs   runtime.GOMAXPROCS
//   go::this_goroutine::id()         the goroutine's id (0 outside a goroutine)
//   go::blocking(f, args...)         a blocking system call (entersyscall/exitsyscall)
//   go::lock_os_thread()             runtime.LockOSThread
//   go::unlock_os_thread()           runtime.UnlockOSThread
//   go::set_max_threads(n)           debug.SetMaxThreads
//
// Guarantees
// - Goroutines are stackful and run M:N on max_procs() worker threads with work stealing.
//   A goroutine may block anywhere in its call stack (channel, mutex, sleep...): that parks
//   the goroutine, never the worker thread.
// - A goroutine runs until it blocks, yields or returns: C++ code cannot be preempted safely
//   in the middle. A worker thread runs goroutines only while it holds one of GOMAXPROCS
//   processors (Go's P). A monitor thread takes the processor from a goroutine that has run
//   for 10 ms without switching while goroutines or timers queued behind it wait that no
//   other processor takes, or that has been inside go::blocking for a moment, and gives it
//   to another thread, so those goroutines keep running (Go's sysmon and hand-off): that
//   goroutine keeps its thread, not its processor. Mark calls that
//   may block their thread (read(2) on a pipe, a database client) with go::blocking; an
//   unmarked one stalls the goroutines behind it for about 10 ms. go::yield() in a long
//   computation lets the others run without a thread switch.
// - A goroutine may resume on a different worker thread after any blocking call. A user
//   `thread_local` is per worker thread, not per goroutine: do not keep its address across
//   a blocking call. glibc declares __errno_location() and pthread_self() `const`, so the
//   compiler may reuse their results from before a park: read errno or the thread id after
//   a park through a function the compiler cannot see into. errno's value itself is saved
//   and restored per goroutine. The
//   exception being handled (std::current_exception, std::uncaught_exceptions) is per
//   goroutine. Set GOCXX_DEBUG_MIGRATE=1 to move a goroutine to another worker at every
//   park, which makes state wrongly cached across a park show up in tests.
// - An exception escaping a goroutine is Go's unrecovered panic. The process ends at the throw,
//   without unwinding (no destructor of the goroutine's frames runs, as for an exception that
//   escapes a std::thread): what the program wrote to C stdio and the standard iostreams is
//   flushed, stderr gets "panic: <value>" and the goroutine's traceback from the throw, and
//   the exit status is 2, as Go's. The value is printed as Go prints it: what() of a
//   std::exception, the message of a go::error or std::error_code, a string (const char*,
//   std::string), a number or bool; any other type is named, "panic: (T)". GOTRACEBACK works
//   as in Go: none (no traceback), single (the default: the panicking goroutine), all or
//   system (every goroutine), crash (every goroutine, then abort() for a core dump).
// - Fatal errors (Go's throw) print "fatal error: <what>" and the goroutines concerned
//   (every goroutine for "all goroutines are asleep - deadlock!") and exit with status 2.
//   Only the first panic or fatal error of a process is reported; another one meanwhile
//   waits for the process to end, so two reports never interleave.
// - Everything also works without go::run: the runtime starts on the first go::spawn. A plain
//   OS thread that blocks on a channel, mutex or sleep of ours blocks that thread (a futex).
// - max_procs() defaults to the CPUs this process may use (affinity mask and cgroup CPU
//   quota); the environment variable GOMAXPROCS overrides it.
//
// Stacks. Go grows a goroutine's stack by copying it; C++ cannot move a stack, so each
// goroutine gets a fixed reservation of address space that the kernel commits page by page
// as it is touched: 8 MiB by default, a thread's default (set_default_stack_size,
// GOCXX_STACK_SIZE in bytes, or spawn_options::stack_size). A goroutine costs the pages its
// stack touched (one for most) and, with a reservation of 2 MiB or more, a page-table page of
// its own; a million goroutines reserve 8 TiB of the 128 TiB of user address space. A
// goroutine that needs more than its reservation overflows (below). Stacks are pooled for
// reuse; an idle worker gives back the pages of a pooled stack below its top few, so a
// goroutine that once recursed deeply does not keep its memory in the pool. A goroutine gets
// its stack when it first runs. Each stack has a guard page below it, and an overflow
// prints "goroutine N: stack overflow (stack size S)" and the goroutine dump, and exits
// with status 2. (On kernels before Linux 6.13 guard pages split mappings and count against
// vm.max_map_count: beyond about 30,000 guarded stacks on a stock kernel, stacks are mapped
// without one, and an overflow there is caught only by a stack-pointer check at the next
// park, which cannot stop the corruption it detects.)
// Strict overcommit (vm.overcommit_memory = 2): the kernel then charges a stack's whole
// reservation against the commit limit when it is mapped, so the default is 256 KiB there;
// a larger stack_size may make spawn throw std::bad_alloc long before memory is used.
// A stack may reserve at most 1 GiB, Go's limit: a larger stack_size or default makes spawn
// or set_default_stack_size throw std::invalid_argument (GOCXX_STACK_SIZE is then ignored).
// docs/runtime.md has the details.
//
// Example:
//   int main() {
//     return go::run([] {
//       go::wait_group wg;
//       for (int i = 0; i < 10; ++i) wg.go([i] { std::printf("hello %d\n", i); });
//       wg.wait();
//       return 0;
//     });
//   }
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iosfwd>
#include <memory>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace go {

struct spawn_options {
  // Address space reserved for the goroutine's stack; 0 means default_stack_size().
  // Rounded up to whole pages. Memory is committed only as the stack is touched.
  std::size_t stack_size = 0;
};

namespace detail {

// fastrand is a draw from the runtime's random generator for the calling thread
// (src/runtime/rand.hpp; Go's runtime.rand): fast and well spread, not for secrets. In a
// synctest bubble it follows the bubble's seed.
std::uint64_t fastrand() noexcept;

// A goroutine's entry: `invoke(storage)` runs it, `destroy(storage)` frees it without running.
struct closure_ops {
  void (*invoke)(void* storage);
  void (*destroy)(void* storage) noexcept;
};

inline constexpr std::size_t closure_inline_size = 64;

// Reserves a goroutine with room for a closure of `size` bytes; the caller constructs the
// closure in *storage and then calls start_goroutine. Throws std::bad_alloc.
// The caller of new_goroutine (inlined into the user's function) is recorded as the place
// the goroutine was created.
void* new_goroutine(std::size_t stack_size, std::size_t size, std::size_t align, const closure_ops* ops,
                    void** storage);
void start_goroutine(void* g) noexcept;
void abandon_goroutine(void* g) noexcept;  // constructing the closure threw

template <class Tuple>
struct closure {
  static void invoke(void* p) {
    std::apply([](auto& f, auto&... args) { std::invoke(std::move(f), std::move(args)...); }, *static_cast<Tuple*>(p));
  }
  static void destroy(void* p) noexcept { static_cast<Tuple*>(p)->~Tuple(); }
  static constexpr closure_ops ops{&invoke, &destroy};
};

template <class R>
inline constexpr bool returns_task = false;  // go/task.hpp: true for go::task<T>

template <class F, class... Args>
void spawn_with(std::size_t stack_size, F&& f, Args&&... args) {
  static_assert(!returns_task<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>,
                "a function returning go::task is a stackless goroutine: include go/task.hpp and "
                "go::spawn it without spawn_options");
  using tuple = std::tuple<std::decay_t<F>, std::decay_t<Args>...>;
  void* storage = nullptr;
  void* g = new_goroutine(stack_size, sizeof(tuple), alignof(tuple), &closure<tuple>::ops, &storage);
  try {
    ::new (storage) tuple(std::forward<F>(f), std::forward<Args>(args)...);
  } catch (...) {
    abandon_goroutine(g);
    throw;
  }
  start_goroutine(g);
}

bool in_goroutine() noexcept;
// enter_blocking marks the calling goroutine as inside a blocking call (Go's entersyscall)
// and returns what exit_blocking needs; exit_blocking (exitsyscall) returns it to the
// scheduler, maybe on another processor. From a plain thread both do nothing.
void* enter_blocking() noexcept;
void exit_blocking(void* token) noexcept;
// Blocks the calling thread (not a goroutine) until *done is set by mark_done.
void wait_main(std::atomic<std::uint32_t>* done) noexcept;
void mark_main_done(std::atomic<std::uint32_t>* done) noexcept;

}  // namespace detail

// spawn starts f(args...) as a new goroutine. Arguments are decay-copied, as by std::thread;
// use std::ref to pass a reference. Throws std::bad_alloc when no stack can be mapped.
template <class F, class... Args>
  requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
void spawn(F&& f, Args&&... args) {
  detail::spawn_with(0, std::forward<F>(f), std::forward<Args>(args)...);
}

// spawn with options, e.g. go::spawn({.stack_size = 1 << 20}, f).
template <class F, class... Args>
  requires std::invocable<std::decay_t<F>, std::decay_t<Args>...>
void spawn(const spawn_options& options, F&& f, Args&&... args) {
  detail::spawn_with(options.stack_size, std::forward<F>(f), std::forward<Args>(args)...);
}

// run runs f() as the main goroutine and returns its result once it returns. Goroutines still
// running then are abandoned, as when Go's main returns; the process still exits cleanly.
// Called from inside a goroutine, it simply calls f().
template <class F>
std::invoke_result_t<F> run(F&& f) {
  using R = std::invoke_result_t<F>;
  if (detail::in_goroutine()) return std::invoke(std::forward<F>(f));
  std::atomic<std::uint32_t> done{0};
  if constexpr (std::is_void_v<R>) {
    spawn([&] {
      std::invoke(std::forward<F>(f));
      detail::mark_main_done(&done);
    });
    detail::wait_main(&done);
  } else {
    std::optional<R> result;
    spawn([&] {
      result.emplace(std::invoke(std::forward<F>(f)));
      detail::mark_main_done(&done);
    });
    detail::wait_main(&done);
    return std::move(*result);
  }
}

// yield lets other goroutines run (runtime.Gosched): the caller goes behind the goroutines
// that are runnable now. Outside a goroutine it yields the thread.
void yield() noexcept;

// num_goroutine returns the number of goroutines that exist (started and not yet returned).
int num_goroutine() noexcept;

// max_procs returns the number of worker threads that run goroutines (GOMAXPROCS).
int max_procs() noexcept;

// set_max_procs sets GOMAXPROCS to n and returns the previous value; n < 1 changes nothing.
int set_max_procs(int n);

// The stack size a goroutine gets when spawn_options::stack_size is 0 (default 8 MiB, or
// 256 KiB under strict overcommit; see Stacks at the top).
std::size_t default_stack_size() noexcept;
void set_default_stack_size(std::size_t bytes);

// dump_goroutines writes every goroutine to `out` the way Go's runtime does on SIGQUIT or a
// fatal error: its id, state and wait reason in Go's words with how long it has waited
// ("goroutine 7 [chan receive, 2 minutes]:"), where it is blocked (file:line of the blocking
// call in the caller's code), its frames (each a function, then a tab and file:line) and
// where it was created. The runtime's own frames are left out, as Go leaves out runtime.*.
// File and line come from the debug information through addr2line (binutils), run when a
// dump is printed; without it a frame is its function plus offset, and the object and the
// offset to give addr2line later. A parked goroutine's stack is walked with the call frame
// information (.eh_frame) that C++ code has whether or not it keeps frame pointers.
void dump_goroutines(std::ostream& out);

// enable_sigquit_dump makes SIGQUIT (Ctrl-\\) print the goroutine dump to stderr and exit with
// status 2, as Go does. Also enabled by the environment variable GOCXX_SIGQUIT_DUMP=1.
void enable_sigquit_dump();

// blocking runs f(args...) on the calling thread and returns its result (or propagates its
// exception), telling the scheduler that the goroutine is in a call that may block its
// thread: a read(2) of a pipe, a database client, sleep_for, getaddrinfo. The goroutine's
// processor (its run queue, timers) is handed to another thread once the call takes more
// than about 20 us, so every other goroutine keeps running; when f returns, the goroutine
// continues on a free processor, or waits in the run queue for one. Go's runtime does this
// for every system call (entersyscall/exitsyscall); tokio calls it block_in_place.
// Inside f the goroutine acts as a plain thread: a channel operation there blocks the thread.
// A goroutine dump shows it as "[syscall]". From a plain thread blocking just calls f.
template <class F, class... Args>
  requires std::invocable<F, Args...>
[[gnu::always_inline]] inline decltype(auto) blocking(F&& f, Args&&... args) {
  struct exit_on_return {
    void* token;
    ~exit_on_return() { detail::exit_blocking(token); }
  } mark{detail::enter_blocking()};
  return std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
}

// lock_os_thread wires the calling goroutine to its current thread (runtime.LockOSThread):
// until as many unlock_os_thread calls, it runs only on that thread and the thread runs
// nothing else, as thread-affine C libraries need. A goroutine that returns while locked
// takes its thread with it: the thread exits, as in Go. Calls nest. From a plain thread they
// do nothing.
void lock_os_thread() noexcept;
void unlock_os_thread() noexcept;

// set_max_threads sets the most threads the runtime may run goroutines on, and returns the
// previous bound (debug.SetMaxThreads; default 10000). Threads beyond GOMAXPROCS exist only
// for goroutines in blocking calls, busy for long, or locked to their thread; a program that
// needs more than the bound ends with Go's "fatal error: thread exhaustion".
int set_max_threads(int n);

namespace this_goroutine {
// id returns the calling goroutine's id (1 for the first goroutine), or 0 outside a goroutine.
std::uint64_t id() noexcept;
}  // namespace this_goroutine

}  // namespace go
