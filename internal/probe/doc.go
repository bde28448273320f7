// Package probe finds out what actually answers on a TCP port: it
// connects and identifies the service the way a careful person with
// netcat would, without logging in anywhere.
//
// Probe first listens: services that speak first (SSH, SMTP, FTP, POP3,
// IMAP, a MySQL or MariaDB handshake, VNC, telnet, any other banner) are
// classified from a short first read. A silent server is then asked, each
// question on a connection of its own where the protocol needs it: a TLS
// handshake (certificate, ALPN, version, then HTTP inside), an HTTP
// request (status, Server, page title, redirect), a Redis PING, a
// PostgreSQL SSLRequest and StartupMessage, and a DCE/RPC bind. The port
// number only changes the order of the questions.
//
// The server is not trusted. Every connection reads at most a fixed number
// of bytes, every length from the wire is checked before it is used, the
// whole probe is bounded by Options.Timeout and the caller's context, and
// every text a server sent is cleaned (see Clean) before it is stored in
// a Result, so that printing it cannot move a terminal's cursor or change
// its colours. Raw printing ports (9100-9107) print whatever arrives, so
// Probe refuses them unless Options.Force is set.
//
// The files:
//
//   - probe.go: Probe, its options, results and errors, and the order of
//     the attempts; the network code uses only package net;
//   - banner.go, mysql.go, title.go, postgres.go, dcerpc.go, redis.go:
//     the portable parsers of what servers send, table-tested and fuzzed;
//   - attempts.go: one function per question asked of a silent server;
//   - clean.go: Clean, which makes server text safe to print;
//   - refused_windows.go, refused_others.go: what "connection refused"
//     looks like on each system.
package probe
