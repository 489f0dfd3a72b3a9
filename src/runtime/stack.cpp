// Goroutine stacks.
//
// A stack is address space from mmap(MAP_NORESERVE): the kernel commits a page when it is
// first touched, so a parked goroutine that used 3 KiB of its 8 MiB costs one page (and, since
// stacks are more than 2 MiB apart, the page-table page that maps it). 8 MiB is a thread's
// default: Go grows a stack by copying it, which C++ cannot do, so the address space is
// reserved up front instead. Under strict overcommit (vm.overcommit_memory = 2) the kernel
// ignores MAP_NORESERVE and charges every mapped byte against the commit limit, so the
// default is 256 KiB there (stack_default_reservation).
//
// Deep pages. A stack that a goroutine grew deep keeps its pages when it returns to the pool;
// stack_release marks it used, and an idle worker (stack_trim) gives back every used pooled
// stack's pages below its top keep_pages (MADV_DONTNEED, one process_madvise for many
// stacks), off the path of spawn and exit. Only the owner touches a worker's cache; the
// shared pool's stacks are released under spare_mutex, so nobody takes one meanwhile.
// Stacks of the default size are mapped 64 at a time: one mmap for a slab, each stack
// can later be unmapped on its own. An mmap holds the process's mmap lock for writing,
// which stalls the page faults of the other workers: fewer, larger slabs (docs/tuning.md,
// sleep_100k). Stacks are
// cached per worker, LIFO. A goroutine takes its stack when it first runs, so a million
// goroutines spawned and joined in a burst reuse a handful of hot stacks instead of
// touching a million; spawn only makes sure the cache can supply one (stack_reserve), so
// running out of memory still throws std::bad_alloc from spawn.
// The caches are capped; stacks beyond the caps that nobody has needed for 200 ms are
// unmapped by idle workers (stack_trim), so RSS falls after a burst.
//
// Guard pages. Each stack gets a guard page below it. On Linux 6.13 and later that is a
// guard region (madvise MADV_GUARD_INSTALL): a marker in the page tables, installed under
// the mmap lock held for reading, which neither splits the mapping nor contends with the
// page faults of running goroutines (docs/tuning.md, sleep_100k), so every stack is
// guarded; a first check makes sure such a region faults (an emulator may take the advice
// as a no-op). On older kernels, or where the check fails, it is a PROT_NONE page (mprotect,
// the mmap lock held for writing), while the number of guarded stacks stays within the
// process's vm.max_map_count budget (a PROT_NONE guard splits the mapping: about two map
// entries per stack; we keep (max_map_count - 5000) / 2 for stacks). A fault in a guard
// page is reported by the SIGSEGV handler, on an alternate signal stack, as
// "goroutine N: stack overflow (stack size S)". Beyond the budget a stack has no guard: an
// overflow is detected only when the goroutine parks with its stack pointer below the base
// (switch_to_scheduler checks), which reports the same message but cannot undo what the
// overflow overwrote in the neighbouring stack. (A canary word at the bottom would catch
// more, but writing it commits a second page per goroutine.) A frame larger than a page can
// jump over a guard page too.
#include "runtime/stack.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <new>
#include <vector>

#include "platform/sanitizer.hpp"
#include "runtime/panic.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/scheduler/sched.hpp"

namespace go::detail {

// traceback.cpp: "goroutine N [running]:" for g, then every other goroutine, to stderr.
void dump_after_overflow(goroutine* g) noexcept;

namespace {

constexpr int slab_stacks = 64;

std::size_t page_size() noexcept {
  static const std::size_t p = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

long guard_budget() noexcept {
  static const long budget = [] {
    long max_map = 65530;
    std::ifstream f("/proc/sys/vm/max_map_count");
    if (f) f >> max_map;
    return max_map > 10000 ? (max_map - 5000) / 2 : max_map / 4;
  }();
  return budget;
}

std::atomic<long> guarded_live{0};  // stacks guarded by mprotect (the budget's count)

// Guard regions (Linux 6.13): used if they work (guard_regions_work) until a madvise
// fails; mprotect otherwise.
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

// guard_regions_work installs a guard region on a scratch page and checks that the page
// then refuses the kernel's read (write(2) from it fails with EFAULT). A madvise that
// succeeds is not enough: qemu-user returns success for advice it does not implement, and
// every stack would be left unguarded. errno is kept: spawn calls this.
bool guard_regions_work() noexcept {
  int saved_errno = errno;
  std::size_t page = page_size();
  bool works = false;
  void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED) {
    int fds[2];
    if (madvise(p, page, MADV_GUARD_INSTALL) == 0 && pipe2(fds, O_CLOEXEC) == 0) {
      works = write(fds[1], p, 1) < 0 && errno == EFAULT;
      close(fds[0]);
      close(fds[1]);
    }
    munmap(p, page);
  }
  errno = saved_errno;
  return works;
}

std::atomic<bool> guard_regions_failed{false};  // a madvise failed after the check passed

bool use_guard_regions() noexcept {
  static const bool works = guard_regions_work();
  return works && !guard_regions_failed.load(std::memory_order_relaxed);
}

// guard makes the page at p a guard page; returns false if it cannot. *counted: it is a
// PROT_NONE page that counts against the map-count budget.
bool guard(char* p, std::size_t page, bool* counted) noexcept {
  *counted = false;
  if (use_guard_regions()) {
    if (madvise(p, page, MADV_GUARD_INSTALL) == 0) return true;
    guard_regions_failed.store(true, std::memory_order_relaxed);
  }
  if (guarded_live.load(std::memory_order_relaxed) >= guard_budget()) return false;
  if (mprotect(p, page, PROT_NONE) != 0) return false;
  guarded_live.fetch_add(1, std::memory_order_relaxed);
  *counted = true;
  return true;
}

std::mutex spare_mutex;  // guards the shared cache

// One system call for a whole slab (Linux 6.13 lets process_madvise apply any advice to
// the calling process, and 6.15 names it PIDFD_SELF, which stays right after a fork):
// every guard page at once, and every stack's top page populated at once, where each
// would otherwise cost a madvise and a page fault (docs/tuning.md, parked_1m_spawn). Where the kernel refuses, the page-at-a-time way is used from then on.
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
constexpr int pidfd_self = -10000;  // PIDFD_SELF (linux/pidfd.h)
std::atomic<bool> slab_madvise{true};

// advise_pages applies advice to the page at base + i * stride + offset for i < count; true
// if the kernel did it for all of them.
bool advise_pages(char* base, std::size_t stride, std::size_t offset, int count, int advice) noexcept {
  if (count > slab_stacks || !slab_madvise.load(std::memory_order_relaxed)) return false;
  iovec iov[slab_stacks];
  std::size_t page = page_size();
  for (int i = 0; i < count; ++i) iov[i] = {base + static_cast<std::size_t>(i) * stride + offset, page};
  long done = syscall(SYS_process_madvise, pidfd_self, iov, static_cast<std::size_t>(count), advice, 0u);
  if (done == static_cast<long>(page * static_cast<std::size_t>(count))) return true;
  if (done < 0) slab_madvise.store(false, std::memory_order_relaxed);  // an older kernel
  return false;
}

// advise_ranges applies advice to each of the n ranges (process_madvise where the kernel
// allows it for the calling process, else one madvise each).
void advise_ranges(iovec* ranges, std::size_t n, int advice) noexcept {
  constexpr std::size_t per_call = 512;  // below IOV_MAX (1024)
  for (std::size_t i = 0; i < n; i += per_call) {
    std::size_t count = std::min(per_call, n - i);
    std::size_t total = 0;
    for (std::size_t k = 0; k < count; ++k) total += ranges[i + k].iov_len;
    if (slab_madvise.load(std::memory_order_relaxed)) {
      long done = syscall(SYS_process_madvise, pidfd_self, ranges + i, count, advice, 0u);
      if (done == static_cast<long>(total)) continue;
      if (done < 0) slab_madvise.store(false, std::memory_order_relaxed);  // an older kernel
    }
    for (std::size_t k = 0; k < count; ++k) madvise(ranges[i + k].iov_base, ranges[i + k].iov_len, advice);
  }
}

// A pooled stack keeps its top pages resident: the next goroutine's first frames.
constexpr std::size_t keep_pages = 4;

// release_deep_pages gives back the pages below the top keep_pages of every used stack
// in [first, last), and marks them unused.
template <class It>
void release_deep_pages(It first, It last) noexcept {
  iovec ranges[slab_stacks];
  std::size_t n = 0;
  std::size_t keep = keep_pages * page_size();
  for (It it = first; it != last; ++it) {
    if (!it->used) continue;
    it->used = false;
    if (it->size <= keep) continue;
    ranges[n++] = {it->base, it->size - keep};
    if (n == slab_stacks) {
      advise_ranges(ranges, n, MADV_DONTNEED);
      n = 0;
    }
  }
  if (n) advise_ranges(ranges, n, MADV_DONTNEED);
}

std::atomic<long> mapped_stacks{0};
std::atomic<long> shared_in_use{0};  // in_use of the threads without a cache

void map_slab(std::size_t size, int count, std::vector<stack>& out) {
  std::size_t page = page_size();
  std::size_t slot = size + page;
  void* p = mmap(nullptr, slot * static_cast<std::size_t>(count), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  mapped_stacks.fetch_add(count, std::memory_order_relaxed);
  auto* base = static_cast<char*>(p);
  bool all_guarded = count > 1 && use_guard_regions() && advise_pages(base, slot, 0, count, MADV_GUARD_INSTALL);
  for (int i = 0; i < count; ++i) {
    char* slot_start = base + static_cast<std::size_t>(i) * slot;
    stack s{slot_start + page, static_cast<std::uint32_t>(size), all_guarded, false};
    if (!all_guarded) s.guarded = guard(slot_start, page, &s.counted);
    out.push_back(s);
  }
  // The top page of a stack is the first a goroutine touches (its first frame).
  if (count > 1) advise_pages(base, slot, slot - page, count, MADV_POPULATE_WRITE);
}

// --- stack overflow reporting ---

struct sigaction previous_segv;

void on_segv(int sig, siginfo_t* info, void* context) {
  goroutine* g = current_goroutine();
  if (g && g->stk.base) {
    auto* addr = static_cast<char*>(info->si_addr);
    if (addr >= g->stk.base - page_size() && addr < g->stk.base) {
      // One report per process (panic.cpp): a second overflow meanwhile waits for good.
      if (!report_begin()) _exit(2);
      char msg[160];
      int n = std::snprintf(msg, sizeof msg, "goroutine %llu: stack overflow (stack size %zu)\n",
                            static_cast<unsigned long long>(g->id), std::size_t{g->stk.size});
      if (n > 0) (void)!write(2, msg, static_cast<std::size_t>(n));
      // Then the dump, as after a panic. This is a signal handler: the dump allocates and
      // takes the registry's lock, and report_end flushes stdio, which the overflowing code
      // may have held. It is the last thing the process does, and an alarm ends it if it
      // hangs. (ThreadSanitizer forbids allocating in a signal handler: there the message
      // stands alone.)
      alarm(5);
      if constexpr (!platform::tsan) dump_after_overflow(g);
      report_end();
    }
  }
  // Not ours: hand it to whoever had it before, or let it kill the process.
  if (previous_segv.sa_flags & SA_SIGINFO) {
    if (previous_segv.sa_sigaction) {
      previous_segv.sa_sigaction(sig, info, context);
      return;
    }
  } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
    previous_segv.sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);  // returning re-executes the fault, which now kills us
}

}  // namespace

std::size_t stack_page_size() noexcept { return page_size(); }

std::size_t stack_default_reservation() noexcept {
  static const std::size_t size = [] {
    int mode = 0;
    std::ifstream f("/proc/sys/vm/overcommit_memory");
    if (f) f >> mode;
    return mode == 2 ? std::size_t{256} << 10 : std::size_t{8} << 20;
  }();
  return size;
}

std::size_t stack_round(std::size_t size) noexcept {
  std::size_t page = page_size();  // a power of two
  return (size + page - 1) & ~(page - 1);
}

// A cache line of its own: two workers' caches allocated one after the other would share a
// line, and one worker's pushes and pops would miss on the other's every spawn
// (docs/tuning.md, spawn_join).
struct alignas(64) stack_cache {
  std::vector<stack> free;        // LIFO: the last freed stack has a hot top page
  bool any_used = false;          // some stack in free is used (stack_release_deep_pages)
  std::int64_t next_release = 0;  // coarse clock: pacing of stack_release_deep_pages
  // Stacks taken through this cache less those released through it (go::runtime_metrics);
  // the owner writes it, anyone reads. A stack may be taken on one worker and released on
  // another: only the sum over the caches counts the stacks in use.
  std::atomic<long> in_use{0};
};

void count_in_use(stack_cache* cache, long delta) noexcept {
  if (!cache) {
    shared_in_use.fetch_add(delta, std::memory_order_relaxed);
    return;
  }
  cache->in_use.store(cache->in_use.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

namespace {

constexpr std::size_t worker_cache_cap = 64;
constexpr std::size_t shared_cache_cap = 256;

// Guarded by spare_mutex; used by non-worker threads and as overflow. Never destroyed:
// workers still run while static destructors do.
struct shared_pool {
  std::deque<stack> free;  // hot at the back, cold at the front
};
shared_pool& shared = *new shared_pool;
std::int64_t last_shared_take = 0;  // nanotime of the last stack taken from shared (spare_mutex)
constexpr std::int64_t trim_delay_ns = 200'000'000;
std::int64_t next_trim = 0;    // pacing (spare_mutex)
bool shared_any_used = false;  // shared.free may hold a used stack (spare_mutex)

void unmap(stack s) noexcept {
  if (!s.base) return;
  std::size_t page = page_size();
  munmap(s.base - page, s.size + page);
  mapped_stacks.fetch_sub(1, std::memory_order_relaxed);
  if (s.counted) guarded_live.fetch_sub(1, std::memory_order_relaxed);
}

// default_stack_size() in whole pages, without its call: every spawn and exit reads it.
std::size_t default_size() noexcept {
  ensure_started();
  return stack_round(sched().default_stack.load(std::memory_order_relaxed));
}

// Drops stacks of a size that is no longer the default (set_default_stack_size).
template <class Container>
void drop_stale(Container& v, std::size_t size) noexcept {
  while (!v.empty() && v.back().size != size) {
    unmap(v.back());
    v.pop_back();
  }
}

}  // namespace

stack_cache* stack_cache_new() { return new stack_cache; }

long stacks_mapped() noexcept { return mapped_stacks.load(std::memory_order_relaxed); }

long stacks_in_use(stack_cache* const* caches, int n) noexcept {
  long sum = shared_in_use.load(std::memory_order_relaxed);
  for (int i = 0; i < n; ++i) {
    if (caches[i]) sum += caches[i]->in_use.load(std::memory_order_relaxed);
  }
  return sum;
}

stack stack_map(std::size_t size) {
  std::vector<stack> one;
  map_slab(stack_round(size), 1, one);
  count_in_use(nullptr, 1);
  return one[0];
}

// Whether cache's next stack is of the default size: stack_reserve and stack_take have
// nothing else to do (every spawn, twice; bench spawn_join).
bool cache_ready(stack_cache* cache, std::size_t size) noexcept {
  return !cache->free.empty() && cache->free.back().size == size;
}

// stack_reserve's work when the cache is not ready, out of line: its locks and maps would
// make the ready case save and restore every register.
__attribute__((noinline)) void stack_reserve_slow(stack_cache* cache) {
  std::size_t size = default_size();
  if (cache) {
    drop_stale(cache->free, size);
    if (!cache->free.empty()) return;
    {
      std::lock_guard lk(spare_mutex);
      drop_stale(shared.free, size);
      if (!shared.free.empty()) last_shared_take = nanotime();
      while (!shared.free.empty() && cache->free.size() < worker_cache_cap / 2) {
        cache->free.push_back(shared.free.back());
        shared.free.pop_back();
      }
    }
    if (cache->free.empty()) map_slab(size, slab_stacks, cache->free);
    return;
  }
  std::lock_guard lk(spare_mutex);
  drop_stale(shared.free, size);
  if (shared.free.empty()) {
    std::vector<stack> fresh;
    map_slab(size, slab_stacks, fresh);
    shared.free.insert(shared.free.end(), fresh.begin(), fresh.end());
  }
}

void stack_reserve(stack_cache* cache) {
  if (cache && cache_ready(cache, default_size())) return;
  stack_reserve_slow(cache);
}

// stack_take when the cache is not ready, out of line as stack_reserve_slow.
__attribute__((noinline)) stack stack_take_slow(stack_cache* cache) noexcept {
  for (;;) {
    try {
      stack_reserve(cache);
    } catch (...) {
      return {};
    }
    if (cache) {
      if (cache->free.empty()) continue;
      stack s = cache->free.back();
      cache->free.pop_back();
      count_in_use(cache, 1);
      return s;
    }
    std::lock_guard lk(spare_mutex);
    if (shared.free.empty()) continue;
    last_shared_take = nanotime();
    stack s = shared.free.back();
    shared.free.pop_back();
    count_in_use(nullptr, 1);
    return s;
  }
}

stack stack_take(stack_cache* cache) noexcept {
  if (!cache || !cache_ready(cache, default_size())) return stack_take_slow(cache);
  stack s = cache->free.back();
  cache->free.pop_back();
  count_in_use(cache, 1);
  return s;
}

// Moves the coldest half of a full cache to the shared pool. Beyond its cap the pool is
// trimmed by idle workers (stack_trim), not here: a burst of exits must not pay a munmap
// each. Out of line, as stack_reserve_slow.
__attribute__((noinline)) void spill_half(stack_cache* cache) noexcept {
  std::lock_guard lk(spare_mutex);
  std::size_t half = worker_cache_cap / 2;
  shared.free.insert(shared.free.begin(), cache->free.begin(), cache->free.begin() + static_cast<std::ptrdiff_t>(half));
  cache->free.erase(cache->free.begin(), cache->free.begin() + static_cast<std::ptrdiff_t>(half));
  shared_any_used = true;
}

// stack_release of a stack that is not of the default size, or from a thread without a
// cache: out of line, as stack_reserve_slow.
__attribute__((noinline)) void stack_release_slow(stack_cache* cache, stack s) noexcept {
  count_in_use(cache, -1);
  if (s.size != default_size()) {
    unmap(s);
    return;
  }
  if constexpr (platform::asan) platform::asan_unpoison(s.base, s.size);
  s.used = true;
  std::lock_guard lk(spare_mutex);
  shared.free.insert(shared.free.begin(), s);
  shared_any_used = true;
}

void stack_release(stack_cache* cache, stack s) noexcept {
  if (!s.base) return;
  if (!cache || s.size != default_size()) {
    stack_release_slow(cache, s);
    return;
  }
  count_in_use(cache, -1);
  if constexpr (platform::asan) platform::asan_unpoison(s.base, s.size);
  s.used = true;
  cache->free.push_back(s);
  cache->any_used = true;
  if (cache->free.size() > worker_cache_cap) spill_half(cache);
}

void stack_release_deep_pages() noexcept {
  // A worker's cache at most once per release_pace: a worker that goes idle between every
  // few spawns (bench spawn_join) must not pay a system call each time.
  constexpr std::int64_t release_pace = 10'000'000;
  if (worker* w = current_worker(); w && w->stacks && w->stacks->any_used) {
    stack_cache* c = w->stacks;
    std::int64_t now = coarse_nanotime();
    if (now >= c->next_release) {
      c->next_release = now + release_pace;
      release_deep_pages(c->free.begin(), c->free.end());
      c->any_used = false;
    }
  }
  // Stacks come into the pool at its cold end (a spill, a plain thread's release) and are
  // taken at its hot end: both ends, up to the cap each. A burst that pushes used stacks
  // further in leaves surplus, which stack_trim_batch unmaps.
  std::lock_guard lk(spare_mutex);
  if (!shared_any_used) return;
  shared_any_used = false;
  std::size_t cold = std::min(shared.free.size(), shared_cache_cap);
  std::size_t hot = std::min(shared.free.size() - cold, shared_cache_cap);
  release_deep_pages(shared.free.begin(), shared.free.begin() + static_cast<std::ptrdiff_t>(cold));
  release_deep_pages(shared.free.end() - static_cast<std::ptrdiff_t>(hot), shared.free.end());
}

std::int64_t stack_trim_due() noexcept {
  std::lock_guard lk(spare_mutex);
  if (shared.free.size() <= shared_cache_cap) return INT64_MAX;
  return std::max(last_shared_take + trim_delay_ns, next_trim);
}

bool stack_trim_batch() noexcept {
  // Go's scavenger returns memory at a bounded pace; so do we: one batch per 2 ms at most,
  // and neighbouring stacks (a slab maps them side by side) go back in one munmap.
  constexpr std::size_t batch = 256;
  constexpr std::int64_t pace_ns = 2'000'000;
  stack out[batch];
  std::size_t n = 0;
  {
    std::lock_guard lk(spare_mutex);
    // Only a pool that nobody has drawn from for a while is surplus: a burst that comes
    // back every few milliseconds (sleeping goroutines) would otherwise unmap and fault
    // its stacks in again and again.
    std::int64_t now = nanotime();
    if (now < last_shared_take + trim_delay_ns || now < next_trim) return false;
    next_trim = now + pace_ns;
    while (n < batch && shared.free.size() > shared_cache_cap) {
      out[n++] = shared.free.front();
      shared.free.pop_front();
    }
  }
  std::sort(out, out + n, [](const stack& a, const stack& b) { return a.base < b.base; });
  std::size_t page = page_size();
  for (std::size_t i = 0; i < n;) {
    char* start = out[i].base - page;
    char* end = out[i].top();
    long guarded = out[i].counted ? 1 : 0;
    std::size_t j = i + 1;
    while (j < n && out[j].base - page == end) {
      end = out[j].top();
      guarded += out[j].counted ? 1 : 0;
      ++j;
    }
    munmap(start, static_cast<std::size_t>(end - start));
    guarded_live.fetch_sub(guarded, std::memory_order_relaxed);
    mapped_stacks.fetch_sub(static_cast<long>(j - i), std::memory_order_relaxed);
    i = j;
  }
  return n == batch;
}

void install_overflow_handler(worker*) noexcept {
  if constexpr (platform::asan) return;  // ASan reports stack overflows itself
  // Each worker handles its own faults on an alternate stack (the goroutine's is exhausted).
  std::size_t alt_size = 256 * 1024;  // room for the dump after an overflow; committed lazily
  void* alt = mmap(nullptr, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (alt != MAP_FAILED) {
    stack_t ss{};
    ss.ss_sp = alt;
    ss.ss_size = alt_size;
    sigaltstack(&ss, nullptr);
  }
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
  });
}

void uninstall_overflow_handler() noexcept {
  if constexpr (platform::asan) return;
  stack_t old{};
  if (sigaltstack(nullptr, &old) != 0 || (old.ss_flags & SS_DISABLE) || !old.ss_sp) return;
  stack_t off{};
  off.ss_flags = SS_DISABLE;
  if (sigaltstack(&off, nullptr) == 0) munmap(old.ss_sp, old.ss_size);
}

}  // namespace go::detail
