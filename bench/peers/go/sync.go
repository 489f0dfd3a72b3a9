package main

// Package sync scenarios (SCENARIOS.md, "sync").

import (
	"sync"
	"time"
)

func init() {
	scenarios = append(scenarios,
		scenario{"sync_mutex_uncontended", 20_000_000, syncMutexUncontended},
		scenario{"sync_mutex_contended_4", 4_000_000, syncMutexContended("sync_mutex_contended_4", 4)},
		scenario{"sync_mutex_contended_16", 4_000_000, syncMutexContended("sync_mutex_contended_16", 16)},
		scenario{"sync_rwmutex_read_mostly", 4_000_000, syncRWMutexReadMostly},
		scenario{"sync_waitgroup", 10_000_000, syncWaitGroup},
	)
}

// sync_mutex_uncontended: main does N times mu.Lock(); counter++; mu.Unlock().
func syncMutexUncontended(n int) []result {
	var mu sync.Mutex
	counter := int64(0)
	start := time.Now()
	for i := 0; i < n; i++ {
		mu.Lock()
		counter++
		mu.Unlock()
	}
	return nsPerOp("sync_mutex_uncontended", time.Since(start), n, counter)
}

// sync_mutex_contended_G: G goroutines each do per = N/G times
// mu.Lock(); counter++; mu.Unlock() on one mutex.
func syncMutexContended(name string, g int) func(int) []result {
	return func(n int) []result {
		per := n / g
		var mu sync.Mutex
		var wg sync.WaitGroup
		counter := int64(0)
		start := time.Now()
		wg.Add(g)
		for t := 0; t < g; t++ {
			go func() {
				for i := 0; i < per; i++ {
					mu.Lock()
					counter++
					mu.Unlock()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		return nsPerOp(name, time.Since(start), g*per, counter)
	}
}

// sync_rwmutex_read_mostly: 4 goroutines, per = N/4 iterations each;
// iteration i writes (Lock; writes++; Unlock) when i%100 == 99, else reads
// (RLock; r++; RUnlock).
func syncRWMutexReadMostly(n int) []result {
	const g = 4
	per := n / g
	var rw sync.RWMutex
	var wg sync.WaitGroup
	writes := int64(0)
	reads := make([]int64, g)
	start := time.Now()
	wg.Add(g)
	for t := 0; t < g; t++ {
		go func(t int) {
			r := int64(0)
			for i := 0; i < per; i++ {
				if i%100 == 99 {
					rw.Lock()
					writes++
					rw.Unlock()
				} else {
					rw.RLock()
					r++
					rw.RUnlock()
				}
			}
			reads[t] = r
			wg.Done()
		}(t)
	}
	wg.Wait()
	el := time.Since(start)
	sum := writes
	for _, r := range reads {
		sum += r
	}
	return nsPerOp("sync_rwmutex_read_mostly", el, g*per, sum)
}

// sync_waitgroup: main adds 4 and starts 4 goroutines; each does per = N/4
// times wg.Add(1); wg.Done() on the shared WaitGroup, then wg.Done(); main
// waits.
func syncWaitGroup(n int) []result {
	const g = 4
	per := n / g
	var wg sync.WaitGroup
	counts := make([]int64, g)
	start := time.Now()
	wg.Add(g)
	for t := 0; t < g; t++ {
		go func(t int) {
			c := int64(0)
			for i := 0; i < per; i++ {
				wg.Add(1)
				wg.Done()
				c++
			}
			counts[t] = c
			wg.Done()
		}(t)
	}
	wg.Wait()
	el := time.Since(start)
	sum := int64(0)
	for _, c := range counts {
		sum += c
	}
	return nsPerOp("sync_waitgroup", el, g*per, sum)
}
