// Package sockdiag is the Linux "collect" stage: it lists TCP and UDP
// sockets by asking the kernel over NETLINK_SOCK_DIAG (inet_diag), and reads
// the same tables from /proc/net/{tcp,tcp6,udp,udp6} as a fallback and a
// cross-check.
//
// The package holds three things:
//
//   - codec.go, portable: the inet_diag wire format (the inet_diag_req_v2
//     request, the inet_diag_msg reply and its attributes, and the bytecode
//     of a kernel-side port filter), plus the walk over one reply datagram.
//     It takes and returns bytes, is length-checked before every slice, and
//     is fuzzed.
//   - dump_linux.go: a Conn that owns one NETLINK_SOCK_DIAG socket (opened
//     with github.com/mdlayher/netlink, optionally in another network
//     namespace) and appends the sockets of one dump to a caller's slice,
//     decoding straight from its reused receive buffer.
//   - procnet.go, portable, and procnet_linux.go: the /proc/net text format.
//
// Netlink messages are in the host's byte order; the codec uses the byte
// order of the machine it runs on, so it decodes what this machine's kernel
// sent. The addresses and ports inside inet_diag_sockid are big endian, as
// on the wire. The fixtures under testdata were captured on a little-endian
// machine.
//
// The hot path is AppendSockets: one request per (protocol, family), a state
// filter and an optional port filter applied by the kernel, no allocation per
// socket beyond the growth of the caller's slice.
package sockdiag
