// Memory in transparent huge pages, for large allocations that are touched densely (a
// channel's big slot array): a first touch faults in 2 MiB, not 4 KiB, 512 times fewer page
// faults, each a kernel entry that waits on any writer of the process's mmap lock. Go 1.19
// marks its whole heap this way. Not for memory whose first touch is on a latency-sensitive
// path in small pieces: faulting in a huge page may compact memory first (the goroutine
// records tried it, and spawn_join's time varied threefold).
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace go::platform {

inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;

inline std::size_t huge_round(std::size_t bytes) noexcept {
  return (bytes + huge_page_size - 1) / huge_page_size * huge_page_size;
}

// map_huge maps huge_round(bytes) of zeroed memory, 2 MiB aligned, with MADV_HUGEPAGE (a
// hint: where the kernel refuses it the memory is ordinary pages). Null on failure.
inline void* map_huge(std::size_t bytes) noexcept {
  std::size_t len = huge_round(bytes);
  void* p =
      mmap(nullptr, len + huge_page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto base = reinterpret_cast<std::uintptr_t>(p);
  std::uintptr_t aligned = (base + huge_page_size - 1) / huge_page_size * huge_page_size;
  if (aligned > base) munmap(p, aligned - base);
  std::uintptr_t end = base + len + huge_page_size;
  if (end > aligned + len) munmap(reinterpret_cast<void*>(aligned + len), end - aligned - len);
  madvise(reinterpret_cast<void*>(aligned), len, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

inline void unmap_huge(void* p, std::size_t bytes) noexcept { munmap(p, huge_round(bytes)); }

}  // namespace go::platform
