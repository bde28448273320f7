package winproc

import (
	"io"
	"os"
	"testing"
	"time"
)

// helperEnv makes the test executable a child that says "ready" on its
// standard output and stays alive until its standard input closes (or a
// minute passes), for the parent-chain test.
const helperEnv = "WHOBINDS_WINPROC_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "wait" {
		os.Stdout.WriteString("ready\n")
		go func() {
			time.Sleep(time.Minute)
			os.Exit(3)
		}()
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}
