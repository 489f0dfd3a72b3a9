module gocxxpeers

go 1.19

require golang.org/x/time v0.3.0

// Debian's golang-golang-x-time-dev, copied there by bench/compare.sh (GOPROXY=off: the
// build never reaches the network).
replace golang.org/x/time => ../../../build-release/gomod/x-time
