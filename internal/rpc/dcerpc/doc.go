// Package dcerpc is a small DCE/RPC client for one question: which RPC
// interfaces has a host's endpoint mapper (TCP 135) registered, and where.
// It binds to the endpoint mapper without authentication and pages through
// ept_lookup, as Impacket's rpcdump does; it is not a general MS-RPC
// framework.
//
// The package holds:
//
//   - pdu.go, portable: the connection-oriented PDUs it needs (bind,
//     bind_ack, bind_nak, request, response, fault; C706 chapter 12 and
//     [MS-RPCE] 2.2.2), all little-endian;
//   - ept.go, portable: the NDR of the ept_lookup request and response
//     stubs (C706 appendix on the ept interface);
//   - tower.go, portable: protocol towers (C706 appendix L, [MS-RPCE]
//     2.2.1.1.7) and Entry, one decoded endpoint-map entry;
//   - lookup.go: Lookup, the network loop. It uses only package net, so it
//     works on every operating system; the loop itself runs over an
//     io.ReadWriter so that tests and fuzz targets can drive it with bytes.
//
// A remote endpoint mapper may lie. Every length read from the wire is
// checked against the bytes that are actually there before anything is
// sliced or allocated, and Limits bound fragment sizes, total bytes,
// entries and calls. Errors are one line and wrap a sentinel: ErrNotRPC,
// ErrRejected, ErrFault, ErrLimit or ErrMalformed, or the network error.
//
// The wire layouts and the golden vectors the tests use are in
// shared/design/windows.md, section 5.
package dcerpc
