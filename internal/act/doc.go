// Package act acts on ports, safely: free plans and carries out stopping
// what holds a port (units, services, containers, then processes, each
// verified to be the same process before it is signalled), check explains
// whether the current user could bind a port now, and wait blocks until a
// port is listening or free. Planning and explaining are pure and
// portable; acting and trial binds are in the per-OS files.
package act
