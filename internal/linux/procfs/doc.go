// Package procfs reads what whobinds needs from /proc: the map from socket
// inodes to the processes holding them, and the details of those processes.
//
// The parsers (stat.go) are portable and take bytes; everything that walks
// or reads a live /proc lives in *_linux.go files. The root ("/proc") is a
// parameter everywhere so tests can use fixture trees.
//
// The fd walk is the hot path of the whole program: its cost is one
// readlinkat per open file descriptor on the machine. It does nothing else
// per descriptor (see docs/performance.md).
package procfs
