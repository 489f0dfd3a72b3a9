// fd_handle: the counted handle that go::net::conn, go::net::listener and go::os::file share.
// Copies refer to one open file descriptor (src/poll/fd.hpp); the last copy to go closes it
// if nobody did (as Go's finalizer of an unreachable *os.File or net.Conn does).
#pragma once

#include "go/detail/counted_ref.hpp"

namespace go::detail {

struct poll_fd;  // src/poll/fd.hpp
void fd_retain(poll_fd* f) noexcept;
void fd_release(poll_fd* f) noexcept;

using fd_handle = counted_ref<poll_fd, fd_retain, fd_release>;

}  // namespace go::detail
