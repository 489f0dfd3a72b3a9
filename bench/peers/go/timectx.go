package main

// Timer and context scenarios (see "Timers and contexts" in SCENARIOS.md).

import (
	"context"
	"time"
)

func init() {
	scenarios = append(scenarios,
		scenario{"ctx_cancel_10k", 10_000, ctxCancel10k},
		scenario{"timers_1m_start_stop", 1_000_000, timers1mStartStop},
	)
}

// ctx_cancel_10k: a 10-ary tree of N descendants under a cancellable root,
// each with its Done channel made; the timed region is the root's cancel.
func ctxCancel10k(n int) []result {
	root, cancel := context.WithCancel(context.Background())
	nodes := make([]context.Context, 0, n+1)
	cancels := make([]context.CancelFunc, 0, n)
	nodes = append(nodes, root)
	for i := 1; i <= n; i++ {
		ctx, c := context.WithCancel(nodes[(i-1)/10])
		ctx.Done()
		nodes = append(nodes, ctx)
		cancels = append(cancels, c)
	}
	start := time.Now()
	cancel()
	el := time.Since(start)
	sum := int64(0)
	for _, ctx := range nodes[1:] {
		if ctx.Err() == context.Canceled {
			sum++
		}
	}
	for _, c := range cancels {
		c()
	}
	return nsPerOp("ctx_cancel_10k", el, n, sum)
}

// timers_1m_start_stop: N timers made with NewTimer(time.Hour), then all
// stopped; op = one timer made and stopped.
func timers1mStartStop(n int) []result {
	timers := make([]*time.Timer, n)
	start := time.Now()
	for i := range timers {
		timers[i] = time.NewTimer(time.Hour)
	}
	stopped := int64(0)
	for _, t := range timers {
		if t.Stop() {
			stopped++
		}
	}
	el := time.Since(start)
	return nsPerOp("timers_1m_start_stop", el, n, stopped)
}
