//go:build !linux

package main

import (
	"fmt"
	"io"
	"runtime"
)

func runParent(options, io.Writer, io.Writer) error {
	return fmt.Errorf("loadgen is not supported on %s", runtime.GOOS)
}

func runChild(childOptions) error {
	return fmt.Errorf("loadgen is not supported on %s", runtime.GOOS)
}
