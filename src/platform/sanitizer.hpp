// Telling ThreadSanitizer and AddressSanitizer about goroutine switches. Without this TSan
// sees one thread jump between stacks (false races, crashes) and ASan reports stack-buffer
// errors on goroutine stacks. Compiled to nothing in normal builds.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_THREAD__)
#define GOCXX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GOCXX_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define GOCXX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GOCXX_ASAN 1
#endif
#endif

#ifdef GOCXX_TSAN
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_set_fiber_name(void* fiber, const char* name);
}
#endif

#ifdef GOCXX_ASAN
extern "C" {
void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, std::size_t size);
void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old, std::size_t* size_old);
void __asan_unpoison_memory_region(void const volatile* addr, std::size_t size);
}
#endif

namespace go::platform {

// What the sanitizers keep per goroutine stack: nothing in other builds (an empty member
// with [[no_unique_address]] takes no room in the goroutine record).
struct fiber_state {
#ifdef GOCXX_TSAN
  void* tsan_fiber = nullptr;  // __tsan_create_fiber's, made at the goroutine's first run
#endif
#ifdef GOCXX_ASAN
  void* asan_fake_stack = nullptr;  // __sanitizer_start_switch_fiber's, while switched out
#endif
};

#ifdef GOCXX_TSAN
inline constexpr bool tsan = true;
inline void* tsan_current_fiber() noexcept { return __tsan_get_current_fiber(); }
// Switching synchronizes the two fibers, as a real thread hand-off would: the scheduler
// acquired the goroutine from a run queue, and the goroutine must see that edge.
inline void tsan_switch_to(void* f) noexcept { __tsan_switch_to_fiber(f, 0); }
inline void tsan_create(fiber_state& f) noexcept { f.tsan_fiber = __tsan_create_fiber(0); }
inline void tsan_destroy(fiber_state& f) noexcept {
  if (f.tsan_fiber) __tsan_destroy_fiber(f.tsan_fiber);
  f.tsan_fiber = nullptr;
}
inline void tsan_switch_to(fiber_state& f) noexcept { __tsan_switch_to_fiber(f.tsan_fiber, 0); }
#else
inline constexpr bool tsan = false;
inline void* tsan_current_fiber() noexcept { return nullptr; }
inline void tsan_switch_to(void*) noexcept {}
inline void tsan_create(fiber_state&) noexcept {}
inline void tsan_destroy(fiber_state&) noexcept {}
inline void tsan_switch_to(fiber_state&) noexcept {}
#endif

#ifdef GOCXX_ASAN
inline constexpr bool asan = true;
inline void asan_start_switch(void** fake_stack_save, const void* bottom, std::size_t size) noexcept {
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
}
inline void asan_finish_switch(void* fake_stack_save) noexcept {
  __sanitizer_finish_switch_fiber(fake_stack_save, nullptr, nullptr);
}
inline void asan_unpoison(const void* p, std::size_t n) noexcept { __asan_unpoison_memory_region(p, n); }
inline void** asan_fake_stack_of(fiber_state& f) noexcept { return &f.asan_fake_stack; }
inline void* asan_fake_stack(const fiber_state& f) noexcept { return f.asan_fake_stack; }
#else
inline constexpr bool asan = false;
inline void asan_start_switch(void**, const void*, std::size_t) noexcept {}
inline void asan_finish_switch(void*) noexcept {}
inline void asan_unpoison(const void*, std::size_t) noexcept {}
inline void** asan_fake_stack_of(fiber_state&) noexcept { return nullptr; }
inline void* asan_fake_stack(const fiber_state&) noexcept { return nullptr; }
#endif

}  // namespace go::platform
