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

// cpu_relax is the spin-wait hint: one short pause in a loop that polls a word another CPU
// will write. x86: PAUSE. AArch64: ISB, not YIELD, which most cores execute as a no-op, so a
// loop of them would hammer the polled line; ISB waits for the pipeline to drain, a pause of
// the same order as x86's (Rust's std::hint::spin_loop made the same choice).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("isb" ::: "memory");
#else
  __asm__ __volatile__("" ::: "memory");
#endif
}

}  // namespace go::platform
