package main

// The rows gocxx runs with stackless goroutines (C++20 coroutines, go/task.hpp) beside its
// stackful ones. Go has one kind of goroutine: each stackless_ row runs the goroutine
// version of its namesake, so that the comparison table puts both gocxx kinds against the
// same Go figures. Also the two scenarios that gocxx runs in both kinds and Go did not have:
// goroutines parked in a sleep, and a plain channel worker pool.

import (
	"sync"
	"sync/atomic"
	"time"
)

func init() {
	scenarios = append(scenarios,
		scenario{"sleeping_1m", 1_000_000, sleeping1m},
		scenario{"worker_pool_4x1m", 1_000_000, workerPool4x1m},
		scenario{"stackless_spawn_join", 1_000_000, renamed("stackless_", spawnJoin)},
		scenario{"stackless_parked_1m", 1_000_000, renamed("stackless_", parked1m)},
		scenario{"stackless_sleeping_1m", 1_000_000, renamed("stackless_", sleeping1m)},
		scenario{"stackless_skynet", 1_000_000, renamed("stackless_", skynet)},
		scenario{"stackless_chan_pingpong", 500_000, renamed("stackless_", chanPingPong)},
		scenario{"stackless_worker_pool_4x1m", 1_000_000, renamed("stackless_", workerPool4x1m)},
		scenario{"stackless_net_echo_64x64", 200_000, renamed("stackless_", netEcho("net_echo_64x64", 64, 64))},
		scenario{"stackless_net_idle_4000", 4_000, renamed("stackless_", netIdle)},
	)
}

// renamed runs f and puts prefix before the name of each of its results.
func renamed(prefix string, f func(n int) []result) func(n int) []result {
	return func(n int) []result {
		rs := f(n)
		for i := range rs {
			rs[i].name = prefix + rs[i].name
		}
		return rs
	}
}

// sleeping_1m: N goroutines each sleeping 5 s at a time until told to stop; resident
// memory per goroutine once all have started (however long starting them takes).
func sleeping1m(n int) []result {
	var started, exited sync.WaitGroup
	var stop atomic.Bool
	started.Add(n)
	exited.Add(n)
	before := rssBytes()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			for !stop.Load() {
				time.Sleep(5 * time.Second)
			}
			exited.Done()
		}()
	}
	started.Wait()
	after := rssBytes()
	stop.Store(true)
	exited.Wait()
	return []result{{"sleeping_1m", float64(after-before) / float64(n), "B/goroutine", int64(n)}}
}

// worker_pool_4x1m: 4 workers range over a queue of 128 jobs and send j*2 on a results
// channel of 128; a feeder sends 1..N and closes; main sums.
func workerPool4x1m(n int) []result {
	start := time.Now()
	jobs := make(chan int64, 128)
	results := make(chan int64, 128)
	var wg sync.WaitGroup
	wg.Add(4)
	for w := 0; w < 4; w++ {
		go func() {
			for j := range jobs {
				results <- j * 2
			}
			wg.Done()
		}()
	}
	go func() {
		for i := int64(1); i <= int64(n); i++ {
			jobs <- i
		}
		close(jobs)
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	sum := int64(0)
	for v := range results {
		sum += v
	}
	return nsPerOp("worker_pool_4x1m", time.Since(start), n, sum)
}
