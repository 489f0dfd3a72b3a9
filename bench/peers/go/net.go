package main

// Networking scenarios over loopback (see "Networking" in SCENARIOS.md): both
// ends in this process, one goroutine per connection per side.

import (
	"io"
	"net"
	"sync"
	"time"
)

func init() {
	scenarios = append(scenarios,
		scenario{"net_echo_64x64", 200_000, netEcho("net_echo_64x64", 64, 64)},
		scenario{"net_echo_64x16k", 20_000, netEcho("net_echo_64x16k", 64, 16<<10)},
		scenario{"net_echo_1000x64", 200_000, netEcho("net_echo_1000x64", 1000, 64)},
		scenario{"net_rtt_64", 50_000, netEcho("net_rtt_64", 1, 64)},
		scenario{"net_dial_8", 4_000, netDial8},
		scenario{"net_idle_4000", 4_000, netIdle},
	)
}

// listenLoopback listens on 127.0.0.1:0 and serves every accepted connection
// with serve in a goroutine of its own until the listener is closed.
func listenLoopback(serve func(net.Conn)) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln
}

// dialLoopback dials ln's address.
func dialLoopback(ln net.Listener) net.Conn {
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	return c
}

// echoConn writes back what it reads until the peer closes.
func echoConn(c net.Conn, size int) {
	buf := make([]byte, size)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	c.Close()
}

// net_echo_<conns>x<size>: conns clients, each on its own connection, send
// size-byte messages and read each echo in full, N messages in all; op = one
// message echoed. checksum = messages.
func netEcho(name string, conns, size int) func(n int) []result {
	return func(n int) []result {
		ln := listenLoopback(func(c net.Conn) { echoConn(c, size) })
		defer ln.Close()
		clients := make([]net.Conn, conns)
		for i := range clients {
			clients[i] = dialLoopback(ln)
		}
		per := n / conns
		if per < 1 {
			per = 1
		}
		var wg sync.WaitGroup
		start := time.Now()
		for _, c := range clients {
			wg.Add(1)
			go func(c net.Conn) {
				defer wg.Done()
				msg := make([]byte, size)
				reply := make([]byte, size)
				for i := 0; i < per; i++ {
					if _, err := c.Write(msg); err != nil {
						panic(err)
					}
					if _, err := io.ReadFull(c, reply); err != nil {
						panic(err)
					}
				}
			}(c)
		}
		wg.Wait()
		elapsed := time.Since(start)
		for _, c := range clients {
			c.Close()
		}
		return nsPerOp(name, elapsed, per*conns, int64(per*conns))
	}
}

// net_dial_8: 8 goroutines each dial, write 1 byte, read the 1-byte answer and
// close, N connections in all; the server reads 1 byte, answers it and closes.
// op = one connection. checksum = connections.
func netDial8(n int) []result {
	ln := listenLoopback(func(c net.Conn) {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err == nil {
			c.Write(b[:])
		}
		c.Close()
	})
	defer ln.Close()
	const dialers = 8
	per := n / dialers
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < dialers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [1]byte
			for i := 0; i < per; i++ {
				c := dialLoopback(ln)
				if _, err := c.Write(b[:]); err != nil {
					panic(err)
				}
				if _, err := io.ReadFull(c, b[:]); err != nil {
					panic(err)
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	return nsPerOp("net_dial_8", time.Since(start), per*dialers, int64(per*dialers))
}

// net_idle_4000: N connections, each with a server goroutine parked in Read;
// resident memory per connection, from before the listener to when every
// server goroutine has started. checksum = N.
func netIdle(n int) []result {
	var started sync.WaitGroup
	started.Add(n)
	before := rssBytes()
	ln := listenLoopback(func(c net.Conn) {
		started.Done()
		var b [64]byte
		c.Read(b[:]) // parked until the client closes
		c.Close()
	})
	clients := make([]net.Conn, n)
	for i := range clients {
		clients[i] = dialLoopback(ln)
	}
	started.Wait()
	after := rssBytes()
	ln.Close()
	for _, c := range clients {
		c.Close()
	}
	return []result{{"net_idle_4000", float64(after-before) / float64(n), "B/conn", int64(n)}}
}
