package main

// Blocking system calls and goroutines that never yield (see "Blocking calls
// and busy goroutines" in SCENARIOS.md). The pipes are raw syscall.Pipe file
// descriptors read with syscall.Read: the goroutine enters the syscall state
// (entersyscall) and its P is handed off, as for any blocking system call.
// os.Pipe would use the netpoller instead and never block a thread.

import (
	"sync"
	"syscall"
	"time"
)

func init() {
	scenarios = append(scenarios,
		scenario{"blocking_pipe_read", 1, blockingReads("blocking_pipe_read", 1)},
		scenario{"blocking_reads_8", 1, blockingReads("blocking_reads_8", 8)},
		scenario{"busy_sleeper_gap", 1, busySleeperGap},
		scenario{"blocking_getppid", 1_000_000, blockingGetppid},
	)
}

// blocking_pipe_read, blocking_reads_8: N rounds; in each, readers
// goroutines each block in syscall.Read on a pipe of their own while a writer
// goroutine sleeps 10 ms, then writes one byte to every pipe. op = one round,
// from before the pipes are made until main has joined the readers.
// checksum = bytes read = readers*N.
func blockingReads(name string, readers int) func(n int) []result {
	return func(n int) []result {
		var total time.Duration
		var got int64
		for round := 0; round < n; round++ {
			start := time.Now()
			fds := make([][2]int, readers)
			for i := range fds {
				if err := syscall.Pipe(fds[i][:]); err != nil {
					panic(err)
				}
			}
			counts := make([]int64, readers)
			var wg sync.WaitGroup
			for i := range fds {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					var b [1]byte
					m, err := syscall.Read(fds[i][0], b[:])
					if err != nil {
						panic(err)
					}
					counts[i] = int64(m)
				}(i)
			}
			go func() {
				time.Sleep(10 * time.Millisecond)
				for i := range fds {
					if _, err := syscall.Write(fds[i][1], []byte{1}); err != nil {
						panic(err)
					}
				}
			}()
			wg.Wait()
			total += time.Since(start)
			for i := range fds {
				got += counts[i]
				syscall.Close(fds[i][0])
				syscall.Close(fds[i][1])
			}
		}
		return nsPerOp(name, total, n, got)
	}
}

// busy_sleeper_gap: N rounds of 300 ms; in each, one goroutine spins on the
// clock for 300 ms without yielding while another loops time.Sleep(5 ms) until
// the same 300 ms have passed. The value is the longest gap, in ns, between
// the sleeper's consecutive wake-ups (its first from the round's start), over
// all rounds. checksum = N.
func busySleeperGap(n int) []result {
	const length = 300 * time.Millisecond
	var longest time.Duration
	for round := 0; round < n; round++ {
		start := time.Now()
		end := start.Add(length)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
			}
		}()
		var gap time.Duration
		go func() {
			defer wg.Done()
			last := start
			for last.Before(end) {
				time.Sleep(5 * time.Millisecond)
				now := time.Now()
				if now.Sub(last) > gap {
					gap = now.Sub(last)
				}
				last = now
			}
		}()
		wg.Wait()
		if gap > longest {
			longest = gap
		}
	}
	return []result{{"busy_sleeper_gap", float64(longest.Nanoseconds()), "ns", int64(n)}}
}

// blocking_getppid: 4 goroutines each make N getppid system calls through
// syscall.Syscall (the path of every blocking system call: entersyscall,
// exitsyscall). op = one call (ops = 4N); checksum = the calls that returned
// a positive pid = 4N.
func blockingGetppid(n int) []result {
	const goroutines = 4
	counts := make([]int64, goroutines)
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var c int64
			for i := 0; i < n; i++ {
				if pid, _, _ := syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0); pid > 0 {
					c++
				}
			}
			counts[g] = c
		}(g)
	}
	wg.Wait()
	el := time.Since(start)
	var sum int64
	for _, c := range counts {
		sum += c
	}
	return nsPerOp("blocking_getppid", el, goroutines*n, sum)
}
