// Goroutine stacks: mmap'd address space that the kernel commits page by page as it is
// touched, with a guard page below while the process is within its vm.max_map_count budget.
// stack.cpp owns the pool and its invariants.
#pragma once

#include <cstddef>
#include <cstdint>

namespace go::detail {

// Sixteen bytes without padding, so that it is passed and returned in two registers and
// copied as two whole words (stack_take, stack_release: every spawn and exit); a copy of
// fifteen bytes is made of overlapping loads that wait for the stores before them.
struct stack {
  char* base = nullptr;    // lowest usable byte (the guard page, if any, is just below)
  std::uint32_t size = 0;  // usable bytes, at most max_stack_size
  bool guarded = false;
  bool counted = false;  // guarded by a PROT_NONE page, counted against the map-count budget
  bool used = false;     // pooled after running a goroutine; its deep pages not yet released
  std::uint8_t unused = 0;
  char* top() const noexcept { return base + size; }
};
static_assert(sizeof(stack) == 16);

// The largest stack a goroutine may have: 1 GiB, Go's limit (runtime.maxstacksize).
inline constexpr std::size_t max_stack_size = std::size_t{1} << 30;

// The default stack size (go::default_stack_size) before GOCXX_STACK_SIZE or
// set_default_stack_size: 8 MiB of address space, a thread's; 256 KiB under strict
// overcommit (vm.overcommit_memory = 2), where the kernel charges the whole reservation.
std::size_t stack_default_reservation() noexcept;

struct stack_cache;  // per worker (null: the shared cache of non-worker threads)

stack_cache* stack_cache_new();

// stack_reserve makes sure the cache can hand out a stack of the default size, mapping a
// new slab if it is empty. Throws std::bad_alloc if that fails. spawn calls it, so running
// out of stack memory is reported where the goroutine is created.
void stack_reserve(stack_cache* cache);
// stack_take hands out a default-size stack (the most recently freed: its top is hot).
// Returns an empty stack if none can be mapped.
stack stack_take(stack_cache* cache) noexcept;
// stack_map maps a stack of `size` bytes of its own (at most max_stack_size); throws
// std::bad_alloc.
stack stack_map(std::size_t size);
// stack_release returns a stack: default-size ones to the cache (beyond the caches' caps
// they are unmapped, so RSS falls after a burst), others are unmapped.
void stack_release(stack_cache* cache, stack s) noexcept;

std::size_t stack_page_size() noexcept;
// Stacks mapped now, pooled or in use, and those in use: held by goroutines, counted over
// the n caches given and the threads without one (go::runtime_metrics).
long stacks_mapped() noexcept;
long stacks_in_use(stack_cache* const* caches, int n) noexcept;
std::size_t stack_round(std::size_t size) noexcept;

// stack_trim gives back the deep pages of pooled stacks that ran a goroutine (all but the
// top few pages), then unmaps pooled stacks beyond the pool's cap, in batches, until done or
// until stop() says there is work to do. Idle workers call it before they sleep.
template <class Stop>
void stack_trim(Stop stop) noexcept;
void stack_release_deep_pages() noexcept;  // the calling worker's cache and the shared pool
bool stack_trim_batch() noexcept;          // one batch; false when nothing is (yet) to trim
// When trimming would next have something to do (INT64_MAX: nothing to trim).
std::int64_t stack_trim_due() noexcept;

template <class Stop>
void stack_trim(Stop stop) noexcept {
  stack_release_deep_pages();
  while (stack_trim_batch() && !stop()) {
  }
}

}  // namespace go::detail
