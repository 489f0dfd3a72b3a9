// Linux futex: the only way a gocxx thread ever sleeps.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>

namespace go::platform {

// futex_wait sleeps while *word == expected, at most `timeout` (negative: no limit).
// Returns early on a wake, a signal or spuriously: callers loop on their own condition.
inline void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                       std::chrono::nanoseconds timeout = std::chrono::nanoseconds(-1)) noexcept {
  int saved = errno;
  if (timeout.count() < 0) {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
  } else {
    timespec ts{static_cast<time_t>(timeout.count() / 1000000000), static_cast<long>(timeout.count() % 1000000000)};
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr, 0);
  }
  errno = saved;
}

inline void futex_wake(std::atomic<std::uint32_t>* word, int count = 1) noexcept {
  int saved = errno;
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
  errno = saved;
}

inline void cpu_relax() noexcept { __builtin_ia32_pause(); }

}  // namespace go::platform
