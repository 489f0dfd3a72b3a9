package main

// Pattern scenarios (worker pool, pipeline, fan-in), written the way Go code does it with a
// context in every select, as gocxx's go/patterns.hpp does; and x/time/rate's Allow.

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

func init() {
	scenarios = append(scenarios,
		scenario{"pool_4x1m", 1_000_000, pool4x1m},
		scenario{"pipeline_3stage_1m", 1_000_000, pipeline3stage1m},
		scenario{"fanin_8", 1_000_000, fanin8},
		scenario{"limiter_allow", 10_000_000, limiterAllow},
	)
}

// pool_4x1m: 4 workers over N tiny jobs (j*2) from a queue of 128; op = one job submitted,
// run and its result received.
func pool4x1m(n int) []result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	jobs := make(chan int, 128)
	results := make(chan int, 128)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				select {
				case results <- j * 2:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		for i := 1; i <= n; i++ {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
		close(jobs)
	}()
	go func() { wg.Wait(); close(results) }()
	sum := int64(0)
	for r := range results {
		sum += int64(r)
	}
	return nsPerOp("pool_4x1m", time.Since(start), n, sum)
}

func stage(ctx context.Context, in <-chan int, f func(int) int) <-chan int {
	out := make(chan int)
	go func() {
		defer close(out)
		for v := range in {
			select {
			case out <- f(v):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func generate(ctx context.Context, from, to int) <-chan int {
	out := make(chan int)
	go func() {
		defer close(out)
		for i := from; i <= to; i++ {
			select {
			case out <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// pipeline_3stage_1m: generate 1..N -> *3 -> +1 -> consumer, unbuffered channels; op = one
// value through all stages.
func pipeline3stage1m(n int) []result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	out := stage(ctx, stage(ctx, generate(ctx, 1, n), func(v int) int { return v * 3 }), func(v int) int { return v + 1 })
	sum := int64(0)
	for v := range out {
		sum += int64(v)
	}
	return nsPerOp("pipeline_3stage_1m", time.Since(start), n, sum)
}

// fanin_8: 8 producers of N/8 values each, merged (a goroutine per input) into one unbuffered
// channel; op = one value received from the merged channel.
func fanin8(n int) []result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	per := n / 8
	out := make(chan int)
	var wg sync.WaitGroup
	for p := 0; p < 8; p++ {
		in := generate(ctx, 1, per)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range in {
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	sum := int64(0)
	for v := range out {
		sum += int64(v)
	}
	return nsPerOp("fanin_8", time.Since(start), per*8, sum)
}

// limiter_allow: N calls of Allow on a bucket that never runs dry; op = one call.
func limiterAllow(n int) []result {
	lim := rate.NewLimiter(1e12, 1_000_000)
	start := time.Now()
	allowed := int64(0)
	for i := 0; i < n; i++ {
		if lim.Allow() {
			allowed++
		}
	}
	return nsPerOp("limiter_allow", time.Since(start), n, allowed)
}
