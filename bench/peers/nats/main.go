// The Go side of bench/nats_compare.sh: the same scenarios as bench/nats_peer.cpp, with
// nats.go, against the same nats-server. Usage: nats-peer URL SCENARIO N
//   qpub N    publish N 128-byte messages to a queue group of 4 subscribers; msgs/s
//   reqrep N  N sequential requests to a responder; median and p99 round trip
//   jsq N     a work-queue stream of N jobs, 4 workers fetching and acking each; jobs/s
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func main() {
	url, scenario := os.Args[1], os.Args[2]
	n, _ := strconv.Atoi(os.Args[3])
	switch scenario {
	case "qpub":
		qpub(url, n)
	case "reqrep":
		reqrep(url, n)
	case "jsq":
		jsq(url, n)
	}
}

func qpub(url string, n int) {
	sub, err := nats.Connect(url)
	must(err)
	var got atomic.Int64
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		ch := make(chan *nats.Msg, 65536)
		_, err := sub.ChanQueueSubscribe("bench.q", "workers", ch)
		must(err)
		go func() {
			for range ch {
				if got.Add(1) == int64(n) {
					close(done)
				}
			}
		}()
	}
	must(sub.Flush())
	pub, err := nats.Connect(url)
	must(err)
	data := make([]byte, 128)
	start := time.Now()
	for i := 0; i < n; i++ {
		must(pub.Publish("bench.q", data))
	}
	must(pub.Flush())
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("go qpub %d received %d %.0f msgs/s\n", n, got.Load(), float64(got.Load())/secs)
}

func reqrep(url string, n int) {
	srv, err := nats.Connect(url)
	must(err)
	ch := make(chan *nats.Msg, 1024)
	_, err = srv.ChanSubscribe("bench.echo", ch)
	must(err)
	go func() {
		for m := range ch {
			m.Respond(m.Data)
		}
	}()
	must(srv.Flush())
	cli, err := nats.Connect(url)
	must(err)
	data := make([]byte, 128)
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		t := time.Now()
		_, err := cli.Request("bench.echo", data, 5*time.Second)
		must(err)
		lat = append(lat, time.Since(t))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("go reqrep %d median %.1f us p99 %.1f us\n", n, float64(lat[n/2].Nanoseconds())/1e3,
		float64(lat[n*99/100].Nanoseconds())/1e3)
}

func jsq(url string, n int) {
	nc, err := nats.Connect(url)
	must(err)
	js, err := nc.JetStream()
	must(err)
	js.DeleteStream("GOJOBS")
	_, err = js.AddStream(&nats.StreamConfig{Name: "GOJOBS", Subjects: []string{"gojobs.>"}, Retention: nats.WorkQueuePolicy})
	must(err)
	data := make([]byte, 128)
	for i := 0; i < n; i++ {
		_, err := js.PublishAsync("gojobs.a", data)
		must(err)
	}
	<-js.PublishAsyncComplete()
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 4; w++ {
		sub, err := js.PullSubscribe("gojobs.>", "workers")
		must(err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done.Load() < int64(n) {
				msgs, err := sub.Fetch(64, nats.MaxWait(200*time.Millisecond))
				if err != nil {
					continue
				}
				for _, m := range msgs {
					m.Ack()
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	nc.Flush()
	secs := time.Since(start).Seconds()
	fmt.Printf("go jsq %d acked %d %.0f jobs/s\n", n, done.Load(), float64(done.Load())/secs)
}
