// Goroutine stacks: mmap'd address space that the kernel commits page by page as it is
// touched, with a guard page below while the process is within its vm.max_map_count budget.
// stack.cpp owns the pool and its invariants.
#pragma once

#include <cstddef>
#include <cstdint>

namespace go::detail {

struct stack {
  char* base = nullptr;  // lowest usable byte (the guard page, if any, is just below)
  std::size_t size = 0;  // usable bytes
  bool guarded = false;
  char* top() const noexcept { return base + size; }
};

struct stack_cache;  // per worker, see stack.cpp

// allocate returns a stack of at least `size` usable bytes; throws std::bad_alloc.
stack stack_allocate(stack_cache* cache, std::size_t size);
void stack_free(stack_cache* cache, stack s) noexcept;
stack_cache* stack_cache_new();

std::size_t stack_page_size() noexcept;
std::size_t stack_round(std::size_t size) noexcept;

// The canary at the bottom of an unguarded stack: checked at every park.
inline constexpr std::uint64_t stack_canary = 0x60c0de5ac0ffee11ull;

}  // namespace go::detail
