package main

// Channel and select scenarios: the crossbeam-channel suite (cb_*), the
// chan_* / select_* micro-benchmarks, and ports of Go's runtime/chan_test.go
// benchmarks.
//
// Message values: with T producers and per = n/T messages each, producer t
// sends t*per + i + 1 for i in [0, per), so the messages of a run are exactly
// 1..T*per and the checksum (sum of everything received) is sumTo(T*per).

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const threads = 4 // T of the crossbeam suite

// seq: one goroutine sends n messages, then receives them.
func seq(cap, n int) (time.Duration, int, int64) {
	start := time.Now()
	c := make(chan int64, cap)
	for i := 0; i < n; i++ {
		c <- int64(i + 1)
	}
	sum := int64(0)
	for i := 0; i < n; i++ {
		sum += <-c
	}
	return time.Since(start), n, sum
}

// spsc: one producer goroutine sends n messages, main receives them.
func spsc(cap, n int) (time.Duration, int, int64) {
	start := time.Now()
	c := make(chan int64, cap)
	done := make(chan bool)
	go func() {
		for i := 0; i < n; i++ {
			c <- int64(i + 1)
		}
		done <- true
	}()
	sum := int64(0)
	for i := 0; i < n; i++ {
		sum += <-c
	}
	<-done
	return time.Since(start), n, sum
}

// mpsc: T producers send n/T messages each, main receives all of them.
func mpsc(cap, n int) (time.Duration, int, int64) {
	per := n / threads
	start := time.Now()
	c := make(chan int64, cap)
	done := make(chan bool)
	for t := 0; t < threads; t++ {
		go func(base int64) {
			for i := 0; i < per; i++ {
				c <- base + int64(i+1)
			}
			done <- true
		}(int64(t * per))
	}
	sum := int64(0)
	for i := 0; i < per*threads; i++ {
		sum += <-c
	}
	for t := 0; t < threads; t++ {
		<-done
	}
	return time.Since(start), per * threads, sum
}

// mpmc: T producers send n/T messages each, T consumers receive n/T each.
func mpmc(cap, n int) (time.Duration, int, int64) {
	per := n / threads
	var sums [threads]int64
	start := time.Now()
	c := make(chan int64, cap)
	done := make(chan bool)
	for t := 0; t < threads; t++ {
		go func(base int64) {
			for i := 0; i < per; i++ {
				c <- base + int64(i+1)
			}
			done <- true
		}(int64(t * per))
	}
	for t := 0; t < threads; t++ {
		go func(t int) {
			s := int64(0)
			for i := 0; i < per; i++ {
				s += <-c
			}
			sums[t] = s
			done <- true
		}(t)
	}
	for t := 0; t < threads; t++ {
		<-done
		<-done
	}
	el := time.Since(start)
	return el, per * threads, sums[0] + sums[1] + sums[2] + sums[3]
}

// plainProducer sends per messages base+1..base+per on c, then signals done.
func plainProducer(c chan int64, base int64, per int, done chan bool) {
	for i := 0; i < per; i++ {
		c <- base + int64(i+1)
	}
	done <- true
}

// selectRx: T producers each send n/T messages on their own channel; main
// receives all of them with a 4-case select.
func selectRx(cap, n int) (time.Duration, int, int64) {
	per := n / threads
	start := time.Now()
	c0, c1, c2, c3 := make(chan int64, cap), make(chan int64, cap), make(chan int64, cap), make(chan int64, cap)
	done := make(chan bool)
	go plainProducer(c0, int64(0*per), per, done)
	go plainProducer(c1, int64(1*per), per, done)
	go plainProducer(c2, int64(2*per), per, done)
	go plainProducer(c3, int64(3*per), per, done)
	sum := int64(0)
	for i := 0; i < per*threads; i++ {
		select {
		case v := <-c0:
			sum += v
		case v := <-c1:
			sum += v
		case v := <-c2:
			sum += v
		case v := <-c3:
			sum += v
		}
	}
	for t := 0; t < threads; t++ {
		<-done
	}
	return time.Since(start), per * threads, sum
}

// selectConsumers starts T consumers that each receive per messages with a
// 4-case select over c0..c3 and store their sum in sums[t].
func selectConsumers(c0, c1, c2, c3 chan int64, per int, sums *[threads]int64, done chan bool) {
	for t := 0; t < threads; t++ {
		go func(t int) {
			s := int64(0)
			for i := 0; i < per; i++ {
				select {
				case v := <-c0:
					s += v
				case v := <-c1:
					s += v
				case v := <-c2:
					s += v
				case v := <-c3:
					s += v
				}
			}
			sums[t] = s
			done <- true
		}(t)
	}
}

// selectBothPlain: Go's select_both twin: T producers send plainly, each on
// its own channel; T consumers receive n/T each by selecting over all 4.
func selectBothPlain(cap, n int) (time.Duration, int, int64) {
	per := n / threads
	var sums [threads]int64
	start := time.Now()
	c0, c1, c2, c3 := make(chan int64, cap), make(chan int64, cap), make(chan int64, cap), make(chan int64, cap)
	done := make(chan bool)
	go plainProducer(c0, int64(0*per), per, done)
	go plainProducer(c1, int64(1*per), per, done)
	go plainProducer(c2, int64(2*per), per, done)
	go plainProducer(c3, int64(3*per), per, done)
	selectConsumers(c0, c1, c2, c3, per, &sums, done)
	for t := 0; t < 2*threads; t++ {
		<-done
	}
	el := time.Since(start)
	return el, per * threads, sums[0] + sums[1] + sums[2] + sums[3]
}

// selectBothSend: crossbeam's select_both: T producers send n/T messages each
// by selecting over sends on all 4 channels; T consumers receive n/T each by
// selecting over all 4.
func selectBothSend(cap, n int) (time.Duration, int, int64) {
	per := n / threads
	var sums [threads]int64
	start := time.Now()
	c0, c1, c2, c3 := make(chan int64, cap), make(chan int64, cap), make(chan int64, cap), make(chan int64, cap)
	done := make(chan bool)
	for t := 0; t < threads; t++ {
		go func(base int64) {
			for i := 0; i < per; i++ {
				v := base + int64(i+1)
				select {
				case c0 <- v:
				case c1 <- v:
				case c2 <- v:
				case c3 <- v:
				}
			}
			done <- true
		}(int64(t * per))
	}
	selectConsumers(c0, c1, c2, c3, per, &sums, done)
	for t := 0; t < 2*threads; t++ {
		<-done
	}
	el := time.Since(start)
	return el, per * threads, sums[0] + sums[1] + sums[2] + sums[3]
}

// chan_pingpong: unbuffered ping-pong; main sends i, the echo goroutine
// answers i+1; op = one round trip.
func chanPingPong(n int) []result {
	start := time.Now()
	ping, pong := make(chan int64), make(chan int64)
	go func() {
		for i := 0; i < n; i++ {
			v := <-ping
			pong <- v + 1
		}
	}()
	sum := int64(0)
	for i := 0; i < n; i++ {
		ping <- int64(i)
		sum += <-pong
	}
	return nsPerOp("chan_pingpong", time.Since(start), n, sum)
}

// select_uncontended: one goroutine, two buffered(1) channels, a 2-case
// select that receives v from one and sends v+1 on the other.
func selectUncontended(n int) []result {
	start := time.Now()
	myc1 := make(chan int64, 1)
	myc2 := make(chan int64, 1)
	myc1 <- 0
	sum := int64(0)
	for i := 0; i < n; i++ {
		select {
		case v := <-myc1:
			sum += v
			myc2 <- v + 1
		case v := <-myc2:
			sum += v
			myc1 <- v + 1
		}
	}
	return nsPerOp("select_uncontended", time.Since(start), n, sum)
}

// ---- Ports of runtime/chan_test.go (Go 1.19) ----

const callsPerSched = 1000

// chan_sync: benchmarkChanSync(b, 0) with a fixed total of messages.
func chanSync(m int) []result {
	const procs = 2
	chunks := m / callsPerSched / procs * procs
	start := time.Now()
	N := int32(chunks)
	c := make(chan int64, procs)
	myc := make(chan int)
	for p := 0; p < procs; p++ {
		go func() {
			recvs := int64(0)
			for {
				i := atomic.AddInt32(&N, -1)
				if i < 0 {
					break
				}
				for g := 0; g < callsPerSched; g++ {
					if i%2 == 0 {
						<-myc
						recvs++
						myc <- 0
					} else {
						myc <- 0
						<-myc
						recvs++
					}
				}
			}
			c <- recvs
		}()
	}
	sum := int64(0)
	for p := 0; p < procs; p++ {
		sum += <-c
	}
	return nsPerOp("chan_sync", time.Since(start), chunks*callsPerSched, sum)
}

// chan_prod_cons_<size>: benchmarkChanProdCons(b, size, 0) with 2 producer /
// consumer pairs and a fixed total of messages.
func chanProdCons(chanSize int) func(int) []result {
	name := "chan_prod_cons_" + strconv.Itoa(chanSize)
	return func(m int) []result {
		const procs = 2
		chunks := m / callsPerSched
		start := time.Now()
		N := int32(chunks)
		c := make(chan int64, 2*procs)
		myc := make(chan int, chanSize)
		for p := 0; p < procs; p++ {
			go func() {
				for {
					i := atomic.AddInt32(&N, -1)
					if i < 0 {
						break
					}
					for g := 0; g < callsPerSched; g++ {
						myc <- int(i)*callsPerSched + g + 1
					}
				}
				myc <- 0
				c <- 0
			}()
			go func() {
				sum := int64(0)
				for {
					v := <-myc
					if v == 0 {
						break
					}
					sum += int64(v)
				}
				c <- sum
			}()
		}
		sum := int64(0)
		for p := 0; p < procs; p++ {
			sum += <-c
			sum += <-c
		}
		return nsPerOp(name, time.Since(start), chunks*callsPerSched, sum)
	}
}

// select_prod_cons: BenchmarkSelectProdCons with 2 producer / consumer pairs,
// a fixed total of messages and no local work.
func selectProdCons(m int) []result {
	const procs = 2
	chunks := m / callsPerSched
	start := time.Now()
	N := int32(chunks)
	c := make(chan int64, 2*procs)
	myc := make(chan int, 128)
	myclose := make(chan bool)
	for p := 0; p < procs; p++ {
		go func() {
			// Producer: sends to myc.
			mytimer := time.After(time.Hour) // never fires during the run
			for {
				i := atomic.AddInt32(&N, -1)
				if i < 0 {
					break
				}
				for g := 0; g < callsPerSched; g++ {
					select {
					case myc <- int(i)*callsPerSched + g + 1:
					case <-mytimer:
					case <-myclose:
					}
				}
			}
			myc <- 0
			c <- 0
		}()
		go func() {
			// Consumer: receives from myc.
			sum := int64(0)
			mytimer := time.After(time.Hour) // never fires during the run
		loop:
			for {
				select {
				case v := <-myc:
					if v == 0 {
						break loop
					}
					sum += int64(v)
				case <-mytimer:
				case <-myclose:
				}
			}
			c <- sum
		}()
	}
	sum := int64(0)
	for p := 0; p < procs; p++ {
		sum += <-c
		sum += <-c
	}
	return nsPerOp("select_prod_cons", time.Since(start), chunks*callsPerSched, sum)
}

// chan_popular: BenchmarkChanPopular with n rounds; op = one message (each
// round sends one message to each of the 1000 goroutines).
func chanPopular(n int) []result {
	const gs = 1000
	start := time.Now()
	c := make(chan bool)
	var a []chan bool
	counts := make([]int64, gs)
	var wg sync.WaitGroup
	wg.Add(gs)
	for j := 0; j < gs; j++ {
		d := make(chan bool)
		a = append(a, d)
		go func(j int) {
			cnt := int64(0)
			for i := 0; i < n; i++ {
				select {
				case <-c:
				case <-d:
					cnt++
				}
			}
			counts[j] = cnt
			wg.Done()
		}(j)
	}
	for i := 0; i < n; i++ {
		for _, d := range a {
			d <- true
		}
	}
	wg.Wait()
	el := time.Since(start)
	sum := int64(0)
	for _, x := range counts {
		sum += x
	}
	return nsPerOp("chan_popular", el, n*gs, sum)
}
