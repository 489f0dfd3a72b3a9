# The size of every coroutine frame a run allocates (docs/tuning.md, stackless_*):
#   gdb -batch -x bench/frame_sizes.gdb --args build-release/bench/peer_scenarios -scenario NAME -n 10
# Each line: the bytes asked of go::detail::frame_alloc (its first argument), then the caller.
set pagination off
break go::detail::frame_alloc
commands
silent
printf "frame %lu bytes, for ", $rdi
bt 2
continue
end
run
