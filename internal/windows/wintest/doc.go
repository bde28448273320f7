// Package wintest holds helpers for the Windows integration tests of other
// packages: a throwaway Windows service that listens on a TCP port (the test
// executable itself, run by the service control manager), so tests can check
// port → PID → service against a real service, natively and under Wine.
//
// A package that uses InstallService must call ServeIfService first thing
// in its TestMain.
package wintest

import "errors"

// ErrNotSupported is wrapped by the reasons this package gives on operating
// systems other than Windows.
var ErrNotSupported = errors.New("the Windows test helpers are not supported on this operating system")

// serviceArg is the first argument of the test executable when the service
// control manager runs it as the test service; the service name and the
// address to listen on follow.
const serviceArg = "-whobinds.wintest.service"
