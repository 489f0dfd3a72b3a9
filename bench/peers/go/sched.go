package main

// Scheduler and goroutine-lifecycle scenarios.

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// spawn_join: N goroutines each call wg.Done(); main waits.
func spawnJoin(n int) []result {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return nsPerOp("spawn_join", time.Since(start), n, int64(n))
}

// yield_pingpong: two goroutines each call runtime.Gosched() N times.
func yieldPingPong(n int) []result {
	var wg sync.WaitGroup
	var counts [2]int64
	start := time.Now()
	wg.Add(2)
	for g := 0; g < 2; g++ {
		go func(g int) {
			c := int64(0)
			for i := 0; i < n; i++ {
				runtime.Gosched()
				c++
			}
			counts[g] = c
			wg.Done()
		}(g)
	}
	wg.Wait()
	el := time.Since(start)
	return nsPerOp("yield_pingpong", el, 2*n, counts[0]+counts[1])
}

// create_goroutines: BenchmarkCreateGoroutines (procs = 1): a chain of
// goroutines f(N), f(N-1), ..., f(0); each spawns the next and exits, f(0)
// sends on c.
func createGoroutines(n int) []result {
	c := make(chan bool)
	var f func(n int)
	f = func(n int) {
		if n == 0 {
			c <- true
			return
		}
		go f(n - 1)
	}
	start := time.Now()
	go f(n)
	<-c
	return nsPerOp("create_goroutines", time.Since(start), n, int64(n))
}

// rssBytes returns VmRSS from /proc/self/status in bytes (0 if unavailable).
func rssBytes() int64 { return statusBytes("VmRSS:") }

// statusBytes returns a field of /proc/self/status in bytes (0 if unavailable): VmRSS, the
// resident set now, or VmHWM, its peak since the process started.
func statusBytes(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field) {
			fields := strings.Fields(line[len(field):])
			if len(fields) >= 1 {
				kb, _ := strconv.ParseInt(fields[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// parked_1m: N goroutines parked on one channel; memory per goroutine and
// spawn time.
func parked1m(n int) []result {
	ch := make(chan struct{})
	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	before := rssBytes()
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-ch
			exited.Done()
		}()
	}
	started.Wait()
	spawn := time.Since(start)
	after := rssBytes()
	close(ch)
	exited.Wait()
	peak := statusBytes("VmHWM:")
	return []result{
		{"parked_1m", float64(after-before) / float64(n), "B/goroutine", int64(n)},
		{"parked_1m_peak", float64(peak-before) / float64(n), "B/goroutine", int64(n)},
		{"parked_1m_spawn", float64(spawn.Nanoseconds()) / float64(n), "ns/op", int64(n)},
	}
}

// wake_1m: N goroutines parked on one channel; time from close(ch) until all
// of them have exited.
func wake1m(n int) []result {
	ch := make(chan struct{})
	woke := make([]int32, n)
	var started, exited sync.WaitGroup
	started.Add(n)
	exited.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			started.Done()
			if _, ok := <-ch; !ok {
				woke[i] = 1
			}
			exited.Done()
		}(i)
	}
	started.Wait()
	time.Sleep(20 * time.Millisecond) // untimed: let the last few reach <-ch
	start := time.Now()
	close(ch)
	exited.Wait()
	el := time.Since(start)
	sum := int64(0)
	for _, w := range woke {
		sum += int64(w)
	}
	return nsPerOp("wake_1m", el, n, sum)
}

// sleep_100k: N goroutines each doing 10 x time.Sleep(1ms). The value is the
// wall time of the whole run in ns (op = the whole run).
func sleep100k(n int) []result {
	const sleeps = 10
	counts := make([]int32, n)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			for k := 0; k < sleeps; k++ {
				time.Sleep(time.Millisecond)
				counts[i]++
			}
			wg.Done()
		}(i)
	}
	wg.Wait()
	el := time.Since(start)
	sum := int64(0)
	for _, c := range counts {
		sum += int64(c)
	}
	return nsPerOp("sleep_100k", el, 1, sum)
}

// ping_pong_hog: BenchmarkPingPongHog (the hog never yields), with
// GOMAXPROCS left as the environment sets it.
func pingPongHog(n int) []result {
	stop, done := make(chan bool), make(chan bool)
	go func() {
		for {
			select {
			case <-stop:
				done <- true
				return
			default:
			}
		}
	}()

	ping, pong := make(chan bool), make(chan bool)
	var rounds int64
	go func() {
		for j := 0; j < n; j++ {
			pong <- <-ping
			rounds++
		}
		close(stop)
		done <- true
	}()
	go func() {
		for i := 0; i < n; i++ {
			ping <- <-pong
		}
		done <- true
	}()
	start := time.Now()
	ping <- true // start ping-pong
	<-stop
	el := time.Since(start)
	<-ping // let the last ponger exit
	<-done
	<-done
	<-done
	return nsPerOp("ping_pong_hog", el, n, rounds)
}

// wakeup_parallel_spinning_<delay>: BenchmarkWakeupParallelSpinning for one
// delay (wakeDelay = 5us as in Go).
func wakeupParallelSpinning(delay time.Duration) func(int) []result {
	const wakeDelay = 5 * time.Microsecond
	name := "wakeup_parallel_spinning_" + strconv.Itoa(int(delay/time.Microsecond)) + "us"
	spin := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			// do nothing
		}
	}
	return func(n int) []result {
		ping, pong := make(chan struct{}), make(chan struct{})
		start := make(chan struct{})
		done := make(chan int64)
		go func() {
			<-start
			c := int64(0)
			for i := 0; i < n; i++ {
				// sender
				spin(delay + wakeDelay)
				ping <- struct{}{}
				// receiver
				spin(delay)
				<-pong
				c++
			}
			done <- c
		}()
		go func() {
			c := int64(0)
			for i := 0; i < n; i++ {
				// receiver
				spin(delay)
				<-ping
				// sender
				spin(delay + wakeDelay)
				pong <- struct{}{}
				c++
			}
			done <- c
		}()
		t0 := time.Now()
		start <- struct{}{}
		sum := <-done
		sum += <-done
		return nsPerOp(name, time.Since(t0), n, sum)
	}
}

// skynetDiv is the fan-out of skynet's tree.
const skynetDiv = 10

// skynet: a tree of goroutines over the numbers 0..N-1 (SCENARIOS.md); a leaf
// sends its number, an inner node the sum of its children's, on its parent's
// channel.
func skynet(n int) []result {
	start := time.Now()
	c := make(chan int64, 1)
	go skynetNode(c, 0, n)
	sum := <-c
	return nsPerOp("skynet", time.Since(start), n, sum)
}

// skynetNode covers the numbers num..num+size-1: child i covers
// [num + i*size/10, num + (i+1)*size/10), and empty children are not spawned.
func skynetNode(c chan<- int64, num, size int) {
	if size == 1 {
		c <- int64(num)
		return
	}
	rc := make(chan int64, skynetDiv)
	children := 0
	for i := 0; i < skynetDiv; i++ {
		lo, hi := num+i*size/skynetDiv, num+(i+1)*size/skynetDiv
		if lo < hi {
			go skynetNode(rc, lo, hi-lo)
			children++
		}
	}
	sum := int64(0)
	for ; children > 0; children-- {
		sum += <-rc
	}
	c <- sum
}
