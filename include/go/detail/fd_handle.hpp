// fd_handle: the counted handle that go::net::conn, go::net::listener and go::os::file share.
// Copies refer to one open file descriptor (src/poll/fd.hpp); the last copy to go closes it
// if nobody did (as Go's finalizer of an unreachable *os.File or net.Conn does).
#pragma once

#include <utility>

namespace go::detail {

struct poll_fd;  // src/poll/fd.hpp
void fd_retain(poll_fd* f) noexcept;
void fd_release(poll_fd* f) noexcept;

class fd_handle {
 public:
  fd_handle() noexcept = default;
  explicit fd_handle(poll_fd* f) noexcept : f_(f) {}  // adopts one reference
  fd_handle(const fd_handle& o) noexcept : f_(o.f_) {
    if (f_) fd_retain(f_);
  }
  fd_handle(fd_handle&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  fd_handle& operator=(fd_handle o) noexcept {
    std::swap(f_, o.f_);
    return *this;
  }
  ~fd_handle() {
    if (f_) fd_release(f_);
  }
  poll_fd* get() const noexcept { return f_; }
  explicit operator bool() const noexcept { return f_ != nullptr; }
  friend bool operator==(const fd_handle& a, const fd_handle& b) noexcept { return a.f_ == b.f_; }

 private:
  poll_fd* f_ = nullptr;
};

}  // namespace go::detail
