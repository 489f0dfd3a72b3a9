// Command gocxxpeers is the Go side of gocxx's side-by-side benchmark.
//
// Every scenario is described precisely in SCENARIOS.md; the C++ program
// bench/peer_scenarios implements the same scenarios with the same CLI and
// output format so that bench/compare.py can run both and compare them.
//
// Usage:
//
//	gocxxpeers -scenario NAME|all [-reps K] [-n N]
//	gocxxpeers -scenario NAME -serve [-n N]
//	gocxxpeers -list
//
// Output, one line per repetition (some scenarios print more than one line):
//
//	NAME <value> <unit> <checksum>
//
// unit is ns/op or B/goroutine; checksum is an integer that does not depend
// on scheduling, so any correct implementation prints the same one.
// With -serve, the program runs the one scenario once per line of standard
// input (the line is N, or empty for the default) and ends each run's lines
// with a line "end"; bench/compare.py --paired alternates two such processes.
// GOMAXPROCS is taken from the environment as usual.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type result struct {
	name     string
	value    float64
	unit     string
	checksum int64
}

type scenario struct {
	name string
	n    int // default N (see SCENARIOS.md for its meaning per scenario)
	run  func(n int) []result
}

// nsPerOp builds the usual one-line result.
func nsPerOp(name string, elapsed time.Duration, ops int, checksum int64) []result {
	return []result{{name, float64(elapsed.Nanoseconds()) / float64(ops), "ns/op", checksum}}
}

// sumTo returns 1 + 2 + ... + n.
func sumTo(n int) int64 { return int64(n) * int64(n+1) / 2 }

// scenarios is the table of all scenarios, in the order `-scenario all` runs
// them. Default N values are chosen so that one repetition takes roughly
// 0.1-1 s on a 2-core machine.
var scenarios = []scenario{
	// Scheduler / goroutine lifecycle.
	{"spawn_join", 1_000_000, spawnJoin},
	{"yield_pingpong", 1_000_000, yieldPingPong},
	{"create_goroutines", 1_000_000, createGoroutines},
	{"parked_1m", 1_000_000, parked1m},
	{"wake_1m", 1_000_000, wake1m},
	{"sleep_100k", 100_000, sleep100k},
	{"ping_pong_hog", 500_000, pingPongHog},
	{"wakeup_parallel_spinning_0us", 20_000, wakeupParallelSpinning(0)},
	{"wakeup_parallel_spinning_5us", 10_000, wakeupParallelSpinning(5 * time.Microsecond)},
	{"skynet", 1_000_000, skynet},

	// Channels and select.
	{"chan_pingpong", 500_000, chanPingPong},
	{"chan_spsc_1", 1_000_000, capScenario("chan_spsc_1", spsc, 1)},
	{"chan_spsc_128", 4_000_000, capScenario("chan_spsc_128", spsc, 128)},
	{"chan_mpmc_4x4_0", 1_000_000, capScenario("chan_mpmc_4x4_0", mpmc, 0)},
	{"chan_mpmc_4x4_128", 4_000_000, capScenario("chan_mpmc_4x4_128", mpmc, 128)},
	{"select_recv4", 500_000, capScenario("select_recv4", selectRx, 0)},
	{"select_uncontended", 5_000_000, selectUncontended},

	// Ports of Go's runtime/chan_test.go benchmarks (fixed total work).
	{"chan_sync", 1_000_000, chanSync},
	{"chan_prod_cons_0", 1_000_000, chanProdCons(0)},
	{"chan_prod_cons_10", 2_000_000, chanProdCons(10)},
	{"chan_prod_cons_100", 3_000_000, chanProdCons(100)},
	{"select_prod_cons", 1_000_000, selectProdCons},
	{"chan_popular", 500, chanPopular},
}

func init() {
	// crossbeam-channel's benchmarks/go.go suite: cb_<flavour>_<test>.
	type flavour struct {
		name string
		cap  int // -1 means "N" (a capacity that holds every message)
		n    int
	}
	flavours := []flavour{
		{"bounded0", 0, 1_000_000},
		{"bounded1", 1, 1_000_000},
		{"boundedN", -1, 1_000_000},
		{"unbounded", -1, 1_000_000},
	}
	type test struct {
		name string
		f    msgFunc
	}
	tests := []test{
		{"seq", seq},
		{"spsc", spsc},
		{"mpsc", mpsc},
		{"mpmc", mpmc},
		{"select_rx", selectRx},
		{"select_both_send", selectBothSend},
		{"select_both_plain", selectBothPlain},
	}
	for _, fl := range flavours {
		for _, t := range tests {
			if t.name == "seq" && fl.cap >= 0 && fl.cap < 2 {
				continue // seq deadlocks with capacity 0 or 1
			}
			name := "cb_" + fl.name + "_" + t.name
			scenarios = append(scenarios, scenario{name, fl.n, capScenario(name, t.f, fl.cap)})
		}
	}
}

// msgFunc runs one message-passing scenario with channel capacity cap and
// (about) n messages; it returns the timed duration, the number of
// operations (messages) actually done, and the checksum.
type msgFunc func(cap, n int) (elapsed time.Duration, ops int, checksum int64)

// capScenario binds a msgFunc to a name and capacity; cap < 0 means "a
// capacity of n", i.e. one that holds every message of the run.
func capScenario(name string, f msgFunc, cap int) func(int) []result {
	return func(n int) []result {
		c := cap
		if c < 0 {
			c = n
		}
		el, ops, sum := f(c, n)
		return nsPerOp(name, el, ops, sum)
	}
}

func main() {
	name := flag.String("scenario", "all", "scenario name, or all")
	reps := flag.Int("reps", 1, "repetitions per scenario")
	nOverride := flag.Int("n", 0, "override the scenario's N (0: use the default table)")
	list := flag.Bool("list", false, "list scenario names with their default N and exit")
	serve := flag.Bool("serve", false, "run the one scenario once per line of standard input (the line: N, or empty for the default), each run's lines followed by a line \"end\"")
	flag.Parse()

	if *list {
		for _, s := range scenarios {
			fmt.Printf("%s %d\n", s.name, s.n)
		}
		return
	}
	var todo []scenario
	for _, s := range scenarios {
		if *name == "all" || s.name == *name {
			todo = append(todo, s)
		}
	}
	if len(todo) == 0 {
		fmt.Fprintf(os.Stderr, "unknown scenario %q (try -list)\n", *name)
		os.Exit(2)
	}
	if *reps < 1 || *nOverride < 0 {
		fmt.Fprintln(os.Stderr, "-reps must be >= 1 and -n >= 0")
		os.Exit(2)
	}
	if *serve {
		if len(todo) != 1 {
			fmt.Fprintln(os.Stderr, "-serve needs one scenario")
			os.Exit(2)
		}
		s := todo[0]
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			n := s.n
			if *nOverride > 0 {
				n = *nOverride
			}
			if line := in.Text(); line != "" {
				v, err := strconv.ParseInt(line, 0, 64)
				if err != nil || v < 0 {
					fmt.Fprintf(os.Stderr, "-serve: bad N %q\n", line)
					os.Exit(2)
				}
				if v > 0 {
					n = int(v)
				}
			}
			runOnce(s, n)
			fmt.Println("end")
		}
		return
	}
	for _, s := range todo {
		n := s.n
		if *nOverride > 0 {
			n = *nOverride
		}
		for r := 0; r < *reps; r++ {
			runOnce(s, n)
		}
	}
}

// runOnce runs s once with N = n and prints its result lines.
func runOnce(s scenario, n int) {
	runtime.GC() // untimed: start every repetition from a clean heap
	for _, res := range s.run(n) {
		fmt.Printf("%s %s %s %d\n", res.name, formatValue(res.value), res.unit, res.checksum)
	}
}

func formatValue(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
