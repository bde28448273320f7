package scm

import (
	"os"
	"testing"

	"github.com/whobinds/whobinds/internal/windows/wintest"
)

// TestMain lets the test executable run as the test service that
// wintest.InstallService installs.
func TestMain(m *testing.M) {
	wintest.ServeIfService()
	os.Exit(m.Run())
}
